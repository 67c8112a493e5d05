"""Write the demo institution: one transaction, bulk inserts, and one summary audit row.

Departments, users and their role grants go through the org and accounts services (a few dozen
rows, each audited). Staff and customers — hundreds and tens of thousands of rows — are
bulk-inserted, with personal data encrypted and hashed by ``core.pii`` exactly as
``customer_create`` would, and recorded in the audit trail by one ``demo.seed`` row.
"""

import random
import time
from dataclasses import dataclass, field
from itertools import islice

import pyotp
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils.translation import gettext as _

from servicecharter.accounts import services as account_services
from servicecharter.accounts.choices import ROLES_REQUIRING_TOTP
from servicecharter.accounts.models import User
from servicecharter.core import pii
from servicecharter.core.audit import audit_record
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.demo import customers as customer_data
from servicecharter.demo import institution
from servicecharter.demo.assessment import assessment_seed
from servicecharter.demo.cases import cases_seed
from servicecharter.demo.decisions import decisions_seed
from servicecharter.demo.discipline import discipline_seed
from servicecharter.demo.interactions import interactions_seed
from servicecharter.demo.quality import quality_seed
from servicecharter.demo.standards import standards_seed
from servicecharter.demo.surveys import surveys_seed
from servicecharter.org import services as org_services
from servicecharter.org.models import Customer, Department, Staff

# How many customers each size has; staff and structure are the same for both.
SIZES = {"small": 2_000, "large": 20_000}
# One password for every demo account: the demo prints it, and it is not for real use.
DEMO_PASSWORD = "charter-demo-2026"
BATCH_SIZE = 1_000


@dataclass
class SeedSummary:
    seed: int
    departments: int = 0
    staff: int = 0
    customers: int = 0
    users: int = 0
    catalogue: dict = field(default_factory=dict)
    seconds: float = 0.0
    cases: object = None  # demo.cases.CasesSummary when the demo cases were loaded
    standards: object = None  # demo.standards.StandardsSummary
    interactions: object = None  # demo.interactions.InteractionsSummary when loaded
    quality: object = None  # demo.quality.QualitySummary, with the interactions
    surveys: object = None  # demo.surveys.SurveysSummary, with the interactions
    assessment: object = None  # demo.assessment.AssessmentSummary, with the interactions
    decisions: object = None  # demo.decisions.DecisionsSummary, with the interactions
    discipline: object = None  # demo.discipline.DisciplineSummary, with the interactions


def institution_exists() -> Department | None:
    """The root of the institution tree, if there is one."""
    return Department.objects.filter(parent__isnull=True).order_by("pk").first()


def _load_catalogue() -> dict:
    # The org module's JR/T 0169 business types and products; absent in very early trees.
    try:
        from servicecharter.org.catalogue import load_catalogue
    except ImportError:
        return {}
    return load_catalogue()


def _create_departments() -> dict[str, Department]:
    created: dict[str, Department] = {}
    for spec in institution.departments():
        created[spec.code] = org_services.department_create(
            code=spec.code,
            name_en=spec.name_en,
            name_zh=spec.name_zh,
            kind=spec.kind,
            parent=created[spec.parent_code] if spec.parent_code else None,
        )
    return created


def _bulk_create_staff(specs, departments: dict[str, Department]) -> dict[str, Staff]:
    rows = [
        Staff(
            employee_number=spec.employee_number,
            name=spec.name,
            name_latin=spec.name_latin,
            email=spec.email,
            department=departments[spec.department_code],
            position=spec.position,
            grade=spec.grade,
            base_wage=spec.base_wage,
            currency="CNY",
            hire_date=spec.hire_date,
            status=spec.status,
        )
        for spec in specs
    ]
    Staff.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return {staff.employee_number: staff for staff in Staff.objects.all()}


def customer_row(spec: customer_data.CustomerSpec, departments: dict[str, Department]) -> Customer:
    """An unsaved customer with its personal data encrypted and hashed for exact search."""
    return Customer(
        customer_number=spec.customer_number,
        name=spec.name,
        home_department=departments[spec.home_branch_code],
        segment=spec.segment,
        tier=spec.tier,
        is_vulnerable=spec.is_vulnerable,
        vulnerability_note=spec.vulnerability_note,
        preferred_language=spec.preferred_language,
        preferred_channel=spec.preferred_channel,
        email=spec.email,
        id_number_cipher=pii.encrypt(spec.id_number),
        id_number_digest=pii.digest(spec.id_number),
        phone_cipher=pii.encrypt(spec.phone),
        phone_digest=pii.digest(spec.phone),
        address_cipher=pii.encrypt(spec.address),
    )


