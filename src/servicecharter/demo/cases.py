"""Demo cases: the two public complaint data sets loaded into the demo institution.

- ``cfpb_complaints_sample.csv``: 7,166 real US complaints (CFPB), in English. Mapped as the
  CFPB importer maps them (``cases.imports``): US jurisdiction and profile, channel from
  "Submitted via", category from the CFPB taxonomy, the outcome from the company's response.
- ``cn_financial_complaints_heimao.csv``: 4,592 real Chinese complaints about banks, lenders and
  insurers (posted on the Black Cat complaint platform), each with a topic label. Mapped to the
  JR/T 0169-2018 cause that matches the label, a product found from the words of the complaint,
  money at stake from the amounts it names, a demo customer of the branch.

Both files are read from ../shared/data beside the repository (``data_file``); a missing file is
skipped with a note. Every complaint of both is loaded, re-dated into the twelve months before
the day of the seed, spread over the branches' teams (by what it is about) and handled by one
agent per team (demo users ``agent.<team>``, the same password as the demo accounts; Beijing
retail's agent is the demo account ``agent``).

Each case gets a history that follows the workflow table: received, assigned, acknowledged,
started, sometimes waiting for the customer or escalated, responded with an outcome and a
letter, accepted (or, for some Chinese complaints, rejected and reopened, then answered again)
and closed. Complaints received in the last weeks are still open. Deadlines come from the
profiles and calendars; a case answered late, or still open past its deadline, carries the
warning and breach the deadline sweep would have recorded, at the time it would have recorded
them, with their timeline rows. Nothing is emitted (no events, no notifications): this is
history. Decisions are taken relative to the start of the seed's day, not to the clock, so
the same seed on the same day gives the same cases; a deadline falling between midnight and
the moment of the seed is the sweep's to act on, as it would be for any case.

Everything is written in bulk (``cases.imports.CaseWriter``): a few seconds for 11,758 cases.
"""

import csv
import hashlib
import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import servicecharter
from servicecharter.accounts import services as account_services
from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import User
from servicecharter.cases import taxonomy, workflow
from servicecharter.cases.bulk import (
    BulkTable,
    CaseWriter,
    DeadlineBook,
    SeverityBook,
    actor_label,
)
from servicecharter.cases.choices import (
    CaseKind,
    CaseState,
    CategoryAxis,
    Jurisdiction,
    MessageDirection,
    Outcome,
    TaxonomyScheme,
    TimelineKind,
)
from servicecharter.cases.deadlines import ClockEvent, clock_statuses
from servicecharter.cases.imports import (
    CFPB_BUSINESS_TYPES,
    CFPB_CHANNELS,
    CFPB_RESPONSES,
    CFPB_VULNERABLE_TAG,
    cfpb_category,
    cfpb_description,
    cfpb_subject,
)
from servicecharter.cases.models import Case, CaseClockEvent, Category, Message
from servicecharter.cases.routing import CaseRules
from servicecharter.cases.services import _duty_due
from servicecharter.core.audit import audit_record
from servicecharter.demo import institution, names
from servicecharter.org.choices import Channel, Language
from servicecharter.org.models import BusinessType, Customer, Department, Product, Staff

CFPB_FILE = "cfpb_complaints_sample.csv"
HEIMAO_FILE = "cn_financial_complaints_heimao.csv"
HEIMAO = "heimao"

# The shared data sets: CHARTER_DATA_DIR if set, else ../shared/data beside the repository (as
# the issue names them), else the workplace's shared folder, for a checkout made elsewhere (CI).
DATA_FOLDERS = tuple(
    Path(folder)
    for folder in (
        os.environ.get("CHARTER_DATA_DIR", ""),
        Path(servicecharter.__file__).resolve().parents[2].parent / "shared" / "data",
        Path(servicecharter.__file__).resolve().parents[2] / "data",
        "/work/shared/data",
    )
    if str(folder)
)
BATCH = 2_000
DAYS = 365


def data_file(name: str) -> Path | None:
    """The data file ``name`` from the first folder that has it, or None."""
    for folder in DATA_FOLDERS:
        path = folder / name
        if path.is_file():
            return path
    return None


@dataclass
class CasesSummary:
    english: int = 0
    chinese: int = 0
    open: int = 0
    breached: int = 0
    reopened: int = 0
    handlers: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.english + self.chinese


# --- what each complaint is about ------------------------------------------------------------

# Chinese topic label → (JR/T 0169 cause, the teams that handle it, first choice first).
HEIMAO_LABELS = {
    "0": ("C11", ("CRD", "LN")),  # debt collection conduct
    "1": ("C99", ("RET", "TEL")),  # other
    "2": ("C07", ("LN", "CRD")),  # contract terms
    "3": ("C05", ("CRD", "RET")),  # pricing and fees
    "4": ("C0801", ("TEL", "RET")),  # customer service
    "5": ("C02", ("WLT", "RET")),  # marketing and advertising
}
ATTITUDE_LABEL = "4"

