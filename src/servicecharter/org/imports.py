"""Imports and exports of departments, staff and customers.

Every import is an upsert by its key (department code, employee number, customer number):
a new key creates a record, a known key updates it, so importing the same file twice changes
nothing the second time. A column present in the file is written for every row (a blank
optional cell clears the field or restores its default); a column absent from the file
leaves that field of existing records as it is.

Scope: a row is imported only when the importer holds the import capability for the
department it lands in and, for an existing record, for the department it is in now. A
row outside the scope is a row error, never imported.

Exports use the list pages' selectors and filter forms, so an export holds exactly what the
list shows (all pages of it), in the importer's columns, so it imports back unchanged.
"""

from decimal import Decimal

from django.conf import settings
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_paths
from servicecharter.core import audit, pii
from servicecharter.core import exports as core_exports
from servicecharter.core import imports as core_imports
from servicecharter.core.imports import Column, Importer, Report, Row
from servicecharter.org import services
from servicecharter.org.choices import (
    Channel,
    CustomerSegment,
    CustomerTier,
    DepartmentKind,
    Language,
    StaffStatus,
)
from servicecharter.org.forms import CustomerFilterForm, DepartmentFilterForm, StaffFilterForm
from servicecharter.org.models import Customer, Department, Staff
from servicecharter.org.selectors import customer_list, department_list, staff_list

# Chinese words HR files use for the choice values, whatever the translation catalogue says.
STATUS_ALIASES = {"在职": "active", "正常": "active", "停职": "suspended", "离职": "left"}
KIND_ALIASES = {
    "总行": "head_office",
    "分行": "branch",
    "支行": "sub_branch",
    "团队": "team",
    "小组": "team",
    "部门": "function",
    "职能部门": "function",
}
SEGMENT_ALIASES = {
    "零售": "retail",
    "大众": "retail",
    "富裕": "affluent",
    "私人银行": "private",
    "小微企业": "small_business",
    "小微": "small_business",
    "公司": "corporate",
    "对公": "corporate",
    "老年": "senior",
    "老年人": "senior",
    "学生": "student",
}
TIER_ALIASES = {
    "普通": "standard",
    "标准": "standard",
    "银卡": "silver",
    "金卡": "gold",
    "白金": "platinum",
    "白金卡": "platinum",
}
LANGUAGE_ALIASES = {
    "中文": "zh-hans",
    "简体中文": "zh-hans",
    "zh": "zh-hans",
    "zh-cn": "zh-hans",
    "英文": "en",
    "英语": "en",
}
CHANNEL_ALIASES = {
    "电话": "phone",
    "在线": "chat",
    "在线客服": "chat",
    "社交媒体": "social",
    "网点": "branch",
    "柜面": "branch",
    "邮件": "email",
    "电子邮件": "email",
    "信函": "letter",
    "手机银行": "app",
    "监管转办": "regulator",
}


def _max(model: type[Model], field: str) -> int:
    return model._meta.get_field(field).max_length


class _Scope:
    """The importer's scope for one capability, as path prefixes (one query)."""

    def __init__(self, user, capability: str):
        self.roots = scope_paths(user, capability)
        self._covered: dict[str, bool] = {}  # path → answer: an import asks of few paths

    def covers(self, path: str) -> bool:
        covered = self._covered.get(path)
        if covered is None:
            covered = self._covered[path] = any(path.startswith(root) for root in self.roots)
        return covered

    def covers_a_whole_tree(self) -> bool:
        return any(root.count(".") == 1 for root in self.roots)


def _audit_each(entries: list[dict]) -> None:
    """One audit row per changed record, when the audit trail offers a bulk writer. Without
    it the import's single summary row (written by the import service) stands for them."""
    record_many = getattr(audit, "audit_record_many", None)
    if record_many is not None and entries:
        record_many(entries)


# The attribute a new record's row waits under until the record is filled in.
_PENDING_ROW = "_import_row"


def _default(model: type[Model], field: str):
    return model._meta.get_field(field).get_default()


