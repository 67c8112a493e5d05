"""The maths of an assessment, with no database: KPI figures from their counts, the minimum
sample, normalisation within a peer group, the weighted score, tiers and ranks.

**KPI figures** (``figure``): each KPI is a numerator over a denominator, and its sample ``n``
is what the minimum sample is compared with:

- CSAT: answers of 4 or 5 over answers, in percent (n = answers).
- NPS: promoters (9–10) minus detractors (0–6), in percent of answers (n = answers).
- Complaints per 1,000 interactions: complaints about the employee × 1,000 / interactions
  served (n = interactions).
- Complaint timeliness: complaints the employee handled that were answered inside the deadline
  over those handled, in percent (n = complaints handled).
- Upheld complaints: the count of complaints about the employee upheld (fully or partly); its
  sample is the interactions served, the exposure that makes a count meaningful.
- QA score: the mean score of the completed evaluations (n = evaluations).
- Attitude: points of the attitude criteria of the evaluations (a yes or a 5 is a full point,
  a 3 half a point) plus one zero-point answer per upheld attitude complaint, over the answers,
  in percent (n = answers + upheld attitude complaints).
- Standard adherence: interactions without a deviation over interactions, in percent.
- Training: no training records exist yet: always "insufficient data", with that reason.

Below its minimum sample a KPI is "insufficient data": it gets no normalised value and no
weight. With fewer KPIs with data than the scheme's ``min_kpis`` the whole scorecard is
"insufficient data", never a tier.

**Normalisation within the peer group.** The peer group is the staff member's position (the
role they are employed in: tellers with tellers, call-centre agents with agents). A KPI value
becomes its mid-rank percentile among the peer group's values of that KPI (with data):
``(below + (equal − 1) / 2) / (m − 1) × 100``, where ``below`` counts the peers with a worse
value and ``equal`` those with the same value (the employee included), ``m`` the peers with a
value. The best is 100, the worst 0, ties share the middle of their places, and one person
alone is 50. KPIs where less is better (complaints) are turned round. A peer group with fewer
than ``min_peers`` members with data for a KPI is compared with everyone's values of that KPI
instead: a percentile among three people says little.

**Score and tier.** The score is the weighted mean of the normalised values of the KPIs with
data (the weights of the others are left out, not counted as zero). The tier is the first
threshold the score reaches: excellent, good, meets, needs improvement; below the last,
unsatisfactory. The rank is the place within the peer group by score (ties share a place:
1, 2, 2, 4).
"""

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from django.utils.translation import gettext_lazy as _

from servicecharter.assessment.choices import LOWER_IS_BETTER, Kpi, Tier

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
TRAINING_REASON = _("No training records exist yet: the training module is not built.")


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Thresholds:
    excellent: Decimal
    good: Decimal
    meets: Decimal
    needs_improvement: Decimal

    def problems(self) -> list[str]:
        """What is wrong with these cut-offs (empty: they are usable)."""
        values = [self.excellent, self.good, self.meets, self.needs_improvement]
        problems = []
        if any(v is None or v < 0 or v > HUNDRED for v in values):
            problems.append(str(_("Every threshold is a score from 0 to 100.")))
        elif not all(a > b for a, b in pairwise(values)):
            problems.append(
                str(
                    _(
                        "Thresholds must fall strictly: excellent above good, above meets, "
                        "above needs improvement."
                    )
                )
            )
        return problems


def tier_for(score: Decimal | None, thresholds: Thresholds) -> str:
    if score is None:
        return Tier.INSUFFICIENT
    if score >= thresholds.excellent:
        return Tier.EXCELLENT
    if score >= thresholds.good:
        return Tier.GOOD
    if score >= thresholds.meets:
        return Tier.MEETS
    if score >= thresholds.needs_improvement:
        return Tier.NEEDS_IMPROVEMENT
    return Tier.UNSATISFACTORY


# --- KPI figures -----------------------------------------------------------------------------


@dataclass
class Figure:
    """One KPI of one employee: its value, sample, and whether the sample is large enough."""

    value: Decimal | None
    n: int
    num: Decimal
    den: Decimal
    sufficient: bool
    reason: str = ""
    normalised: Decimal | None = None

    def as_json(self, weight: Decimal) -> dict:
        return {
            "value": None if self.value is None else str(self.value),
            "n": self.n,
            "num": str(self.num),
            "den": str(self.den),
            "sufficient": self.sufficient,
            "reason": self.reason,
            "normalised": None if self.normalised is None else str(self.normalised),
            "weight": str(weight),
        }


def kpi_value(kpi: str, num: Decimal, den: Decimal) -> Decimal | None:
    """The figure of ``kpi`` from its numerator and denominator (None: nothing to divide)."""
    num, den = Decimal(num), Decimal(den)
    if kpi == Kpi.UPHELD_COMPLAINTS:
        return num  # a count; den (the interactions) is its exposure, not a divisor
    if den == 0:
        return None
    if kpi == Kpi.COMPLAINTS_PER_1000:
        return q2(num * 1000 / den)
    if kpi == Kpi.QA_SCORE:
        return q2(num / den)  # num is the sum of the scores (each 0–100)
    return q2(num * HUNDRED / den)


