"""The deviation checker on its own: no database, every rule and its edge."""

from datetime import UTC, datetime, timedelta

from servicecharter.interactions.checks import Finding, check_interaction, first_times
from servicecharter.standards.rules import LevelRule, StepRule

STEPS = (
    StepRule("greeting", "consultation", 1, 10, True, False),
    StepRule("identify", "handling", 2, 60, True, False),
    StepRule("risk_disclosure", "handling", 3, 180, True, True),
    StepRule("upsell", "handling", 4, None, False, False),
    StepRule("survey_invite", "feedback", 5, None, False, False),
)
PHONE = (LevelRule("answer_within", 20, 80),)
DONE_IN_TIME = [
    {"step": "greeting", "at": 4},
    {"step": "identify", "at": 35},
    {"step": "risk_disclosure", "at": 120},
]


def check(events=DONE_IN_TIME, *, wait=5, outcome="served", levels=PHONE, **extra):
    return check_interaction(
        steps=STEPS, levels=levels, events=events, wait_seconds=wait, outcome=outcome, **extra
    )


def test_an_interaction_done_in_time_has_no_deviation():
    assert check() == []


def test_a_missed_mandatory_step_is_recorded():
    events = [e for e in DONE_IN_TIME if e["step"] != "identify"]
    assert check(events) == [Finding("missed_step", "identify")]


def test_a_missed_disclosure_is_its_own_kind():
    events = [e for e in DONE_IN_TIME if e["step"] != "risk_disclosure"]
    assert check(events) == [Finding("missed_disclosure", "risk_disclosure")]


def test_an_optional_step_not_done_is_no_deviation():
    assert check(DONE_IN_TIME) == []  # upsell and survey_invite never happened


def test_a_step_after_its_target_is_late_with_both_times():
    events = [{"step": "greeting", "at": 11}, *DONE_IN_TIME[1:]]
    assert check(events) == [Finding("step_late", "greeting", "10", "11")]


def test_a_step_exactly_on_its_target_is_in_time():
    events = [{"step": "greeting", "at": 10}, *DONE_IN_TIME[1:]]
    assert check(events) == []


def test_a_step_done_twice_counts_from_its_first_time():
    events = [*DONE_IN_TIME, {"step": "greeting", "at": 400}]
    assert check(events) == []
    assert first_times([{"step": "a", "at": 9}, {"step": "a", "at": 2}]) == {"a": 2}


def test_unknown_step_codes_are_ignored():
    assert check([*DONE_IN_TIME, {"step": "chit_chat", "at": 1}]) == []


def test_a_wait_over_the_answer_level_misses_the_service_level():
    assert check(wait=21) == [Finding("service_level", "answer_within", "20", "21")]
    assert check(wait=20) == []


def test_steps_come_first_then_levels():
    findings = check([], wait=45)
    assert [f.kind for f in findings] == [
        "missed_step",
        "missed_step",
        "missed_disclosure",
        "service_level",
    ]


def test_an_abandoned_call_is_judged_only_on_the_answer_level():
    assert check([], wait=45, outcome="abandoned") == [
        Finding("service_level", "answer_within", "20", "45")
    ]
    assert check([], wait=15, outcome="abandoned") == []


def test_an_abandoned_chat_is_judged_on_the_first_reply_level():
    chat = (LevelRule("first_reply_within", 30),)
    assert check([], wait=31, outcome="abandoned", levels=chat) == [
        Finding("service_level", "first_reply_within", "30", "31")
    ]


def test_without_a_wait_no_level_is_judged():
    assert check(wait=None) == []


def test_without_a_standard_only_levels_are_judged():
    findings = check_interaction(
        steps=(), levels=PHONE, events=[], wait_seconds=30, outcome="served"
    )
    assert findings == [Finding("service_level", "answer_within", "20", "30")]


def _next_business_day(start: datetime, days: int) -> datetime:
    """A toy calendar: Monday to Friday are working days."""
    moment = start
    while days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


EMAIL = (LevelRule("reply_within_bdays", 1),)
FRIDAY_NOON = datetime(2025, 6, 6, 12, 0, tzinfo=UTC)


def test_an_email_answered_by_the_next_business_day_meets_its_level():
    monday_11 = (datetime(2025, 6, 9, 11, 0, tzinfo=UTC) - FRIDAY_NOON).total_seconds()
    findings = check(
        [],
        wait=int(monday_11),
        levels=EMAIL,
        started_at=FRIDAY_NOON,
        add_business_days=_next_business_day,
    )
    assert [f.kind for f in findings] == ["missed_step", "missed_step", "missed_disclosure"]


def test_an_email_answered_after_the_next_business_day_misses_its_level():
    tuesday = int((datetime(2025, 6, 10, 9, 0, tzinfo=UTC) - FRIDAY_NOON).total_seconds())
    findings = check(
        DONE_IN_TIME,
        wait=tuesday,
        levels=EMAIL,
        started_at=FRIDAY_NOON,
        add_business_days=_next_business_day,
    )
    assert findings == [Finding("service_level", "reply_within_bdays", "1", str(tuesday))]
