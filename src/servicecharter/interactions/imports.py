"""CSV/XLSX import of interactions, through the core import framework (constant memory, every
bad row listed with its line, nothing imported unless every row is valid or the user chose to
skip bad rows).

One row per interaction. The columns and what they accept:

| column | required | value |
| --- | --- | --- |
| external_system | no | the channel system's name (blank: none) |
| external_id | yes | its id there; a row whose (system, id) is already recorded changes nothing |
| channel | yes | phone, chat, social, branch, email, app (or the Chinese names) |
| employee_number | one of the two | who served; their department is taken |
| department | one of the two | a department code (the queue, for an unanswered call) |
| customer_number | no | |
| business_type | no | a JR/T 0169 code such as B0302 |
| started_at | yes | 2025-03-01 09:15:00 (institution time) or with +08:00 / Z |
| wait_seconds, handle_seconds | no | whole seconds |
| outcome | yes | served or abandoned |
| steps | no | greeting@5;identify@30 (seconds from the start of service) or JSON |
| notes | no | notes or transcript |

The rows are resolved by ``ingest.Resolver`` (the importer's INGEST_INTERACTIONS scope) and
stored by ``services.interaction_ingest_many`` a batch at a time: each batch is judged against
the standards in force at each row's time and writes one audit row.
"""

from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.core import imports as core_imports
from servicecharter.core.imports import Column, Importer, Report, Row
from servicecharter.interactions import services
from servicecharter.interactions.choices import InteractionOutcome
from servicecharter.interactions.ingest import Resolver, parse_datetime, parse_steps
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Channel
from servicecharter.org.imports import CHANNEL_ALIASES
from servicecharter.standards.selectors import in_force

OUTCOME_ALIASES = {
    "已接听": "served",
    "已服务": "served",
    "接通": "served",
    "answered": "served",
    "放弃": "abandoned",
    "未接通": "abandoned",
    "hang": "abandoned",
    "hung up": "abandoned",
}
MAX_NOTES = 20_000


def _max(name: str) -> int:
    return Interaction._meta.get_field(name).max_length


def seconds(value: str) -> int:
    return core_imports.integer(0, 10_000_000)(value)


@core_imports.register
class InteractionImporter(Importer):
    kind = "interactions"
    label = _("Interactions")
    capability = perms.INGEST_INTERACTIONS
    key = "external_id"
    batch_size = 2_000
    columns = (
        Column(
            "external_system",
            ("source", "system", "来源系统"),
            False,
            core_imports.text(_max("external_system")),
            zh="来源系统",
        ),
        Column(
            "external_id",
            ("id", "interaction_id", "call_id", "外部编号"),
            True,
            core_imports.code_text(_max("external_id")),
            zh="外部编号",
        ),
        Column(
            "channel",
            ("渠道",),
            True,
            core_imports.choice(Channel, CHANNEL_ALIASES),
            zh="渠道",
        ),
        Column(
            "employee_number",
            ("staff", "agent", "员工编号", "工号"),
            False,
            core_imports.code_text(32),
            zh="员工编号",
        ),
        Column(
            "department",
            ("department_code", "queue", "部门编码", "部门"),
            False,
            core_imports.code_text(32),
            zh="部门",
        ),
        Column(
            "customer_number",
            ("customer", "客户编号"),
            False,
            core_imports.code_text(32),
            zh="客户编号",
        ),
        Column(
            "business_type",
            ("business_type_code", "业务类型"),
            False,
            core_imports.code_text(16),
            zh="业务类型",
        ),
        Column(
            "started_at",
            ("start", "time", "开始时间"),
            True,
            parse_datetime,
            zh="开始时间",
        ),
        Column("wait_seconds", ("wait", "等待秒数"), False, seconds, zh="等待秒数"),
        Column("handle_seconds", ("handle", "处理秒数"), False, seconds, zh="处理秒数"),
        Column(
            "outcome",
            ("结果",),
            True,
            core_imports.choice(InteractionOutcome, OUTCOME_ALIASES),
            zh="结果",
        ),
        Column("steps", ("step_events", "步骤"), False, parse_steps, zh="步骤"),
        Column("notes", ("transcript", "备注"), False, core_imports.text(MAX_NOTES), zh="备注"),
    )

    def __init__(self, *, user):
        super().__init__(user=user)
        self._resolver: Resolver | None = None
        self._rules = None

    @property
    def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver(self.user, self.capability)
        return self._resolver

    def check_batch(self, rows: list[Row], report: Report) -> None:
        resolved = self.resolver.resolve([row.values for row in rows])
        for row, outcome in zip(rows, resolved, strict=True):
            if isinstance(outcome, list):
                for error in outcome:
                    self.reject(row, report, error.field, error.code, **error.params)

    def apply_batch(self, rows: list[Row]) -> None:
        resolved = self.resolver.resolve([row.values for row in rows])
        good = [each for each in resolved if not isinstance(each, list)]
        if self._rules is None:
            self._rules = in_force()  # once per import: the import is one transaction
        result = services.interaction_ingest_many(good, actor=self.user, rules=self._rules)
        self.created += result.created_count
