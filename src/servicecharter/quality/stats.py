"""Quality statistics: agreement between auditors, confidence intervals, scorecard totals and
seeded samples. Pure functions over plain values — nothing here touches the database — so every
number an employee is judged by can be recomputed by hand and is tested against published,
hand-worked examples (tests/quality/test_stats.py names the sources).

    alpha = krippendorff_alpha(scores_by_auditor, level=Level.ORDINAL)   # calibration
    bias = coder_bias(scores_by_auditor)                                 # who is harsh, who kind
    pass_rate = wilson_interval(passed, evaluated)                       # with its uncertainty
    verdict = sample_adequacy(evaluated)                                 # too thin to act on?
    result = score_scorecard(scorecard, answers)                         # sections, total, auto-fail
    plan = sample_plan(interactions, seed="2026-05", per_agent=8, auditors=["a1", "a2"])

Matrices of reliability data are coders × units: one row per auditor (a list, or a mapping from
the auditor's id to the row), one column per interaction or criterion scored, ``None`` where
that auditor did not score that unit.

Messages a user may read (an undefined result's reason, a refused input) are translated.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from operator import itemgetter
from statistics import NormalDist, fmean, median, stdev
from typing import NamedTuple

from django.utils.translation import gettext as _

from servicecharter.quality.choices import SampleReason, Scale


class StatsError(ValueError):
    """Input the statistics cannot use; the message is translated and may be shown as is."""


Value = Hashable
Row = Sequence[Value | None]
ReliabilityData = Sequence[Row] | Mapping[Hashable, Row]


# ---------------------------------------------------------------------------------------------
# Reliability data
# ---------------------------------------------------------------------------------------------


def _labelled_rows(data: ReliabilityData) -> list[tuple[Hashable, Row]]:
    """Coders with their rows; a plain list names its coders by position. Refuses ragged data,
    because a row shorter than the others would silently shift every later unit."""
    rows = list(data.items()) if isinstance(data, Mapping) else list(enumerate(data))
    widths = {len(row) for _label, row in rows}
    if len(widths) > 1:
        raise StatsError(_("Every auditor's row must cover the same units."))
    return rows


def _units(data: ReliabilityData) -> list[list[Value]]:
    """The values each unit received, missing ones dropped, in coder order."""
    rows = [row for _label, row in _labelled_rows(data)]
    return [[value for value in column if value is not None] for column in zip(*rows, strict=True)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------------


class Level(StrEnum):
    """Level of measurement: it decides how far apart two different values are."""

    NOMINAL = "nominal"  # categories: any two different values disagree equally
    ORDINAL = "ordinal"  # ranks: 1–5 scales, where 2 vs 3 is a smaller miss than 1 vs 5
    INTERVAL = "interval"  # numbers whose differences mean something
    RATIO = "ratio"  # numbers with a true zero: 1 vs 2 is a bigger miss than 101 vs 102


@dataclass(frozen=True, slots=True)
class AlphaResult:
    """Alpha with what it stands on. ``alpha`` is None when it is undefined; ``reason`` says
    why, so a page can show the reason instead of a misleading number."""

    alpha: float | None
    level: Level
    pairable_units: int  # units scored by two or more coders: the only ones that count
    pairable_values: int  # n in Krippendorff's notation: values in those units
    reason: str = ""


Coincidences = dict[tuple[Value, Value], float]


def coincidence_matrix(data: ReliabilityData) -> Coincidences:
    """o[c, k]: how often value c was paired with value k by two coders of the same unit. A
    unit's pairs are weighted by 1/(m_u − 1), so each value adds exactly one to the matrix
    however many coders scored its unit. A unit with a single value pairs with nothing and is
    left out.
    """
    return _coincidences(_units(data))


def _coincidences(units: Iterable[list[Value]]) -> Coincidences:
    matrix: defaultdict[tuple[Value, Value], float] = defaultdict(float)
    for values in units:
        if len(values) < 2:
            continue
        weight = 1 / (len(values) - 1)
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    matrix[(c, k)] += pairs * weight
    return dict(matrix)


def _marginals(matrix: Coincidences) -> dict[Value, float]:
    totals: defaultdict[Value, float] = defaultdict(float)
    for (c, _k), count in matrix.items():
        totals[c] += count
    return dict(totals)


def _check_values(values: Iterable[Value], level: Level) -> None:
    if level is Level.NOMINAL:
        return
    for value in values:
        if not _is_number(value):
            raise StatsError(_("%(value)r is not a number.") % {"value": value})
        if level is Level.RATIO and value < 0:
            raise StatsError(_("Ratio data cannot be negative; %(value)r is.") % {"value": value})


def _difference(level: Level, marginals: Mapping[Value, float]) -> Callable[[Value, Value], float]:
    """The squared difference δ²(c, k) of Krippendorff (2011) for the level of measurement."""
    if level is Level.NOMINAL:
        return lambda c, k: 0.0 if c == k else 1.0
    if level is Level.INTERVAL:
        return lambda c, k: float(c - k) ** 2
    if level is Level.RATIO:
        return lambda c, k: 0.0 if c == k else ((c - k) / (c + k)) ** 2
    # Ordinal: the distance between two ranks is the mass of values between them (inclusive),
    # less half of the two end values — so rarely used ranks sit close together.
    ordered = sorted(marginals)
    position = {value: index for index, value in enumerate(ordered)}
    cumulative: list[float] = []
    running = 0.0
    for value in ordered:
        running += marginals[value]
        cumulative.append(running)

    def ordinal(c: Value, k: Value) -> float:
        low, high = sorted((position[c], position[k]))
        between = cumulative[high] - (cumulative[low - 1] if low else 0.0)
        return (between - (marginals[c] + marginals[k]) / 2) ** 2

    return ordinal


def krippendorff_alpha(data: ReliabilityData, level: Level | str = Level.NOMINAL) -> AlphaResult:
    """Krippendorff's alpha = 1 − D_o / D_e, computed through the coincidence matrix.

    Alpha is chance-corrected: 1 is perfect agreement, 0 is what auditors scoring at random
    would reach, below 0 is systematic disagreement. Missing values are allowed; any number of
    coders. Undefined (``alpha is None``) when no unit was scored twice, or when every pairable
    value is the same: with no variation, agreement cannot be told from chance.
    """
    level = Level(level)
    units = _units(data)
    # Checked before counting: True would otherwise be counted as the number 1.
    _check_values((value for values in units for value in values), level)
    matrix = _coincidences(units)
    marginals = _marginals(matrix)
    n = sum(marginals.values())
    pairable_units = sum(1 for values in units if len(values) >= 2)
    if not n:
        reason = _("No unit was scored by two or more auditors, so there is nothing to compare.")
        return AlphaResult(None, level, 0, 0, reason)
    delta = _difference(level, marginals)
    observed = sum(count * delta(c, k) for (c, k), count in matrix.items())
    expected = sum(
        marginals[c] * marginals[k] * delta(c, k) for c in marginals for k in marginals if c != k
    )
    if not expected:
        reason = _(
            "Every auditor gave every unit the same value: with no variation, agreement "
            "cannot be told apart from chance."
        )
        return AlphaResult(None, level, pairable_units, round(n), reason)
    alpha = 1.0 - (n - 1) * observed / expected
    return AlphaResult(alpha, level, pairable_units, round(n))


# ---------------------------------------------------------------------------------------------
# Agreement per criterion and each auditor's bias
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionAgreement:
    """How often the auditors who scored the same unit gave it the same answer. Simpler to read
    than alpha and what calibration targets are written in (≈ 90% objective, ≈ 80% subjective),
    but not corrected for chance."""

    pairable_units: int
    exact: float | None  # share of pairable units on which every auditor gave the same answer
    within_one: float | None  # share where the answers span at most one point (1–5 scales)


def criterion_agreement(data: ReliabilityData, *, within_one: bool = False) -> CriterionAgreement:
    """Per-unit agreement on one criterion. ``within_one`` (for 1–5 scales) also counts units
    whose highest and lowest answers are at most one point apart. Units scored once are left
    out: agreement needs two answers."""
    pairable = [values for values in _units(data) if len(values) >= 2]
    if within_one:
        for values in pairable:
            _check_values(values, Level.INTERVAL)
    if not pairable:
        return CriterionAgreement(0, None, None)
    exact = sum(1 for values in pairable if len(set(values)) == 1) / len(pairable)
    adjacent = None
    if within_one:
        close = sum(1 for values in pairable if max(values) - min(values) <= 1)
        adjacent = close / len(pairable)
    return CriterionAgreement(len(pairable), exact, adjacent)


class Consensus(StrEnum):
    MEAN = "mean"
    MEDIAN = "median"


DEFAULT_BIAS_TOLERANCE = 0.5
"""Scale points. On a 1–5 scale an auditor half a point harsher or kinder than colleagues on
average moves each criterion by an eighth of its range: enough to change who passes."""


@dataclass(frozen=True, slots=True)
class CoderBias:
    """One auditor against the others. ``bias`` > 0: kinder than the consensus, < 0: harsher.
    ``mean_absolute_difference`` catches an auditor who is erratic without leaning either way."""

    coder: Hashable
    units: int  # units this auditor shared with at least one other
    bias: float | None
    mean_absolute_difference: float | None
    flagged: bool


def coder_bias(
    data: ReliabilityData,
    *,
    tolerance: float = DEFAULT_BIAS_TOLERANCE,
    consensus: Consensus | str = Consensus.MEDIAN,
) -> list[CoderBias]:
    """Each auditor's mean difference from the consensus of the *other* auditors on the same
    units (leaving the auditor out, so they cannot pull the consensus towards themselves).
    The median is the default consensus on ordinal scales: one outlier among the others does
    not move it. Flagged when the mean difference is beyond ``tolerance`` either way."""
    if tolerance < 0:
        raise StatsError(_("The tolerance cannot be negative."))
    summarise = median if Consensus(consensus) is Consensus.MEDIAN else fmean
    rows = _labelled_rows(data)
    for _label, row in rows:
        _check_values((value for value in row if value is not None), Level.INTERVAL)
    results = []
    for index, (label, row) in enumerate(rows):
        differences = []
        for unit, own in enumerate(row):
            others = [
                other[unit]
                for position, (_other_label, other) in enumerate(rows)
                if position != index and other[unit] is not None
            ]
            if own is not None and others:
                differences.append(own - summarise(others))
        if not differences:
            results.append(CoderBias(label, 0, None, None, False))
            continue
        bias = fmean(differences)
        spread = fmean(abs(difference) for difference in differences)
        results.append(CoderBias(label, len(differences), bias, spread, abs(bias) > tolerance))
    return results


# ---------------------------------------------------------------------------------------------
# Confidence intervals
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate with its confidence interval. When it cannot be estimated (no data) the
    numbers are None and ``reason`` says why."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    confidence: float
    reason: str = ""


DEFAULT_CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise StatsError(_("The confidence level must be between 0 and 1."))
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _check_count(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatsError(_("Counts must be whole numbers, 0 or more."))


def wilson_interval(successes: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for a proportion (pass rate, share answered within target).

    Chosen over the textbook p ± z·√(p(1−p)/n) because that interval collapses to zero width
    at 0/n and n/n and leaves [0, 1] on the small samples a per-agent result usually has
    (Newcombe 1998 compares the methods).
    """
    _check_count(successes)
    _check_count(n)
    if successes > n:
        raise StatsError(_("There cannot be more successes than answers."))
    z = _z(confidence)
    if not n:
        return Interval(None, None, None, 0, confidence, _("No answers yet."))
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, n, confidence)


