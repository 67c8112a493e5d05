"""Demo surveys: the survey rules, and a year of answers to them, so the results pages, a
department's page and each employee's "survey feedback about me" show something real.

- Two rules: after an interaction (a 20% sample, at most one survey per customer in 30 days,
  links valid 14 days; satisfaction, recommendation and a comment) and after a closed case
  (every case; the effort question too).
- The demo interactions that were served to a customer with an email address, and the closed
  demo cases of such a customer, go through the same choice dispatch makes: the first matching
  rule, the sampling draw from the interaction's or case's id (``services.sampled``) and the
  fatigue limit, in time order. Each invitation is dated a few minutes after the service and
  kept in the customer's language (a case's, for a case).
- About 45% are answered within three days. The answers follow the service: each employee has
  their own level (the same for the same seed), a deviation from the standard or a long wait
  lowers the score, an upheld complaint scores better than one not upheld; NPS and effort go
  with satisfaction. One answer in six leaves a comment in the customer's language.
- The rows are bulk-inserted and their counts added to the rollups with ``rollup_add``, the
  upsert dispatch and ``survey_respond`` use. Links older than their validity are expired.

Everything is a pure function of the seed and the demo's interactions and cases.
"""

import random
import time as clock
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from servicecharter.cases.choices import Outcome
from servicecharter.cases.models import Case
from servicecharter.interactions.choices import InteractionOutcome
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Language
from servicecharter.surveys import services
from servicecharter.surveys.choices import InvitationState, SurveyTrigger
from servicecharter.surveys.models import Invitation, Response, SurveyRule

INTERACTION_RATE = 20
ANSWERED_SHARE = 0.45
COMMENT_SHARE = 1 / 6
BATCH = 2_000

COMMENTS = {
    Language.ZH_HANS: {
        "good": ("服务很耐心，解释得很清楚。", "办理很快，谢谢！", "工作人员态度很好。"),
        "mixed": ("等待时间有点长。", "问题解决了，但流程有些复杂。"),
        "bad": ("等了很久也没人处理。", "问题没有解决，很失望。", "解释不清楚，需要反复打电话。"),
    },
    Language.EN: {
        "good": ("Patient and clear, thank you.", "Quick and friendly service."),
        "mixed": ("The wait was a bit long.", "Sorted in the end, but it took several steps."),
        "bad": ("Nobody could tell me what was happening.", "My problem is still not solved."),
    },
}
CASE_OUTCOME_SHIFT = {
    Outcome.UPHELD: 0.4,
    Outcome.PARTLY_UPHELD: 0.0,
    Outcome.NOT_UPHELD: -0.9,
    Outcome.ANSWERED: 0.3,
}


@dataclass
class SurveysSummary:
    rules: int = 0
    invitations: int = 0
    answers: int = 0
    from_cases: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Served:
    """An interaction or closed case that may be surveyed, with what shapes its answer."""

    candidate: services.Candidate
    shift: float  # how the service itself moves the score (deviations, wait, outcome)


def _rules() -> tuple[SurveyRule, SurveyRule]:
    after_interaction = services.survey_rule_create(
        actor=None,
        name="After a service interaction",
        trigger=SurveyTrigger.INTERACTION,
        sampling_rate=INTERACTION_RATE,
        fatigue_days=30,
        valid_days=14,
        ask_csat=True,
        ask_nps=True,
        ask_effort=False,
        ask_comment=True,
    )
    after_case = services.survey_rule_create(
        actor=None,
        name="After a closed case",
        trigger=SurveyTrigger.CASE_CLOSED,
        sampling_rate=100,
        fatigue_days=30,
        valid_days=14,
        ask_csat=True,
        ask_nps=True,
        ask_effort=True,
        ask_comment=True,
    )
    return after_interaction, after_case


def _language(value: str) -> str:
    return value if value in Language.values else Language.ZH_HANS


def _interactions() -> list[_Served]:
    rows = (
        Interaction.objects.filter(outcome=InteractionOutcome.SERVED, customer__isnull=False)
        .exclude(customer__email="")
        .order_by("started_at", "pk")
        .values_list(
            "pk", "customer_id", "customer__name", "customer__email",
            "customer__preferred_language", "staff_id", "department_id", "channel",
            "business_type_id", "started_at", "handle_seconds", "wait_seconds",
            "deviation_count",
        )
    )  # fmt: skip
    served = []
    for (pk, customer, name, email, language, staff, department, channel, business_type,
         started, handle, wait, deviations) in rows:  # fmt: skip
        finished = started + timedelta(seconds=(handle or 0) + 600)
        shift = -0.55 * min(deviations, 3) - (0.5 if (wait or 0) > 300 else 0.0)
        candidate = services.Candidate(
            "interaction", pk, customer, name, email, _language(language), staff, department,
            channel, business_type, finished,
        )  # fmt: skip
        served.append(_Served(candidate, shift))
    return served