def figure(kpi: str, *, num, den, n: int, min_sample: int) -> Figure:
    """A KPI's figure, marked insufficient below ``min_sample`` (and always for training)."""
    num, den = Decimal(num), Decimal(den)
    if kpi == Kpi.TRAINING:
        return Figure(None, 0, num, den, False, str(TRAINING_REASON))
    value = kpi_value(kpi, num, den)
    if n < min_sample or value is None:
        reason = _("%(n)s in the sample, %(min)s needed.") % {"n": n, "min": min_sample}
        return Figure(value, n, num, den, False, str(reason))
    return Figure(value, n, num, den, True)


# --- normalisation ---------------------------------------------------------------------------


def percentile_ranks(values: Mapping[Hashable, Decimal], *, lower_is_better=False) -> dict:
    """Mid-rank percentile of each value among ``values`` (0 worst … 100 best)."""
    ordered = sorted(values.values())
    m = len(ordered)
    if m == 0:
        return {}
    if m == 1:
        return {key: q2(Decimal(50)) for key in values}
    below_count: dict[Decimal, int] = {}
    equal_count: dict[Decimal, int] = defaultdict(int)
    for index, value in enumerate(ordered):
        below_count.setdefault(value, index)
        equal_count[value] += 1
    # One figure per distinct value (many employees share a value), then one look-up each.
    by_value = {}
    for value, below in below_count.items():
        position = Decimal(below) + Decimal(equal_count[value] - 1) / 2
        percentile = position * HUNDRED / (m - 1)
        by_value[value] = q2(HUNDRED - percentile if lower_is_better else percentile)
    return {key: by_value[value] for key, value in values.items()}


def weighted_score(
    normalised: Mapping[str, Decimal | None], weights: Mapping[str, Decimal]
) -> Decimal | None:
    """Weighted mean of the normalised values that exist; None when none does."""
    total_weight = Decimal(0)
    total = Decimal(0)
    for kpi, value in normalised.items():
        if value is None:
            continue
        weight = Decimal(weights[kpi])
        total_weight += weight
        total += weight * value
    if total_weight == 0:
        return None
    return q2(total / total_weight)


def competition_ranks(scores: Mapping[Hashable, Decimal]) -> dict:
    """Place by score, highest first; equal scores share a place (1, 2, 2, 4)."""
    ordered = sorted(scores.values(), reverse=True)
    first_place: dict[Decimal, int] = {}
    for index, score in enumerate(ordered, start=1):
        first_place.setdefault(score, index)
    return {key: first_place[score] for key, score in scores.items()}


# --- a whole population ----------------------------------------------------------------------


@dataclass
class SchemeRules:
    weights: dict[str, Decimal]  # kpi → weight
    min_samples: dict[str, int]  # kpi → minimum sample
    thresholds: Thresholds
    min_kpis: int
    min_peers: int


@dataclass
class Member:
    """One employee's input (peer group and raw counts) and, after ``score_population``, the
    result."""

    peer_group: str
    counts: dict[str, tuple]  # kpi → (num, den, n)
    figures: dict[str, Figure] = field(default_factory=dict)
    score: Decimal | None = None
    tier: str = Tier.INSUFFICIENT
    rank: int | None = None
    peer_count: int = 0

    @property
    def kpis_with_data(self) -> int:
        return sum(1 for f in self.figures.values() if f.sufficient)


def score_population(members: Mapping[Hashable, Member], rules: SchemeRules) -> None:
    """Fill each member's figures, normalised values, score, tier and rank in place."""
    for member in members.values():
        member.figures = {
            kpi: figure(
                kpi,
                **dict(zip(("num", "den", "n"), member.counts.get(kpi, (0, 0, 0)), strict=True)),
                min_sample=rules.min_samples[kpi],
            )
            for kpi in rules.weights
        }
    for kpi in rules.weights:
        _normalise_kpi(members, kpi, rules.min_peers)
    for member in members.values():
        if member.kpis_with_data < rules.min_kpis:
            member.score, member.tier = None, Tier.INSUFFICIENT
            continue
        normalised = {kpi: f.normalised for kpi, f in member.figures.items()}
        member.score = weighted_score(normalised, rules.weights)
        member.tier = tier_for(member.score, rules.thresholds)
    _rank_within_groups(members)


def _normalise_kpi(members: Mapping[Hashable, Member], kpi: str, min_peers: int) -> None:
    with_data = {key: m for key, m in members.items() if m.figures[kpi].sufficient}
    lower = kpi in LOWER_IS_BETTER
    everyone = percentile_ranks(
        {key: m.figures[kpi].value for key, m in with_data.items()}, lower_is_better=lower
    )
    groups: dict[str, dict] = defaultdict(dict)
    for key, member in with_data.items():
        groups[member.peer_group][key] = member.figures[kpi].value
    for values in groups.values():
        ranks = (
            percentile_ranks(values, lower_is_better=lower)
            if len(values) >= min_peers
            else {key: everyone[key] for key in values}
        )
        for key, rank in ranks.items():
            with_data[key].figures[kpi].normalised = rank


def _rank_within_groups(members: Mapping[Hashable, Member]) -> None:
    groups: dict[str, dict] = defaultdict(dict)
    for key, member in members.items():
        if member.score is not None:
            groups[member.peer_group][key] = member.score
    for scores in groups.values():
        for key, rank in competition_ranks(scores).items():
            members[key].rank = rank
            members[key].peer_count = len(scores)


def mean_score(scores: list[Decimal]) -> Decimal | None:
    if not scores:
        return None
    return q2(sum(scores, Decimal(0)) / len(scores))