# Departments ---------------------------------------------------------------------------


@core_imports.register
class DepartmentImporter(Importer):
    kind = "departments"
    label = _("Departments")
    capability = perms.IMPORT_ORG
    key = "code"
    columns = (
        Column(
            "code",
            ("department_code", "部门编码", "机构代码", "机构编码"),
            True,
            core_imports.code_text(_max(Department, "code")),
            zh="编码",
        ),
        Column(
            "name_en",
            ("english_name", "英文名称"),
            True,
            core_imports.text(_max(Department, "name_en")),
            zh="英文名称",
        ),
        Column(
            "name_zh",
            ("chinese_name", "名称", "部门名称", "机构名称"),
            True,
            core_imports.text(_max(Department, "name_zh")),
            zh="中文名称",
        ),
        Column(
            "kind",
            ("type", "类型", "机构类型"),
            True,
            core_imports.choice(DepartmentKind, KIND_ALIASES),
            zh="类别",
        ),
        Column(
            "parent",
            ("parent_code", "上级", "上级编码", "上级机构", "上级部门编码"),
            False,
            core_imports.code_text(_max(Department, "code")),
            zh="上级部门",
        ),
        Column(
            "calendar_code",
            ("calendar", "工作日历"),
            False,
            core_imports.text(_max(Department, "calendar_code")),
            zh="日历",
        ),
    )

    def __init__(self, *, user):
        super().__init__(user=user)
        self.scope = _Scope(user, self.capability)
        self.file_rows: dict[str, Row] = {}
        self.to_apply: list[Row] = []

    def check_batch(self, rows: list[Row], report: Report) -> None:
        for row in rows:
            self.file_rows[row.values["code"]] = row

    def check_file(self, report: Report) -> None:
        existing = {
            code: (parent_code, path)
            for code, parent_code, path in Department.objects.values_list(
                "code", "parent__code", "path"
            )
        }
        parent_of = {code: parent for code, (parent, _path) in existing.items()}
        for code, row in self.file_rows.items():
            if "parent" in self.present or code not in existing:
                parent_of[code] = row.values.get("parent")
        for code, row in self.file_rows.items():
            parent = row.values.get("parent")
            if parent is not None and parent not in existing and parent not in self.file_rows:
                self.reject(row, report, "parent", "unknown_parent", value=parent)
            elif self._is_own_ancestor(code, parent_of):
                self.reject(row, report, "parent", "own_ancestor", value=code)
        for code, row in self.file_rows.items():
            if row.ok:
                self._check_scope(code, row, existing, parent_of, report)
        self._reject_orphans(existing, report)

    @staticmethod
    def _is_own_ancestor(code: str, parent_of: dict) -> bool:
        seen = set()
        ancestor = parent_of.get(code)
        while ancestor is not None and ancestor not in seen:
            if ancestor == code:
                return True
            seen.add(ancestor)
            ancestor = parent_of.get(ancestor)
        return False

    def _check_scope(self, code, row, existing, parent_of, report) -> None:
        if code in existing and not self.scope.covers(existing[code][1]):
            self.reject(row, report, "code", "out_of_scope", value=code)
            return
        moves = code not in existing or parent_of[code] != existing[code][0]
        if not moves:
            return
        # The new place is inside the scope when its nearest already existing ancestor is.
        anchor = parent_of[code]
        while anchor is not None and anchor not in existing:
            anchor = parent_of.get(anchor)
        allowed = (
            self.scope.covers(existing[anchor][1])
            if anchor is not None
            else self.scope.covers_a_whole_tree()
        )
        if not allowed:
            self.reject(row, report, "parent", "out_of_scope", value=parent_of[code] or code)

    def _reject_orphans(self, existing, report) -> None:
        """A new department whose parent's row is bad cannot be placed: refuse it too (and
        its own children in turn)."""
        changed = True
        while changed:
            changed = False
            for row in self.file_rows.values():
                parent = row.values.get("parent")
                parent_row = self.file_rows.get(parent)
                if row.ok and parent_row and not parent_row.ok and parent not in existing:
                    self.reject(row, report, "parent", "parent_has_errors", value=parent)
                    changed = True

    def apply_batch(self, rows: list[Row]) -> None:
        self.to_apply.extend(rows)

    def apply_finish(self) -> None:
        """Parents before children, through the department services (few rows, each one
        audited, paths kept right when a subtree moves)."""
        in_file = {row.values["code"] for row in self.to_apply}
        for row in sorted(self.to_apply, key=lambda row: self._file_depth(row, in_file)):
            self._apply_department(row)

    def _file_depth(self, row: Row, in_file: set[str]) -> int:
        depth, parent = 0, row.values.get("parent")
        while parent in in_file and depth <= len(in_file):
            depth += 1
            parent = self.file_rows[parent].values.get("parent")
        return depth

    def _apply_department(self, row: Row) -> None:
        values = dict(row.values)
        code = values.pop("code")
        if values.get("calendar_code", "") is None:
            values["calendar_code"] = _default(Department, "calendar_code")
        if "parent" in values:
            parent_code = values.pop("parent")
            values["parent"] = Department.objects.get(code=parent_code) if parent_code else None
        department = Department.objects.filter(code=code).first()
        if department is None:
            services.department_create(code=code, **values)
            self.created += 1
        else:
            services.department_update(department=department, **values)
            self.updated += 1