def _closed_cases() -> list[_Served]:
    rows = (
        Case.objects.filter(closed_at__isnull=False, customer__isnull=False)
        .exclude(outcome__in=[Outcome.WITHDRAWN, Outcome.MERGED])
        .order_by("closed_at", "pk")
        .values_list(
            "pk", "customer_id", "customer__name", "customer__email", "contact_email",
            "language", "handler__staff_id", "department_id", "channel", "business_type_id",
            "closed_at", "outcome",
        )
    )  # fmt: skip
    served = []
    for (pk, customer, name, email, contact_email, language, staff, department, channel,
         business_type, closed_at, outcome) in rows:  # fmt: skip
        if not (email or contact_email):
            continue
        candidate = services.Candidate(
            "case", pk, customer, name, email or contact_email, _language(language), staff,
            department, channel, business_type, closed_at + timedelta(minutes=5),
        )  # fmt: skip
        served.append(_Served(candidate, CASE_OUTCOME_SHIFT.get(outcome, 0.0)))
    return served


def _chosen(served: list[_Served], rules: dict[str, list[SurveyRule]]) -> list[tuple]:
    """(served, rule) pairs, as dispatch would choose them had it run at each moment."""
    last_invited: dict[int, datetime] = {}
    chosen = []

    def in_time(item: _Served):
        return (item.candidate.at, item.candidate.kind, item.candidate.object_id)

    for item in sorted(served, key=in_time):
        candidate = item.candidate
        rule = services.matching_rule(rules[candidate.kind], candidate, {})
        if rule is None:
            continue
        if not services.sampled(candidate.kind, candidate.object_id, rule.sampling_rate):
            continue
        previous = last_invited.get(candidate.customer_id)
        if previous is not None and previous > candidate.at - timedelta(days=rule.fatigue_days):
            continue
        last_invited[candidate.customer_id] = candidate.at
        chosen.append((item, rule))
    return chosen


def _scores(rng: random.Random, level: float, shift: float, rule: SurveyRule):
    satisfaction = rng.gauss(3.9 + level + shift, 0.9)
    csat = min(5, max(1, round(satisfaction)))
    nps = min(10, max(0, round(2 * satisfaction - 0.5 + rng.gauss(0, 1.2))))
    effort = min(5, max(1, round(6.2 - satisfaction + rng.gauss(0, 0.7))))
    return csat, nps, effort if rule.ask_effort else None


def _comment(rng: random.Random, language: str, csat: int) -> str:
    if rng.random() >= COMMENT_SHARE:
        return ""
    mood = "good" if csat >= 4 else "mixed" if csat == 3 else "bad"
    return rng.choice(COMMENTS[language if language in COMMENTS else Language.ZH_HANS][mood])


def _rollup_deltas(invitations: list[Invitation], answers: list[tuple]) -> dict:
    """What dispatch and ``survey_respond`` would have added to the rollups, in one go."""
    deltas: dict[tuple, dict[str, int]] = {}

    def add(invitation: Invitation, counters: dict[str, int]) -> None:
        key = (
            services.rollup_day(invitation.created_at),
            invitation.department_id,
            invitation.staff_id or 0,
            invitation.channel,
        )
        row = deltas.setdefault(key, {})
        for name, value in counters.items():
            row[name] = row.get(name, 0) + value

    for invitation in invitations:
        add(invitation, {"invited": 1})
    for invitation, answer in answers:
        add(invitation, services.response_counters(answer.csat, answer.nps, answer.effort))
    return deltas


def surveys_seed(*, seed: int) -> SurveysSummary:
    """Load the demo survey rules and answers (call inside the seed's transaction, after the
    demo interactions and cases)."""
    started = clock.perf_counter()
    summary = SurveysSummary()
    after_interaction, after_case = _rules()
    summary.rules = 2
    rules = {"interaction": [after_interaction], "case": [after_case]}
    now = timezone.now()
    levels: dict[int | None, float] = {}
    invitations, answers = [], []
    for item, rule in _chosen([*_interactions(), *_closed_cases()], rules):
        candidate = item.candidate
        invitation = services.invitation_build(candidate, rule, candidate.at)
        rng = random.Random(f"{seed}:surveys:{candidate.kind}:{candidate.object_id}")
        if candidate.staff_id not in levels:
            levels[candidate.staff_id] = random.Random(
                f"{seed}:surveys:staff:{candidate.staff_id}"
            ).gauss(0, 0.45)
        answered_at = candidate.at + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
        if rng.random() < ANSWERED_SHARE and answered_at < now:
            csat, nps, effort = _scores(rng, levels[candidate.staff_id], item.shift, rule)
            invitation.state = InvitationState.ANSWERED
            invitation.answered_at = answered_at
            answer = Response(
                csat=csat,
                nps=nps,
                effort=effort,
                comment=_comment(rng, candidate.language, csat),
                staff_id=candidate.staff_id,
                department_id=candidate.department_id,
                channel=candidate.channel,
                answered_at=answered_at,
            )
            answers.append((invitation, answer))
            summary.from_cases += candidate.kind == "case"
        elif invitation.expires_at <= now:
            invitation.state = InvitationState.EXPIRED
        else:
            invitation.state = InvitationState.SENT
        invitations.append(invitation)
    Invitation.objects.bulk_create(invitations, batch_size=BATCH)
    for invitation, answer in answers:
        answer.invitation_id = invitation.pk
    Response.objects.bulk_create([answer for _invitation, answer in answers], batch_size=BATCH)
    services.rollup_add(_rollup_deltas(invitations, answers))
    summary.invitations, summary.answers = len(invitations), len(answers)
    summary.seconds = clock.perf_counter() - started
    return summary
