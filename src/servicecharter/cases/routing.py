"""Which regulatory profile and which queue a new case takes.

The first rule by priority whose set fields all match wins (a blank field matches anything, and
a rule on a business type also covers its subtypes); without a profile rule, the jurisdiction's
default profile. One reading of the rules serves one case (``services.case_create``) or a whole
file (``cases.imports``, the demo), so both decide alike."""

from servicecharter.cases.choices import Jurisdiction, Severity
from servicecharter.cases.models import ProfileRule, RoutingRule
from servicecharter.core.rowsql import column, select_objects
from servicecharter.org.choices import Channel
from servicecharter.org.models import BusinessType, Department

# Profiles a case takes when no ProfileRule matches, by jurisdiction.
DEFAULT_PROFILE = {
    Jurisdiction.CN: "cn_banking_insurance",
    Jurisdiction.UK: "uk_fca_disp",
    Jurisdiction.US: "us_cfpb",
}

_BY_PRIORITY = ("priority", "id")
# A routing rule's department, whole: it becomes the new case's queue.
_ROUTED_TO = (
    (
        "department",
        Department,
        "d",
        tuple(field.name for field in Department._meta.concrete_fields),
        "JOIN",
    ),
)
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity.values)}


class CaseRules:
    """The profile and routing rules as they stand, read with SQL written once per process
    (every case's creation reads them; see ``core.rowsql``)."""

    def __init__(self, *, parents: dict[int, int | None] | None = None):
        """``parents``: business type → its parent type, for the types the caller will ask
        about (default: read for every type)."""
        if parents is None:
            parents = dict(BusinessType.objects.values_list("pk", "parent_id"))
        self.parents = parents
        self.profile_rules = select_objects(ProfileRule, "1 = 1", [], order=_BY_PRIORITY)
        self.routing_rules = select_objects(
            RoutingRule,
            f"m.{column(RoutingRule, 'is_active')} = %s",
            [True],
            _ROUTED_TO,
            order=_BY_PRIORITY,
        )

    @classmethod
    def for_business_type(cls, business_type: BusinessType | None) -> "CaseRules":
        """For one case, whose business type (and its parent) is already at hand."""
        parents = {} if business_type is None else {business_type.pk: business_type.parent_id}
        return cls(parents=parents)

    def _types(self, business_type_id: int | None) -> tuple:
        if business_type_id is None:
            return ()
        return (business_type_id, self.parents.get(business_type_id))

    def profile_key(self, *, channel: str, business_type_id, jurisdiction: str) -> str:
        types = self._types(business_type_id)
        for rule in self.profile_rules:
            if rule.channel and rule.channel != channel:
                continue
            if rule.jurisdiction and rule.jurisdiction != jurisdiction:
                continue
            if rule.business_type_id and rule.business_type_id not in types:
                continue
            return rule.profile_key
        if channel == Channel.REGULATOR and jurisdiction == Jurisdiction.CN:
            return "cn_pboc_referral"
        return DEFAULT_PROFILE.get(jurisdiction, "cn_banking_insurance")

    def routing_rule(
        self, *, kind: str, channel: str, business_type_id, severity: str
    ) -> RoutingRule | None:
        """The rule that sends the case to its queue (``rule.department``), if one does."""
        types = self._types(business_type_id)
        for rule in self.routing_rules:
            if rule.kind and rule.kind != kind:
                continue
            if rule.channel and rule.channel != channel:
                continue
            if rule.business_type_id and rule.business_type_id not in types:
                continue
            if rule.min_severity and _SEVERITY_RANK[severity] < _SEVERITY_RANK[rule.min_severity]:
                continue
            return rule
        return None

    def queue(self, *, kind: str, channel: str, business_type_id, severity: str) -> int | None:
        """The id of the queue a rule sends the case to (None: no rule does)."""
        rule = self.routing_rule(
            kind=kind, channel=channel, business_type_id=business_type_id, severity=severity
        )
        return rule.department_id if rule else None