@core_exports.register
class DepartmentExporter(core_exports.Exporter):
    kind = "departments"
    capability = perms.VIEW_ORG
    label = DepartmentImporter.label
    columns = DepartmentImporter.columns

    def queryset(self):
        form = DepartmentFilterForm(self.params)
        filters = form.cleaned_data if form.is_valid() else {}
        return department_list(user=self.user, q=filters.get("q", ""), kind=filters.get("kind", ""))

    def values(self, department: Department) -> list:
        return [
            department.code,
            department.name_en,
            department.name_zh,
            department.kind,
            department.parent.code if department.parent else "",
            department.calendar_code,
        ]


# Bulk upsert shared by staff and customers --------------------------------------------


class _BulkImporter(Importer):
    """Rows land in one department each (``department_column``); records are created with
    ``core.imports.bulk_insert`` (COPY on PostgreSQL) and changed with ``bulk_update``, a
    batch at a time."""

    model: type[Model]
    department_column = "department"
    department_field = "department"
    audit_creates_per_row = True
    # Columns that are not plain model fields (personal data, stored encrypted).
    special_columns: tuple[str, ...] = ()
    # New records go in with binary COPY (see ``core.imports.bulk_insert``): the parsers give
    # every value its column's Python type.
    binary_copy = True

    def __init__(self, *, user):
        super().__init__(user=user)
        self.scope = _Scope(user, self.capability)
        self._departments: dict[str, tuple[int, str]] | None = None

    @property
    def departments(self) -> dict[str, tuple[int, str]]:
        """code → (id, path) of every department: one query per import."""
        if self._departments is None:
            self._departments = {
                code: (pk, path)
                for pk, code, path in Department.objects.values_list("pk", "code", "path")
            }
        return self._departments

    def check_batch(self, rows: list[Row], report: Report) -> None:
        current = dict(
            core_imports.filter_keys(
                self.model.objects.all(), self.key, [row.values[self.key] for row in rows]
            ).values_list(self.key, f"{self.department_field}__path")
        )
        for row in rows:
            code = row.values[self.department_column]
            key = row.values[self.key]
            if code not in self.departments:
                self.reject(row, report, self.department_column, "unknown_department", value=code)
            elif not self.scope.covers(self.departments[code][1]):
                self.reject(row, report, self.department_column, "out_of_scope", value=code)
            elif key in current and not self.scope.covers(current[key]):
                self.reject(row, report, self.key, "out_of_scope", value=key)

    def field_values(self, row: Row) -> dict:
        """Model field → value for the columns in the file (blank → the field's default)."""
        special = self._special_columns
        values = {key: value for key, value in row.values.items() if key not in special}
        if self.department_column in values:
            code = values.pop(self.department_column)
            values[self._department_attname] = self.departments[code][0]
        for key in [key for key, value in values.items() if value is None]:
            values[key] = self._fields[key].get_default()
        return values

    @cached_property
    def _special_columns(self) -> frozenset[str]:
        return frozenset(self.special_columns)

    @cached_property
    def _department_attname(self) -> str:
        return self.model._meta.get_field(self.department_field).attname

    @cached_property
    def _fields(self) -> dict:
        return {field.name: field for field in self.model._meta.concrete_fields}

    def new_records(self, rows: list[Row]) -> list[Model]:
        """The batch's new records, still empty: ``finish_new_records`` fills them in just
        before they are written (the row waits on each, under a name that is no field)."""
        records = []
        for row in rows:
            record = self.model.__new__(self.model)
            record.__dict__[_PENDING_ROW] = row
            records.append(record)
        return records

    def finish_new_records(self, records: list[Model]) -> None:
        """Fill in new records from their rows; no database here. On PostgreSQL it runs a
        chunk at a time while the COPY streams, so building the records (and encrypting
        personal data) overlaps with the database writing the rows before them."""
        for record in records:
            self.fill_new_record(record, record.__dict__.pop(_PENDING_ROW))

    def new_record(self, row: Row) -> Model:
        """A new, unsaved record (``new_records`` and ``finish_new_records`` for a batch)."""
        record = self.model.__new__(self.model)
        self.fill_new_record(record, row)
        return record

    def fill_new_record(self, record: Model, row: Row) -> None:
        """Built without ``Model.__init__`` (a third of the time of a 100,000-row import
        went there): the fields' defaults, then the file's values. The values were
        validated by the first pass."""
        record.__dict__.update(self._defaults)
        for attname, default in self._callable_defaults:
            record.__dict__[attname] = default()
        record.__dict__.update(self.field_values(row))
        record._state = ModelState()

    @cached_property
    def _defaults(self) -> dict:
        return {
            field.attname: field.get_default()
            for field in self.model._meta.concrete_fields
            if not (field.has_default() and callable(field.default))
        }

    @cached_property
    def _callable_defaults(self) -> list[tuple[str, object]]:
        return [
            (field.attname, field.default)
            for field in self.model._meta.concrete_fields
            if field.has_default() and callable(field.default)
        ]

    def update_record(self, record: Model, row: Row) -> dict:
        """Set the file's values on ``record``; return {field: [old, new]} of what changed."""
        diff = {}
        for field, value in self.field_values(row).items():
            old = getattr(record, field)
            if old != value:
                diff[field] = [_jsonable(old), _jsonable(value)]
                setattr(record, field, value)
        return diff

    def apply_batch(self, rows: list[Row]) -> None:
        keys = [row.values[self.key] for row in rows]
        existing = {
            getattr(record, self.key): record
            for record in core_imports.filter_keys(self.model.objects.all(), self.key, keys)
        }
        new_rows, changed, entries = [], [], []
        fields: set[str] = set()
        now = timezone.now()
        for row in rows:
            record = existing.get(row.values[self.key])
            if record is None:
                new_rows.append(row)
                continue
            diff = self.update_record(record, row)
            if diff:
                record.updated_at = now
                fields.update(diff)
                changed.append(record)
                entries.append(self.audit_entry("update", record, diff))
        created = self.new_records(new_rows)
        core_imports.bulk_insert(
            self.model,
            created,
            self.batch_size,
            prepare=self.finish_new_records,
            binary=self.binary_copy,
        )
        if changed:
            self.model.objects.bulk_update(
                changed, sorted(fields | {"updated_at"}), batch_size=self.batch_size
            )
        entries.extend(self.audit_created(created))
        _audit_each(entries)
        self.created += len(created)
        self.updated += len(changed)

    def audit_created(self, created: list[Model]) -> list[dict]:
        """One audit row per new record, or (``audit_creates_per_row = False``, for the
        tables that are imported by the hundred thousand) one row per batch naming them."""
        if not created:
            return []
        if self.audit_creates_per_row:
            return [
                self.audit_entry("create", record, {self.key: [None, getattr(record, self.key)]})
                for record in created
            ]
        return [
            {
                "action": f"{self.model._meta.model_name}.create_many",
                "object_type": self.model._meta.label_lower,
                "object_repr": f"{len(created)} × {self.model._meta.model_name}",
                "changes": {"created": [getattr(record, self.key) for record in created]},
            }
        ]

    def audit_entry(self, verb: str, record: Model, changes: dict) -> dict:
        return {
            "action": f"{self.model._meta.model_name}.{verb}",
            "obj": record,
            "changes": changes,
        }


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# Staff ---------------------------------------------------------------------------------