# Words of a Chinese complaint → the product it is about (first match; catalogue codes).
PRODUCT_WORDS = (
    ("信用卡", "CARD-CRD"),
    ("借记卡|储蓄卡|银行卡", "CARD-DEB"),
    ("房贷|住房贷款|按揭", "LN-MORT"),
    ("退保|保单|保险", "INS-LIFE"),
    ("理财", "WM-PROD"),
    ("基金", "FUND-AG"),
    ("贷款|借款|网贷|消费贷|分期|借呗|花呗|白条|额度|还款", "LN-CONS"),
    ("转账|汇款", "PAY-XFER"),
    ("扣款|扣费|支付|手机银行", "PAY-MOB"),
    ("存款|定期", "DEP-TIME"),
)
_PRODUCT_PATTERNS = [(re.compile(words), code) for words, code in PRODUCT_WORDS]
_AMOUNT = re.compile(r"(\d{1,9}(?:\.\d{1,2})?)\s*(万)?\s*元")

# CFPB product (taxonomy code) → (catalogue product, the teams that handle it).
CFPB_PRODUCTS = {
    "bank_account": ("DEP-CUR", ("RET",)),
    "checking_savings": ("DEP-CUR", ("RET",)),
    "consumer_loan": ("LN-CONS", ("LN", "CRD")),
    "credit_card": ("CARD-CRD", ("CRD",)),
    "credit_prepaid_card": ("CARD-CRD", ("CRD",)),
    "credit_reporting": ("", ("LN", "CRD")),
    "debt_collection": ("", ("CRD", "LN")),
    "money_transfer": ("PAY-XFER", ("RET",)),
    "mortgage": ("LN-MORT", ("LN",)),
    "payday_loan": ("LN-CONS", ("LN", "CRD")),
    "payday_title_personal_loan": ("LN-CONS", ("LN", "CRD")),
    "payday_title_personal_advance_loan": ("LN-CONS", ("LN", "CRD")),
    "student_loan": ("LN-CONS", ("LN",)),
    "vehicle_loan": ("LN-CONS", ("LN",)),
}

# How Chinese complaints reach the bank (the texts were posted on a public complaint site).
HEIMAO_CHANNELS = {
    Channel.SOCIAL: 35,
    Channel.PHONE: 30,
    Channel.APP: 15,
    Channel.BRANCH: 8,
    Channel.CHAT: 7,
    Channel.LETTER: 2,
    Channel.REGULATOR: 3,
}

# The handler's words, in the case's language (demo text, like the names).
LETTERS = {
    Language.EN: {
        Outcome.UPHELD: "Thank you for your complaint (reference {ref}). We looked into it and "
        "agree that we got this wrong. We have put it right and we are sorry.",
        Outcome.PARTLY_UPHELD: "Thank you for your complaint (reference {ref}). We agree with "
        "part of it and have corrected that part; on the rest our records show the account "
        "was handled as agreed.",
        Outcome.NOT_UPHELD: "Thank you for your complaint (reference {ref}). We looked into it "
        "carefully and our records show the account was handled as agreed, so we do not "
        "uphold it. You may refer it to the regulator.",
    },
    Language.ZH_HANS: {
        Outcome.UPHELD: "您好，您反映的问题（编号{ref}）经核实属实，我行已予以纠正，并向您致歉。",
        Outcome.PARTLY_UPHELD: "您好，您反映的问题（编号{ref}）经核实部分属实，我行已就该部分予以纠正；"
        "其余部分经核查符合合同约定。",
        Outcome.NOT_UPHELD: "您好，您反映的问题（编号{ref}）经核实，相关业务按合同约定办理，投诉不成立。"
        "如有异议，可向监管部门反映。",
    },
}
NOTES = {
    Language.EN: {
        "await_customer": "Asked the customer for the statements and letters they mention.",
        "escalate": "Needs a decision above the team: escalated to the branch.",
        "reopen": "The customer does not accept the answer and sent more details.",
    },
    Language.ZH_HANS: {
        "await_customer": "已联系客户补充提供相关凭证和截图。",
        "escalate": "涉及金额较大，提交分行处理。",
        "reopen": "客户不认可处理结果，补充了新的情况。",
    },
}


