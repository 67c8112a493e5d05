"""Demo interactions: real phone calls, plus generated service on the other channels.

**Phone.** ``bank_call_center_technion_1999.csv`` (../shared/data; see SOURCES.md) holds the
January 1999 calls of a real bank call centre ("Anonymous Bank", Technion SEE Center). Each call
becomes a phone interaction:

- each of its agents (the ``server`` column) is mapped, the same way for the same seed, to one
  member of staff of a demo phone service centre team (``…-TEL``); an unanswered call goes to the
  queue of one of those teams;
- ``AGENT`` calls are served, ``HANG`` calls are kept as abandoned, ``PHANTOM`` calls (virtual
  calls the data set says to ignore) are left out; a call without an agent (``NO_SERVER``:
  every abandoned call, and a few hundred short served ones) stays in a team's queue;
- the waiting time is the time in queue (``q_time``), the handling time the service time
  (``ser_time``); the call starts when it entered the bank's voice response unit;
- each day is moved to the same weekday of a week drawn within the last 52 weeks before the day
  of the seed, at the same time of day, so weekday and time-of-day patterns stay as they were;
- the call type gives the business type (``NW`` a prospective customer: current deposits;
  ``IN`` internet banking: online payments; ``NE`` stock exchange: fund agency); regular calls
  (``PS``, ``PE``, ``TT``) are spread over general enquiries, credit cards, deposits and loans;
- the data set has no step events: they are generated for served calls from the standard that
  judges the call, with each agent's own rate of missed and late steps.

**Other channels.** Chat, social media, counter, email and app interactions are generated for
the last 12 months, with the step events of their standards (some missed, some late, some
disclosures forgotten), waiting times around each channel's service level, and a few abandoned.

Everything is a pure function of the seed and the seed's day; the rows go through
``interaction_ingest_many`` in batches (one audit row each), so they are judged exactly as
ingested interactions are.
"""

import csv
import math
import random
import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts.models import User
from servicecharter.demo.cases import data_file
from servicecharter.demo.standards import DISCLOSE, MAY, MUST, STANDARDS, version_for
from servicecharter.interactions.ingest import NewInteraction
from servicecharter.interactions.services import interaction_ingest_many
from servicecharter.org.choices import Channel, StaffStatus
from servicecharter.org.models import BusinessType, Customer, Staff
from servicecharter.standards.selectors import in_force

TECHNION_FILE = "bank_call_center_technion_1999.csv"
PHONE_SYSTEM = "technion-1999"
GENERATED_SYSTEM = "demo"
BATCH = 5_000
WEEKS = 52

# Generated interactions over the 12 months, per channel.
GENERATED = {
    Channel.CHAT: 4_000,
    Channel.SOCIAL: 600,
    Channel.BRANCH: 5_000,
    Channel.EMAIL: 1_500,
    Channel.APP: 1_500,
}

# Technion call type → business type code (None: a general enquiry).
CALL_TYPES = {"NW": "B0101", "IN": "B0403", "NE": "B0802"}
# Regular calls (PS, PE, TT, AA): (business type, weight).
REGULAR_CALLS = ((None, 45), ("B0302", 30), ("B0101", 15), ("B0202", 10))


@dataclass
class InteractionsSummary:
    phone: int = 0
    abandoned: int = 0
    agents: int = 0
    by_channel: dict = field(default_factory=dict)
    deviations: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_channel.values())


# Which demo standard judges what: the most specific (business type, channel), as in
# ``standards.rules.InForce``.
_SPECS = {(spec.business_type, spec.channel): spec for spec in STANDARDS}


def spec_for(business_type: str | None, channel: str):
    chain = []
    if business_type:
        chain.append(business_type)
        if len(business_type) == 5:
            chain.append(business_type[:3])
    chain.append(None)
    for code in chain:
        for each in (channel, ""):
            if (code, each) in _SPECS:
                return _SPECS[(code, each)]
    return None