@core_imports.register
class StaffImporter(_BulkImporter):
    kind = "staff"
    label = _("Staff")
    capability = perms.IMPORT_ORG
    key = "employee_number"
    model = Staff
    columns = (
        Column(
            "employee_number",
            ("employee_no", "员工编号", "员工号", "工号"),
            True,
            core_imports.code_text(_max(Staff, "employee_number")),
            zh="工号",
        ),
        Column(
            "name",
            ("full_name", "员工姓名", "姓名"),
            True,
            core_imports.text(_max(Staff, "name")),
            zh="姓名",
        ),
        Column(
            "name_latin",
            ("english_name", "拼音", "英文名"),
            False,
            core_imports.text(_max(Staff, "name_latin")),
            zh="英文名",
        ),
        Column("email", ("邮箱", "电子邮件"), False, core_imports.email, zh="邮箱"),
        Column(
            "department",
            ("department_code", "部门", "部门编码", "所属部门"),
            True,
            core_imports.code_text(_max(Department, "code")),
            zh="部门编码",
        ),
        Column(
            "position",
            ("职位", "岗位"),
            False,
            core_imports.text(_max(Staff, "position")),
            zh="岗位",
        ),
        Column("grade", ("职级", "级别"), False, core_imports.integer(1, 99), zh="职级"),
        Column(
            "base_wage",
            ("wage", "monthly_base_wage", "基本工资", "月基本工资"),
            True,
            core_imports.money(),
            zh="基本工资",
        ),
        Column("currency", ("币种",), False, core_imports.currency, zh="币种"),
        Column("hire_date", ("入职时间", "入职日期"), True, core_imports.a_date, zh="入职日期"),
        Column(
            "status",
            ("在职状态", "状态"),
            False,
            core_imports.choice(StaffStatus, STATUS_ALIASES),
            zh="状态",
        ),
    )

    def field_values(self, row: Row) -> dict:
        values = super().field_values(row)
        if "currency" in values and not row.values.get("currency"):
            values["currency"] = settings.CURRENCY
        return values

    def fill_new_record(self, staff: Staff, row: Row) -> None:
        super().fill_new_record(staff, row)
        if "currency" not in row.values:
            staff.currency = settings.CURRENCY


