"""From the rows a channel system sends to interactions ready to store: the codes it uses
(employee number, department code, business type code, customer number) looked up a batch at
a time, the caller's scope checked, and the facts checked against each other.

Shared by the CSV importer and the bulk API, so both refuse the same rows for the same reasons.
A reason is a code with parameters (translated when shown, like every import error), attached
to the field it concerns.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_paths
from servicecharter.core import imports as core_imports
from servicecharter.org.models import BusinessType, Customer, Department, Staff

MAX_STEPS = 100
MAX_STEP_SECONDS = 7 * 24 * 3600
# A clock a little ahead of ours is not an error; a time further ahead is.
FUTURE_TOLERANCE = timedelta(minutes=5)

# The reasons this module adds to the import framework's (stored as codes, shown translated).
core_imports.MESSAGES.update(
    {
        "interaction_bad_datetime": _(
            "“%(value)s” is not a date and time (use YYYY-MM-DD HH:MM:SS, with +08:00 or Z "
            "for the time zone)."
        ),
        "interaction_in_future": _("“%(value)s” is in the future."),
        "interaction_bad_steps": _(
            "Write the steps as code@seconds separated by semicolons (greeting@5;identify@30), "
            "or as JSON."
        ),
        "interaction_too_many_steps": _("At most %(max)s steps."),
        "interaction_step_after_end": _(
            "Step “%(step)s” at %(at)s s comes after the end of the interaction (%(end)s s)."
        ),
        "interaction_no_department": _("Give the employee number or the department."),
        "interaction_unknown_staff": _("No member of staff has the employee number “%(value)s”."),
        "interaction_unknown_business_type": _("No business type has the code “%(value)s”."),
        "interaction_unknown_customer": _("No customer has the number “%(value)s”."),
    }
)


@dataclass(slots=True)
class NewInteraction:
    """An interaction to store, every reference resolved to an id."""

    external_system: str
    external_id: str
    channel: str
    department_id: int
    started_at: datetime
    outcome: str
    staff_id: int | None = None
    customer_id: int | None = None
    business_type_id: int | None = None
    wait_seconds: int | None = None
    handle_seconds: int | None = None
    # In time order (``clean_steps`` and the API sort them): the checks rely on it.
    steps: list = field(default_factory=list)
    notes: str = ""


@dataclass(frozen=True, slots=True)
class RowError:
    field: str
    code: str
    params: dict

    @property
    def message(self) -> str:
        return core_imports.error_message({"code": self.code, "params": self.params})


# Parsing the CSV cells (the API's schema parses its own) --------------------------------

_DATETIME = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def parse_datetime(value: str) -> datetime:
    """2025-03-01 09:15:00, 2025/3/1 9:15, 2025-03-01T09:15:00+08:00, …Z. Without a zone,
    the institution's time zone."""
    match = _DATETIME.fullmatch(value.strip())
    if not match:
        raise core_imports.CellError("interaction_bad_datetime", value=value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        raise core_imports.CellError("interaction_bad_datetime", value=value) from None
    if zone is None:
        return timezone.make_aware(moment)
    if zone == "Z":
        return moment.replace(tzinfo=timezone.UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=timezone.get_fixed_timezone(sign * offset))


_STEP = re.compile(r"\s*([\w.\-]{1,50})\s*@\s*(\d{1,9})\s*")


def parse_steps(value: str) -> list[dict]:
    """``greeting@5;identify@30`` or a JSON array of {"step": code, "at": seconds}."""
    text = value.strip()
    if text.startswith("["):
        try:
            steps = json.loads(text)
        except ValueError:
            raise core_imports.CellError("interaction_bad_steps") from None
        return clean_steps(steps)
    steps = []
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _STEP.fullmatch(part)
        if not match:
            raise core_imports.CellError("interaction_bad_steps")
        steps.append({"step": match.group(1), "at": int(match.group(2))})
    return clean_steps(steps)


def clean_steps(steps) -> list[dict]:
    """The step events as stored: in time order, each {"step": code, "at": seconds}."""
    if not isinstance(steps, list):
        raise core_imports.CellError("interaction_bad_steps")
    if len(steps) > MAX_STEPS:
        raise core_imports.CellError("interaction_too_many_steps", max=MAX_STEPS)
    cleaned = []
    for step in steps:
        code = step.get("step") if isinstance(step, dict) else None
        at = step.get("at") if isinstance(step, dict) else None
        if (
            not isinstance(code, str)
            or not 0 < len(code) <= 50
            or isinstance(at, bool)
            or not isinstance(at, int)
            or not 0 <= at <= MAX_STEP_SECONDS
        ):
            raise core_imports.CellError("interaction_bad_steps")
        cleaned.append({"step": code, "at": at})
    cleaned.sort(key=lambda step: step["at"])
    return cleaned


# Resolving references ---------------------------------------------------------------------


def _lookup(model, field_name: str, keys: list[str], *columns: str) -> dict:
    """key → (columns…) for the keys that exist: one query."""
    if not keys:
        return {}
    rows = core_imports.filter_keys(model.objects.all(), field_name, keys).values_list(
        field_name, *columns
    )
    return {row[0]: row[1:] for row in rows}


class Resolver:
    """Resolves rows for one caller. Departments and business types are read once; staff
    numbers are remembered as they are met (an institution has thousands, not millions);
    customers are looked up per batch."""

    def __init__(self, user, capability: str = perms.INGEST_INTERACTIONS):
        roots = scope_paths(user, capability)
        rows = list(Department.objects.values_list("pk", "code", "path"))
        self.department_ids = {code: pk for pk, code, _path in rows}
        # department id → may the caller ingest for it (scope checked once per department)
        self.allowed = {pk: any(path.startswith(root) for root in roots) for pk, _c, path in rows}
        self.business_types = dict(BusinessType.objects.values_list("code", "pk"))
        self.staff: dict[str, tuple[int, int]] = {}

    def in_scope(self, department_id: int) -> bool:
        return self.allowed.get(department_id, False)

    def resolve(self, rows: list[dict]) -> list[NewInteraction | list[RowError]]:
        """Each row (a dict of parsed values keyed as the importer's columns) as a
        ``NewInteraction``, or the list of what is wrong with it."""
        self._remember_staff({row.get("employee_number") for row in rows} - {None, ""})
        numbers = list({row["customer_number"] for row in rows if row.get("customer_number")})
        customers = {
            key: pk for key, (pk,) in _lookup(Customer, "customer_number", numbers, "pk").items()
        }
        latest = (timezone.now() + FUTURE_TOLERANCE).astimezone(UTC)
        resolve_one = self._resolve_one
        return [resolve_one(row, customers, latest) for row in rows]

    def _remember_staff(self, numbers: set[str]) -> None:
        missing = [number for number in numbers if number not in self.staff]
        if missing:
            found = _lookup(Staff, "employee_number", missing, "pk", "department_id")
            self.staff.update(found)

    def _resolve_one(self, row: dict, customers: dict, latest: datetime):
        """One row; written for speed (a million rows go through it), so errors are
        gathered only when there are some."""
        get = row.get
        errors: list[RowError] = []
        staff_id = department_id = None
        number = get("employee_number")
        if number:
            found = self.staff.get(number)
            if found is None:
                errors.append(
                    RowError("employee_number", "interaction_unknown_staff", {"value": number})
                )
            else:
                staff_id, department_id = found
        code = get("department")
        if code:
            department_id = self.department_ids.get(code)
            if department_id is None:
                errors.append(RowError("department", "unknown_department", {"value": code}))
        elif not number:
            errors.append(RowError("department", "interaction_no_department", {}))
        if department_id is not None and not self.allowed.get(department_id, False):
            where = "department" if code else "employee_number"
            errors.append(RowError(where, "out_of_scope", {"value": code or number}))
        business_type_id = None
        business_type = get("business_type")
        if business_type:
            business_type_id = self.business_types.get(business_type)
            if business_type_id is None:
                errors.append(
                    RowError(
                        "business_type",
                        "interaction_unknown_business_type",
                        {"value": business_type},
                    )
                )
        customer_id = None
        customer_number = get("customer_number")
        if customer_number:
            customer_id = customers.get(customer_number)
            if customer_id is None:
                errors.append(
                    RowError(
                        "customer_number",
                        "interaction_unknown_customer",
                        {"value": customer_number},
                    )
                )
        # In UTC, as the database gives the times of the rules: comparing aware times in two
        # zones costs each comparison a conversion (3 µs a row in the standards' look-ups).
        started_at = row["started_at"].astimezone(UTC)
        if started_at > latest:
            shown = timezone.localtime(started_at).strftime("%Y-%m-%d %H:%M:%S")
            errors.append(RowError("started_at", "interaction_in_future", {"value": shown}))
        steps = get("steps") or []
        handle = get("handle_seconds")
        if handle is not None and steps and steps[-1]["at"] > handle:
            late = steps[-1]
            errors.append(
                RowError(
                    "steps",
                    "interaction_step_after_end",
                    {"step": late["step"], "at": late["at"], "end": handle},
                )
            )
        if errors:
            return errors
        return NewInteraction(
            get("external_system") or "",
            row["external_id"],
            row["channel"],
            department_id,
            started_at,
            row["outcome"],
            staff_id,
            customer_id,
            business_type_id,
            get("wait_seconds"),
            handle,
            steps,
            get("notes") or "",
        )