class Demo:
    """What the generators draw from: staff pools by team kind, business types, customers."""

    def __init__(self, seed: int, today: date):
        self.seed = seed
        self.today = today
        self.zone = timezone.get_current_timezone()
        self.types = dict(BusinessType.objects.values_list("code", "pk"))
        self.customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
        self.pools: dict[str, list[tuple[int, int, str]]] = {}
        staff = (
            Staff.objects.filter(status=StaffStatus.ACTIVE, department__kind="team")
            .order_by("employee_number")
            .values_list("pk", "department_id", "employee_number", "department__code")
        )
        for pk, department_id, number, code in staff:
            kind = code.rsplit("-", 1)[-1]
            self.pools.setdefault(kind, []).append((pk, department_id, number))
        # Each member of staff's own care: how often they miss or delay a step (0.3 to 3 times
        # the usual rate), the same for the same seed.
        self.sloppiness = {
            number: math.exp(random.Random(f"{seed}:care:{number}").gauss(0, 0.6))
            for pool in self.pools.values()
            for _pk, _dept, number in pool
        }

    def at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.zone)

    def customer(self, rng: random.Random, key: int | None = None) -> int | None:
        if not self.customers:
            return None
        if key is not None:
            return self.customers[key % len(self.customers)]
        return rng.choice(self.customers) if rng.random() < 0.8 else None


def step_events(version, handle: int | None, rng: random.Random, care: float) -> list[dict]:
    """What a member of staff did: each step of ``version`` at a time inside its target, unless
    (at their own rate) they forgot it or were late."""
    events = []
    count = len(version.steps)
    for position, step in enumerate(version.steps, start=1):
        miss = {MUST: 0.025, DISCLOSE: 0.05, MAY: 0.45}[step.need]
        if rng.random() < min(0.9, miss * (care if step.need != MAY else 1)):
            continue
        if step.target:
            if rng.random() < min(0.5, 0.05 * care):
                at = int(step.target * rng.uniform(1.05, 1.9))
            else:
                at = int(step.target * rng.uniform(0.2, 0.95))
        else:
            at = int((handle or 900) * position / (count + 1))
        if handle is not None:
            at = min(at, handle)
        events.append({"step": step.code, "at": max(at, 0)})
    events.sort(key=lambda event: event["at"])
    return events


# Phone: the Technion calls ------------------------------------------------------------------


def _clock_seconds(value: str) -> time:
    hours, minutes, seconds = (int(part) for part in value.split(":"))
    return time(hours % 24, minutes, seconds)


def _shifted_day(original: date, weeks_back: int, today: date) -> date:
    """The same weekday as ``original``, ``weeks_back`` weeks before the last such day before
    ``today``."""
    last = today - timedelta(days=1)
    latest = last - timedelta(days=(last.weekday() - original.weekday()) % 7)
    return latest - timedelta(weeks=weeks_back)


def _phone_business_type(call_type: str, rng: random.Random) -> str | None:
    if call_type in CALL_TYPES:
        return CALL_TYPES[call_type]
    codes, weights = zip(*REGULAR_CALLS, strict=True)
    return rng.choices(codes, weights)[0]


def phone_rows(demo: Demo, path, summary: InteractionsSummary, limit: int | None = None):
    """The Technion calls as interactions (see the module's docstring)."""
    rng = random.Random(f"{demo.seed}:technion")
    phone_staff = demo.pools.get("TEL", [])
    if not phone_staff:
        summary.notes.append(_("No phone service team: the call records were not loaded."))
        return
    with open(path, newline="", encoding="utf-8") as handle:
        calls = list(csv.DictReader(handle))
    servers = sorted({call["server"] for call in calls} - {"NO_SERVER"})
    chosen = list(phone_staff)
    random.Random(f"{demo.seed}:technion:agents").shuffle(chosen)
    agents = {server: chosen[i % len(chosen)] for i, server in enumerate(servers)}
    summary.agents = len(servers)
    queues = sorted({department for _pk, department, _number in phone_staff})
    count = 0
    for call in calls:
        if call["outcome"] == "PHANTOM":
            continue
        if limit is not None and count >= limit:
            break
        count += 1
        yield _phone_row(demo, call, agents, queues, rng)


