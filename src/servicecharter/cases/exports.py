"""Case exports (CSV and XLSX) of any filtered list: the queue and "my cases" link here with
their filters, so the file holds exactly the rows the page shows, every page of them.

Registered with ``core.exports`` like the institution's exports and downloaded from
``core:export`` (``/core/exports/cases.csv?state=open&…``). Only the queues in the caller's
EXPORT_CASES scope; the customer's email and phone are masked unless the caller holds
EXPORT_PII for the case's queue; every export is recorded with its row count and filters.
"""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_paths
from servicecharter.cases import selectors
from servicecharter.cases.models import Case
from servicecharter.cases.staff_forms import (
    QueueFilterForm,
    filtered_cases,
    mask_email,
    open_first_due_soonest,
)
from servicecharter.core import exports as core_exports
from servicecharter.core import pii
from servicecharter.core.imports import Column

COLUMNS = (
    Column("reference", zh="编号"),
    Column("kind", zh="类型"),
    Column("channel", zh="渠道"),
    Column("state", zh="状态"),
    Column("received_at", zh="受理时间"),
    Column("subject", zh="主题"),
    Column("description", zh="内容"),
    Column("customer_number", zh="客户号"),
    Column("contact_name", zh="姓名"),
    Column("contact_email", zh="电子邮箱"),
    Column("contact_phone", zh="电话"),
    Column("language", zh="语言"),
    Column("product", zh="产品"),
    Column("business_type", zh="业务类型"),
    Column("category", zh="分类"),
    Column("jurisdiction", zh="辖区"),
    Column("profile", zh="监管规则"),
    Column("money_at_stake", zh="涉及金额"),
    Column("currency", zh="币种"),
    Column("severity", zh="严重程度"),
    Column("queue", zh="处理部门"),
    Column("handler", zh="处理人"),
    Column("due_at", zh="办结时限"),
    Column("breached_at", zh="超时时间"),
    Column("escalated_to", zh="升级至"),
    Column("outcome", zh="处理结果"),
    Column("root_cause", zh="根本原因"),
    Column("redress_amount", zh="补偿金额"),
    Column("concerns_attitude", zh="涉及服务态度"),
    Column("responded_at", zh="答复时间"),
    Column("closed_at", zh="办结时间"),
    Column("customer_accepted", zh="客户接受答复"),
    Column("external_system", zh="来源系统"),
    Column("external_id", zh="来源编号"),
)


@core_exports.register
class CaseExporter(core_exports.Exporter):
    """The cases of the caller's queues, filtered by the queue's parameters; ``mine=1`` keeps
    only the caller's own cases in the order of "my cases"."""

    kind = "cases"
    label = _("Cases")
    capability = perms.EXPORT_CASES
    columns = COLUMNS
    audit_action = "export.cases"

    def __init__(self, *, user, params=None):
        super().__init__(user=user, params=params)
        self.pii_roots = scope_paths(user, perms.EXPORT_PII)

    def queryset(self):
        mine = self.param("mine") == "1"
        form = QueueFilterForm(self.params or None, user=self.user, show_handler=not mine)
        cases = selectors.case_list_for_user(user=self.user, capability=perms.EXPORT_CASES)
        cases = filtered_cases(cases, form.filters()).select_related(
            "business_type", "category", "root_cause"
        )
        if mine:
            return open_first_due_soonest(cases.filter(handler=self.user))
        return cases.order_by("-id")

    def audit_changes(self) -> dict:
        return {
            "personal_data_in_full": bool(self.pii_roots),
            "filters": dict(self.params.items()),
        }

    def _contacts(self, case: Case) -> tuple[str, str]:
        phone = pii.decrypt(case.contact_phone_cipher) if case.contact_phone_cipher else ""
        if any(case.department.path.startswith(root) for root in self.pii_roots):
            return case.contact_email, phone
        email = mask_email(case.contact_email) if case.contact_email else ""
        return email, pii.mask_phone(phone)

    def values(self, case: Case) -> list:
        email, phone = self._contacts(case)
        return [_local(value) for value in self._raw_values(case, email, phone)]

    @staticmethod
    def _raw_values(case: Case, email: str, phone: str) -> list:
        return [
            case.reference,
            case.kind,
            case.channel,
            case.state,
            case.received_at,
            case.subject,
            case.description,
            case.customer.customer_number if case.customer_id else "",
            case.contact_name,
            email,
            phone,
            case.language,
            case.product.code if case.product_id else "",
            case.business_type.code if case.business_type_id else "",
            case.category.code if case.category_id else "",
            case.jurisdiction,
            case.profile_key,
            case.money_at_stake,
            case.currency,
            case.severity,
            case.department.code,
            case.handler.get_username() if case.handler_id else "",
            case.due_at,
            case.breached_at,
            case.escalated_to,
            case.outcome,
            case.root_cause.code if case.root_cause_id else "",
            case.redress_amount,
            case.concerns_attitude,
            case.responded_at,
            case.closed_at,
            case.customer_accepted,
            case.external_system,
            case.external_id,
        ]


def _local(value):
    """Instants in the reader's time zone with their offset (spreadsheets know no zones)."""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return value