def _t_central_mass(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer df, by the finite series of Abramowitz & Stegun
    26.7.3 (odd df) and 26.7.4 (even df): exact, no special functions needed."""
    theta = math.atan(t / math.sqrt(df))
    sine, cosine = math.sin(theta), math.cos(theta)
    c2 = cosine * cosine
    term = total = 1.0
    if df % 2:
        if df == 1:
            return 2 * theta / math.pi
        for j in range(1, (df - 3) // 2 + 1):
            term *= c2 * (2 * j) / (2 * j + 1)
            total += term
        return 2 / math.pi * (theta + sine * cosine * total)
    for j in range(1, (df - 2) // 2 + 1):
        term *= c2 * (2 * j - 1) / (2 * j)
        total += term
    return sine * total


def _t_quantile_cornish_fisher(p: float, df: int) -> float:
    """Abramowitz & Stegun 26.7.5: the normal quantile corrected in powers of 1/df. Used for
    large df, where the exact series grows long and this expansion is accurate to ~1e-12."""
    x = NormalDist().inv_cdf(p)
    g1 = (x**3 + x) / 4
    g2 = (5 * x**5 + 16 * x**3 + 3 * x) / 96
    g3 = (3 * x**7 + 19 * x**5 + 17 * x**3 - 15 * x) / 384
    g4 = (79 * x**9 + 776 * x**7 + 1482 * x**5 - 1920 * x**3 - 945 * x) / 92160
    return x + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


EXACT_T_MAX_DF = 1000


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (no scipy in this project:
    the exact series is inverted by bisection; large df use the Cornish–Fisher expansion).
    Cached, as a results page asks for the same few quantiles many times."""
    if not 0 < p < 1:
        raise StatsError(_("A quantile needs a probability between 0 and 1."))
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise StatsError(_("Degrees of freedom must be a whole number, 1 or more."))
    if p < 0.5:
        return -t_quantile(1 - p, df)
    if p == 0.5:
        return 0.0
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    if df > EXACT_T_MAX_DF:
        return _t_quantile_cornish_fisher(p, df)
    target = 2 * p - 1
    low, high = 0.0, 2 * _t_quantile_cornish_fisher(p, df) + 1
    while _t_central_mass(high, df) < target:
        low, high = high, high * 2
    for _step in range(200):
        middle = (low + high) / 2
        if _t_central_mass(middle, df) < target:
            low = middle
        else:
            high = middle
        if high - low <= 1e-13 * high:
            break
    return (low + high) / 2


def mean_interval(
    values: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """Mean score with a t-based interval: with the few evaluations an agent has per month the
    normal quantile would claim too much certainty (t(0.975, 4) = 2.776, not 1.96); as n grows
    t approaches the normal. ``bounds`` clips the interval to the scale (a mean of 1–5 scores
    cannot exceed 5)."""
    _check_values(values, Level.INTERVAL)
    n = len(values)
    if not n:
        return Interval(None, None, None, 0, confidence, _("No scores yet."))
    estimate = fmean(values)
    if n < 2:
        reason = _("At least two scores are needed to estimate how much they vary.")
        return Interval(estimate, None, None, n, confidence, reason)
    half = t_quantile(0.5 + confidence / 2, n - 1) * stdev(values) / math.sqrt(n)
    low, high = estimate - half, estimate + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return Interval(estimate, low, high, n, confidence)


@dataclass(frozen=True, slots=True)
class NpsTally:
    promoters: int  # 9–10
    passives: int  # 7–8
    detractors: int  # 0–6

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors


def nps_tally(scores: Iterable[int]) -> NpsTally:
    """Count 0–10 answers into promoters (9–10), passives (7–8) and detractors (0–6)."""
    counts = Counter(_nps_group(score) for score in scores)
    return NpsTally(counts["promoter"], counts["passive"], counts["detractor"])


def _nps_group(score: int) -> str:
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise StatsError(_("An NPS answer must be a whole number from 0 to 10."))
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps_interval(tally: NpsTally, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """NPS = %promoters − %detractors, in points from −100 to 100, with a normal interval whose
    variance comes from the trinomial: Var = (p_p + p_d − (p_p − p_d)²) / n. Built from counts
    so a rollup can compute it without reading the answers. At the extremes (every answer a
    promoter) the variance is 0 and the interval shrinks to the estimate: honest only together
    with :func:`sample_adequacy`, which marks such small samples."""
    for count in (tally.promoters, tally.passives, tally.detractors):
        _check_count(count)
    z = _z(confidence)
    n = tally.n
    if not n:
        return Interval(None, None, None, 0, confidence, _("No answers yet."))
    promoters, detractors = tally.promoters / n, tally.detractors / n
    score = promoters - detractors
    variance = max(0.0, promoters + detractors - score**2) / n
    half = z * math.sqrt(variance)
    return Interval(
        100 * score, 100 * max(-1.0, score - half), 100 * min(1.0, score + half), n, confidence
    )


def csat_interval(
    satisfied: int, answered: int, *, confidence: float = DEFAULT_CONFIDENCE
) -> Interval:
    """CSAT = share of 4–5 answers on the 1–5 scale, with a Wilson interval (it is a
    proportion, and often a small one per agent)."""
    return wilson_interval(satisfied, answered, confidence=confidence)


def csat_tally(scores: Iterable[int]) -> tuple[int, int]:
    """(satisfied, answered) from 1–5 answers: satisfied means 4 or 5."""
    satisfied = answered = 0
    for score in scores:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise StatsError(_("A CSAT answer must be a whole number from 1 to 5."))
        answered += 1
        satisfied += score >= 4
    return satisfied, answered


DEFAULT_MINIMUM_SAMPLE = 8
"""Evaluations (or answers) per person per period before a result may be acted on. Common
practice samples 4–10 interactions per agent per month, and samples of 2–5 are mostly noise
(REGULATIONS.md, quality-assurance practice). 8 sits at the upper end of practice; even then
7 passes of 8 have a 95% Wilson interval of about 0.53–0.98, so it is a floor, not a
guarantee — show the interval too. Pass another minimum where a policy sets one."""


@dataclass(frozen=True, slots=True)
class SampleAdequacy:
    n: int
    minimum: int
    adequate: bool
    message: str  # empty when adequate; otherwise "insufficient sample" with the numbers


def sample_adequacy(n: int, minimum: int = DEFAULT_MINIMUM_SAMPLE) -> SampleAdequacy:
    """Whether a result rests on enough observations to act on (reward, sanction, ranking).
    The assessment module refuses to sanction on an inadequate sample."""
    _check_count(n)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        raise StatsError(_("The minimum sample must be a whole number, 1 or more."))
    if n >= minimum:
        return SampleAdequacy(n, minimum, True, "")
    message = _("Insufficient sample: %(n)s of the %(minimum)s needed; too few to act on.") % {
        "n": n,
        "minimum": minimum,
    }
    return SampleAdequacy(n, minimum, False, message)


# ---------------------------------------------------------------------------------------------
# Scorecards
# ---------------------------------------------------------------------------------------------


YES, NO, NOT_APPLICABLE = 1, 0, None
Answer = int | None
"""As ``quality.Answer.value`` stores it: yes/no scale 1 = yes, 0 = no; 1–5 scale the value;
None = not applicable (either scale). A criterion absent from the answers is *missing*, which
is refused: "not applicable" has to be said, not implied."""
DEFAULT_PASS_MARK = Decimal("80")  # "pass line often 80%" (REGULATIONS.md)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


class ScorecardError(StatsError):
    """A scorecard definition or a set of answers that cannot be scored; translated."""


def _weight(value: Decimal | int | float | str, what: str) -> Decimal:
    """Weights become Decimals (floats through their shortest text, so 0.1 stays 0.1)."""
    try:
        weight = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        weight = Decimal("NaN")
    if isinstance(value, bool) or not weight.is_finite() or weight <= 0:
        raise ScorecardError(
            _("The weight of %(what)s must be a positive number.") % {"what": what}
        )
    return weight


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    weight: Decimal | int | float | str
    scale: Scale
    critical: bool = False  # a "no" sets the whole evaluation to 0 (auto-fail)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _weight(self.weight, self.key))
        object.__setattr__(self, "scale", Scale(self.scale))
        if self.critical and self.scale is not Scale.YES_NO:
            # An auto-fail must be a plain fact (identity verified, risk disclosed), not a degree.
            raise ScorecardError(
                _("Critical item %(key)s must be a yes/no question.") % {"key": self.key}
            )


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    weight: Decimal | int | float | str
    criteria: tuple[Criterion, ...]
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _weight(self.weight, self.key))
        object.__setattr__(self, "criteria", tuple(self.criteria))
        if not self.criteria:
            raise ScorecardError(_("Section %(key)s has no criteria.") % {"key": self.key})


@dataclass(frozen=True, slots=True)
class Scorecard:
    sections: tuple[Section, ...]
    pass_mark: Decimal = DEFAULT_PASS_MARK

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", tuple(self.sections))
        try:
            pass_mark = Decimal(str(self.pass_mark))
        except InvalidOperation:
            pass_mark = Decimal("NaN")
        object.__setattr__(self, "pass_mark", pass_mark)
        if not self.sections:
            raise ScorecardError(_("A scorecard needs at least one section."))
        if not pass_mark.is_finite() or not Decimal(0) <= pass_mark <= HUNDRED:
            raise ScorecardError(_("The pass mark must be between 0 and 100."))
        keys = [criterion.key for criterion in self.criteria]
        section_keys = [section.key for section in self.sections]
        for duplicates in (keys, section_keys):
            repeated = sorted({key for key in duplicates if duplicates.count(key) > 1})
            if repeated:
                raise ScorecardError(
                    _("These keys are used twice: %(keys)s.") % {"keys": ", ".join(repeated)}
                )

    @property
    def criteria(self) -> list[Criterion]:
        return [criterion for section in self.sections for criterion in section.criteria]


@dataclass(frozen=True, slots=True)
class SectionScore:
    key: str
    percent: Decimal | None  # None: every criterion in it was not applicable
    weight: Decimal  # its share of the total after not-applicable sections dropped out (0–1)
    applicable: int


@dataclass(frozen=True, slots=True)
class ScorecardResult:
    percent: Decimal | None  # 0–100, two decimals; None when nothing was applicable
    passed: bool | None
    auto_failed: bool
    failed_critical: tuple[str, ...]  # keys of the critical items answered "no"
    sections: tuple[SectionScore, ...]
    reason: str = ""


def criterion_fraction(scale: Scale, answer: Answer) -> Decimal | None:
    """How much of a criterion was met, 0–1; None for not applicable. On 1–5 the lowest point
    means nothing of the standard was met, so it scores 0 ((s − 1) / 4), not 1/5: scoring it
    20% would lift every total for doing nothing."""
    if answer is NOT_APPLICABLE:
        return None
    if scale is Scale.YES_NO:
        return Decimal(answer)
    return (Decimal(answer) - 1) / 4


def _check_answer(criterion: Criterion, answer: Answer) -> None:
    if answer is NOT_APPLICABLE:
        return
    whole = isinstance(answer, int) and not isinstance(answer, bool)
    if criterion.scale is Scale.YES_NO:
        valid = whole and answer in (YES, NO)
        expected = _("yes, no or not applicable")
    else:
        valid = whole and 1 <= answer <= 5
        expected = _("a whole number from 1 to 5, or not applicable")
    if not valid:
        raise ScorecardError(
            _("The answer %(answer)r to %(key)s is outside its scale (%(expected)s).")
            % {"answer": answer, "key": criterion.key, "expected": expected}
        )


def _check_answers(scorecard: Scorecard, answers: Mapping[str, Answer]) -> None:
    known = {criterion.key for criterion in scorecard.criteria}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ScorecardError(
            _("Answers to criteria not on this scorecard: %(keys)s.") % {"keys": ", ".join(unknown)}
        )
    missing = [criterion.key for criterion in scorecard.criteria if criterion.key not in answers]
    if missing:
        raise ScorecardError(
            _("Every criterion needs an answer; missing: %(keys)s.") % {"keys": ", ".join(missing)}
        )
    for criterion in scorecard.criteria:
        _check_answer(criterion, answers[criterion.key])


def _section_fraction(
    section: Section, answers: Mapping[str, Answer]
) -> tuple[Decimal | None, int]:
    """Weighted share met over the applicable criteria; the not-applicable ones drop out and
    the remaining weights renormalise, so a question that did not arise neither helps nor hurts."""
    earned = possible = Decimal(0)
    applicable = 0
    for criterion in section.criteria:
        fraction = criterion_fraction(criterion.scale, answers[criterion.key])
        if fraction is None:
            continue
        earned += criterion.weight * fraction
        possible += criterion.weight
        applicable += 1
    return (earned / possible if applicable else None), applicable


def _percent(fraction: Decimal) -> Decimal:
    return (fraction * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def score_scorecard(scorecard: Scorecard, answers: Mapping[str, Answer]) -> ScorecardResult:
    """Section and total percentages, auto-fail and the pass-mark verdict.

    Sections are weighted like criteria: a section with nothing applicable drops out and the
    other sections' weights renormalise. The total is computed from the unrounded sections and
    rounded once, half up, to two decimals; the pass mark is compared with that rounded total,
    the number the employee sees. A critical item answered "no" sets the total to 0 whatever
    else was scored, and names the item.
    """
    _check_answers(scorecard, answers)
    scored = [(section, *_section_fraction(section, answers)) for section in scorecard.sections]
    applicable_weight = sum(
        (section.weight for section, fraction, _n in scored if fraction is not None), Decimal(0)
    )
    sections = tuple(
        SectionScore(
            section.key,
            None if fraction is None else _percent(fraction),
            Decimal(0) if fraction is None else section.weight / applicable_weight,
            applicable,
        )
        for section, fraction, applicable in scored
    )
    failed_critical = tuple(
        criterion.key
        for criterion in scorecard.criteria
        if criterion.critical and answers[criterion.key] == NO
    )
    if failed_critical:
        return ScorecardResult(Decimal("0.00"), False, True, failed_critical, sections)
    if not applicable_weight:
        reason = _("Every criterion was marked not applicable: there is nothing to score.")
        return ScorecardResult(None, None, False, (), sections, reason)
    total = sum(
        (section.weight * fraction for section, fraction, _n in scored if fraction is not None),
        Decimal(0),
    )
    percent = _percent(total / applicable_weight)
    return ScorecardResult(percent, percent >= scorecard.pass_mark, False, (), sections)


# ---------------------------------------------------------------------------------------------
# Seeded sampling
# ---------------------------------------------------------------------------------------------

InteractionRow = tuple[Hashable, Hashable, str, Collection[str]]
"""(interaction id, agent id, channel, flags) — small tuples so a month of a large contact
centre (a million rows) fits in memory and samples in well under the 5 s budget. Flags name
why an interaction may be targeted (``SampleReason`` values: complaint, low_survey, …)."""


class Pick(NamedTuple):
    """A named tuple, not a dataclass: a plan makes tens of thousands of these."""

    interaction_id: Hashable
    agent_id: Hashable
    channel: str
    reason: str  # "random", or the flag it was targeted for ("complaint", "abandoned", …)
    auditor: Hashable | None = None


class Stratum(NamedTuple):
    """A group drawn from on its own, with its size, so an employee can be shown the picks were
    a fair draw: ``picked`` of ``population`` eligible, with the recorded seed."""

    key: str
    population: int
    picked: int


@dataclass(frozen=True, slots=True)
class SamplePlan:
    seed: str
    picks: tuple[Pick, ...]
    strata: tuple[Stratum, ...]


def _stratum_rng(seed: str, stratum: str) -> random.Random:
    """One generator per stratum, seeded from text: Python seeds a str through SHA-512, stable
    across versions and machines, and a stratum's draw depends on no other stratum — adding an
    agent does not change the picks of the others."""
    return random.Random(f"{seed}:{stratum}")


def _by_id(rows: list[InteractionRow]) -> list[InteractionRow]:
    """The canonical order a draw starts from, so the order rows arrived in is irrelevant.
    (Rows read ``ORDER BY id`` are already sorted, which the sort notices and passes over.)"""
    rows.sort(key=itemgetter(0))
    return rows


Shares = float | Mapping[str, float]
Targets = Mapping[str, int | None] | Collection[str]


def _is_whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _channel_shares(share_per_channel: Shares | None) -> Callable[[str], float] | None:
    """A share for every channel (one number) or per channel (a mapping; a channel left out is
    not sampled at random). Shares are fractions: 2.5% is 0.025."""
    if share_per_channel is None:
        return None
    shares = share_per_channel if isinstance(share_per_channel, Mapping) else None
    for share in shares.values() if shares is not None else [share_per_channel]:
        if not _is_number(share) or not 0 < share <= 1:
            raise StatsError(_("A share per channel must be more than 0 and at most 1."))
    if shares is not None:
        return lambda channel: shares.get(channel, 0.0)
    return lambda _channel: share_per_channel


def _targets(targeted: Targets | None) -> dict[str, int | None]:
    """Flags to pick from and how many per agent; a plain list of flags means all of them."""
    if targeted is None:
        return {}
    if isinstance(targeted, str):
        targeted = [targeted]
    counts = dict(targeted) if isinstance(targeted, Mapping) else dict.fromkeys(targeted)
    for flag, count in counts.items():
        if count is not None and not _is_whole(count, 1):
            raise StatsError(
                _("Targeted picks for %(flag)s must be a whole number, 1 or more, or all.")
                % {"flag": flag}
            )
    return counts


def _group(rows: list[InteractionRow], column: int) -> dict[Hashable, list[InteractionRow]]:
    """Rows by the value in one column (1 agent, 2 channel), in a single pass."""
    groups: defaultdict[Hashable, list[InteractionRow]] = defaultdict(list)
    for row in rows:
        groups[row[column]].append(row)
    return groups


def _flagged(
    rows: list[InteractionRow], targets: Collection[str]
) -> dict[Hashable, list[InteractionRow]]:
    """The rows carrying any targeted flag, by agent."""
    by_agent: defaultdict[Hashable, list[InteractionRow]] = defaultdict(list)
    for row in filter(itemgetter(3), rows):  # rows with any flag, filtered at C speed
        if not targets.isdisjoint(row[3]):
            by_agent[row[1]].append(row)
    return by_agent


def _random_picks(
    strata: Mapping[Hashable, list[InteractionRow]],
    seed: str,
    wanted: Callable[[Hashable, int], int],
    kind: str,
) -> tuple[list[Pick], list[Stratum]]:
    picks: list[Pick] = []
    records: list[Stratum] = []
    random_pick = SampleReason.RANDOM.value
    for key in sorted(strata, key=str):
        rows = _by_id(strata[key])
        stratum = f"{kind}:{key}"
        drawn = _stratum_rng(seed, stratum).sample(rows, min(wanted(key, len(rows)), len(rows)))
        picks += [Pick(row[0], row[1], row[2], random_pick) for row in drawn]
        records.append(Stratum(stratum, len(rows), len(drawn)))
    return picks, records


def _targeted_picks(
    flagged: Mapping[Hashable, list[InteractionRow]],
    targets: Mapping[str, int | None],
    seed: str,
    taken: set[Hashable],
) -> tuple[list[Pick], list[Stratum]]:
    """Per agent and flag, up to the flag's number (None: all) of the flagged interactions not
    already picked. One generator per agent, flags in name order, so the same plan gives the
    same picks however the mapping of targets was built."""
    picks: list[Pick] = []
    records: list[Stratum] = []
    flags = sorted(targets)
    for agent_id in sorted(flagged, key=str):
        rows = _by_id(flagged[agent_id])
        rng = _stratum_rng(seed, f"targeted:agent:{agent_id}")
        for flag in flags:
            eligible = [row for row in rows if flag in row[3] and row[0] not in taken]
            if not eligible:
                continue
            wanted = targets[flag]
            drawn = rng.sample(
                eligible, len(eligible) if wanted is None else min(wanted, len(eligible))
            )
            taken.update(row[0] for row in drawn)
            picks += [Pick(row[0], row[1], row[2], flag) for row in drawn]
            records.append(Stratum(f"targeted:{flag}:agent:{agent_id}", len(eligible), len(drawn)))
    return picks, records


def assign_auditors(
    picks: Sequence[Pick],
    auditors: Sequence[Hashable],
    *,
    load: Mapping[Hashable, int] | None = None,
) -> list[Pick]:
    """Give each pick to the auditor with the least work (existing ``load`` plus what this plan
    already gave them), ties to the earlier auditor in the list: with no load, plain
    round-robin. Nobody audits their own interactions (auditor id == agent id)."""
    if not auditors:
        return list(picks)
    if len(set(auditors)) != len(auditors):
        raise StatsError(_("An auditor is listed twice."))
    if not load and not {pick.agent_id for pick in picks} & set(auditors):
        # Equal loads and nobody to skip: the least-loaded rule is exactly i mod m, done fast.
        return [Pick(*pick[:4], auditors[i % len(auditors)]) for i, pick in enumerate(picks)]
    load = load or {}
    queue = [(load.get(auditor, 0), position, auditor) for position, auditor in enumerate(auditors)]
    heapq.heapify(queue)
    assigned = []
    for interaction_id, agent_id, channel, reason, _auditor in picks:
        skipped = []
        while queue and queue[0][2] == agent_id:
            skipped.append(heapq.heappop(queue))
        if not queue:
            raise StatsError(
                _("No auditor other than %(agent)s can audit their interactions.")
                % {"agent": agent_id}
            )
        work, position, auditor = queue[0]
        heapq.heapreplace(queue, (work + 1, position, auditor))
        for entry in skipped:
            heapq.heappush(queue, entry)
        assigned.append(Pick(interaction_id, agent_id, channel, reason, auditor))
    return assigned


def sample_plan(
    population: Iterable[InteractionRow],
    *,
    seed: str | int,
    per_agent: int | None = None,
    share_per_channel: Shares | None = None,
    targeted: Targets | None = None,
    auditors: Sequence[Hashable] = (),
    auditor_load: Mapping[Hashable, int] | None = None,
) -> SamplePlan:
    """The interactions to evaluate this period.

    Random picks: ``per_agent`` per agent (all of an agent's if fewer), or a share of each
    channel, stratified (``share_per_channel`` one fraction for all, or per channel; rounded
    up, so every channel sampled with any interaction is looked at). Then targeted picks: for
    each flag in ``targeted`` — ``{"complaint": None, "low_survey": 2, "abandoned": 1}`` or
    just ``["complaint", "long"]`` — that many of each agent's flagged interactions (None: all)
    not already picked. The same seed over the same population gives the same plan whatever the
    order of the rows; record the seed with the plan. Picks are spread across ``auditors`` by
    :func:`assign_auditors`. Duplicate ids are refused: a tie in the canonical order would let
    the input order decide the sample.
    """
    if per_agent is not None and share_per_channel is not None:
        raise StatsError(_("Choose a number per agent or a share per channel, not both."))
    if per_agent is not None and not _is_whole(per_agent, 1):
        raise StatsError(_("The number per agent must be a whole number, 1 or more."))
    share = _channel_shares(share_per_channel)
    targets = _targets(targeted)
    rows = population if isinstance(population, list) else list(population)
    if len(set(map(itemgetter(0), rows))) != len(rows):
        raise StatsError(_("Interaction ids must be unique in the population sampled."))
    seed = str(seed)
    picks: list[Pick] = []
    records: list[Stratum] = []
    if per_agent is not None:
        picks, records = _random_picks(_group(rows, 1), seed, lambda _a, _n: per_agent, "agent")
    elif share is not None:
        # round() first: 0.07 * 100 is 7.000000000000001 in floating point, not a reason for 8.
        wanted = lambda channel, size: math.ceil(round(share(channel) * size, 9))  # noqa: E731
        picks, records = _random_picks(_group(rows, 2), seed, wanted, "channel")
    if targets:
        taken = {pick.interaction_id for pick in picks}
        more_picks, more_records = _targeted_picks(
            _flagged(rows, targets.keys()), targets, seed, taken
        )
        picks += more_picks
        records += more_records
    return SamplePlan(
        seed, tuple(assign_auditors(picks, auditors, load=auditor_load)), tuple(records)
    )