@dataclass
class Source:
    """One complaint from a data set, before it is placed and dated."""

    language: str
    external_system: str
    external_id: str
    subject: str
    description: str
    channel: str
    jurisdiction: str
    teams: tuple[str, ...]
    product_code: str = ""
    business_type_code: str = ""
    category_id: int | None = None
    root_cause_id: int | None = None
    outcome: str = ""  # the data's outcome for a closed complaint; "" to draw one
    open_as: str = ""  # "in_progress" or "untimely": the data says it is still open
    vulnerable: bool = False
    disputed: bool | None = None
    money: Decimal | None = None
    label: str = ""


@dataclass
class Placed:
    """A complaint placed in a team, given a customer, a handler and a receipt time."""

    source: Source
    rng: random.Random
    received_at: datetime
    team: Department
    handler: User
    customer: tuple | None  # (id, name, is_vulnerable) of a demo customer
    contact_name: str
    earlier: int = 0  # the customer's cases in the repeat window before this one


# --- reading the data sets -----------------------------------------------------------------


def _cfpb_sources(path: Path, categories: dict) -> list[Source]:
    sources = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            values = {key: (value or None) for key, value in row.items()}
            product, issue = row["Product"], row["Issue"]
            product_code = taxonomy.cfpb_product_code(product)
            catalogue, teams = CFPB_PRODUCTS.get(product_code, ("", ("RET",)))
            state, outcome = CFPB_RESPONSES.get(
                row["Company response to consumer"].casefold(), ("", "")
            )
            response = row["Company response to consumer"].casefold()
            category_id = cfpb_category(categories, product, issue)
            sources.append(
                Source(
                    language=Language.EN,
                    external_system="cfpb",
                    external_id=row["Complaint ID"],
                    subject=cfpb_subject(issue, row["Sub-issue"] or None),
                    description=cfpb_description(values),
                    channel=CFPB_CHANNELS.get(row["Submitted via"].casefold(), Channel.APP),
                    jurisdiction=Jurisdiction.US,
                    teams=teams,
                    product_code=catalogue,
                    business_type_code=CFPB_BUSINESS_TYPES.get(product_code, ""),
                    category_id=category_id,
                    root_cause_id=category_id,
                    outcome=outcome if state == CaseState.CLOSED else "",
                    open_as=(
                        "untimely"
                        if response == "untimely response"
                        else "in_progress"
                        if state == CaseState.IN_PROGRESS
                        else ""
                    ),
                    vulnerable=CFPB_VULNERABLE_TAG in row["Tags"].casefold(),
                    disputed={"yes": True, "no": False}.get(row["Consumer disputed?"].casefold()),
                )
            )
    return sources


def _heimao_sources(path: Path, causes: dict[str, int], products: dict) -> list[Source]:
    sources = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            text = row["text"].strip()
            cause, teams = HEIMAO_LABELS.get(row["label_id"], ("C99", ("RET",)))
            product_code = next(
                (code for pattern, code in _PRODUCT_PATTERNS if pattern.search(text)), ""
            )
            business_type = products.get(product_code, (None, ""))[1]
            sources.append(
                Source(
                    language=Language.ZH_HANS,
                    external_system=HEIMAO,
                    external_id=hashlib.sha1(text.encode()).hexdigest()[:20],
                    subject=_chinese_subject(text),
                    description=text,
                    channel="",  # drawn when placed
                    jurisdiction=Jurisdiction.CN,
                    teams=teams,
                    product_code=product_code,
                    business_type_code=business_type,
                    category_id=causes.get(cause),
                    root_cause_id=causes.get(cause),
                    money=_money_named(text),
                    label=row["label_id"],
                )
            )
    return sources


def _chinese_subject(text: str) -> str:
    first = re.split(r"[。！？!?\n]", text, maxsplit=1)[0].strip()
    first = first or text
    return first if len(first) <= 40 else first[:39] + "…"


def _money_named(text: str) -> Decimal | None:
    """The largest amount in yuan the complaint names (10万元 is 100,000), if any."""
    amounts = []
    for number, wan in _AMOUNT.findall(text):
        amount = Decimal(number) * (10_000 if wan else 1)
        if 0 < amount < 100_000_000:
            amounts.append(amount)
    return max(amounts).quantize(Decimal("0.01")) if amounts else None


# --- the institution's side -------------------------------------------------------------------


