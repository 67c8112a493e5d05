"""`charter demo`, `charter serve` and `charter createadmin`, run as a user runs them."""

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.demo.institution import DEMO_ACCOUNTS
from servicecharter.demo.services import DEMO_PASSWORD, institution_seed
from servicecharter.org.models import Department

CHARTER = [sys.executable, "-m", "servicecharter.cli"]
TOTP_USERS = {"admin", "compliance", "hr", "investigator"}


def charter_env(database_url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHARTER_")}
    env["DATABASE_URL"] = database_url
    return env


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory):
    """A database prepared by `charter demo --no-serve`, in a folder that did not exist."""
    path = tmp_path_factory.mktemp("demo") / "not-yet" / "charter.sqlite3"
    env = charter_env(f"sqlite:///{path}")
    run = subprocess.run(
        [*CHARTER, "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    return path, env, run.stdout


def test_demo_no_serve_prepares_a_database_and_prints_the_accounts(demo_database):
    path, _env, out = demo_database

    assert "Seeded the demo institution" in out
    assert DEMO_PASSWORD in out
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM org_customer").fetchone() == (2000,)
        accounts = "SELECT count(*) FROM accounts_user WHERE username NOT LIKE 'agent.%'"
        assert db.execute(accounts).fetchone() == (len(DEMO_ACCOUNTS),)
        assert db.execute("SELECT count(*) FROM cases_case").fetchone()[0] > 10_000
    for username, *_ in DEMO_ACCOUNTS:
        assert f"\n  {username} " in out


def test_serve_runs_gunicorn_and_answers(demo_database):
    _path, env, _out = demo_database
    port = _free_port()
    server = subprocess.Popen(
        [*CHARTER, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = _ServerLog(server)
    try:
        log.wait_for("Listening at")
        status, _body = _get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200
        static_status, _ = _get(f"http://127.0.0.1:{port}/static/css/app.css")
        assert static_status == 200
    finally:
        server.send_signal(signal.SIGINT)  # quick shutdown; graceful is tested by hand
        server.wait(timeout=60)
    output = log.text()
    assert "gunicorn" in output.lower()
    assert "Booting worker" in output


def test_serve_refuses_a_port_that_is_taken(demo_database):
    _path, env, _out = demo_database
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [*CHARTER, "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode != 0
    assert f"Port {port} on 127.0.0.1 is already in use" in run.stderr


def test_demo_refuses_a_taken_port_before_touching_the_database(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CommandError, match="already in use"):
            call_command("demo", port=taken.getsockname()[1], stdout=StringIO())
    assert not Department.objects.exists()


def test_demo_on_an_existing_institution_only_prints_the_accounts(db):
    institution_seed(seed=1, customers=0)
    out = StringIO()

    call_command("demo", no_serve=True, stdout=out)

    text = out.getvalue()
    assert "already exists" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    for username, *_ in DEMO_ACCOUNTS:
        secret_column = rows[username].split()[-1]
        # TOTP roles show their secret (base32); the others a dash.
        assert (secret_column != "-") == (username in TOTP_USERS), rows[username]


def test_createadmin_makes_an_administrator_of_the_whole_tree(db, tree):
    out = StringIO()
    call_command("createadmin", username="root.admin", password="a long pass phrase", stdout=out)

    user = User.objects.get(username="root.admin")
    assert user.check_password("a long pass phrase")
    assert list(RoleGrant.objects.filter(user=user).values_list("role", "department")) == [
        (Role.ADMIN, tree["head"].pk)
    ]
    assert "root.admin" in out.getvalue()


def test_createadmin_on_an_empty_database_creates_the_head_office(db):
    call_command("createadmin", username="first", password="a long pass phrase", stdout=StringIO())

    head = Department.objects.get(parent=None)
    assert head.code == "HO"
    assert RoleGrant.objects.get(user__username="first").department == head


def test_createadmin_refuses_a_weak_password_and_creates_nothing(db):
    with pytest.raises(CommandError, match="too short"):
        call_command("createadmin", username="weak", password="abc", stdout=StringIO())
    assert not User.objects.filter(username="weak").exists()
    assert not Department.objects.exists()


def test_createadmin_refuses_a_taken_username(db, admin_user):
    with pytest.raises(CommandError, match="already taken"):
        call_command("createadmin", username="admin", password="a long pass phrase")
    assert User.objects.filter(username__iexact="admin").count() == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _ServerLog:
    """Collects a server's output lines on a thread, so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 90) -> None:
        # Once gunicorn listens, connections queue in its backlog until a worker accepts them.
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} never appeared in:\n{''.join(self.seen)}")

    def text(self) -> str:
        self.reader.join(timeout=10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
