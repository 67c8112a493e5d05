"""What quality reads from the surveys module. Surveys sits below quality (a module imports only
the modules above it), so it hands these readers over at start (``SurveysConfig.ready``) instead
of quality importing them."""

from collections.abc import Callable
from datetime import date, datetime

from django.db.models import Q

# (filter on interactions under a field prefix, as_of) → ids of interactions with a low score
LowScoreReader = Callable[[Callable[[str], Q], datetime], set[int]]
# (department ids, first day, last day) → the period's tally (invited, answered, csat, nps, …)
TallyReader = Callable[[list[int], date, date], object]

_readers: dict[str, Callable] = {}


def provide(*, low_score_interaction_ids: LowScoreReader, period_tally: TallyReader) -> None:
    _readers["low_score"] = low_score_interaction_ids
    _readers["tally"] = period_tally


def _reader(name: str) -> Callable:
    try:
        return _readers[name]
    except KeyError:
        raise RuntimeError("The surveys app has not handed quality its readers.") from None


def low_score_interaction_ids(in_scope: Callable[[str], Q], *, as_of: datetime) -> set[int]:
    """Interactions in ``in_scope(prefix)`` whose survey was answered with a low score."""
    return _reader("low_score")(in_scope, as_of)


def period_tally(department_ids: list[int], first_day: date, last_day: date):
    """The survey tally of the departments over the days (invited, answered, csat, nps…)."""
    return _reader("tally")(department_ids, first_day, last_day)