class Institution:
    """The demo institution as the cases need it: teams, their agents, customers, products."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        departments = {d.code: d for d in Department.objects.all()}
        self.departments = departments
        self.cities = institution.CITIES
        self.city_weights = [city.customer_share for city in self.cities]
        self.teams_of = {
            city.code: {kind: departments[f"{city.code}-{kind}"] for kind in city.teams}
            for city in self.cities
        }
        self.assigners = {
            city.code: User.objects.filter(username="supervisor").first()
            if city.code == "BJ"
            else User.objects.filter(username="complaints").first()
            for city in self.cities
        }
        self.agents = self._agents()
        self.staff_of = defaultdict(list)
        for staff_id, department_id in Staff.objects.filter(status="active").values_list(
            "pk", "department_id"
        ):
            self.staff_of[department_id].append(staff_id)
        self.customers = defaultdict(list)
        for pk, name, vulnerable, code in Customer.objects.order_by("customer_number").values_list(
            "pk", "name", "is_vulnerable", "home_department__code"
        ):
            self.customers[code].append((pk, name, vulnerable))
        self.products = {
            code: (pk, business_type)
            for pk, code, business_type in Product.objects.values_list(
                "pk", "code", "business_type__code"
            )
        }
        self.business_types = dict(BusinessType.objects.values_list("code", "pk"))

    def _agents(self) -> dict[int, User]:
        """One agent per team: the demo account ``agent`` for Beijing retail, and for every
        other team a user ``agent.<team>`` for its first active front-line member."""
        agents: dict[int, User] = {}
        demo_agent = User.objects.filter(username="agent").select_related("staff").first()
        password = demo_agent.password if demo_agent else None
        linked = set(User.objects.exclude(staff=None).values_list("staff_id", flat=True))
        new = []
        for city in self.cities:
            for kind, team in self.teams_of[city.code].items():
                if demo_agent and demo_agent.staff and demo_agent.staff.department_id == team.pk:
                    agents[team.pk] = demo_agent
                    continue
                front_line = institution.TEAM_KINDS[kind].positions[0][0]
                members = Staff.objects.filter(department=team, status="active").exclude(
                    pk__in=linked
                )
                staff = (
                    members.filter(position=front_line).order_by("employee_number").first()
                    or members.order_by("employee_number").first()
                )
                username = f"agent.{team.code.lower()}"
                user = User.objects.filter(
                    username=username
                ).first() or account_services.user_create(
                    username=username,
                    first_name=staff.name if staff else "",
                    email=staff.email if staff else "",
                    staff=staff,
                    role=Role.AGENT,
                    department=team,
                )
                agents[team.pk] = user
                new.append(user.pk)
        if password and new:
            # The demo accounts' password, hashed once already (Argon2 is slow on purpose).
            User.objects.filter(pk__in=new).update(password=password)
        return agents

    def place(self, source: Source, rng: random.Random, received_at: datetime) -> Placed:
        city = rng.choices(self.cities, weights=self.city_weights)[0]
        customer = None
        if source.language == Language.ZH_HANS and self.customers.get(city.code):
            customer = rng.choice(self.customers[city.code])
        teams = self.teams_of[city.code]
        wanted = [kind for kind in source.teams if kind in teams]
        if wanted and rng.random() < 0.7:
            team = teams[wanted[0]]
        else:  # the front line hears most of the rest; every team some
            kinds = list(teams)
            weights = [3 if kind in ("RET", "TEL") else 1 for kind in kinds]
            team = teams[rng.choices(kinds, weights=weights)[0]]
        female = rng.random() < 0.5
        if customer:
            contact = customer[1]
        elif source.language == Language.EN:
            contact = names.expatriate_name(rng, female=female)
        else:
            contact = names.chinese_name(rng, female=female)[0]
        return Placed(
            source=source,
            rng=rng,
            received_at=received_at,
            team=team,
            handler=self.agents[team.pk],
            customer=customer,
            contact_name=contact,
        )


# --- a case's history -----------------------------------------------------------------------------


@dataclass
class Step:
    action: str  # a workflow action, or "assign", "customer_accepts", "customer_rejects"
    at: datetime
    actor: User | None


@dataclass
class History:
    steps: list[Step]
    outcome: str = ""
    escalated: bool = False
    reopened: bool = False
    accepted: bool | None = None


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(days=rng.uniform(low, high))


def _handling_days(rng: random.Random, source: Source) -> float:
    """Days from receipt to the final response: most within a week or two, some late."""
    if source.open_as == "untimely":
        return rng.uniform(40, 60)
    roll = rng.random()
    if roll < 0.70:
        return rng.uniform(0.5, 7)
    if roll < 0.92:
        return rng.uniform(7, 13)
    if roll < 0.96:
        return rng.uniform(13, 16)
    return rng.uniform(16, 35)


def _draw_outcome(rng: random.Random, source: Source) -> str:
    if source.outcome:
        return source.outcome
    upheld = {"0": 0.45, "3": 0.40, "4": 0.50, "2": 0.30, "5": 0.35}.get(source.label, 0.25)
    roll = rng.random()
    if roll < upheld * 0.6:
        return Outcome.UPHELD
    if roll < upheld:
        return Outcome.PARTLY_UPHELD
    return Outcome.NOT_UPHELD


def history_of(placed: Placed, anchor: datetime, assigner: User | None) -> History:
    """What happened to the case up to ``anchor``: the steps a handler and the customer took,
    each only if its time has come."""
    rng, source, handler = placed.rng, placed.source, placed.handler
    steps: list[Step] = []
    history = History(steps=steps)

    def happen(action: str, at: datetime, actor) -> bool:
        if at > anchor:
            return False
        steps.append(Step(action, at, actor))
        return True

    t = placed.received_at + _hours(rng, 0.1, 6)
    if not happen("assign", t, assigner):
        return history
    t += _hours(rng, 0.1, 14)
    if not happen("acknowledge", t, handler):
        return history
    respond_at = placed.received_at + timedelta(days=_handling_days(rng, source))
    respond_at = max(respond_at, t + timedelta(hours=2))
    t = min(t + _hours(rng, 0.5, 30), respond_at - timedelta(hours=1))
    if not happen("start", t, handler):
        return history
    if rng.random() < 0.02 and source.open_as == "":
        happen("withdraw", t + (respond_at - t) * rng.uniform(0.2, 0.8), None)
        history.outcome = Outcome.WITHDRAWN
        return history
    if rng.random() < 0.15:
        asked = t + (respond_at - t) * rng.uniform(0.1, 0.4)
        replied = asked + (respond_at - asked) * rng.uniform(0.3, 0.8)
        if not happen("await_customer", asked, handler) or not happen(
            "customer_replied", replied, handler
        ):
            return history
        t = replied
    if rng.random() < 0.03 or (source.money and source.money >= 100_000 and rng.random() < 0.5):
        if not happen("escalate", t + (respond_at - t) * rng.uniform(0.2, 0.6), handler):
            return history
        history.escalated = True
    if source.open_as or not happen("respond", respond_at, handler):
        return history
    history.outcome = _draw_outcome(rng, source)
    _after_response(history, placed, respond_at, anchor, happen)
    return history


def _after_response(history: History, placed: Placed, responded: datetime, anchor, happen):
    """The customer accepts (the case closes), says nothing (the handler closes it after a
    week), or rejects the answer (Chinese complaints: the case reopens and is answered again)."""
    rng, source, handler = placed.rng, placed.source, placed.handler
    can_reopen = source.jurisdiction == Jurisdiction.CN  # only CN clocks restart on new facts
    roll = rng.random()
    if source.disputed is not None:
        roll = 0.99 if source.disputed else 0.1
    if can_reopen and roll > 0.955:
        if not happen("customer_rejects", responded + _days(rng, 1, 4), None):
            return
        history.reopened = True
        history.accepted = False
        reopened = history.steps[-1].at
        if not happen("start", reopened + _hours(rng, 2, 30), handler):
            return
        again = reopened + _days(rng, 2, 9)
        if not happen("respond", again, handler):
            return
        history.accepted = None
        responded = again
        roll = 0.5
    if roll < 0.70:
        if happen("customer_accepts", responded + _days(rng, 0.2, 6), None):
            history.accepted = True
    elif roll < 0.99 or not can_reopen:
        if roll >= 0.99:
            history.accepted = False  # the CFPB consumer disputed; the case closes all the same
        happen("close", responded + _days(rng, 7, 10), handler)


# --- turning a history into rows ------------------------------------------------------------------


class Builder:
    """Builds the rows of each case (the case, its timeline, clock events, the response
    message, the staff it concerns) and writes them in batches."""

    def __init__(self, inst: Institution, anchor: datetime, summary: CasesSummary):
        self.inst = inst
        self.anchor = anchor
        self.summary = summary
        self.rules = CaseRules()
        self.book = DeadlineBook(anchor)
        self.severities = SeverityBook()
        self.writer = CaseWriter()
        self.clock_rows = BulkTable(CaseClockEvent, with_pk=False)
        self.message_rows = BulkTable(Message, with_pk=False)
        self.staff_rows = BulkTable(Case.staff_involved.through, with_pk=False)
        self.customer_label = _("Customer")
        self.pending: list[tuple[dict, list[dict], list[dict], dict | None, list[int]]] = []

    def add(self, placed: Placed, history: History) -> None:
        source = placed.source
        product = self.inst.products.get(source.product_code)
        business_type_id = (
            product[1] and self.inst.business_types.get(product[1])
            if product
            else self.inst.business_types.get(source.business_type_code)
        )
        profile_key = self.rules.profile_key(
            channel=placed.source.channel,
            business_type_id=business_type_id,
            jurisdiction=source.jurisdiction,
        )
        vulnerable = source.vulnerable or bool(placed.customer and placed.customer[2])
        currency = "USD" if source.jurisdiction == Jurisdiction.US else "CNY"
        severity, score, reasons = self.severities.score(
            money=source.money,
            currency=currency,
            vulnerable=vulnerable,
            channel=source.channel,
            earlier=placed.earlier,
        )
        fields = {
            "kind": CaseKind.COMPLAINT,
            "channel": source.channel,
            "external_system": source.external_system,
            "external_id": source.external_id,
            "customer_id": placed.customer[0] if placed.customer else None,
            "contact_name": placed.contact_name,
            "language": source.language,
            "subject": source.subject,
            "description": source.description,
            "product_id": product[0] if product else None,
            "business_type_id": business_type_id,
            "category_id": source.category_id,
            "jurisdiction": source.jurisdiction,
            "profile_key": profile_key,
            "money_at_stake": source.money,
            "currency": currency,
            "severity": severity,
            "severity_score": score,
            "severity_reasons": reasons,
            "department_id": placed.team.pk,
            "received_at": placed.received_at,
        }
        timeline, clocks, message, staff = self._replay(placed, history, fields)
        self.pending.append((fields, timeline, clocks, message, staff))
        if len(self.pending) >= BATCH:
            self.flush()

    def _replay(self, placed: Placed, history: History, fields: dict):
        """Walk the steps through the workflow table, as the services would."""
        source = placed.source
        lang = source.language
        state = CaseState.RECEIVED
        timeline = [
            self._row(placed.received_at, TimelineKind.CREATED, None, channel=source.channel)
        ]
        clocks: list[ClockEvent] = []
        message = None
        period_start = placed.received_at
        marks: list[tuple[str, datetime]] = []  # ("warned"/"breached", at) of every period
        for step in history.steps:
            action = step.action
            if action == "assign":
                fields["handler_id"] = placed.handler.pk
                timeline.append(
                    self._row(
                        step.at,
                        TimelineKind.ASSIGNED,
                        step.actor,
                        handler=actor_label(placed.handler),
                    )
                )
                continue
            if action == "customer_accepts":
                timeline.append(self._customer_row(step.at, accepted=True))
                action, step = "close", Step("close", step.at, None)
            if action == "customer_rejects":
                timeline.append(self._customer_row(step.at, accepted=False))
                marks += self._marks(fields, clocks, period_start, until=step.at, stopped=True)
                action = "reopen"
            before = state
            state = workflow.target_of(action, state)
            data = {"action": action}
            note = ""
            if action == "respond":
                data["outcome"] = history.outcome
                marks += self._marks(fields, clocks, period_start, until=step.at, stopped=True)
                clocks += self._done_events(fields, clocks, step.at)
                fields.update(self._response(placed, history, step.at))
                message = {
                    "at": step.at,
                    "direction": MessageDirection.TO_CUSTOMER,
                    "author_id": step.actor.pk if step.actor else None,
                }
            elif action == "acknowledge":
                fields["acknowledged_at"] = step.at
            elif action == "escalate":
                data["target"] = "internal"
                note = NOTES[lang]["escalate"]
                fields["escalated_to"] = "internal"
            elif action == "await_customer":
                note = NOTES[lang]["await_customer"]
            elif action == "reopen":
                data["by_customer"] = True
                note = NOTES[lang]["reopen"]
                clocks.append(ClockEvent.new_facts(step.at))
                period_start = step.at
                for name in ("outcome", "closed_at", "breached_at", "warned_at"):
                    fields.pop(name, None)
            elif action == "withdraw":
                marks += self._marks(fields, clocks, period_start, until=step.at, stopped=True)
                clocks.append(ClockEvent.withdrawal(step.at))
                fields["outcome"] = Outcome.WITHDRAWN
                fields["closed_at"] = step.at
            elif action == "close":
                fields["closed_at"] = step.at
            timeline.append(
                self._row(step.at, TimelineKind.TRANSITION, step.actor, note=note,
                          from_state=before, to_state=state, **data)
            )  # fmt: skip
        fields["state"] = state
        if state == CaseState.CLOSED and history.accepted is not None:
            fields["customer_accepted"] = history.accepted
        elif state == CaseState.RESPONDED:
            fields["customer_accepted"] = None
        if state in (CaseState.RESPONDED, CaseState.CLOSED):
            fields["due_at"] = fields["warn_at"] = None
        else:
            marks += self._marks(fields, clocks, period_start, until=self.anchor, stopped=False)
        timeline += self._mark_rows(marks)
        timeline.sort(key=lambda row: row["at"])
        staff = self._staff(placed, history, fields)
        clock_rows = [self._clock_row(event) for event in clocks]
        return timeline, clock_rows, message, staff

    def _statuses(self, fields: dict, clocks: list[ClockEvent], as_of: datetime):
        return clock_statuses(
            profile=self.book.profile(fields["profile_key"]),
            received_at=fields["received_at"],
            events=clocks,
            as_of=as_of,
            calendars=self.book.calendar,
        )

    def _marks(self, fields, clocks, period_start, *, until: datetime, stopped: bool) -> list:
        """The warning and breach the sweep would have recorded in this clock period, and for
        a case still open its current due and warning instants."""
        first = _duty_due(self._statuses(fields, clocks, max(until, period_start)))
        if first is None:
            return []
        due = first.due.at
        warn = first.started_at + (due - first.started_at) * self.book.share
        if not stopped:
            fields["due_at"], fields["warn_at"] = due, warn
        marks = []
        lag = timedelta(minutes=1 + int(fields["received_at"].timestamp()) % 9)
        if warn + lag <= until:
            marks.append((TimelineKind.WARNED, warn + lag, due))
            fields["warned_at"] = warn + lag
        if due + lag <= until:
            marks.append((TimelineKind.BREACHED, due + lag, due))
            fields["breached_at"] = due + lag
        return marks

    def _mark_rows(self, marks: list) -> list[dict]:
        return [self._row(at, kind, None, due_at=due.isoformat()) for kind, at, due in marks]

    def _done_events(self, fields, clocks, at: datetime) -> list[ClockEvent]:
        running = [
            status
            for status in self._statuses(fields, clocks, at)
            if status.stopped_at is None and status.clock.key
        ]
        return [ClockEvent.done(at, clock=status.clock.key) for status in running]

    def _response(self, placed: Placed, history: History, at: datetime) -> dict:
        source, rng = placed.source, placed.rng
        outcome = history.outcome
        redress = None
        if outcome in (Outcome.UPHELD, Outcome.PARTLY_UPHELD):
            if source.money:
                share = (
                    Decimal("1")
                    if outcome == Outcome.UPHELD
                    else Decimal(str(rng.choice([0.3, 0.5, 0.7])))
                )
                redress = (source.money * share).quantize(Decimal("0.01"))
            elif rng.random() < 0.3:
                redress = Decimal(rng.choice([50, 100, 200, 300, 500]))
        return {
            "outcome": outcome,
            "responded_at": at,
            "response_text": LETTERS[source.language][outcome].format(ref="{ref}"),
            "redress_amount": redress,
            "root_cause_id": source.root_cause_id if outcome != Outcome.NOT_UPHELD else None,
            "concerns_attitude": source.label == ATTITUDE_LABEL and outcome != Outcome.NOT_UPHELD,
        }

    def _staff(self, placed: Placed, history: History, fields: dict) -> list[int]:
        if fields.get("outcome") not in (Outcome.UPHELD, Outcome.PARTLY_UPHELD):
            return []
        if not fields.get("concerns_attitude") and placed.rng.random() > 0.3:
            return []
        members = self.inst.staff_of.get(placed.team.pk, [])
        return [placed.rng.choice(members)] if members else []

    def _row(self, at, kind, actor, *, note="", from_state="", to_state="", **data) -> dict:
        return {
            "at": at,
            "kind": kind,
            "actor_id": actor.pk if actor else None,
            "actor_label": actor_label(actor) if actor else "",
            "from_state": from_state,
            "to_state": to_state,
            "note": note,
            "data": data,
        }

    def _customer_row(self, at: datetime, *, accepted: bool) -> dict:
        row = self._row(at, TimelineKind.CUSTOMER, None, accepted=accepted)
        row["actor_label"] = self.customer_label
        return row

    @staticmethod
    def _clock_row(event: ClockEvent) -> dict:
        return {
            "kind": event.kind,
            "at": event.at,
            "clock": event.clock,
            "level": event.level,
            "length": event.length,
            "approved_by": event.approved_by,
            "note": event.note,
            "reason": event.reason,
        }

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        made = self.writer.write_cases(
            [fields for fields, *_ in pending], timezone.now(), finish=_name_the_reference
        )
        timeline, clocks, messages, staff = [], [], [], []
        for (case_id, _reference), (fields, rows, clock_rows, message, staff_ids) in zip(
            made, pending, strict=True
        ):
            timeline += [{**row, "case_id": case_id} for row in rows]
            clocks += [{**row, "case_id": case_id} for row in clock_rows]
            if message:
                messages.append({**message, "case_id": case_id, "body": fields["response_text"]})
            staff += [{"case_id": case_id, "staff_id": staff_id} for staff_id in staff_ids]
            self._count(fields)
        self.writer.write_timeline(timeline)
        self.writer.send()
        self.clock_rows.insert([self.clock_rows.row(row) for row in clocks])
        self.message_rows.insert([self.message_rows.row(row) for row in messages])
        self.staff_rows.insert([self.staff_rows.row(row) for row in staff])

    def _count(self, fields: dict) -> None:
        if fields["state"] not in (CaseState.RESPONDED, CaseState.CLOSED):
            self.summary.open += 1
        if fields.get("breached_at"):
            self.summary.breached += 1


def _name_the_reference(values: dict) -> None:
    """The letter names the case's reference, known once the case has its id."""
    if values.get("response_text"):
        values["response_text"] = values["response_text"].replace("{ref}", values["reference"])


