"""`charter seed`: a realistic demo institution, the same for the same seed, written once."""

import hashlib
import random
from io import StringIO

import pyotp
import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.management import call_command
from django.core.management.base import CommandError

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.choices import ROLES_REQUIRING_TOTP
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability
from servicecharter.core import pii
from servicecharter.core.models import AuditEntry
from servicecharter.demo import identity
from servicecharter.demo.institution import DEMO_ACCOUNTS
from servicecharter.demo.services import DEMO_PASSWORD, SIZES, institution_seed
from servicecharter.org.choices import CustomerSegment, DepartmentKind, StaffStatus
from servicecharter.org.models import Customer, Department, Staff

FEW_CUSTOMERS = 120


def fingerprint() -> str:
    """A hash of everything the seed decides (not of row ids, timestamps or random ciphers)."""
    lines = []
    for d in Department.objects.select_related("parent").order_by("code"):
        lines.append(("dept", d.code, d.name_en, d.name_zh, d.kind, d.parent and d.parent.code))
    for s in Staff.objects.select_related("department").order_by("employee_number"):
        lines.append(
            ("staff", s.employee_number, s.name, s.name_latin, s.email, s.department.code,
             s.position, s.grade, str(s.base_wage), s.currency, s.hire_date.isoformat(), s.status)
        )  # fmt: skip
    for c in Customer.objects.select_related("home_department").order_by("customer_number"):
        lines.append(
            ("customer", c.customer_number, c.name, c.home_department.code, c.segment, c.tier,
             c.is_vulnerable, c.vulnerability_note, c.preferred_language, c.preferred_channel,
             c.email, c.id_number_digest, c.phone_digest, pii.decrypt(c.address_cipher))
        )  # fmt: skip
    for u in User.objects.select_related("staff").order_by("username"):
        grants = sorted((g.role, g.department.code) for g in u.role_grants.all())
        lines.append(("user", u.username, u.staff and u.staff.employee_number, grants))
    return hashlib.sha256(repr(lines).encode()).hexdigest()


def wipe_institution() -> None:
    User.objects.all().delete()
    Customer.objects.all().delete()
    Staff.objects.all().delete()
    for department in Department.objects.order_by("-depth"):
        department.delete()


def test_mail_sent_while_seeding_stays_in_memory(tree, settings, capsys, monkeypatch):
    # Printed to the console, as on a developer's machine, the seeded history's notices (a
    # thousand lines) buried the report. A stand-in seed sends one, as a notice would.
    from servicecharter.core.management.commands import seed as seed_command

    def seed_that_mails(**options):
        EmailMessage("A notice", "About made-up history.", to=["li.lei@bank.example"]).send()

    monkeypatch.setattr(seed_command, "institution_seed", seed_that_mails)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    seed_command.seed_and_report(StringIO(), seed=1, size="small")
    assert "A notice" not in capsys.readouterr().out
    assert [message.subject for message in mail.outbox] == ["A notice"]


def test_the_same_seed_gives_the_same_institution_and_another_seed_another(db):
    institution_seed(seed=7, customers=FEW_CUSTOMERS)
    first = fingerprint()
    names = set(Staff.objects.values_list("name", flat=True))
    wipe_institution()
    institution_seed(seed=7, customers=FEW_CUSTOMERS)
    assert fingerprint() == first
    wipe_institution()
    institution_seed(seed=8, customers=FEW_CUSTOMERS)
    assert fingerprint() != first
    assert set(Staff.objects.values_list("name", flat=True)) != names


def test_the_small_size_builds_the_whole_institution_once(db):
    out = StringIO()
    call_command("seed", seed=1, size="small", stdout=out)

    assert "Seeded the demo institution" in out.getvalue()
    kinds = list(Department.objects.values_list("kind", flat=True))
    assert kinds.count(DepartmentKind.HEAD_OFFICE) == 1
    assert kinds.count(DepartmentKind.BRANCH) == 6
    assert kinds.count(DepartmentKind.TEAM) == 30
    assert 280 <= Staff.objects.count() <= 340
    assert Customer.objects.count() == SIZES["small"] == 2_000
    assert SIZES["large"] == 20_000
    assert set(Customer.objects.values_list("segment", flat=True)) == set(CustomerSegment.values)
    assert Customer.objects.filter(is_vulnerable=True).exclude(vulnerability_note="").exists()
    # The demo accounts, and one agent for each team but Beijing retail (whose agent is the
    # demo account ``agent``) to handle the demo cases.
    teams = Department.objects.filter(kind=DepartmentKind.TEAM).count()
    assert User.objects.count() == len(DEMO_ACCOUNTS) + teams - 1

    # Bulk rows are recorded by one summary row, not one row each.
    summary = AuditEntry.objects.get(action="demo.seed")
    assert summary.changes["customers"] == [None, 2_000]
    assert summary.changes["staff"] == [None, Staff.objects.count()]
    assert summary.actor_label == "charter seed"
    assert not AuditEntry.objects.filter(action__in=["staff.create", "customer.create"]).exists()

    # A second run says so and changes nothing.
    before, audit_rows = fingerprint(), AuditEntry.objects.count()
    again = StringIO()
    call_command("seed", seed=2, size="large", stdout=again)
    assert "already exists" in again.getvalue()
    assert fingerprint() == before
    assert AuditEntry.objects.count() == audit_rows

    assert_identity_data_is_well_formed_and_encrypted(Customer.objects.all())