@core_exports.register
class StaffExporter(core_exports.Exporter):
    kind = "staff"
    capability = perms.VIEW_ORG
    label = StaffImporter.label
    columns = StaffImporter.columns

    def queryset(self):
        form = StaffFilterForm(self.params, user=self.user)
        filters = form.cleaned_data if form.is_valid() else {}
        self.wage_scope = _Scope(self.user, perms.VIEW_WAGES)
        return staff_list(
            user=self.user,
            q=filters.get("q", ""),
            department=filters.get("department"),
            status=filters.get("status", ""),
            grade=filters.get("grade"),
        )

    def values(self, staff: Staff) -> list:
        # Wages are shown only where the caller may see them; elsewhere the cell is blank.
        wage = staff.base_wage if self.wage_scope.covers(staff.department.path) else None
        return [
            staff.employee_number,
            staff.name,
            staff.name_latin,
            staff.email,
            staff.department.code,
            staff.position,
            staff.grade,
            wage,
            staff.currency,
            staff.hire_date,
            staff.status,
        ]


# Customers -----------------------------------------------------------------------------

# A personal-data cell as a masked export shows it (110***********1234): "keep what is stored".
MASKED = core_imports.Masked()


def personal_text(max_length: int):
    base = core_imports.text(max_length)

    def parse(value: str):
        return MASKED if "*" in value else base(value)

    return parse