def _phone_row(demo: Demo, call: dict, agents: dict, queues: list, rng: random.Random):
    stamp = call["date"]
    original = date(1900 + int(stamp[:2]), int(stamp[2:4]), int(stamp[4:6]))  # YYMMDD of 1999
    day = _shifted_day(original, rng.randrange(WEEKS), demo.today)
    started_at = demo.at(day, _clock_seconds(call["vru_entry"]))
    business_type = _phone_business_type(call["type"], rng)
    served = call["outcome"] == "AGENT"
    wait = int(call["q_time"])
    # Customer ids are digits, a few written as 6.02E+11 by a spreadsheet: a key all the same.
    customer_key = sum(ord(char) * 31**i for i, char in enumerate(call["customer_id"] or ""))
    if call["customer_id"] in {"", "0"}:
        customer_key = 0  # the caller was not identified
    fields = {
        "external_system": PHONE_SYSTEM,
        "external_id": f"{call['vru+line']}-{call['call_id']}",
        "channel": Channel.PHONE,
        "started_at": started_at,
        "business_type_id": demo.types.get(business_type) if business_type else None,
        "customer_id": demo.customer(rng, customer_key) if customer_key else None,
        "wait_seconds": wait,
        "notes": f"VRU {call['vru+line']}, type {call['type']}, priority {call['priority']}",
    }
    # A call the data set records without an agent (some short served calls) stays in the
    # queue of a phone team, served by no one we know.
    queue = queues[int(call["call_id"]) % len(queues)]
    staff_id, department_id, number = agents.get(call["server"], (None, queue, None))
    if not served:
        return NewInteraction(department_id=department_id, outcome="abandoned", **fields)
    handle = int(call["ser_time"])
    spec = spec_for(business_type, Channel.PHONE)
    version = version_for(spec, started_at, demo.today) if spec else None
    care = demo.sloppiness.get(number, 1.0)
    steps = step_events(version, handle, rng, care) if version else []
    return NewInteraction(
        department_id=department_id,
        staff_id=staff_id,
        outcome="served",
        handle_seconds=handle,
        steps=steps,
        **fields,
    )


# The other channels -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelShape:
    """How a channel's service looks: when, how long the wait and the service, who serves."""

    days: tuple[int, ...]  # weekdays open (Monday 0)
    hours: tuple[int, int]  # first and last hour a contact starts
    wait_median: float  # seconds
    wait_spread: float  # sigma of the log-normal
    handle_median: float
    abandon: float
    teams: tuple[tuple[str, int], ...]  # (team kind, weight)
    business_types: tuple[tuple[str | None, int], ...]


EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
SHAPES = {
    Channel.CHAT: ChannelShape(
        EVERY_DAY, (8, 21), 12, 0.9, 420, 0.05, (("TEL", 1),),
        ((None, 60), ("B0302", 15), ("B0403", 15), ("B0101", 10)),
    ),
    Channel.SOCIAL: ChannelShape(
        EVERY_DAY, (8, 21), 900, 1.0, 1800, 0.02, (("TEL", 1),), ((None, 80), ("B0302", 20)),
    ),
    Channel.BRANCH: ChannelShape(
        (0, 1, 2, 3, 4, 5), (9, 16), 420, 0.7, 400, 0.03,
        (("RET", 6), ("WLT", 1), ("PB", 1), ("LN", 1), ("SME", 1)),
        (),
    ),
    Channel.EMAIL: ChannelShape(
        EVERY_DAY, (0, 23), 6 * 3600, 1.2, 900, 0.0, (("TEL", 1),),
        ((None, 85), ("B0302", 15)),
    ),
    Channel.APP: ChannelShape(
        EVERY_DAY, (7, 22), 15, 1.0, 300, 0.04, (("TEL", 1),),
        ((None, 40), ("B0402", 40), ("B0403", 20)),
    ),
}  # fmt: skip

# The counter's business by team: (business type, weight, handling median in seconds).
COUNTER_BUSINESS = {
    "RET": ((None, 40, 400), ("B0101", 35, 300), ("B0102", 25, 420)),
    "WLT": (("B0901", 70, 1800), ("B0902", 30, 1500)),
    "PB": (("B0901", 100, 2400),),
    "LN": (("B0201", 40, 2400), ("B0202", 60, 2100)),
    "SME": (("B0203", 100, 2700),),
}


