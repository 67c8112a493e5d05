"""A standard version and the channel service levels as plain data: what the deviation checker
(``interactions.checks``) needs to judge an interaction, with no database behind it.

``InForce`` answers "which version, which service levels were in force for this business type
and channel at this instant" from rules loaded once, so an ingest batch of thousands of rows
asks the database nothing per row.
"""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StepRule:
    code: str
    phase: str
    order: int
    target_seconds: int | None
    mandatory: bool
    is_disclosure: bool


@dataclass(frozen=True, slots=True)
class VersionRules:
    version_id: int
    standard_id: int
    number: int
    steps: tuple[StepRule, ...]


@dataclass(frozen=True, slots=True)
class LevelRule:
    metric: str
    threshold: int
    target_share: int = 80


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end): end None = open."""

    start: datetime
    end: datetime | None

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


class Timeline:
    """Values that hold over periods, looked up by instant with one bisection. Built from the
    boundaries of every period; each segment between two boundaries keeps one value."""

    def __init__(self, boundaries: list[datetime], values: list):
        # values[i] holds on [boundaries[i-1], boundaries[i]); values[0] before the first.
        self.boundaries = boundaries
        self.values = values

    def at(self, when: datetime):
        return self.values[bisect_right(self.boundaries, when)]

    @classmethod
    def build(cls, periods: list[Period], value_at) -> "Timeline":
        """``value_at(instant)`` gives the value of the segment starting at ``instant``."""
        points = sorted(
            {period.start for period in periods}
            | {period.end for period in periods if period.end is not None}
        )
        if not points:
            return cls([], [value_at(None)])
        values = [value_at(None)] + [value_at(point) for point in points]
        return cls(points, values)


@dataclass
class InForce:
    """Every published version (with its steps) and every service level, indexed for lookup.

    ``versions`` maps (business type id or None, channel or "") to [(period, VersionRules)];
    ``parents`` maps a business type id to its parent's, so a standard for "bank cards" judges
    an interaction about "credit cards" when no standard is more specific."""

    versions: dict[tuple[int | None, str], list[tuple[Period, VersionRules]]]
    levels: dict[str, list[tuple[Period, LevelRule]]]
    parents: dict[int, int | None]
    _version_timelines: dict = field(default_factory=dict, repr=False)
    _level_timelines: dict = field(default_factory=dict, repr=False)

    def candidates(self, business_type_id: int | None, channel: str) -> list[tuple]:
        """The keys that could judge (business type, channel), most specific first: the
        business type, then each ancestor, then none; within each, the channel, then any."""
        chain: list[int | None] = []
        current, seen = business_type_id, set()
        while current is not None and current not in seen:
            chain.append(current)
            seen.add(current)
            current = self.parents.get(current)
        chain.append(None)
        return [(bt, ch) for bt in chain for ch in (channel, "")]

    def version(self, business_type_id: int | None, channel: str, at: datetime):
        key = (business_type_id, channel)
        timeline = self._version_timelines.get(key)
        if timeline is None:
            timeline = self._version_timelines[key] = self._version_timeline(key)
        return timeline.at(at)

    def _version_timeline(self, key) -> Timeline:
        ranked = [self.versions[k] for k in self.candidates(*key) if k in self.versions]
        periods = [period for entries in ranked for period, _rules in entries]

        def first_in_force(instant):
            if instant is None:
                return None
            for entries in ranked:
                for period, rules in entries:
                    if period.covers(instant):
                        return rules
            return None

        return Timeline.build(periods, first_in_force)

    def service_levels(self, channel: str, at: datetime) -> tuple[LevelRule, ...]:
        timeline = self._level_timelines.get(channel)
        if timeline is None:
            entries = self.levels.get(channel, [])

            def in_force(instant):
                if instant is None:
                    return ()
                return tuple(rule for period, rule in entries if period.covers(instant))

            timeline = self._level_timelines[channel] = Timeline.build(
                [period for period, _rule in entries], in_force
            )
        return timeline.at(at)


def index_versions(
    rows: Iterable[tuple[int | None, str, Period, VersionRules]],
) -> dict[tuple[int | None, str], list[tuple[Period, VersionRules]]]:
    indexed: dict[tuple[int | None, str], list[tuple[Period, VersionRules]]] = {}
    for business_type_id, channel, period, rules in rows:
        indexed.setdefault((business_type_id, channel), []).append((period, rules))
    return indexed
