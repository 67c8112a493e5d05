"""Reads about the demo: the demo accounts with what `charter demo` prints for them."""

from dataclasses import dataclass

from servicecharter.accounts.choices import ROLES_REQUIRING_TOTP, Role
from servicecharter.accounts.models import User
from servicecharter.core import pii
from servicecharter.demo.institution import DEMO_ACCOUNTS


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    role_label: str
    scope: str
    totp_secret: str


def demo_accounts() -> list[DemoAccount]:
    """The demo accounts that exist, in the order of ``DEMO_ACCOUNTS``. The TOTP secret is
    decrypted only for roles that need one — this is for the local demo's console, nowhere else."""
    users = {
        user.username: user
        for user in User.objects.filter(
            username__in=[username for username, *_ in DEMO_ACCOUNTS]
        ).prefetch_related("role_grants__department")
    }
    accounts = []
    for username, role, *_ in DEMO_ACCOUNTS:
        user = users.get(username)
        if user is None:
            continue
        grant = next((g for g in user.role_grants.all() if g.role == role), None)
        accounts.append(
            DemoAccount(
                username=username,
                role=role,
                role_label=str(Role(role).label),
                scope=f"{grant.department.code} {grant.department.name_en}" if grant else "",
                totp_secret=pii.decrypt(user.totp_secret_cipher)
                if role in ROLES_REQUIRING_TOTP
                else "",
            )
        )
    return accounts