def generated_rows(demo: Demo, channel: str, count: int):
    shape = SHAPES[channel]
    rng = random.Random(f"{demo.seed}:generated:{channel}")
    first = demo.today - timedelta(days=365)
    open_days = [
        first + timedelta(days=offset)
        for offset in range(365)
        if (first + timedelta(days=offset)).weekday() in shape.days
    ]
    kinds, weights = zip(*[(k, w) for k, w in shape.teams if demo.pools.get(k)], strict=True)
    for number in range(count):
        kind = rng.choices(kinds, weights)[0]
        staff_id, department_id, employee = rng.choice(demo.pools[kind])
        day = rng.choice(open_days)
        moment = time(rng.randint(*shape.hours), rng.randrange(60), rng.randrange(60))
        started_at = demo.at(day, moment)
        if channel == Channel.BRANCH:
            codes, weights_, medians = zip(*COUNTER_BUSINESS[kind], strict=True)
            pick = rng.choices(range(len(codes)), weights_)[0]
            business_type, handle_median = codes[pick], medians[pick]
        else:
            codes, weights_ = zip(*shape.business_types, strict=True)
            business_type, handle_median = rng.choices(codes, weights_)[0], shape.handle_median
        wait = int(rng.lognormvariate(math.log(shape.wait_median), shape.wait_spread))
        fields = {
            "external_system": GENERATED_SYSTEM,
            "external_id": f"{channel}-{number + 1:06d}",
            "channel": channel,
            "started_at": started_at,
            "business_type_id": demo.types.get(business_type) if business_type else None,
            "customer_id": demo.customer(rng),
            "wait_seconds": wait,
            "department_id": department_id,
        }
        if rng.random() < shape.abandon:
            yield NewInteraction(outcome="abandoned", **fields)
            continue
        handle = max(30, int(rng.lognormvariate(math.log(handle_median), 0.5)))
        spec = spec_for(business_type, channel)
        version = version_for(spec, started_at, demo.today) if spec else None
        care = demo.sloppiness[employee]
        steps = step_events(version, handle, rng, care) if version else []
        yield NewInteraction(
            staff_id=staff_id, outcome="served", handle_seconds=handle, steps=steps, **fields
        )


# Loading ------------------------------------------------------------------------------------


def interactions_seed(
    *, seed: int, today: date | None = None, limit: int | None = None
) -> InteractionsSummary:
    """Load the phone calls and the generated interactions (inside the seed's transaction).
    ``limit``: at most this many phone calls, and a tenth of the generated (tests)."""
    started = clock.perf_counter()
    summary = InteractionsSummary()
    demo = Demo(seed, today or timezone.localdate())
    actor = User.objects.get(username="admin")  # holds INGEST_INTERACTIONS for the institution
    rules = in_force()
    path = data_file(TECHNION_FILE)
    if path is None:
        summary.notes.append(
            _("%(file)s not found: no demo phone calls.") % {"file": TECHNION_FILE}
        )
    else:
        _ingest(phone_rows(demo, path, summary, limit), actor, rules, summary)
    for channel, count in GENERATED.items():
        wanted = count if limit is None else max(1, min(count, limit // 10))
        _ingest(generated_rows(demo, channel, wanted), actor, rules, summary)
    summary.seconds = clock.perf_counter() - started
    return summary


def _ingest(rows, actor, rules, summary: InteractionsSummary) -> None:
    batch: list[NewInteraction] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            _write(batch, actor, rules, summary)
            batch = []
    if batch:
        _write(batch, actor, rules, summary)


def _write(batch, actor, rules, summary: InteractionsSummary) -> None:
    result = interaction_ingest_many(batch, actor=actor, rules=rules)
    counts = Counter(row.channel for row in batch)
    for channel, count in counts.items():
        summary.by_channel[channel] = summary.by_channel.get(channel, 0) + count
    phone = [row for row in batch if row.external_system == PHONE_SYSTEM]
    summary.phone += len(phone)
    summary.abandoned += sum(1 for row in batch if row.outcome == "abandoned")
    summary.deviations += result.deviations
