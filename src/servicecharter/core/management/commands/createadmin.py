"""`charter createadmin`: an administrator holding the administrator role for the whole tree."""

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from servicecharter.accounts import services as account_services
from servicecharter.accounts.choices import Role
from servicecharter.org.choices import DepartmentKind
from servicecharter.org.models import Department
from servicecharter.org.services import department_create


def _messages(error: ValidationError) -> str:
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "Create an administrator account (asks, or takes --username/--password)."

    def add_arguments(self, parser):
        parser.add_argument("--username")
        parser.add_argument("--password", help="Omit to be asked without echo.")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--head-office-code",
            default="HO",
            help="Code of the head office to create when the database has no department yet.",
        )

    def handle(self, *args, username, password, email, head_office_code, **options):
        username = username or input(_("User name: ")).strip()
        if password is None:
            password = getpass.getpass(_("Password: "))
            if password != getpass.getpass(_("Password (again): ")):
                raise CommandError(_("The two passwords differ; nothing was created."))
        try:
            with transaction.atomic():
                root, created_root = self._root(head_office_code)
                account_services.user_create(
                    username=username,
                    password=password,
                    email=email,
                    role=Role.ADMIN,
                    department=root,
                )
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        if created_root:
            self.stdout.write(
                _("Created the head office %(code)s (the root of the institution tree).")
                % {"code": root.code}
            )
        self.stdout.write(
            _(
                "Administrator %(username)s created for the whole institution (%(code)s). "
                "They set up their second factor (TOTP) when they first sign in."
            )
            % {"username": username, "code": root.code}
        )

    def _root(self, code: str) -> tuple[Department, bool]:
        root = Department.objects.filter(parent__isnull=True).order_by("pk").first()
        if root is not None:
            return root, False
        head = department_create(
            code=code, name_en="Head Office", name_zh="总行", kind=DepartmentKind.HEAD_OFFICE
        )
        return head, True
