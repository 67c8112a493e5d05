"""Case imports: files in the CFPB export format and in the native format (CSV or XLSX).

Both run through the core import framework (``core.imports``): streamed twice in constant
memory, every bad row reported by its line with a translated reason, nothing imported unless
every row is good or the user chose to skip bad rows. Both need IMPORT_CASES, and every case
must land in a queue inside the importer's IMPORT_CASES scope (a row outside it is a row error).

**Idempotent by complaint id.** A case is identified by its source system and external id
(``cfpb`` and the Complaint ID; the native file's ``external_system``, default ``native``, and
``external_id``). A row whose case already exists is left exactly as it is: from the moment of
import the case lives here, its handling is recorded here, and re-running the file must not
undo that. So importing the same file twice creates nothing the second time and changes nothing.
An external id appears once in a file (a repeat is refused with the line of the first).

**Which queue.** The file's ``queue`` column (a department code; the CFPB format accepts it as
an extra column) when given; otherwise the routing rules, as ``services.case_create`` applies
them; otherwise the top department of the importer's scope.

**The bulk path** writes no row at a time and emits no events (imported cases are history, not
news; a breach that happened before the import is recorded, not announced):

- primary keys are allocated a few batches ahead (a sequence range on PostgreSQL; on SQLite,
  under the write lock the import transaction holds, the next ids after the table's highest and
  after those already taken), so each case gets its readable reference from
  ``services.reference_for`` before it is written — the same ``C<yymm>-<id>`` every other case
  has;
- the file is read once (``single_pass``): each batch is checked and written at once inside
  the import's transaction, which is rolled back when a row is bad and bad rows are not
  skipped;
- cases and timeline rows go in with one COPY (PostgreSQL) or a few multi-row INSERTs (SQLite)
  per batch (``cases.bulk``), one audit row per batch names the references created
  (``audit_record_many``); each batch's write runs in a helper thread while the next batch is
  read and worked out (on PostgreSQL its foreign keys checked for the whole batch before it,
  see ``core.foreign_keys``, or by the triggers at its end rather than all at the commit);
- a complaint's ``due_at`` and ``warn_at`` come from its profile's clocks with no events, worked
  out with the calendars once per profile and receipt instant (a CFPB file of a million rows has
  a few thousand receipt dates), not once per row;
- an open complaint already past its deadline is imported breached (``breached_at`` = the due
  instant, and a "breached" timeline row), one past its warning share as warned; a closed
  complaint answered late (CFPB "Timely response?" = No, or a native ``responded_at`` after the
  due instant) is recorded as breached at its due instant;
- each case gets one "received" timeline row (its ``to_state`` is the state it was imported in);
- imported cases get no tracking code: the import cannot tell the customer one, and a code nobody
  knows is no code (``tracking_digest`` stays blank, which ``selectors.case_for_tracking`` never
  matches). Possible-duplicate flags are not computed for imported cases.

**CFPB export format** (consumerfinance.gov, 18 columns): Date received, Product, Sub-product,
Issue, Sub-issue, Consumer complaint narrative, Company public response, Company, State, ZIP code,
Tags, Consumer consent provided?, Submitted via, Date sent to company, Company response to
consumer, Timely response?, Consumer disputed?, Complaint ID. Required: Date received, Product,
Issue, Submitted via, Company response to consumer, Complaint ID. Mapping:

- every case is a complaint, jurisdiction US, in English, its profile by the profile rules
  (by default ``us_cfpb``), received at 00:00 (US Eastern) of "Date received";
- channel from "Submitted via" (``CFPB_CHANNELS``): Web → mobile app (online), Phone → phone,
  Email → email, Fax and Postal mail → letter, Referral → regulator referral;
- subject from Issue and Sub-issue; description the narrative, or the product › issue path when
  the consumer did not publish one;
- category: the issue under its product in the CFPB taxonomy (``cases.taxonomy``), else the
  product; business type from the product (``CFPB_BUSINESS_TYPES``) when the catalogue has it;
- state and outcome from "Company response to consumer" (``CFPB_RESPONSES``): relief → closed,
  upheld (monetary) or partly upheld (non-monetary); explanation, without relief, closed →
  closed, not upheld; In progress and Untimely response → in progress;
- "Older American" in Tags marks a vulnerable consumer (severity); "Consumer disputed?" Yes/No
  is whether the consumer accepted the response;
- the CFPB export does not say when the company answered, so responded and closed times stay
  empty. Company, State, ZIP code, consent, public response and Date sent to company are not kept.

**Native format** (``NativeCaseImporter.columns``; English or Chinese headers, the case export's
headers included): external_id (required), external_system, kind, channel, received_at (date or
date and time; without an offset it is the time in the case's jurisdiction), subject (required),
description, customer_number, contact_name, contact_email, contact_phone, language,
jurisdiction, product (code), category (code, or ``scheme:code``), queue (department code),
handler (user name; must be allowed to handle cases of the queue), state, outcome, escalated_to,
money_at_stake, currency, redress_amount, root_cause (category code), concerns_attitude,
responded_at, closed_at, customer_accepted. A closed or responded case needs an outcome (a
complaint's: upheld, partly upheld, not upheld or withdrawn; any other case's: answered or
withdrawn); an open case has none.
"""

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from datetime import timezone as fixed_offset
from functools import cached_property, lru_cache

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability, scope_paths
from servicecharter.cases import taxonomy
from servicecharter.cases.bulk import (
    CaseWriter,
    DeadlineBook,
    FewerCollections,
    Memo,
    SeverityBook,
    actor_label,
    json_text,
)
from servicecharter.cases.choices import (
    OPEN_STATES,
    CaseKind,
    CaseState,
    EscalationTarget,
    Jurisdiction,
    Outcome,
    TaxonomyScheme,
    TimelineKind,
)
from servicecharter.cases.models import (
    Case,
    Category,
)
from servicecharter.cases.routing import CaseRules
from servicecharter.core import imports as core_imports
from servicecharter.core import pii
from servicecharter.core.audit import audit_record_many
from servicecharter.core.imports import CellError, Column, Importer, Report, Row
from servicecharter.org.choices import Channel, Language
from servicecharter.org.imports import CHANNEL_ALIASES, MASKED, personal_text
from servicecharter.org.models import BusinessType, Customer, Department, Product