def assert_identity_data_is_well_formed_and_encrypted(customers) -> None:
    companies = {CustomerSegment.CORPORATE, CustomerSegment.SMALL_BUSINESS}
    for customer in customers:
        id_number = pii.decrypt(customer.id_number_cipher)
        assert id_number not in customer.id_number_cipher
        assert customer.id_number_digest == pii.digest(id_number)
        if customer.segment in companies:
            assert identity.is_valid_uscc(id_number), id_number
        else:
            assert identity.is_valid_id_number(id_number), id_number
        phone = pii.decrypt(customer.phone_cipher)
        assert len(phone) == 11 and phone.startswith("1") and phone.isdigit()
        assert customer.phone_digest == pii.digest(phone)
        assert pii.decrypt(customer.address_cipher).startswith(
            ("北京市", "上海市", "广州市", "深圳市", "成都市", "杭州市")
        )


def test_the_check_digit_rules_match_published_examples():
    # The example number printed in GB 11643-1999 and a well-known valid credit code.
    assert identity.is_valid_id_number("11010519491231002X")
    assert not identity.is_valid_id_number("110105194912310021")
    assert not identity.is_valid_id_number("11010519491331002X")  # month 13
    assert identity.is_valid_uscc("91350100M000100Y43")
    assert not identity.is_valid_uscc("91350100M000100Y44")


def test_generated_identity_numbers_encode_birth_date_and_sex():
    rng = random.Random(1)
    from datetime import date

    for female in (True, False):
        number = identity.id_number(rng, area_code="310104", birth=date(1988, 2, 29), female=female)
        assert number[:14] == "31010419880229"
        assert int(number[16]) % 2 == (0 if female else 1)
        assert identity.is_valid_id_number(number)


def test_staff_look_like_a_real_workforce(db):
    institution_seed(seed=1, customers=0)

    statuses = set(Staff.objects.values_list("status", flat=True))
    assert {StaffStatus.ACTIVE, StaffStatus.SUSPENDED, StaffStatus.LEFT} <= statuses
    emails = list(Staff.objects.values_list("email", flat=True))
    assert len(emails) == len(set(emails))
    latin = list(Staff.objects.exclude(name_latin="").values_list("name_latin", flat=True))
    assert len(latin) > Staff.objects.count() / 2
    # Pay rises with grade, and a Shanghai teller earns more than a Chengdu one.
    assert _average_wage(grade__gte=9) > 2 * _average_wage(grade__lte=3)
    sh = _average_wage(grade__lte=3, department__code__startswith="SH")
    cd = _average_wage(grade__lte=3, department__code__startswith="CD")
    assert sh > cd


def _average_wage(**filters) -> float:
    wages = list(Staff.objects.filter(**filters).values_list("base_wage", flat=True))
    assert wages
    return float(sum(wages)) / len(wages)


def test_there_is_one_demo_user_per_role_with_a_sensible_scope(db):
    institution_seed(seed=1, customers=0)

    # One shared password, hashed once (Argon2 is slow on purpose).
    assert User.objects.get(username="agent").check_password(DEMO_PASSWORD)
    assert len(set(User.objects.values_list("password", flat=True))) == 1
    for username, role, staff_department, _position, scope in DEMO_ACCOUNTS:
        user = User.objects.get(username=username)
        assert [(g.role, g.department.code) for g in user.role_grants.all()] == [(role, scope)]
        assert user.staff.department.code == staff_department
        assert user.staff.status == StaffStatus.ACTIVE
        if role in ROLES_REQUIRING_TOTP:
            assert user.totp_confirmed_at is not None
            secret = pii.decrypt(user.totp_secret_cipher)
            assert len(pyotp.TOTP(secret).now()) == 6
        else:
            assert user.totp_secret_cipher == "" and user.totp_confirmed_at is None

    supervisor = User.objects.get(username="supervisor")
    assert has_capability(supervisor, perms.VIEW_ORG, Department.objects.get(code="BJ-TEL"))
    assert not has_capability(supervisor, perms.VIEW_ORG, Department.objects.get(code="SH"))
    agent = User.objects.get(username="agent")
    assert not has_capability(agent, perms.VIEW_ORG, Department.objects.get(code="BJ-WLT"))


def test_seed_refuses_to_run_in_production(db, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed", stdout=StringIO())
    assert not Department.objects.exists()
