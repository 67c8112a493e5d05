"""Personas shared by every test: an institution with two branches and the people in it."""

import pytest
from django.utils import timezone

from servicecharter.accounts.choices import ROLES_REQUIRING_TOTP, Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.core import pii
from servicecharter.org.choices import DepartmentKind
from servicecharter.org.services import department_create


@pytest.fixture
def tree(db):
    """Head office → two branches (Beijing, Shanghai) → one team each."""
    head = department_create(
        code="HO", name_en="Head Office", name_zh="总行", kind=DepartmentKind.HEAD_OFFICE
    )
    bj = department_create(
        code="BJ",
        name_en="Beijing Branch",
        name_zh="北京分行",
        kind=DepartmentKind.BRANCH,
        parent=head,
    )
    sh = department_create(
        code="SH",
        name_en="Shanghai Branch",
        name_zh="上海分行",
        kind=DepartmentKind.BRANCH,
        parent=head,
    )
    bj_team = department_create(
        code="BJ-T1",
        name_en="Beijing Team 1",
        name_zh="北京一组",
        kind=DepartmentKind.TEAM,
        parent=bj,
    )
    sh_team = department_create(
        code="SH-T1",
        name_en="Shanghai Team 1",
        name_zh="上海一组",
        kind=DepartmentKind.TEAM,
        parent=sh,
    )
    return {"head": head, "bj": bj, "sh": sh, "bj_team": bj_team, "sh_team": sh_team}


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_user(username: str, role: str | None, department, **extra) -> User:
    user = User.objects.create_user(username=username, password="correct horse battery", **extra)
    if role is not None:
        RoleGrant.objects.create(user=user, role=role, department=department)
    if role in ROLES_REQUIRING_TOTP:
        # These roles cannot use any page without a second factor: the personas come
        # enrolled with a known key (sign in with pyotp.TOTP(TOTP_SECRET).now()).
        user.totp_secret_cipher = pii.encrypt(TOTP_SECRET)
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_secret_cipher", "totp_confirmed_at"])
    return user


@pytest.fixture
def bj_supervisor(tree):
    return make_user("bj.supervisor", Role.SUPERVISOR, tree["bj"])


@pytest.fixture
def sh_supervisor(tree):
    return make_user("sh.supervisor", Role.SUPERVISOR, tree["sh"])


@pytest.fixture
def bj_agent(tree):
    return make_user("bj.agent", Role.AGENT, tree["bj_team"])


@pytest.fixture
def admin_user(tree):
    return make_user("admin", Role.ADMIN, tree["head"])


@pytest.fixture
def compliance_officer(tree):
    return make_user("compliance", Role.COMPLIANCE, tree["head"])


@pytest.fixture
def stranger(db):
    """Signed in, but holds no role anywhere."""
    return make_user("stranger", None, None)


def pytest_ignore_collect(collection_path, config):
    """The browser tests need Chromium; they run only when asked for (`pytest tests/browser`)."""
    if collection_path.name == "browser" and collection_path.is_dir():
        return not any("browser" in str(arg) for arg in config.args)
    return None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL the audit table refuses TRUNCATE (core migration 0002). The test database
    lets a superuser session through, so Django can empty tables after transactional tests."""
    from django.db import connection
    from django.db.backends.base.creation import TEST_DATABASE_PREFIX

    name = connection.settings_dict["NAME"]
    test_name = connection.settings_dict["TEST"].get("NAME")
    is_test_database = name == test_name or str(name).startswith(TEST_DATABASE_PREFIX)
    # No test database is made when no collected test asks for one up front: touch nothing.
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql" and is_test_database:
            name = connection.ops.quote_name(name)
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {name} SET charter.allow_audit_truncate = on")
            connection.close()  # the next connection picks the setting up


def pytest_configure(config):
    """Tests hash passwords with a fast hasher: Argon2 is slow on purpose and would dominate the
    run. Production keeps Argon2 first (asserted in tests/accounts/test_password_hashing.py)."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def _reset_language():
    """A test that switches to Chinese must not leave the next test speaking it."""
    from django.utils import translation

    yield
    translation.deactivate()