# The reasons this module adds to the framework's (stored as codes, translated when shown).
core_imports.MESSAGES.update(
    {
        "case_bad_datetime": _(
            "“%(value)s” is not a date and time (use YYYY-MM-DD or YYYY-MM-DD HH:MM)."
        ),
        "case_in_future": _("“%(value)s” is in the future."),
        "case_before_received": _("Must not be before the case was received."),
        "case_unknown_product": _("No product has the code “%(value)s”."),
        "case_unknown_category": _("No category has the code “%(value)s”."),
        "case_unknown_customer": _("No customer you may see has the number “%(value)s”."),
        "case_unknown_handler": _("No active user has the user name “%(value)s”."),
        "case_handler_out_of_scope": _(
            "“%(value)s” may not handle cases of the queue “%(queue)s”."
        ),
        "case_no_queue": _("No queue for this case: give the department in the queue column."),
        "case_outcome_required": _("A responded or closed case needs an outcome."),
        "case_outcome_while_open": _("An open case has no outcome yet: leave it blank."),
        "case_outcome_for_kind": _(
            "“%(value)s” is not an outcome for this kind of case: a complaint is upheld, "
            "partly upheld, not upheld or withdrawn; other cases are answered or withdrawn."
        ),
    }
)

CFPB = "cfpb"
NATIVE = "native"
BATCH_SIZE = 2000

# --- the CFPB export format, mapped (shared with the demo) ---------------------------------------

# "Submitted via" → channel. Web is the consumer's online form; Referral came from another agency.
CFPB_CHANNELS = {
    "web": Channel.APP,
    "web referral": Channel.REGULATOR,
    "referral": Channel.REGULATOR,
    "phone": Channel.PHONE,
    "email": Channel.EMAIL,
    "fax": Channel.LETTER,
    "postal mail": Channel.LETTER,
}

# "Company response to consumer" → (state, outcome). Relief short of money counts as partly
# upheld; an explanation (no relief) as not upheld; a company that has not answered in time
# leaves the complaint open.
CFPB_RESPONSES = {
    "closed with monetary relief": (CaseState.CLOSED, Outcome.UPHELD),
    "closed with relief": (CaseState.CLOSED, Outcome.UPHELD),
    "closed with non-monetary relief": (CaseState.CLOSED, Outcome.PARTLY_UPHELD),
    "closed with explanation": (CaseState.CLOSED, Outcome.NOT_UPHELD),
    "closed without relief": (CaseState.CLOSED, Outcome.NOT_UPHELD),
    "closed": (CaseState.CLOSED, Outcome.NOT_UPHELD),
    "in progress": (CaseState.IN_PROGRESS, ""),
    "untimely response": (CaseState.IN_PROGRESS, ""),
}

# CFPB product (its taxonomy code) → JR/T 0169-2018 business type of the org catalogue.
CFPB_BUSINESS_TYPES = {
    "bank_account": "B0101",
    "checking_savings": "B0101",
    "consumer_loan": "B0202",
    "credit_card": "B0302",
    "credit_prepaid_card": "B0302",
    "credit_reporting": "B0204",
    "debt_collection": "B11",
    "money_transfer": "B0402",
    "mortgage": "B0201",
    "payday_loan": "B0202",
    "payday_title_personal_loan": "B0202",
    "payday_title_personal_advance_loan": "B0202",
    "student_loan": "B0202",
    "vehicle_loan": "B0202",
}

CFPB_VULNERABLE_TAG = "older american"


def _lookup(table: dict, shown: str) -> Callable[[str], object]:
    def parse(value: str):
        try:
            return table[value.casefold()]
        except KeyError:
            raise CellError("bad_choice", value=value, choices=shown) from None

    return parse


def cfpb_subject(issue: str, sub_issue: str | None) -> str:
    subject = f"{issue} — {sub_issue}" if sub_issue else issue
    return subject if len(subject) <= 200 else subject[:199] + "…"