@core_imports.register
class CustomerImporter(_BulkImporter):
    kind = "customers"
    label = _("Customers")
    capability = perms.IMPORT_CUSTOMERS
    key = "customer_number"
    model = Customer
    department_column = "home_department"
    department_field = "home_department"
    special_columns = services.PII_FIELDS
    audit_creates_per_row = False
    # Customers come by the hundred thousand: each batch costs a dozen statements, so fewer,
    # larger batches save the database a tenth of its work. Memory stays flat in the file's
    # size (about 12 MB on PostgreSQL, 30 MB on SQLite, held for one batch).
    batch_size = 5000
    columns = (
        Column(
            "customer_number",
            ("customer_no", "客户编号", "客户号"),
            True,
            core_imports.code_text(_max(Customer, "customer_number")),
            zh="客户号",
        ),
        Column(
            "name",
            ("customer_name", "客户名称", "姓名"),
            True,
            core_imports.text(_max(Customer, "name")),
            zh="姓名",
        ),
        Column(
            "home_department",
            ("branch", "department", "归属机构", "开户机构", "所属机构"),
            True,
            core_imports.code_text(_max(Department, "code")),
            zh="所属机构",
        ),
        Column(
            "segment",
            ("客户群", "客群"),
            True,
            core_imports.choice(CustomerSegment, SEGMENT_ALIASES),
            zh="客群",
        ),
        Column(
            "tier",
            ("客户等级", "等级"),
            False,
            core_imports.choice(CustomerTier, TIER_ALIASES),
            zh="等级",
        ),
        Column(
            "is_vulnerable",
            ("vulnerable", "特殊群体", "弱势客户"),
            False,
            core_imports.boolean,
            zh="弱势客户",
        ),
        Column(
            "vulnerability_note",
            ("特殊情况说明", "弱势说明"),
            False,
            core_imports.text(_max(Customer, "vulnerability_note")),
            zh="弱势说明",
        ),
        Column(
            "preferred_language",
            ("language", "语言"),
            False,
            core_imports.choice(Language, LANGUAGE_ALIASES),
            zh="语言",
        ),
        Column(
            "preferred_channel",
            ("channel", "偏好渠道", "渠道"),
            False,
            core_imports.choice(Channel, CHANNEL_ALIASES),
            zh="渠道",
        ),
        Column("email", ("邮箱", "电子邮件"), False, core_imports.email, zh="邮箱"),
        Column(
            "id_number",
            ("证件号", "身份证号", "证件号码"),
            False,
            personal_text(64),
            zh="证件号码",
        ),
        Column(
            "phone", ("mobile", "手机", "电话", "手机号"), False, personal_text(32), zh="手机号"
        ),
        Column("address", ("住址", "联系地址", "地址"), False, personal_text(300), zh="地址"),
    )

    def check_batch(self, rows: list[Row], report: Report) -> None:
        """A masked value (from an export without EXPORT_PII) keeps a known customer's stored
        value; a new customer needs the real one."""
        super().check_batch(rows, report)
        masked_rows = [row for row in rows if row.ok and MASKED in row.values.values()]
        if not masked_rows:
            return
        known = set(
            Customer.objects.filter(
                customer_number__in=[row.values[self.key] for row in masked_rows]
            ).values_list("customer_number", flat=True)
        )
        for row in masked_rows:
            if row.values[self.key] not in known:
                field = next(f for f in services.PII_FIELDS if row.values.get(f) is MASKED)
                self.reject(row, report, field, "masked_value")

    def finish_new_records(self, customers: list[Customer]) -> None:
        """Fill them in, and encrypt the chunk's personal data in one go."""
        rows = [customer.__dict__[_PENDING_ROW] for customer in customers]
        super().finish_new_records(customers)
        sealed = _sealed_personal_data([row.values for row in rows])
        for customer, fields in zip(customers, sealed, strict=True):
            customer.__dict__.update(fields)

    def new_record(self, row: Row) -> Customer:
        customer = super().new_record(row)
        customer.__dict__.update(_sealed_personal_data([row.values])[0])
        return customer

    def update_record(self, customer: Customer, row: Row) -> dict:
        diff = super().update_record(customer, row)
        for field in services.PII_FIELDS:
            if field not in row.values or row.values[field] is MASKED:
                continue
            value = row.values[field] or ""
            if pii.decrypt(getattr(customer, f"{field}_cipher")) == value:
                continue
            setattr(customer, f"{field}_cipher", pii.encrypt(value))
            diff[f"{field}_cipher"] = ["***", "***"]  # never the value, only that it changed
            if field != "address":
                setattr(customer, f"{field}_digest", pii.digest(value))
                diff[f"{field}_digest"] = ["***", "***"]
        return diff


