"""The deviation checker: how an interaction measured against the standard version and the
channel service levels in force at its time. Pure: no database, no clock.

Rules (each finding becomes a ``Deviation`` row):

- A served interaction is judged on the version's steps and on every service level of its
  channel. An abandoned one (the customer hung up or left before being served) is judged only on
  the levels about answering — answered, first reply, waiting time: its steps never happened.
- A mandatory step that never happened is ``missed_step``; a disclosure that never happened is
  ``missed_disclosure`` (a disclosure is always mandatory).
- A step that happened after its target is ``step_late``. Step times count from the start of
  service (after the wait), so a long queue is judged once, by the service level, not again
  by every step. A step done twice counts from its first time.
- A wait longer than the channel's threshold is ``service_level`` (the share of interactions
  meeting it, e.g. 80%, is judged over a period, not here). Email's "reply within N business
  days" is measured on the business calendar given by ``add_business_days``.

Expected and actual values are stored as numbers (seconds, or business days for the email
level) so they read in any language; the step code (or the measure, for a service level)
says what was judged.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicecharter.interactions.choices import DeviationKind, InteractionOutcome
from servicecharter.standards.choices import ServiceLevelMetric
from servicecharter.standards.rules import LevelRule, StepRule

# The service levels about how long the customer waited to be answered.
WAIT_METRICS = frozenset(
    {
        ServiceLevelMetric.ANSWER_WITHIN,
        ServiceLevelMetric.FIRST_REPLY_WITHIN,
        ServiceLevelMetric.WAIT_WITHIN,
    }
)
BUSINESS_DAYS = ServiceLevelMetric.REPLY_WITHIN_BUSINESS_DAYS

_MISSED_STEP = DeviationKind.MISSED_STEP.value
_MISSED_DISCLOSURE = DeviationKind.MISSED_DISCLOSURE.value
_STEP_LATE = DeviationKind.STEP_LATE.value
_SERVICE_LEVEL = DeviationKind.SERVICE_LEVEL.value
_ABANDONED = InteractionOutcome.ABANDONED.value


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    step_code: str = ""
    expected: str = ""
    actual: str = ""


def first_times(events: Iterable[Mapping]) -> dict[str, int]:
    """step code → the first time it happened (seconds from the start of service). Events
    are {"step": code, "at": seconds}, as ingest checked them."""
    times: dict[str, int] = {}
    for event in events:
        code = event["step"]
        at = event["at"]
        known = times.get(code)
        if known is None or at < known:
            times[code] = at
    return times


def check_steps(steps: Sequence[StepRule], events: Iterable[Mapping]) -> list[Finding]:
    times = first_times(events)
    findings: list[Finding] = []
    for rule in steps:
        at = times.get(rule.code)
        if at is None:
            if rule.is_disclosure:
                findings.append(Finding(_MISSED_DISCLOSURE, rule.code))
            elif rule.mandatory:
                findings.append(Finding(_MISSED_STEP, rule.code))
        elif rule.target_seconds is not None and at > rule.target_seconds:
            findings.append(Finding(_STEP_LATE, rule.code, str(rule.target_seconds), str(at)))
    return findings


def check_levels(
    levels: Iterable[LevelRule],
    *,
    wait_seconds: int | None,
    abandoned: bool,
    started_at: datetime | None = None,
    add_business_days: Callable[[datetime, int], datetime] | None = None,
) -> list[Finding]:
    findings: list[Finding] = []
    if wait_seconds is None:
        return findings
    for level in levels:
        if level.metric in WAIT_METRICS:
            if wait_seconds > level.threshold:
                findings.append(
                    Finding(_SERVICE_LEVEL, level.metric, str(level.threshold), str(wait_seconds))
                )
        elif level.metric == BUSINESS_DAYS and not abandoned:
            if started_at is None or add_business_days is None:
                continue
            due = add_business_days(started_at, level.threshold)
            if started_at + timedelta(seconds=wait_seconds) > due:
                findings.append(
                    Finding(_SERVICE_LEVEL, level.metric, str(level.threshold), str(wait_seconds))
                )
    return findings


def check_interaction(
    *,
    steps: Sequence[StepRule],
    levels: Iterable[LevelRule],
    events: Iterable[Mapping],
    wait_seconds: int | None,
    outcome: str,
    started_at: datetime | None = None,
    add_business_days: Callable[[datetime, int], datetime] | None = None,
) -> list[Finding]:
    """Every deviation of one interaction, steps first (in the version's order), then the
    service levels."""
    abandoned = outcome == _ABANDONED
    findings = [] if abandoned else check_steps(steps, events)
    findings.extend(
        check_levels(
            levels,
            wait_seconds=wait_seconds,
            abandoned=abandoned,
            started_at=started_at,
            add_business_days=add_business_days,
        )
    )
    return findings