# --- the whole load -----------------------------------------------------------------------------


@transaction.atomic
def cases_seed(*, seed: int, today: date | None = None, limit: int | None = None) -> CasesSummary:
    """Load both data sets into the demo institution (call inside the seed's transaction).
    ``limit``: only the first rows of each file (a quicker demo, and the tests)."""
    summary = CasesSummary()
    taxonomy.taxonomy_load()
    today = today or timezone.localdate()
    anchor = datetime.combine(today, time(), tzinfo=timezone.get_current_timezone())
    categories = {
        (axis, code): pk
        for pk, axis, code in Category.objects.filter(scheme=TaxonomyScheme.CFPB).values_list(
            "pk", "axis", "code"
        )
    }
    causes = dict(
        Category.objects.filter(scheme=TaxonomyScheme.JRT0169, axis=CategoryAxis.CAUSE).values_list(
            "code", "pk"
        )
    )
    inst = Institution(random.Random(f"{seed}:cases:institution"))
    summary.handlers = len({user.pk for user in inst.agents.values()})
    sources: list[Source] = []
    cfpb, heimao = data_file(CFPB_FILE), data_file(HEIMAO_FILE)
    if cfpb is None:
        summary.notes.append(_("%(file)s not found: no English demo cases.") % {"file": CFPB_FILE})
    else:
        sources += _cfpb_sources(cfpb, categories)[:limit]
    if heimao is None:
        summary.notes.append(
            _("%(file)s not found: no Chinese demo cases.") % {"file": HEIMAO_FILE}
        )
    else:
        sources += _heimao_sources(heimao, causes, inst.products)[:limit]
    placed = [_place(inst, source, seed, anchor) for source in sources]
    _count_repeat_complainants(placed, SeverityBook().window)
    builder = Builder(inst, anchor, summary)
    for item in sorted(placed, key=lambda p: (p.received_at, p.source.external_id)):
        history = history_of(item, anchor, inst.assigners[item.team.code.split("-")[0]])
        summary.reopened += history.reopened
        builder.add(item, history)
    builder.flush()
    summary.english = sum(1 for s in sources if s.language == Language.EN)
    summary.chinese = len(sources) - summary.english
    audit_record(
        action="demo.cases",
        object_type="cases.case",
        object_repr=f"{summary.total} × case",
        changes={
            "seed": [None, seed],
            "english": [None, summary.english],
            "chinese": [None, summary.chinese],
            "open": [None, summary.open],
            "breached": [None, summary.breached],
            "reopened": [None, summary.reopened],
            "handlers": [None, summary.handlers],
        },
    )
    return summary


