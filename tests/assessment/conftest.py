"""Assessment personas and a small crafted month of facts (June 2025) whose KPIs are worked
out by hand in test_compute.py."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.assessment import services
from servicecharter.assessment.choices import Kpi, PeriodKind
from servicecharter.cases.choices import CaseKind, CaseState, Outcome
from servicecharter.cases.models import Case
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Channel, Language
from servicecharter.quality.choices import EvaluationState
from servicecharter.quality.models import Answer, Evaluation
from servicecharter.surveys.models import Invitation, Response, SurveyRule
from tests.conftest import make_user
from tests.quality.conftest import build_scorecard
from tests.standards.conftest import make_staff
from tests.surveys.conftest import make_customer

JUNE = datetime(2025, 6, 1)
AFTER_JUNE = datetime(2025, 7, 10, 9, 0)


def at(day: int, hour: int = 10, month: int = 6):
    return timezone.make_aware(datetime(2025, month, day, hour, 0))


@pytest.fixture
def after_june():
    with time_machine.travel(timezone.make_aware(AFTER_JUNE), tick=False):
        yield


@pytest.fixture
def hr(tree):
    return make_user("hr", Role.HR, tree["head"])


@pytest.fixture
def executive(tree):
    return make_user("exec", Role.EXECUTIVE, tree["head"])


@pytest.fixture
def bj_staff(tree):
    staff = make_staff(tree["bj_team"], "E10001", "李娜")
    staff.position = "teller"
    staff.save(update_fields=["position"])
    return staff


@pytest.fixture
def sh_staff(tree):
    staff = make_staff(tree["sh_team"], "E20001", "张伟")
    staff.position = "teller"
    staff.save(update_fields=["position"])
    return staff


@pytest.fixture
def bj_employee(bj_agent, bj_staff):
    bj_agent.staff = bj_staff
    bj_agent.save(update_fields=["staff"])
    return bj_agent


@pytest.fixture
def sh_employee(tree, sh_staff):
    return make_user("sh.agent", Role.AGENT, tree["sh_team"], staff=sh_staff)


def every_kpi(min_sample: int = 1, skip=(Kpi.TRAINING,)) -> list[dict]:
    return [
        {"kpi": kpi, "weight": 1, "min_sample": min_sample} for kpi in Kpi.values if kpi not in skip
    ]


@pytest.fixture
def scheme(hr):
    """Every KPI but training, weight 1, a sample of one is enough, one KPI makes a tier."""
    return services.scheme_create(
        actor=hr,
        code="test",
        name_en="Test",
        name_zh="测试",
        kpis=every_kpi(),
        excellent_from=85,
        good_from=65,
        meets_from=35,
        needs_improvement_from=15,
        min_kpis=1,
        min_peers=1,
    )


@pytest.fixture
def june(hr, scheme, after_june):
    return services.period_create(actor=hr, kind=PeriodKind.MONTH, start=JUNE.date(), scheme=scheme)


class Facts:
    """Builders of the rows the sources are read from."""

    def __init__(self, tree, auditor):
        self.tree = tree
        self.auditor = auditor
        self.counter = 0
        self.card = None
        self.rule = None
        self.customer = None

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def interaction(self, staff, when, deviations=0) -> Interaction:
        number = self._next()
        return Interaction.objects.create(
            external_system="t",
            external_id=f"i{number}",
            channel=Channel.PHONE,
            staff=staff,
            department_id=staff.department_id,
            started_at=when,
            outcome="served",
            deviation_count=deviations,
        )

    def response(self, staff, when, csat=None, nps=None) -> Response:
        if self.rule is None:
            self.rule = SurveyRule.objects.create(name="r", trigger="interaction")
            self.customer = make_customer("C1", self.tree["bj"])
        number = self._next()
        invitation = Invitation.objects.create(
            rule=self.rule,
            token_digest=f"d{number}",
            customer=self.customer,
            staff=staff,
            department_id=staff.department_id,
            channel=Channel.PHONE,
            language=Language.ZH_HANS,
            state="answered",
            created_at=when,
            expires_at=when + timedelta(days=14),
            answered_at=when,
        )
        return Response.objects.create(
            invitation=invitation,
            csat=csat,
            nps=nps,
            staff=staff,
            department_id=staff.department_id,
            channel=Channel.PHONE,
            answered_at=when,
        )

    def complaint(self, *, received, about=(), handler=None, **fields) -> Case:
        number = self._next()
        case = Case.objects.create(
            reference=f"C{number:05d}",
            kind=CaseKind.COMPLAINT,
            channel=Channel.PHONE,
            subject="s",
            description="d",
            profile_key="cn",
            department=self.tree["bj"],
            handler=handler,
            received_at=received,
            **fields,
        )
        case.staff_involved.set(about)
        return case

    def evaluation(self, staff, when, score, answers: dict) -> Evaluation:
        if self.card is None:
            self.card = build_scorecard(self.auditor)
        interaction = self.interaction(staff, when - timedelta(days=1))
        evaluation = Evaluation.objects.create(
            interaction=interaction,
            scorecard_version=self.card,
            auditor=self.auditor,
            staff=staff,
            department_id=staff.department_id,
            state=EvaluationState.COMPLETED,
            score=Decimal(score),
            completed_at=when,
        )
        criteria = {
            c.code: c for section in self.card.sections.all() for c in section.criteria.all()
        }
        Answer.objects.bulk_create(
            [
                Answer(evaluation=evaluation, criterion=criteria[code], value=value)
                for code, value in answers.items()
            ]
        )
        return evaluation


@pytest.fixture
def facts(tree):
    auditor = make_user("auditor", Role.QUALITY_AUDITOR, tree["head"])
    return Facts(tree, auditor)


@pytest.fixture
def crafted(facts, bj_staff, sh_staff, bj_employee):
    """June 2025 for the Beijing teller (worked out in test_compute) and a little for the
    Shanghai one; facts of July that must not count."""
    bj, sh = bj_staff, sh_staff
    # Interactions: 4 in June (1 with a deviation); the evaluations add 2 more below (clean).
    facts.interaction(bj, at(2))
    facts.interaction(bj, at(3), deviations=2)
    facts.interaction(bj, at(30, 23))
    facts.interaction(bj, at(1, 0))
    facts.interaction(bj, at(1, 0, month=7))  # July: outside
    facts.interaction(sh, at(5))
    facts.interaction(sh, at(6))
    # Survey answers: CSAT 5, 4, 2 → 2 of 3 satisfied; NPS 10 and 5 → 1 promoter, 1 detractor.
    facts.response(bj, at(4), csat=5, nps=10)
    facts.response(bj, at(5), csat=4, nps=5)
    facts.response(bj, at(6), csat=2)
    facts.response(bj, at(2, month=7), csat=1, nps=0)  # July: outside
    facts.response(sh, at(6), csat=5, nps=9)
    # Complaints about the Beijing teller: one received and upheld (attitude) in June, one
    # received in June and not upheld, one received in May and upheld in June.
    facts.complaint(
        received=at(7),
        about=[bj],
        state=CaseState.CLOSED,
        outcome=Outcome.UPHELD,
        responded_at=at(9),
        concerns_attitude=True,
    )
    facts.complaint(
        received=at(8),
        about=[bj],
        state=CaseState.CLOSED,
        outcome=Outcome.NOT_UPHELD,
        responded_at=at(12),
    )
    facts.complaint(
        received=at(28, month=5),
        about=[bj],
        state=CaseState.CLOSED,
        outcome=Outcome.PARTLY_UPHELD,
        responded_at=at(3),
    )
    # Complaints the Beijing teller handled: on time, late (breached then answered), and
    # breached in June still unanswered; one answered in July does not count.
    handler = bj_employee
    facts.complaint(received=at(2), handler=handler, responded_at=at(5), outcome=Outcome.ANSWERED)
    facts.complaint(
        received=at(2),
        handler=handler,
        breached_at=at(20),
        responded_at=at(22),
        outcome=Outcome.UPHELD,
    )
    facts.complaint(received=at(3), handler=handler, breached_at=at(25))
    facts.complaint(received=at(3), handler=handler, responded_at=at(3, month=7))
    # Evaluations: 80 and 90; attitude answers greeting yes, courtesy 5; greeting no,
    # courtesy 3 → 1 + 1 + 0 + 0.5 = 2.5 points of 4 answers.
    facts.evaluation(bj, at(10), 80, {"greeting": 1, "courtesy": 5, "accuracy": 4})
    facts.evaluation(bj, at(11), 90, {"greeting": 0, "courtesy": 3, "accuracy": 5})
    facts.evaluation(sh, at(11), 60, {"greeting": 1, "courtesy": 1, "accuracy": 2})
    return facts


@pytest.fixture
def closed_june(crafted, june, hr):
    """The crafted June, computed and closed."""
    services.period_compute(actor=hr, period=june)
    return services.period_close(actor=hr, period=june)
