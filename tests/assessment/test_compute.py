"""A period computed over the crafted June (tests/assessment/conftest.py), every KPI worked out
by hand; recompute before close, frozen after it; the closing event emitted once."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from servicecharter.assessment import services
from servicecharter.assessment.choices import Kpi, PeriodKind, PeriodState, Tier
from servicecharter.assessment.models import DepartmentScorecard, PeriodEvent, StaffScorecard
from servicecharter.core.models import AuditEntry, Event
from tests.assessment.conftest import JUNE, at, every_kpi


def _card(period, staff) -> StaffScorecard:
    return StaffScorecard.objects.get(period=period, staff=staff)


def _values(card) -> dict:
    return {k: (v["value"], v["n"]) for k, v in card.kpis.items()}


def test_every_kpi_of_the_beijing_teller(crafted, june, hr, bj_staff):
    services.period_compute(actor=hr, period=june)

    card = _card(june, bj_staff)
    assert _values(card) == {
        Kpi.CSAT: ("66.67", 3),  # 5, 4, 2: two of three satisfied
        Kpi.NPS: ("0.00", 2),  # one promoter, one detractor of two
        Kpi.COMPLAINTS_PER_1000: ("333.33", 6),  # 2 received in June × 1,000 / 6 served
        Kpi.COMPLAINT_TIMELINESS: ("33.33", 3),  # on time, late, breached unanswered
        Kpi.UPHELD_COMPLAINTS: ("2", 6),  # upheld and partly upheld, answered in June
        Kpi.QA_SCORE: ("85.00", 2),  # (80 + 90) / 2
        Kpi.ATTITUDE: ("50.00", 5),  # 2.5 points of 4 answers + 1 upheld attitude complaint
        Kpi.STANDARD_ADHERENCE: ("83.33", 6),  # 5 of 6 without a deviation
    }


def test_normalised_within_the_peer_group_weighted_and_ranked(
    crafted, june, hr, bj_staff, sh_staff
):
    services.period_compute(actor=hr, period=june)

    bj, sh = _card(june, bj_staff), _card(june, sh_staff)
    # Beijing is worse on 5 KPIs (0), better on QA (100), alone on timeliness (50), tied on
    # attitude (50): 200 / 8 = 25. Shanghai: 100 × 5 + 0 + 50 over 7 KPIs = 78.57.
    assert bj.kpis[Kpi.QA_SCORE]["normalised"] == "100.00"
    assert bj.kpis[Kpi.COMPLAINT_TIMELINESS]["normalised"] == "50.00"
    assert sh.kpis[Kpi.COMPLAINT_TIMELINESS]["sufficient"] is False
    assert (bj.score, bj.tier, bj.rank) == (D("25.00"), Tier.NEEDS_IMPROVEMENT, 2)
    assert (sh.score, sh.tier, sh.rank) == (D("78.57"), Tier.GOOD, 1)
    assert bj.peer_group == "teller" and bj.peer_count == 2


def test_department_scorecards_cover_their_subtree(crafted, june, hr, tree):
    services.period_compute(actor=hr, period=june)

    cards = {c.department.code: c for c in DepartmentScorecard.objects.filter(period=june)}
    assert cards["BJ-T1"].score == D("25.00") and cards["BJ-T1"].rank == 2
    assert cards["SH"].score == D("78.57") and cards["SH"].rank == 1
    head = cards["HO"]
    assert head.score == D("51.79") and head.tier == Tier.MEETS  # (25 + 78.57) / 2
    assert head.staff_count == 2 and head.tier_counts[Tier.GOOD] == 1
    # Pooled: 3 + 1 CSAT answers, 2 + 1 satisfied.
    assert head.kpis[Kpi.CSAT] == {"value": "75.00", "n": 4, "num": "3", "den": "4"}


def test_below_the_minimum_sample_a_kpi_is_insufficient_never_a_tier(
    crafted, hr, scheme, bj_staff, after_june
):
    services.scheme_version_save(
        actor=hr,
        scheme=scheme,
        kpis=every_kpi(min_sample=4),
        excellent_from=85,
        good_from=65,
        meets_from=35,
        needs_improvement_from=15,
        min_kpis=5,
        min_peers=1,
    )
    period = services.period_create(
        actor=hr, kind=PeriodKind.MONTH, start=JUNE.date(), scheme=scheme
    )
    services.period_compute(actor=hr, period=period)

    card = _card(period, bj_staff)
    assert card.kpis[Kpi.CSAT]["sufficient"] is False
    assert card.kpis[Kpi.CSAT]["reason"] == "3 in the sample, 4 needed."
    # Only interactions-based KPIs (6 served) have 4 or more: 4 KPIs < 5 needed.
    assert card.kpis_with_data == 4
    assert card.tier == Tier.INSUFFICIENT and card.score is None and card.rank is None


def test_recompute_before_close_picks_up_new_facts(crafted, june, hr, bj_staff):
    services.period_compute(actor=hr, period=june)
    crafted.interaction(bj_staff, at(15), deviations=1)

    services.period_compute(actor=hr, period=june)

    assert _card(june, bj_staff).kpis[Kpi.STANDARD_ADHERENCE]["value"] == "71.43"  # 5 of 7
    assert StaffScorecard.objects.filter(period=june).count() == 2


def test_close_freezes_the_scorecards(crafted, june, hr, bj_staff):
    services.period_compute(actor=hr, period=june)
    services.period_close(actor=hr, period=june)
    before = _card(june, bj_staff)

    crafted.interaction(bj_staff, at(15), deviations=1)
    crafted.response(bj_staff, at(16), csat=1)
    with pytest.raises(ValidationError):
        services.period_compute(actor=hr, period=june)

    after = _card(june, bj_staff)
    assert after.kpis == before.kpis and after.score == before.score
    june.refresh_from_db()
    assert june.state == PeriodState.CLOSED


def test_closing_emits_the_event_once_with_the_period(crafted, june, hr):
    services.period_compute(actor=hr, period=june)

    services.period_close(actor=hr, period=june)
    with pytest.raises(ValidationError):
        services.period_close(actor=hr, period=june)

    events = Event.objects.filter(name="assessment.period_closed")
    assert events.count() == 1
    assert events.get().payload == {
        "period_id": june.pk,
        "kind": "month",
        "start": "2025-06-01",
        "end": "2025-06-30",
    }
    assert events.get().dedupe_key == f"assessment.period_closed:{june.pk}"
    assert list(PeriodEvent.objects.filter(period=june).values_list("kind", flat=True)) == [
        "created",
        "computed",
        "closed",
    ]
    assert AuditEntry.objects.filter(action="assessment.period_close").count() == 1


def test_an_open_period_cannot_be_closed(june, hr):
    with pytest.raises(ValidationError):
        services.period_close(actor=hr, period=june)


def test_a_period_must_have_ended_and_start_on_its_first_day(hr, scheme, after_june):
    from datetime import date

    with pytest.raises(ValidationError):
        services.period_create(actor=hr, kind="month", start=date(2025, 7, 1), scheme=scheme)
    with pytest.raises(ValidationError):
        services.period_create(actor=hr, kind="month", start=date(2025, 6, 2), scheme=scheme)
    with pytest.raises(ValidationError):
        services.period_create(actor=hr, kind="quarter", start=date(2025, 2, 1), scheme=scheme)
    quarter = services.period_create(
        actor=hr, kind="quarter", start=date(2025, 1, 1), scheme=scheme
    )
    assert quarter.end == date(2025, 3, 31)


def test_the_background_computation_gives_the_same_scorecards(
    crafted, june, hr, bj_staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        period = services.period_compute(actor=hr, period=june, background=True)
    assert period.computing and len(callbacks) == 1

    services.period_compute_task.call(june.pk, hr.pk)

    june.refresh_from_db()
    assert june.state == PeriodState.COMPUTED and not june.computing and june.progress == 100
    assert _card(june, bj_staff).score == D("25.00")


def test_someone_without_the_capability_cannot_compute(june, bj_supervisor):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.period_compute(actor=bj_supervisor, period=june)


def test_the_queries_do_not_grow_with_the_staff(crafted, june, hr, tree):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.standards.conftest import make_staff

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            services.period_compute(actor=hr, period=june)
        return len(captured.captured_queries)

    before = queries()
    for number in range(6):
        member = make_staff(tree["sh_team"], f"E3000{number}", f"员工{number}")
        crafted.interaction(member, at(10))
        crafted.response(member, at(11), csat=4, nps=8)

    assert queries() == before
    assert StaffScorecard.objects.filter(period=june).count() == 8