def _sealed_personal_data(rows_values: list[dict]) -> list[dict]:
    """For each row's values, the stored fields of a new customer's personal data: each value
    encrypted, and the keyed digest that finds it (not for the address). One call each for
    the batch's encryptions and digests."""
    fields = services.PII_FIELDS
    searchable = [field for field in fields if field != "address"]
    plain = [{field: _plain_text(values.get(field)) for field in fields} for values in rows_values]
    ciphers = iter(pii.encrypt_many([row[field] for row in plain for field in fields]))
    digests = iter(pii.digest_many([row[field] for row in plain for field in searchable]))
    cipher_names = [f"{field}_cipher" for field in fields]
    digest_names = [f"{field}_digest" for field in searchable]
    sealed = []
    for _row in plain:
        stored = {name: next(ciphers) for name in cipher_names}
        stored.update({name: next(digests) for name in digest_names})
        sealed.append(stored)
    return sealed


def _plain_text(value) -> str:
    """A blank cell is None; a masked one (not text) is refused for new customers."""
    return value if isinstance(value, str) else ""


@core_exports.register
class CustomerExporter(core_exports.Exporter):
    """Personal data in full only where the caller holds EXPORT_PII; masked elsewhere.
    Every export is recorded with its row count and whether personal data left in full."""

    kind = "customers"
    capability = perms.VIEW_CUSTOMERS
    label = CustomerImporter.label
    columns = CustomerImporter.columns
    audit_action = "export.customers"

    def __init__(self, *, user, params=None):
        super().__init__(user=user, params=params)
        self.pii_scope = _Scope(user, perms.EXPORT_PII)

    def queryset(self):
        form = CustomerFilterForm(self.params)
        valid = form.is_valid()
        filters = form.cleaned_data if valid else {}
        return customer_list(
            user=self.user,
            q=filters.get("q", ""),
            segment=filters.get("segment", ""),
            tier=filters.get("tier", ""),
            vulnerable=form.vulnerable_value() if valid else None,
        )

    def audit_changes(self) -> dict:
        return {
            "personal_data_in_full": bool(self.pii_scope.roots),
            "filters": dict(self.params.items()),
        }

    def values(self, customer: Customer) -> list:
        id_number = pii.decrypt(customer.id_number_cipher)
        phone = pii.decrypt(customer.phone_cipher)
        address = pii.decrypt(customer.address_cipher)
        if not self.pii_scope.covers(customer.home_department.path):
            id_number = pii.mask_id_number(id_number)
            phone = pii.mask_phone(phone)
            address = pii.mask_address(address)
        return [
            customer.customer_number,
            customer.name,
            customer.home_department.code,
            customer.segment,
            customer.tier,
            customer.is_vulnerable,
            customer.vulnerability_note,
            customer.preferred_language,
            customer.preferred_channel,
            customer.email,
            id_number,
            phone,
            address,
        ]