def _bulk_create_customers(rng: random.Random, count: int, departments) -> int:
    specs = customer_data.customers(rng, count)
    created = 0
    while batch := list(islice(specs, BATCH_SIZE)):
        Customer.objects.bulk_create([customer_row(spec, departments) for spec in batch])
        created += len(batch)
    return created


def _create_demo_users(staff_by_number: dict[str, Staff], departments, specs) -> int:
    chosen = institution.demo_staff(specs)
    usernames = []
    for username, role, _dept, _position, scope_code in institution.DEMO_ACCOUNTS:
        staff = staff_by_number[chosen[username].employee_number]
        user = account_services.user_create(
            username=username,
            first_name=staff.name,
            email=staff.email,
            staff=staff,
            role=role,
            department=departments[scope_code],
        )
        if role in ROLES_REQUIRING_TOTP:
            account_services.user_totp_set(user=user, secret=pyotp.random_base32())
        usernames.append(username)
    # Argon2 is deliberately slow (a quarter second a hash); the accounts share one password,
    # so it is hashed once instead of nine times.
    User.objects.filter(username__in=usernames).update(password=make_password(DEMO_PASSWORD))
    return len(usernames)


def institution_seed(
    *,
    seed: int,
    size: str = "small",
    customers: int | None = None,
    cases: bool = False,
    interactions: bool | None = None,
):
    """Build the demo institution, or return ``None`` when an institution already exists.

    ``customers`` overrides the size's customer count (tests use a few hundred); ``cases``
    also loads the demo complaints (``demo.cases``: `charter seed` and `charter demo` do).
    ``interactions`` (by default as ``cases``: the demo's activity data) also loads the demo
    service standards and the interactions judged by them (``demo.standards``,
    ``demo.interactions``)."""
    if size not in SIZES:
        raise ValueError(_("Unknown size %(size)s: use small or large.") % {"size": size})
    if institution_exists() is not None:
        return None
    started = time.perf_counter()
    token = set_actor(Actor(label="charter seed"))
    try:
        summary = _seed(
            seed=seed,
            customer_count=SIZES[size] if customers is None else customers,
            with_cases=cases,
            with_interactions=cases if interactions is None else interactions,
        )
    finally:
        reset_actor(token)
    summary.seconds = time.perf_counter() - started
    return summary


@transaction.atomic
def _seed(
    *, seed: int, customer_count: int, with_cases: bool = False, with_interactions: bool = False
) -> SeedSummary:
    summary = SeedSummary(seed=seed)
    departments = _create_departments()
    summary.departments = len(departments)
    summary.catalogue = _load_catalogue()
    # Separate random streams, so changing how many customers there are leaves staff unchanged.
    staff_specs = institution.staff(random.Random(f"{seed}:staff"), institution.departments())
    staff_by_number = _bulk_create_staff(staff_specs, departments)
    summary.staff = len(staff_specs)
    summary.customers = _bulk_create_customers(
        random.Random(f"{seed}:customers"), customer_count, departments
    )
    summary.users = _create_demo_users(staff_by_number, departments, staff_specs)
    audit_record(
        action="demo.seed",
        object_type="org.department",
        object_id=departments["HO"].pk,
        object_repr=str(departments["HO"]),
        changes={
            "seed": [None, seed],
            "departments": [None, summary.departments],
            "staff": [None, summary.staff],
            "customers": [None, summary.customers],
            "users": [None, summary.users],
        },
    )
    if with_cases:
        summary.cases = cases_seed(seed=seed)
    if with_interactions:
        summary.standards = standards_seed()
        summary.interactions = interactions_seed(seed=seed)
        summary.surveys = surveys_seed(seed=seed)
        summary.quality = quality_seed(seed=seed)
        summary.assessment = assessment_seed()
        summary.decisions = decisions_seed()
        summary.discipline = discipline_seed()
    return summary