def cfpb_description(values: dict) -> str:
    """The narrative, or (when the consumer did not publish one) the taxonomy path."""
    narrative = values.get("Consumer complaint narrative")
    if narrative:
        return narrative
    parts = ("Product", "Sub-product", "Issue", "Sub-issue")
    return " › ".join(values[part] for part in parts if values.get(part))


def _yes_no_or_unknown(value: str) -> bool | None:
    folded = value.casefold()
    if folded in {"yes", "y", "true", "1"}:
        return True
    if folded in {"no", "n", "false", "0"}:
        return False
    return None  # "N/A" and whatever else the export uses for "not asked"


# --- parsing dates and times ---------------------------------------------------------------------

_DATETIME = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})[:：](\d{2})(?:[:：](\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


@lru_cache(maxsize=4096)
def a_datetime(value: str) -> datetime:
    """2024-03-01, 2024-03-01 14:30, 2024/3/1 14:30:05, 2024-03-01T14:30:05+08:00, 2024年3月1日.
    Naive unless the text gives an offset; the caller puts a naive one in the case's zone."""
    match = _DATETIME.fullmatch(value)
    if not match:
        raise CellError("case_bad_datetime", value=value)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        raise CellError("case_bad_datetime", value=value) from None
    if offset:
        moment = moment.replace(tzinfo=_offset_zone(offset))
    return moment


def _offset_zone(offset: str):
    if offset == "Z":
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    return fixed_offset(sign * timedelta(minutes=minutes))


@lru_cache(maxsize=4096)
def _a_date(value: str) -> date:
    return core_imports.a_date(value)


class _Refused(Exception):
    """A row cannot be imported: the column, the message code and its parameters."""

    def __init__(self, column: str, code: str, **params):
        super().__init__(code)
        self.column = column
        self.code = code
        self.params = params


# --- the importers ------------------------------------------------------------------------------------


class _CaseImporter(Importer):
    """What both formats share: the queue and its scope, deadlines, severity, the bulk write.
    Subclasses turn a row into case fields (``case_fields``) and name the source system."""

    capability = perms.IMPORT_CASES
    key = "external_id"
    batch_size = BATCH_SIZE
    queue_column = "queue"
    single_pass = True
    # A row's fields depend on the rows before it in the batch (a repeat complainant).
    rows_depend_on_each_other = False

    def __init__(self, *, user):
        super().__init__(user=user)
        self.now = timezone.now()
        self.unchanged = 0
        self.collections = FewerCollections()
        self._systems_before: dict[str, bool] = {}

    # Read once per import --------------------------------------------------------------------

    @cached_property
    def scope_roots(self) -> list[str]:
        return scope_paths(self.user, self.capability)

    @cached_property
    def departments(self) -> dict[str, tuple[int, str]]:
        """code → (id, path) of every department."""
        return {
            code: (pk, path)
            for pk, code, path in Department.objects.values_list("pk", "code", "path")
        }

    @cached_property
    def department_codes(self) -> dict[int, tuple[str, str]]:
        return {pk: (code, path) for code, (pk, path) in self.departments.items()}

    @cached_property
    def default_queue(self) -> int | None:
        """The top department of the importer's scope."""
        roots = sorted(self.scope_roots, key=lambda path: (path.count("."), path))
        for pk, (_code, path) in self.department_codes.items():
            if roots and path == roots[0]:
                return pk
        return None

    @cached_property
    def rules(self) -> CaseRules:
        return CaseRules()

    @cached_property
    def deadlines(self) -> DeadlineBook:
        return DeadlineBook(self.now)

    @cached_property
    def severities(self) -> SeverityBook:
        return SeverityBook()

    @cached_property
    def writer(self) -> CaseWriter:
        return CaseWriter(background=True)

    @cached_property
    def business_types(self) -> dict[str, int]:
        return dict(BusinessType.objects.values_list("code", "pk"))

    def in_scope(self, path: str) -> bool:
        return any(path.startswith(root) for root in self.scope_roots)

    # Shared steps ------------------------------------------------------------------------------

    def choose_queue(self, values: dict, *, kind, channel, business_type_id, severity) -> int:
        code = values.get(self.queue_column)
        if code:
            if code not in self.departments:
                raise _Refused(self.queue_column, "unknown_department", value=code)
            department_id, path = self.departments[code]
        else:
            department_id = (
                self.rules.queue(
                    kind=kind, channel=channel, business_type_id=business_type_id, severity=severity
                )
                or self.default_queue
            )
            if department_id is None:
                raise _Refused(self.queue_column, "case_no_queue")
            code, path = self.department_codes[department_id]
        if not self.in_scope(path):
            raise _Refused(self.queue_column, "out_of_scope", value=code)
        return department_id

    def localise(self, column: str, moment: datetime, profile_key: str) -> datetime:
        """A naive time is read in the zone of the case's profile; none may lie ahead."""
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=self.deadlines.zone(profile_key))
        if moment > self.now:
            shown = moment.replace(tzinfo=None)
            shown = shown.date() if shown.time() == time() else shown
            raise _Refused(column, "case_in_future", value=str(shown))
        return moment

    def clock_fields(self, fields: dict, *, late: bool | None) -> None:
        """due_at, warn_at, warned_at and breached_at of a new case (see the module notes).
        ``late``: a closed case was answered after its deadline (None: unknown or open)."""
        if fields["kind"] != CaseKind.COMPLAINT:
            return
        due_at, warn_at = self.deadlines.first_due(fields["profile_key"], fields["received_at"])
        if due_at is None:
            return
        responded_at = fields.get("responded_at")
        if fields["state"] in OPEN_STATES:
            fields["due_at"], fields["warn_at"] = due_at, warn_at
            if due_at <= self.now:
                fields["breached_at"] = due_at
            if warn_at <= self.now:
                fields["warned_at"] = warn_at
        elif late or (late is None and responded_at is not None and responded_at > due_at):
            fields["breached_at"] = due_at

    def timeline_entries(self, made: list[tuple[int, str]], cases: list[dict]) -> list[dict]:
        label = actor_label(self.user)
        data_texts: dict[tuple, str] = {}
        entries = []
        for (case_id, _reference), fields in zip(made, cases, strict=True):
            state = fields["state"]
            source = (fields["channel"], self.system(fields))
            data = data_texts.get(source)
            if data is None:
                data = data_texts[source] = json_text(
                    {"channel": source[0], "imported_from": source[1]}
                )
            entries.append(
                {
                    "case_id": case_id,
                    "at": fields["received_at"],
                    "kind": TimelineKind.CREATED,
                    "actor_id": self.user.pk,
                    "actor_label": label,
                    "to_state": "" if state == CaseState.RECEIVED else state,
                    "data": data,
                }
            )
            if fields.get("breached_at"):
                entries.append(
                    {
                        "case_id": case_id,
                        "at": fields["breached_at"],
                        "kind": TimelineKind.BREACHED,
                        "data": {"due_at": fields["breached_at"].isoformat(), "imported": True},
                    }
                )
        return entries

    def system(self, fields: dict) -> str:
        return fields["external_system"]

    # The framework's hooks --------------------------------------------------------------------

    def check_batch(self, rows: list[Row], report: Report) -> None:
        """Work out each row's case (kept in ``row.prepared`` for ``apply_batch``, which
        follows at once in a single pass), refusing the rows that cannot be one. Rows that
        depend on the rows before them are worked out again by ``apply_batch``, in order,
        once the repeated ids are out."""
        self.collections.start()
        self.prepare_batch(rows)
        for row in rows:
            try:
                fields = self.case_fields(row)
            except _Refused as refusal:
                self.reject(row, report, refusal.column, refusal.code, **refusal.params)
                continue
            if not self.rows_depend_on_each_other:
                row.prepared = fields

    def prepare_batch(self, rows: list[Row]) -> None:
        """Batch look-ups ``case_fields`` needs (one query each)."""

    def existing_keys(self, rows: list[Row]) -> set[tuple[str, str]]:
        """(system, external id) of the rows' cases already in the database: one query per
        source system in the batch, through the unique index on (system, external id)."""
        by_system: dict[str, list[str]] = {}
        for row in rows:
            by_system.setdefault(self.system_of(row), []).append(str(row.values[self.key]))
        found: set[tuple[str, str]] = set()
        for system, ids in by_system.items():
            if not self.had_cases_from(system):
                continue  # a first import from this system: nothing to look up
            # The exclusion repeats the index's condition, so the database may use it.
            cases = Case.objects.filter(external_system=system).exclude(external_id="")
            found.update(
                core_imports.filter_keys(cases, "external_id", ids)
                .order_by()
                .values_list("external_system", "external_id")
            )
        return found

    def system_of(self, row: Row) -> str:
        raise NotImplementedError

    def had_cases_from(self, system: str) -> bool:
        """Whether cases from ``system`` existed before this import wrote any (asked once per
        system, before the first batch of it is written). A file repeats no id, so only those
        could match its rows."""
        if system not in self._systems_before:
            self._systems_before[system] = (
                Case.objects.filter(external_system=system).exclude(external_id="").exists()
            )
        return self._systems_before[system]

    def check_file(self, report: Report) -> None:
        self.collections.stop()

    def apply_batch(self, rows: list[Row]) -> None:
        """Write the cases of the batch ``check_batch`` just checked (its look-ups still hold)."""
        cases = self._new_cases(rows)
        if not cases:
            return
        made = self.writer.write_cases(cases, self.now)
        self.writer.write_timeline(self.timeline_entries(made, cases))
        audit_record_many(
            [
                {
                    "action": "case.import",
                    "object_type": "cases.case",
                    "object_repr": f"{len(made)} × case",
                    "changes": {
                        "kind": self.kind,
                        "created": [reference for _id, reference in made],
                    },
                }
            ]
        )
        self.writer.send()
        self.created += len(made)

    def _new_cases(self, rows: list[Row]) -> list[dict]:
        """The fields of the rows' cases that do not exist yet, their clocks set. Asking which
        exist is the batch's first query: on PostgreSQL it waits for the previous batch's
        COPY, which ran while this batch was read and checked."""
        existing = self.existing_keys(rows)
        cases = []
        for row in rows:
            if row.prepared is None:
                fields = self.case_fields(row)
            else:
                fields, row.prepared = row.prepared, None
            late = fields.pop("late", None)
            if self._key(fields) in existing:
                self.unchanged += 1
                continue
            self.clock_fields(fields, late=late)
            self.noted(fields)
            cases.append(fields)
        return cases

    @staticmethod
    def _key(fields: dict) -> tuple[str, str]:
        return fields["external_system"], fields["external_id"]

    def apply_finish(self) -> None:
        self.writer.finish()
        self.collections.stop()

    def close(self) -> None:
        self.writer.finish()
        self.collections.stop()

    def noted(self, fields: dict) -> None:
        """A new case is about to be written (later rows of the batch may count it)."""


@core_imports.register
class CfpbCaseImporter(_CaseImporter):
    """Complaints in the CFPB export format (see the module's notes for the mapping)."""

    kind = "cases_cfpb"
    label = _("Cases (CFPB export format)")
    key = "Complaint ID"
    columns = (
        Column("Date received", required=True, parse=_a_date),
        Column("Product", required=True, parse=core_imports.text(200)),
        Column("Sub-product", parse=core_imports.text(200)),
        Column("Issue", required=True, parse=core_imports.text(200)),
        Column("Sub-issue", parse=core_imports.text(200)),
        Column("Consumer complaint narrative", parse=str),
        Column("Tags", parse=str.casefold),
        Column(
            "Submitted via",
            required=True,
            parse=_lookup(CFPB_CHANNELS, ", ".join(sorted(CFPB_CHANNELS))),
        ),
        Column(
            "Company response to consumer",
            required=True,
            parse=_lookup(CFPB_RESPONSES, ", ".join(sorted(CFPB_RESPONSES))),
        ),
        Column("Timely response?", parse=_yes_no_or_unknown),
        Column("Consumer disputed?", parse=_yes_no_or_unknown),
        Column("Complaint ID", required=True, parse=core_imports.code_text(100)),
        # Not a CFPB column: an institution may add it to choose the queue itself.
        Column("queue", ("队列", "处理部门"), parse=core_imports.code_text(50)),
    )

    def __init__(self, *, user):
        super().__init__(user=user)
        # Facts shared by many rows, worked out once (bounded, so memory stays flat).
        self._facts = Memo(remembered=_Refused)
        self._received = Memo(remembered=_Refused)
        self._categories = Memo()

    @cached_property
    def categories(self) -> dict[tuple[str, str], int]:
        """(axis, code) → id of the CFPB taxonomy's categories."""
        return {
            (axis, code): pk
            for pk, axis, code in Category.objects.filter(scheme=TaxonomyScheme.CFPB).values_list(
                "pk", "axis", "code"
            )
        }

    def system(self, fields: dict) -> str:
        return CFPB

    def system_of(self, row: Row) -> str:
        return CFPB

    def case_fields(self, row: Row) -> dict:
        values = row.values
        product, channel = values["Product"], values["Submitted via"]
        vulnerable = CFPB_VULNERABLE_TAG in (values.get("Tags") or "")
        facts = self._facts.get_or_make(
            (product, channel, vulnerable, values.get("queue")),
            lambda: self._work_out_facts(product, channel, vulnerable, values),
        )
        business_type_id, profile_key, (severity, score, reasons), queue = facts
        day = values["Date received"]
        received_at = self._received.get_or_make(
            (day, profile_key),
            lambda: self.localise("Date received", datetime.combine(day, time()), profile_key),
        )
        state, outcome = values["Company response to consumer"]
        issue = values["Issue"]
        disputed = values.get("Consumer disputed?")
        timely = values.get("Timely response?")
        return {
            "kind": CaseKind.COMPLAINT,
            "channel": channel,
            "state": state,
            "outcome": outcome,
            "external_system": CFPB,
            "external_id": values["Complaint ID"],
            "language": Language.EN,
            "subject": cfpb_subject(issue, values.get("Sub-issue")),
            "description": cfpb_description(values),
            "business_type_id": business_type_id,
            "category_id": self._categories.get_or_make(
                (product, issue), lambda: cfpb_category(self.categories, product, issue)
            ),
            "jurisdiction": Jurisdiction.US,
            "profile_key": profile_key,
            "currency": "USD",
            "severity": severity,
            "severity_score": score,
            "severity_reasons": reasons,
            "department_id": queue,
            "received_at": received_at,
            "customer_accepted": None if disputed is None or state in OPEN_STATES else not disputed,
            "late": (timely is False) if state not in OPEN_STATES else None,
        }

    def _work_out_facts(self, product: str, channel: str, vulnerable: bool, values: dict):
        """Business type, profile, severity and queue: the same for every row with the same
        product, channel, vulnerability and queue column."""
        business_type_id = self.business_types.get(
            CFPB_BUSINESS_TYPES.get(taxonomy.cfpb_product_code(product), "")
        )
        profile_key = self.rules.profile_key(
            channel=channel, business_type_id=business_type_id, jurisdiction=Jurisdiction.US
        )
        severity = self.severities.score(
            money=None, currency="USD", vulnerable=vulnerable, channel=channel
        )
        queue = self.choose_queue(
            values,
            kind=CaseKind.COMPLAINT,
            channel=channel,
            business_type_id=business_type_id,
            severity=severity[0],
        )
        return business_type_id, profile_key, severity, queue


def cfpb_category(categories: dict[tuple[str, str], int], product: str, issue: str) -> int | None:
    """The issue under its product, else the product, in the CFPB taxonomy (None if absent)."""
    found = categories.get(("issue", taxonomy.cfpb_issue_code(product, issue)))
    if found is None:
        found = categories.get(("product", taxonomy.cfpb_product_code(product)))
    return found


# The native format --------------------------------------------------------------------------------

KIND_ALIASES = {"投诉": "complaint", "建议": "suggestion", "表扬": "praise", "咨询": "enquiry"}
STATE_ALIASES = {
    "已接收": "received",
    "待受理": "received",
    "已受理": "acknowledged",
    "处理中": "in_progress",
    "待客户回复": "awaiting_customer",
    "已升级": "escalated",
    "已答复": "responded",
    "重新打开": "reopened",
    "已办结": "closed",
    "已结案": "closed",
    "已关闭": "closed",
}
OUTCOME_ALIASES = {
    "成立": "upheld",
    "部分成立": "partly_upheld",
    "不成立": "not_upheld",
    "已解答": "answered",
    "撤诉": "withdrawn",
    "已撤回": "withdrawn",
}
JURISDICTION_ALIASES = {"中国": "CN", "中国内地": "CN", "英国": "UK", "美国": "US", "GB": "UK"}
LANGUAGE_ALIASES = {"中文": "zh-hans", "zh": "zh-hans", "zh-cn": "zh-hans", "英文": "en"}
ESCALATION_ALIASES = {"内部": "internal", "监管机构": "regulator", "金融纠纷调解组织": "ombudsman"}
CURRENCY_BY_JURISDICTION = {Jurisdiction.CN: "CNY", Jurisdiction.UK: "GBP", Jurisdiction.US: "USD"}
COMPLAINT_OUTCOMES = {
    Outcome.UPHELD,
    Outcome.PARTLY_UPHELD,
    Outcome.NOT_UPHELD,
    Outcome.WITHDRAWN,
}
OTHER_OUTCOMES = {Outcome.ANSWERED, Outcome.WITHDRAWN}
FINISHED = {CaseState.RESPONDED, CaseState.CLOSED}


def _choice(choices, aliases):
    return core_imports.choice(choices, aliases)


@core_imports.register
class NativeCaseImporter(_CaseImporter):
    """Cases in this system's own format: the case export's columns, in English or Chinese."""

    kind = "cases"
    label = _("Cases")
    rows_depend_on_each_other = True
    columns = (
        Column(
            "external_id",
            ("external id", "complaint id", "外部编号", "投诉编号", "来源编号"),
            True,
            core_imports.code_text(100),
            zh="来源编号",
        ),
        Column(
            "external_system",
            ("source system", "source", "来源系统"),
            False,
            core_imports.text(50),
            zh="来源系统",
        ),
        Column("kind", ("type", "类型"), True, _choice(CaseKind, KIND_ALIASES), zh="类型"),
        Column(
            "channel",
            ("渠道", "投诉渠道"),
            True,
            _choice(Channel, CHANNEL_ALIASES),
            zh="渠道",
        ),
        Column(
            "received_at",
            ("received", "date received", "受理时间", "投诉时间", "接收时间"),
            True,
            a_datetime,
            zh="受理时间",
        ),
        Column("subject", ("主题", "标题"), True, core_imports.text(200), zh="主题"),
        Column("description", ("narrative", "内容", "投诉内容", "描述"), False, str, zh="内容"),
        Column(
            "customer_number",
            ("customer", "客户号", "客户编号"),
            False,
            core_imports.code_text(32),
            zh="客户号",
        ),
        Column("contact_name", ("姓名", "联系人"), False, core_imports.text(100), zh="姓名"),
        Column(
            "contact_email",
            ("email", "电子邮箱", "邮箱"),
            False,
            personal_text(254),
            zh="电子邮箱",
        ),
        Column("contact_phone", ("phone", "电话", "手机号"), False, personal_text(32), zh="电话"),
        Column("language", ("语言",), False, _choice(Language, LANGUAGE_ALIASES), zh="语言"),
        Column(
            "jurisdiction",
            ("辖区", "管辖"),
            False,
            _choice(Jurisdiction, JURISDICTION_ALIASES),
            zh="辖区",
        ),
        Column(
            "product",
            ("product code", "产品", "产品编码"),
            False,
            core_imports.code_text(32),
            zh="产品",
        ),
        Column(
            "category",
            ("category code", "分类", "分类编码"),
            False,
            core_imports.text(90),
            zh="分类",
        ),
        Column(
            "queue",
            ("department", "queue department", "处理部门", "部门", "队列"),
            False,
            core_imports.code_text(50),
            zh="处理部门",
        ),
        Column(
            "handler",
            ("handler username", "处理人"),
            False,
            core_imports.text(150),
            zh="处理人",
        ),
        Column("state", ("status", "状态"), False, _choice(CaseState, STATE_ALIASES), zh="状态"),
        Column(
            "outcome",
            ("result", "处理结果", "结果"),
            False,
            _choice(Outcome, OUTCOME_ALIASES),
            zh="处理结果",
        ),
        Column(
            "escalated_to",
            ("升级至",),
            False,
            _choice(EscalationTarget, ESCALATION_ALIASES),
            zh="升级至",
        ),
        Column(
            "money_at_stake",
            ("amount", "涉及金额", "争议金额"),
            False,
            core_imports.money(14),
            zh="涉及金额",
        ),
        Column("currency", ("币种",), False, core_imports.currency, zh="币种"),
        Column(
            "redress_amount",
            ("redress", "补偿金额", "赔偿金额"),
            False,
            core_imports.money(14),
            zh="补偿金额",
        ),
        Column("root_cause", ("根本原因",), False, core_imports.text(90), zh="根本原因"),
        Column(
            "concerns_attitude",
            ("涉及服务态度",),
            False,
            core_imports.boolean,
            zh="涉及服务态度",
        ),
        Column("responded_at", ("答复时间",), False, a_datetime, zh="答复时间"),
        Column("closed_at", ("办结时间", "结案时间"), False, a_datetime, zh="办结时间"),
        Column(
            "customer_accepted",
            ("客户接受答复",),
            False,
            core_imports.boolean,
            zh="客户接受答复",
        ),
    )

    def __init__(self, *, user):
        super().__init__(user=user)
        self._customers: dict[str, tuple] = {}
        self._earlier: dict[int, list[datetime]] = {}
        self._handlers: dict[tuple[str, int], int | None] = {}

    def system_of(self, row: Row) -> str:
        return row.values.get("external_system") or NATIVE

    @cached_property
    def products(self) -> dict[str, tuple[int, int]]:
        return {
            code: (pk, business_type_id)
            for pk, code, business_type_id in Product.objects.values_list(
                "pk", "code", "business_type_id"
            )
        }

    @cached_property
    def categories(self) -> dict[str, int]:
        """``code`` and ``scheme:code`` → id (a bare code shared by two schemes is ambiguous)."""
        found: dict[str, int] = {}
        ambiguous: set[str] = set()
        for pk, scheme, code in Category.objects.values_list("pk", "scheme", "code"):
            found[f"{scheme}:{code}".casefold()] = pk
            if code.casefold() in found:
                ambiguous.add(code.casefold())
            found[code.casefold()] = pk
        for code in ambiguous:
            found.pop(code)
        return found

    @cached_property
    def customer_roots(self) -> list[str]:
        return scope_paths(self.user, perms.VIEW_CUSTOMERS)

    # Batch look-ups --------------------------------------------------------------------------

    def prepare_batch(self, rows: list[Row]) -> None:
        numbers = {
            row.values["customer_number"] for row in rows if row.values.get("customer_number")
        }
        self._customers = {}
        if numbers:
            customers = core_imports.filter_keys(
                Customer.objects.all(), "customer_number", sorted(numbers)
            ).values_list(
                "customer_number",
                "pk",
                "name",
                "email",
                "is_vulnerable",
                "home_department__path",
            )
            for number, pk, name, email, vulnerable, path in customers:
                if any(path.startswith(root) for root in self.customer_roots):
                    self._customers[number] = (pk, name, email, vulnerable)
        self._earlier = self._earlier_cases(rows)

    def _earlier_cases(self, rows: list[Row]) -> dict[int, list[datetime]]:
        """Receipt times of the batch's customers' cases in the repeat window (one query)."""
        ids = [self._customers[n][0] for n in self._customers]
        if not ids:
            return {}
        window = timedelta(days=self.severities.window)
        earliest = self.now - timedelta(days=3650)
        received = [
            row.values.get("received_at")
            for row in rows
            if isinstance(row.values.get("received_at"), datetime)
        ]
        if received:
            earliest = min(_aware(moment) for moment in received) - window
        earlier: dict[int, list[datetime]] = {}
        for customer_id, received_at in Case.objects.filter(
            customer_id__in=ids, received_at__gte=earliest
        ).values_list("customer_id", "received_at"):
            earlier.setdefault(customer_id, []).append(received_at)
        return earlier

    def handler_id(self, username: str, department_id: int) -> int:
        key = (username, department_id)
        if key not in self._handlers:
            user = User.objects.filter(username__iexact=username, is_active=True).first()
            department = Department.objects.get(pk=department_id)
            if user is None:
                self._handlers[key] = None
            elif not has_capability(user, perms.HANDLE_CASES, department):
                self._handlers[key] = 0
            else:
                self._handlers[key] = user.pk
        handler = self._handlers[key]
        if handler is None:
            raise _Refused("handler", "case_unknown_handler", value=username)
        if handler == 0:
            code = self.department_codes[department_id][0]
            raise _Refused("handler", "case_handler_out_of_scope", value=username, queue=code)
        return handler

    # One row -------------------------------------------------------------------------------------

    def case_fields(self, row: Row) -> dict:
        values = row.values
        kind, channel = values["kind"], values["channel"]
        jurisdiction = values.get("jurisdiction") or Jurisdiction.CN
        currency = values.get("currency") or CURRENCY_BY_JURISDICTION[jurisdiction]
        state = values.get("state") or CaseState.RECEIVED
        outcome = values.get("outcome") or ""
        self._check_outcome(kind, state, outcome)
        product_id = business_type_id = None
        if values.get("product"):
            if values["product"] not in self.products:
                raise _Refused("product", "case_unknown_product", value=values["product"])
            product_id, business_type_id = self.products[values["product"]]
        profile_key = self.rules.profile_key(
            channel=channel, business_type_id=business_type_id, jurisdiction=jurisdiction
        )
        received_at = self.localise("received_at", values["received_at"], profile_key)
        fields = self._times(values, profile_key, received_at)
        customer = self._customer(values)
        money = values.get("money_at_stake")
        earlier = self._count_earlier(customer, received_at)
        severity, score, reasons = self.severities.score(
            money=money,
            currency=currency,
            vulnerable=bool(customer and customer[3]),
            channel=channel,
            earlier=earlier,
        )
        queue = self.choose_queue(
            values,
            kind=kind,
            channel=channel,
            business_type_id=business_type_id,
            severity=severity,
        )
        fields.update(
            {
                "kind": kind,
                "channel": channel,
                "state": state,
                "outcome": outcome,
                "external_system": values.get("external_system") or NATIVE,
                "external_id": values["external_id"],
                "customer_id": customer[0] if customer else None,
                "contact_name": values.get("contact_name") or (customer[1] if customer else ""),
                "contact_email": self._plain("contact_email", values)
                or (customer[2] if customer else ""),
                "contact_phone_cipher": pii.encrypt(phone)
                if (phone := self._plain("contact_phone", values))
                else "",
                "language": values.get("language")
                or (Language.ZH_HANS if jurisdiction == Jurisdiction.CN else Language.EN),
                "subject": values["subject"],
                "description": values.get("description") or values["subject"],
                "product_id": product_id,
                "business_type_id": business_type_id,
                "category_id": self._category("category", values),
                "root_cause_id": self._category("root_cause", values),
                "jurisdiction": jurisdiction,
                "profile_key": profile_key,
                "money_at_stake": money,
                "currency": currency,
                "severity": severity,
                "severity_score": score,
                "severity_reasons": reasons,
                "department_id": queue,
                "handler_id": self.handler_id(values["handler"], queue)
                if values.get("handler")
                else None,
                "received_at": received_at,
                "escalated_to": values.get("escalated_to") or "",
                "redress_amount": values.get("redress_amount"),
                "concerns_attitude": bool(values.get("concerns_attitude")),
                "customer_accepted": values.get("customer_accepted"),
            }
        )
        return fields

    @staticmethod
    def _check_outcome(kind: str, state: str, outcome: str) -> None:
        if state in FINISHED and not outcome:
            raise _Refused("outcome", "case_outcome_required")
        if state not in FINISHED and outcome:
            raise _Refused("outcome", "case_outcome_while_open")
        allowed = COMPLAINT_OUTCOMES if kind == CaseKind.COMPLAINT else OTHER_OUTCOMES
        if outcome and outcome not in allowed:
            raise _Refused("outcome", "case_outcome_for_kind", value=outcome)

    def _times(self, values: dict, profile_key: str, received_at: datetime) -> dict:
        fields = {}
        for column in ("responded_at", "closed_at"):
            moment = values.get(column)
            if moment is None:
                continue
            moment = self.localise(column, moment, profile_key)
            if moment < received_at:
                raise _Refused(column, "case_before_received")
            fields[column] = moment
        return fields

    def _customer(self, values: dict) -> tuple | None:
        number = values.get("customer_number")
        if not number:
            return None
        if number not in self._customers:
            raise _Refused("customer_number", "case_unknown_customer", value=number)
        return self._customers[number]

    def _count_earlier(self, customer: tuple | None, received_at: datetime) -> int:
        if customer is None:
            return 0
        since = received_at - timedelta(days=self.severities.window)
        return sum(1 for at in self._earlier.get(customer[0], ()) if since <= at < received_at)

    def _category(self, column: str, values: dict) -> int | None:
        code = values.get(column)
        if not code:
            return None
        found = self.categories.get(code.casefold())
        if found is None:
            raise _Refused(column, "case_unknown_category", value=code)
        return found

    @staticmethod
    def _plain(column: str, values: dict) -> str:
        value = values.get(column)
        if value is MASKED:
            raise _Refused(column, "masked_value")
        if column == "contact_email" and value:
            try:
                return core_imports.email(value)
            except CellError as error:
                raise _Refused(column, error.code, **error.params) from None
        return value or ""

    def noted(self, fields: dict) -> None:
        # Other rows of the same customer in this batch count this one as an earlier case.
        if fields.get("customer_id"):
            self._earlier.setdefault(fields["customer_id"], []).append(fields["received_at"])


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


__all__ = [
    "CFPB_BUSINESS_TYPES",
    "CFPB_CHANNELS",
    "CFPB_RESPONSES",
    "CFPB_VULNERABLE_TAG",
    "CfpbCaseImporter",
    "NativeCaseImporter",
    "a_datetime",
    "cfpb_category",
    "cfpb_description",
    "cfpb_subject",
]
