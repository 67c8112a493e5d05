"""The institution: departments (a tree), staff, customers, products and business types."""

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from servicecharter.core.models import TimeStamped
from servicecharter.org.choices import (
    Channel,
    CustomerSegment,
    CustomerTier,
    DepartmentKind,
    Language,
    StaffStatus,
)


class BilingualName(models.Model):
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language, falling back to the other one."""
        if (get_language() or "").startswith("zh"):
            return self.name_zh or self.name_en
        return self.name_en or self.name_zh


def path_and_ancestors(path: str) -> list[str]:
    """ "000001.000004.000009." → the paths of that department and of each one above it, top
    first: a grant held on any of them reaches the department."""
    return [path[: end + 1] for end, char in enumerate(path) if char == "."]


class Department(BilingualName, TimeStamped):
    """A node of the institution tree. ``path`` holds the ids from the root, so a subtree
    is one indexed prefix match: ``path__startswith=dept.path``."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    calendar_code = models.CharField(_("business calendar"), max_length=20, default="CN")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")


class BusinessType(BilingualName):
    """A business type of JR/T 0169-2018 (the B axis of complaint classification)."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("business type")
        verbose_name_plural = _("business types")


class Product(BilingualName, TimeStamped):
    code = models.CharField(_("code"), max_length=32, unique=True)
    business_type = models.ForeignKey(
        BusinessType,
        verbose_name=_("business type"),
        on_delete=models.PROTECT,
        related_name="products",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")


class Staff(TimeStamped):
    employee_number = models.CharField(_("employee number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, db_index=True)
    name_latin = models.CharField(_("name (Latin letters)"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="staff"
    )
    position = models.CharField(_("position"), max_length=100, blank=True)
    grade = models.PositiveSmallIntegerField(_("grade"), default=1)
    base_wage = models.DecimalField(_("monthly base wage"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    hire_date = models.DateField(_("hire date"))
    status = models.CharField(
        _("status"), max_length=20, choices=StaffStatus.choices, default=StaffStatus.ACTIVE
    )

    class Meta:
        ordering = ["employee_number"]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(base_wage__gte=0), name="staff_wage_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.employee_number})"


class Customer(TimeStamped):
    """A customer. Identity number, phone and address are sensitive personal information:
    stored encrypted (``*_cipher``), searchable by exact value through a keyed hash
    (``*_digest``), and shown masked unless the viewer's role needs the full value."""

    # Unique and looked up by exact value only: the constraint and indexes are declared in Meta,
    # because field options would add a pattern-match index on PostgreSQL that no query uses and
    # every import pays for. The name is searched by contains-match, which no index serves.
    customer_number = models.CharField(_("customer number"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    home_department = models.ForeignKey(
        Department,
        verbose_name=_("home branch"),
        on_delete=models.PROTECT,
        related_name="customers",
    )
    segment = models.CharField(_("segment"), max_length=20, choices=CustomerSegment.choices)
    tier = models.CharField(
        _("tier"), max_length=20, choices=CustomerTier.choices, default=CustomerTier.STANDARD
    )
    is_vulnerable = models.BooleanField(_("vulnerable customer"), default=False)
    vulnerability_note = models.CharField(_("vulnerability"), max_length=200, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE
    )
    email = models.EmailField(_("email"), blank=True)
    id_number_cipher = models.TextField(blank=True, editable=False)
    id_number_digest = models.CharField(max_length=64, blank=True, editable=False)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_digest = models.CharField(max_length=64, blank=True, editable=False)
    address_cipher = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["customer_number"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(fields=["customer_number"], name="customer_number_unique")
        ]
        indexes = [
            models.Index(fields=["id_number_digest"], name="customer_id_number_digest"),
            models.Index(fields=["phone_digest"], name="customer_phone_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_number})"
