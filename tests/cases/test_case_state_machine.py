"""Random sequences of everything that can happen to a complaint — the handler's transitions,
the customer's answer, extensions, pauses, new facts, withdrawal, sweeps and time passing —
driven through the services by a hypothesis state machine, checking after every step:

- a deadline never moves earlier, except by a rule (new facts and reopening restart it);
- a case that is no longer open has no deadline, and a closed case has an outcome;
- every transition has its timeline row and its audit row, and the timeline's states chain
  from "received" to the case's state;
- an action the state or the profile refuses changes nothing at all.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from servicecharter.cases import services, workflow
from servicecharter.cases.choices import OPEN_STATES, CaseState, Jurisdiction, TimelineKind
from servicecharter.cases.deadlines import DeadlineRuleError
from servicecharter.cases.models import Case
from servicecharter.core.models import AuditEntry

START = datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REFUSALS = (workflow.TransitionRefused, DeadlineRuleError, ValidationError)
TRANSITION_ACTIONS = {f"case.{action}" for action in workflow.TRANSITIONS}
# Actions after which the deadline may be earlier than before: the rules that restart it.
RESTARTS = {"new_facts", "reopen", "customer_rejects"}
MACHINE_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# Each action with fixed arguments, as the ``anything`` rule tries them.
ACTIONS = {
    "acknowledge": lambda m: lambda c: services.case_acknowledge(actor=m.agent, case=c),
    "start": lambda m: lambda c: services.case_start(actor=m.agent, case=c),
    "await_customer": lambda m: (
        lambda c: services.case_await_customer(actor=m.agent, case=c, note="Send the statement")
    ),
    "customer_replied": lambda m: lambda c: services.case_customer_replied(actor=m.agent, case=c),
    "escalate": lambda m: (
        lambda c: services.case_escalate(
            actor=m.agent, case=c, target="internal", note="Needs a decision"
        )
    ),
    "respond": lambda m: (
        lambda c: services.case_respond(
            actor=m.agent, case=c, outcome="upheld", response_text="Refunded."
        )
    ),
    "customer_accepts": lambda m: lambda c: services.case_customer_answer(case=c, accepted=True),
    "customer_rejects": lambda m: (
        lambda c: services.case_customer_answer(case=c, accepted=False, comment="Not enough")
    ),
    "close": lambda m: lambda c: services.case_close(actor=m.agent, case=c),
    "reopen": lambda m: lambda c: services.case_reopen(actor=m.agent, case=c, reason="Came back"),
    "extend": lambda m: (
        lambda c: services.case_extend(actor=m.agent, case=c, level="complex", note="Many accounts")
    ),
    "pause": lambda m: (
        lambda c: services.case_pause_clock(
            actor=m.agent, case=c, reason="external_appraisal", note="Lab"
        )
    ),
    "resume": lambda m: lambda c: services.case_resume_clock(actor=m.agent, case=c),
    "new_facts": lambda m: (
        lambda c: services.case_new_facts(actor=m.agent, case=c, note="A new statement")
    ),
    "withdraw": lambda m: lambda c: services.case_withdraw(actor=m.agent, case=c),
}


class ComplaintMachine(RuleBasedStateMachine):
    def __init__(self, *, agent, executive, department):
        super().__init__()
        self.agent, self.executive, self.department = agent, executive, department
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.case = None
        self.last_due = None  # the latest deadline since the last restart
        self.actions_since_time = 0

    def teardown(self):
        self.traveller.stop()

    # --- helpers ---------------------------------------------------------------------------

    def snapshot(self) -> tuple:
        case = Case.objects.get(pk=self.case.pk)
        return (
            *(
                getattr(case, field)
                for field in (
                    "state",
                    "due_at",
                    "warn_at",
                    "warned_at",
                    "breached_at",
                    "outcome",
                    "extension_level",
                    "handler_id",
                    "closed_at",
                    "escalated_to",
                    "customer_accepted",
                )
            ),
            case.timeline.count(),
            case.clock_events.count(),
            case.messages.count(),
            AuditEntry.objects.filter(object_id=str(case.pk)).count(),
        )

    def act(self, name: str, call) -> None:
        """Run a service; a refusal must leave no trace, a success must keep the deadline rule."""
        self.actions_since_time += 1
        before = self.snapshot()
        try:
            call(Case.objects.get(pk=self.case.pk))
        except REFUSALS:
            assert self.snapshot() == before, f"{name} was refused but changed the case"
            return
        self.case = Case.objects.get(pk=self.case.pk)
        due = self.case.due_at
        if name in RESTARTS:
            self.last_due = due
        elif due is not None:
            if self.last_due is not None:
                assert due >= self.last_due, f"{name} moved the deadline earlier"
            self.last_due = due

    # --- the case --------------------------------------------------------------------------

    # Mostly mainland China, whose profile has extensions, a pause and restarts.
    @initialize(
        jurisdiction=st.sampled_from(
            [Jurisdiction.CN, Jurisdiction.CN, Jurisdiction.UK, Jurisdiction.US]
        )
    )
    def receive(self, jurisdiction):
        self.case = services.case_create(
            actor=self.agent,
            kind="complaint",
            channel="phone",
            subject="Fee charged twice",
            description="The annual fee was charged twice.",
            contact_name="Li Lei",
            department=self.department,
            handler=self.agent,
            jurisdiction=jurisdiction,
            currency={"CN": "CNY", "UK": "GBP", "US": "USD"}[jurisdiction],
        ).case
        self.last_due = self.case.due_at

    def can(self, action: str) -> bool:
        """The state allows ``action`` (rules guarded by this mostly succeed; ``anything``
        below tries actions whatever the state, to check refusals)."""
        return self.case is not None and self.case.state in workflow.TRANSITIONS[action][0]

    def is_open(self) -> bool:
        return self.case is not None and self.case.state in OPEN_STATES

    @precondition(lambda self: self.can("acknowledge"))
    @rule()
    def acknowledge(self):
        self.act("acknowledge", ACTIONS["acknowledge"](self))

    @precondition(lambda self: self.can("start"))
    @rule()
    def start(self):
        self.act("start", ACTIONS["start"](self))

    @precondition(lambda self: self.can("await_customer"))
    @rule()
    def await_customer(self):
        self.act("await_customer", ACTIONS["await_customer"](self))

    @precondition(lambda self: self.can("customer_replied"))
    @rule()
    def customer_replied(self):
        self.act("customer_replied", ACTIONS["customer_replied"](self))

    @precondition(lambda self: self.can("escalate"))
    @rule(to=st.sampled_from(["internal", "regulator", "ombudsman"]))
    def escalate(self, to):
        self.act(
            "escalate",
            lambda c: services.case_escalate(
                actor=self.agent, case=c, target=to, note="Needs a decision"
            ),
        )

    # Mostly outcomes a complaint may have; now and then one it may not (refused).
    @precondition(lambda self: self.can("respond"))
    @rule(outcome=st.sampled_from(["upheld", "not_upheld", "partly_upheld", "answered"]))
    def respond(self, outcome):
        self.act(
            "respond",
            lambda c: services.case_respond(
                actor=self.agent, case=c, outcome=outcome, response_text="Our answer."
            ),
        )

    @precondition(lambda self: self.can("close"))
    @rule(accepted=st.booleans())
    def customer_answers(self, accepted):
        name = "customer_accepts" if accepted else "customer_rejects"
        self.act(name, ACTIONS[name](self))

    @precondition(lambda self: self.can("close"))
    @rule()
    def close(self):
        self.act("close", ACTIONS["close"](self))

    @precondition(lambda self: self.can("reopen"))
    @rule()
    def reopen(self):
        self.act("reopen", ACTIONS["reopen"](self))

    @precondition(lambda self: self.is_open())
    @rule(
        level=st.sampled_from(["complex", "especially_complex", "exceptional", "bogus"]),
        senior=st.booleans(),
    )
    def extend(self, level, senior):
        actor = self.executive if senior else self.agent
        self.act(
            "extend",
            lambda c: services.case_extend(actor=actor, case=c, level=level, note="Many accounts"),
        )

    @precondition(lambda self: self.is_open())
    @rule(reason=st.sampled_from(["external_appraisal", "external_appraisal", "awaiting_customer"]))
    def pause(self, reason):
        self.act(
            "pause",
            lambda c: services.case_pause_clock(
                actor=self.agent, case=c, reason=reason, note="Lab"
            ),
        )

    @precondition(lambda self: self.is_open())
    @rule()
    def resume(self):
        self.act("resume", ACTIONS["resume"](self))

    @precondition(lambda self: self.is_open())
    @rule()
    def new_facts(self):
        self.act("new_facts", ACTIONS["new_facts"](self))

    # Withdrawal ends the story: drawn one time in four, so most runs go further.
    @precondition(lambda self: self.can("withdraw"))
    @rule(really=st.sampled_from([False, False, False, True]))
    def withdraw(self, really):
        if really:
            self.act("withdraw", ACTIONS["withdraw"](self))

    @precondition(lambda self: self.case is not None)
    @rule(name=st.sampled_from(sorted(ACTIONS)))
    def anything(self, name):
        """Any action, whatever the state: a refusal must change nothing."""
        self.act(name, ACTIONS[name](self))

    # Time passes between actions, not instead of them: at most every other step.
    @precondition(lambda self: self.case is not None and self.actions_since_time >= 2)
    @rule(hours=st.integers(min_value=1, max_value=24 * 6))
    def time_passes(self, hours):
        self.clock.shift(timedelta(hours=hours))
        self.act("sweep", lambda c: services.sweep_deadlines())
        self.actions_since_time = 0

    # --- what must always hold -------------------------------------------------------------

    @invariant()
    def a_case_no_longer_open_has_no_deadline_and_a_closed_one_an_outcome(self):
        if self.case is None:
            return
        case = Case.objects.get(pk=self.case.pk)
        if case.state not in OPEN_STATES:
            assert case.due_at is None and case.warn_at is None
        if case.state == CaseState.CLOSED:
            assert case.outcome and case.closed_at is not None

    @invariant()
    def every_transition_has_a_timeline_row_and_an_audit_row(self):
        if self.case is None:
            return
        case = Case.objects.get(pk=self.case.pk)
        moves = list(
            case.timeline.filter(kind=TimelineKind.TRANSITION)
            .order_by("at", "id")
            .values_list("from_state", "to_state")
        )
        states = [CaseState.RECEIVED] + [to for _from, to in moves]
        assert [from_ for from_, _to in moves] == states[:-1]
        assert states[-1] == case.state
        audited = AuditEntry.objects.filter(
            object_type="cases.case", object_id=str(case.pk), action__in=TRANSITION_ACTIONS
        ).count()
        assert audited == len(moves)

    @invariant()
    def a_breach_is_recorded_only_after_the_deadline(self):
        if self.case is None:
            return
        case = Case.objects.get(pk=self.case.pk)
        if case.breached_at is not None and case.due_at is not None:
            assert case.breached_at >= case.due_at


@pytest.mark.django_db
def test_random_sequences_of_actions_keep_the_invariants(tree, bj_agent, executive):
    run_state_machine_as_test(
        lambda: ComplaintMachine(agent=bj_agent, executive=executive, department=tree["bj_team"]),
        settings=MACHINE_SETTINGS,
    )


# --- sequences the machine found, kept as plain tests ----------------------------------------------


def _answered(new_case, agent, **fields):
    case = services.case_start(actor=agent, case=new_case(**fields))
    return services.case_respond(
        actor=agent, case=case, outcome="not_upheld", response_text="No error."
    )


def test_a_uk_customer_can_reject_the_final_response(new_case, bj_agent):
    # UK and US clocks do not restart on new facts: reopening must not try to restart them.
    case = _answered(new_case, bj_agent, jurisdiction=Jurisdiction.UK, currency="GBP")
    case = services.case_customer_answer(case=case, accepted=False, comment="Still wrong")
    assert case.state == CaseState.REOPENED and case.due_at is None


def test_withdrawing_a_reopened_case_stops_its_restarted_clock(new_case, bj_agent):
    case = _answered(new_case, bj_agent)
    case = services.case_reopen(actor=bj_agent, case=case, reason="The customer came back")
    assert case.due_at is not None
    case = services.case_withdraw(actor=bj_agent, case=case)
    assert case.state == CaseState.CLOSED and case.due_at is None and case.warn_at is None


def test_a_withdrawn_case_is_not_reopened(new_case, bj_agent):
    case = services.case_withdraw(actor=bj_agent, case=new_case())
    with pytest.raises(workflow.TransitionRefused, match="record a new case"):
        services.case_reopen(actor=bj_agent, case=case, reason="Back again")


def test_new_facts_after_a_breach_put_the_new_deadline_under_watch(new_case, bj_agent):
    case = new_case()
    with time_machine.travel(case.due_at + timedelta(hours=2), tick=False):
        services.sweep_deadlines()
        case = services.case_new_facts(actor=bj_agent, case=Case.objects.get(pk=case.pk), note="x")
    assert case.breached_at is None and case.due_at > case.received_at + timedelta(days=15)
    with time_machine.travel(case.due_at + timedelta(hours=1), tick=False):
        assert services.sweep_deadlines()["breached"] == 1
