"""`charter demo`: a local database, the demo institution, and server + worker, in one command.

The database is SQLite under ./var/ unless DATABASE_URL names another. Server and worker run as
child processes with CHARTER_DEMO=true (the sign-in page then shows the current TOTP code); one
Ctrl-C or SIGTERM stops both cleanly.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.translation import gettext as _

from servicecharter.core.management.commands.seed import seed_and_report
from servicecharter.core.management.commands.serve import refuse_taken_port
from servicecharter.demo.selectors import demo_accounts
from servicecharter.demo.services import DEMO_PASSWORD, SIZES

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


class _Stop(Exception):
    """A signal asked the demo to stop."""


def _raise_stop(signum, frame):
    raise _Stop


def database_label() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return str(db["NAME"])
    return f"{db['ENGINE'].rsplit('.', 1)[-1]}://{db.get('HOST') or 'localhost'}/{db['NAME']}"


def ensure_sqlite_folder() -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3") and str(db["NAME"]) != ":memory:":
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)


def accounts_table() -> list[str]:
    """The demo accounts as aligned text lines (header first)."""
    header = (_("user"), _("role"), _("scope"), _("password"), _("TOTP secret"))
    rows = [
        (a.username, a.role_label, a.scope, DEMO_PASSWORD, a.totp_secret or "-")
        for a in demo_accounts()
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


class Command(BaseCommand):
    help = "Create the local database, load the demo institution, run server and worker together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=3, help="Web server processes.")
        parser.add_argument("--size", choices=sorted(SIZES), default="small")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Only prepare the database and print the accounts; start nothing.",
        )

    def execute(self, *args, **options):
        # Before the system checks, which already open the database.
        ensure_sqlite_folder()
        return super().execute(*args, **options)

    def handle(self, *args, host, port, workers, size, seed, no_serve, **options):
        if settings.PRODUCTION:
            raise CommandError(
                _("charter demo is for trying the system; it does not run in production.")
            )
        if not no_serve:
            refuse_taken_port(host, port)
        self.prepare_database(size=size, seed=seed)
        self.print_accounts()
        if no_serve:
            self.stdout.write(_("The database is ready (--no-serve: nothing started)."))
            return
        self.run_children(host=host, port=port, workers=workers)

    def prepare_database(self, *, size: str, seed: int) -> None:
        self.stdout.write(_("Database: %(db)s") % {"db": database_label()})
        call_command("migrate", interactive=False, verbosity=0)
        seed_and_report(self.stdout, seed=seed, size=size)

    def print_accounts(self) -> None:
        self.stdout.write("")
        self.stdout.write(_("Demo accounts (one per role):"))
        for line in accounts_table():
            self.stdout.write("  " + line)
        self.stdout.write(
            _(
                "Accounts with a TOTP secret sign in with a second factor: in demo mode the "
                "sign-in page shows the current code (or add the secret to an authenticator app)."
            )
        )
        self.stdout.write("")

    def run_children(self, *, host: str, port: int, workers: int) -> None:
        env = {
            **os.environ,
            "CHARTER_DEMO": "true",
            "DATABASE_URL": settings.DATABASE_URL,
            # Links in the demo's mail (printed on the console) open the demo itself.
            "SITE_URL": settings.SITE_URL or f"http://{host}:{port}",
            "PYTHONUNBUFFERED": "1",
        }
        connection.close()  # the children open their own
        cli = [sys.executable, "-m", "servicecharter.cli"]
        serve_argv = [*cli, "serve", "--host", host, "--port", str(port), "--workers", str(workers)]
        children = {_("web server"): serve_argv}
        if "worker" in get_commands():
            children[_("worker")] = [*cli, "worker"]
        else:
            self.stderr.write(_("No 'charter worker' command in this version: running without it."))
        previous = {
            sig: signal.signal(sig, _raise_stop)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        processes: dict[str, subprocess.Popen] = {}
        failed = False
        try:
            # Own process groups: a Ctrl-C reaches only this process, which then stops the
            # children gracefully (SIGTERM), in order, instead of all of them at once.
            for name, argv in children.items():
                processes[name] = subprocess.Popen(argv, env=env, process_group=0)
            self.wait_until_ready(host, port, processes)
            self.stdout.write(
                _("Service Charter is running on http://%(host)s:%(port)s — press Ctrl-C to stop.")
                % {"host": host, "port": port}
            )
            failed = self.watch(processes)
        except _Stop:
            pass
        finally:
            for sig in previous:  # a second Ctrl-C must not interrupt the clean stop
                signal.signal(sig, signal.SIG_IGN)
            self.stop(processes)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed:
            raise CommandError(_("A child process stopped unexpectedly; the demo was stopped."))

    def wait_until_ready(self, host: str, port: int, processes) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.first_exited(processes):
                return  # watch() reports it
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stderr.write(_("The web server is not answering yet; it may still be starting."))

    @staticmethod
    def first_exited(processes) -> str | None:
        return next((name for name, proc in processes.items() if proc.poll() is not None), None)

    def watch(self, processes) -> bool:
        """Wait until a child exits (True: unexpected) or a signal arrives (_Stop)."""
        while True:
            name = self.first_exited(processes)
            if name is not None:
                self.stderr.write(
                    _("The %(name)s exited with code %(code)s.")
                    % {"name": name, "code": processes[name].returncode}
                )
                return True
            time.sleep(0.5)

    def stop(self, processes) -> None:
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for proc in processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if processes:
            self.stdout.write(_("Stopped the web server and the worker."))
