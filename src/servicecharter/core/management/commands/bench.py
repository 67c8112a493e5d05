"""`charter bench NAME`: run bench/NAME.py in a throwaway database and print its figures."""

import importlib.util
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils.translation import gettext as _

import servicecharter
from servicecharter.core.notifications import mail_kept_in_memory

# bench/ sits beside src/ in the repository (the project is installed in editable mode).
BENCH_DIR = Path(servicecharter.__file__).resolve().parents[2] / "bench"


def available() -> list[str]:
    if not BENCH_DIR.is_dir():
        return []
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def throwaway_name(name: str) -> str:
    """The database a benchmark may create and drop: never the configured one, unless its name
    already says it is for benchmarks."""
    db = connections["default"].settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return str(settings.VAR_DIR / f"bench_{name}.sqlite3")
    configured = db["NAME"]
    return configured if configured.startswith("bench") else f"bench_{name}"


@contextmanager
def throwaway_database(name: str):
    connection = connections["default"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = throwaway_name(name)
    if connection.vendor == "sqlite":
        Path(throwaway_name(name)).parent.mkdir(parents=True, exist_ok=True)
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield connection.settings_dict["NAME"]
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


class Command(BaseCommand):
    help = "Run the speed and memory benchmarks in bench/ (charter bench foundation)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The benchmark: a file bench/NAME.py.")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiply the sizes (0.1 for a quick run); the targets are for 1.",
        )

    def handle(self, *args, name, scale, **options):
        if settings.PRODUCTION:
            raise CommandError(_("Run benchmarks with development settings, not in production."))
        if name not in available():
            raise CommandError(
                _("No benchmark %(name)s. Available: %(names)s.")
                % {"name": name, "names": ", ".join(available()) or _("none (no bench/ folder)")}
            )
        if not 0 < scale <= 10:
            raise CommandError(_("--scale must be above 0 and at most 10."))
        module = load(name)
        # The mail a benchmark's work sends (a sweep's breach notices, a token's notice) stays
        # in memory: printed, thousands of lines would bury the figures, and be timed.
        with throwaway_database(name) as database, mail_kept_in_memory():
            self.stdout.write(_("Throwaway database: %(db)s") % {"db": database})
            module.run(stdout=self.stdout, scale=scale)
