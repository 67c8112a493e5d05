"""The demo step assesses the last three months with the default scheme and closes them.
(The whole demo seed with it was run by hand: it takes a minute, too long for the suite.)"""

from datetime import date

from servicecharter.assessment.choices import PeriodState, Tier
from servicecharter.assessment.models import Period, StaffScorecard
from servicecharter.core.models import Event
from servicecharter.demo.assessment import assessment_seed


def test_the_demo_closes_its_last_three_months(crafted, bj_staff, after_june):
    summary = assessment_seed(today=date(2025, 7, 10))

    periods = list(Period.objects.order_by("start"))
    assert [str(p) for p in periods] == ["2025-04", "2025-05", "2025-06"] == summary.periods
    assert all(p.state == PeriodState.CLOSED for p in periods)
    assert periods[-1].scheme.code == "default"
    # Six interactions are below the default scheme's samples: insufficient, with reasons.
    june = StaffScorecard.objects.get(period=periods[-1], staff=bj_staff)
    assert june.tier == Tier.INSUFFICIENT
    assert june.kpis["standard_adherence"]["reason"] == "6 in the sample, 50 needed."
    assert Event.objects.filter(name="assessment.period_closed").count() == 3
    assert assessment_seed(today=date(2025, 7, 10)).periods == []  # run twice: nothing new
