"""`charter seed`: build the demo institution (deterministic for a given --seed)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from servicecharter.core.notifications import mail_kept_in_memory
from servicecharter.demo.discipline import discipline_report
from servicecharter.demo.services import SIZES, institution_exists, institution_seed


class Command(BaseCommand):
    help = "Build a realistic, deterministic demo institution (--seed N --size small|large)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data.")
        parser.add_argument("--size", choices=sorted(SIZES), default="small")
        parser.add_argument(
            "--customers", type=int, default=None, help="Override the size's customer count."
        )

    def handle(self, *args, seed, size, customers, **options):
        if settings.PRODUCTION:
            raise CommandError(_("charter seed makes demo data; it does not run in production."))
        if customers is not None and customers < 0:
            raise CommandError(_("--customers must be zero or more."))
        seed_and_report(self.stdout, seed=seed, size=size, customers=customers)


def seed_and_report(stdout, *, seed: int, size: str, customers: int | None = None) -> bool:
    """Seed unless an institution exists; say what happened. True when data was created.
    The made-up history sends no mail (a thousand notices to made-up people buried the
    report on the console)."""
    with mail_kept_in_memory():
        summary = institution_seed(seed=seed, size=size, customers=customers, cases=True)
    if summary is None:
        root = institution_exists()
        stdout.write(
            _("An institution already exists (%(code)s %(name)s); nothing was seeded.")
            % {"code": root.code, "name": root.name}
        )
        return False
    stdout.write(
        _(
            "Seeded the demo institution (seed %(seed)s): %(departments)s departments, "
            "%(staff)s staff, %(customers)s customers, %(users)s demo users in %(seconds).1f s."
        )
        % {
            "seed": summary.seed,
            "departments": summary.departments,
            "staff": summary.staff,
            "customers": summary.customers,
            "users": summary.users,
            "seconds": summary.seconds,
        }
    )
    if summary.cases is not None:
        report_cases(stdout, summary.cases)
    if getattr(summary, "discipline", None) is not None:
        stdout.write(discipline_report(summary.discipline))
    return True


def report_cases(stdout, cases) -> None:
    for note in cases.notes:
        stdout.write(note)
    stdout.write(
        _(
            "Demo cases: %(english)s in English (CFPB) and %(chinese)s in Chinese, of which "
            "%(open)s open and %(breached)s breached a deadline, handled by %(handlers)s agents "
            "(agent.<team>, same password)."
        )
        % {
            "english": cases.english,
            "chinese": cases.chinese,
            "open": cases.open,
            "breached": cases.breached,
            "handlers": cases.handlers,
        }
    )