def _place(inst: Institution, source: Source, seed: int, anchor: datetime) -> Placed:
    """When the complaint arrived and where it went; its own random stream, so adding or
    removing other rows changes nothing about it."""
    rng = random.Random(f"{seed}:case:{source.external_system}:{source.external_id}")
    if not source.channel:
        source.channel = rng.choices(list(HEIMAO_CHANNELS), weights=list(HEIMAO_CHANNELS.values()))[
            0
        ]
    if source.open_as == "untimely":
        days_ago = rng.uniform(20, 40)
    elif source.open_as == "in_progress":
        days_ago = rng.uniform(1, 10)
    else:
        days_ago = rng.uniform(0, DAYS)
    day = anchor - timedelta(days=int(days_ago) + 1)
    # Office hours mostly; online channels around the clock.
    hour = rng.uniform(8, 21) if rng.random() < 0.85 else rng.uniform(0, 24)
    received_at = day + timedelta(hours=hour)
    return inst.place(source, rng, received_at)


def _count_repeat_complainants(placed: list[Placed], window_days: int) -> None:
    window = timedelta(days=window_days)
    by_customer = defaultdict(list)
    for item in placed:
        if item.customer:
            by_customer[item.customer[0]].append(item)
    for items in by_customer.values():
        items.sort(key=lambda item: item.received_at)
        for i, item in enumerate(items):
            item.earlier = sum(
                1 for other in items[:i] if item.received_at - other.received_at <= window
            )


__all__ = ["CasesSummary", "cases_seed", "data_file"]
