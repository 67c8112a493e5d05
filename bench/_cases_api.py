"""Part 4 of `charter bench cases`: case reads and creations over HTTP, behind `charter serve`
(gunicorn, its default number of workers) on the same throwaway database.

- Reads: 50 clients read whole cases (``GET /api/cases/{id}``: clocks, timeline, messages) as
  fast as the server answers → reads/s; then the same 50 clients together offer 300 reads/s,
  each request timed from when it was due (so a slow answer is not hidden by the next request
  waiting for it) → p95. Target on PostgreSQL: ≥ 300 reads/s, p95 < 50 ms at 300 reads/s.
- Creations: 50 clients post new chat complaints (``POST /api/cases/``) → creations/s, target
  ≥ 100/s on PostgreSQL. On SQLite 20 writers, and the target is no "database is locked"
  error at all (counted in the answers and in the server's log).

The clients are threads in this process speaking HTTP over plain sockets, one connection per
request (gunicorn's sync workers close it after each answer anyway), with the demo Beijing
supervisor's API token. Beside each figure stands the CPU one request cost the server
(gunicorn's processes and, on PostgreSQL, the database's) and the clients: with all of them on
one machine, that and the number of CPUs bound what any run can reach. Run alone, the part builds the demo institution and a few
thousand cases in the Beijing branch first.
"""

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from servicecharter.accounts.models import User
from servicecharter.accounts.tokens import token_create
from servicecharter.cases import services
from servicecharter.cases.choices import CaseKind, MessageDirection
from servicecharter.cases.selectors import case_list_for_user
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.demo.services import institution_seed
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department

CLIENTS = 50
SQLITE_WRITERS = 20
TARGET_READS_PER_SECOND = 300
TARGET_P95_MS = 50
TARGET_CREATIONS_PER_SECOND = 100
PHASE_SECONDS = 20  # each phase at scale 1; at least 5 s
OWN_CASES = 3_000  # made when the part runs alone
# Each worker loads the URLs, the API and the translations before it serves (gunicorn_conf):
# on a busy machine, five of them doing so at once take a while.
SERVER_START_SECONDS = 180


@dataclass
class Result:
    measure: str
    value: str
    target: str
    passed: bool | None  # None: for information


@dataclass
class Tally:
    """What the client threads saw; each thread appends, the GIL keeps list.append whole."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    locked: int = 0
    elapsed: float = 0.0
    server_cpu: float | None = None  # seconds used by gunicorn's processes and the database
    client_cpu: float = 0.0  # seconds used by this process: the clients
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, elapsed_ms: float, body: bytes) -> None:
        with self.lock:
            self.latencies_ms.append(elapsed_ms)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if b"database is locked" in body:
                self.locked += 1

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if status < 300)

    @property
    def errors(self) -> int:
        return len(self.latencies_ms) - self.ok

    def p(self, percent: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100)[percent - 1]


def run(*, stdout, scale: float, state: dict) -> list[Result]:
    seconds = max(5, int(PHASE_SECONDS * min(scale, 1)))
    token = set_actor(Actor(label="charter bench"))
    try:
        supervisor, queue = _prepare(stdout)
        secret = token_create(
            actor=supervisor,
            owner=supervisor,
            name="bench",
            scopes=["cases:read", "cases:write"],
            lifetime_days=1,
        ).secret
    finally:
        reset_actor(token)
    ids = list(
        case_list_for_user(user=supervisor).order_by("-pk").values_list("pk", flat=True)[:20_000]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after the loads before
    connection.close()  # the server processes do the work from here on
    writers = SQLITE_WRITERS if connection.vendor == "sqlite" else CLIENTS
    with _server(stdout) as server:
        # The workers loaded the URLs and the API before serving; the first requests still
        # open each worker's database connection and fill its caches: not timed.
        warm_up = max(3, seconds // 2)
        stdout.write(f"(4) warming the workers up for {warm_up} s…")
        _drive(server, secret, warm_up, CLIENTS, _reader(ids))
        _drive(server, secret, 1, writers, _creator(queue.pk))
        stdout.write(f"    {CLIENTS} clients reading {len(ids):,} cases for {seconds} s…")
        flat_out = _drive(server, secret, seconds, CLIENTS, _reader(ids))
        stdout.write(f"    … and offering {TARGET_READS_PER_SECOND} reads/s for {seconds} s…")
        paced = _drive(
            server, secret, seconds, CLIENTS, _reader(ids), per_second=TARGET_READS_PER_SECOND
        )
        stdout.write(f"    {writers} clients creating cases for {seconds} s…")
        created = _drive(server, secret, seconds, writers, _creator(queue.pk))
        locked_in_log = server.log_path.read_text(errors="replace").count("database is locked")
    if not (flat_out.errors or paced.errors or created.errors or locked_in_log):
        server.log_path.unlink()  # kept only when it has something to explain
    else:
        stdout.write(f"    the server's log: {server.log_path}")
    results = _results(flat_out, paced, created, writers, server.workers, locked_in_log)
    state.setdefault("results", []).extend(results)
    _print_table(stdout, results)
    return results


# Data ---------------------------------------------------------------------------------------


def _prepare(stdout) -> tuple[User, Department]:
    """The demo supervisor (Beijing branch) and their branch's queue, with cases to read."""
    if not Department.objects.exists():
        stdout.write("(4) building the demo institution…")
        institution_seed(seed=1, customers=0)
    supervisor = User.objects.get(username="supervisor")
    queue = Department.objects.filter(code="BJ").get()
    have = case_list_for_user(user=supervisor)[:OWN_CASES].count()
    if have < OWN_CASES:
        stdout.write(f"(4) recording {OWN_CASES - have:,} cases in the Beijing branch…")
        _make_cases(supervisor, OWN_CASES - have)
    return supervisor, queue


def _make_cases(supervisor: User, count: int) -> None:
    """Cases with some history: two in three acknowledged, with an internal note."""
    rng = random.Random("bench:cases-api")
    teams = list(Department.objects.filter(code__startswith="BJ-"))
    kinds = [CaseKind.COMPLAINT] * 6 + [CaseKind.ENQUIRY, CaseKind.SUGGESTION, CaseKind.PRAISE]
    for number in range(count):
        case = services.case_create(
            actor=supervisor,
            kind=rng.choice(kinds),
            channel=rng.choice(Channel.values),
            subject=f"Bench case {number}",
            description="Recorded by the benchmark.",
            contact_name="Bench Customer",
            contact_phone="13800000000",
            department=rng.choice(teams),
        ).case
        if number % 3:
            case = services.case_acknowledge(actor=supervisor, case=case)
            services.case_add_message(
                actor=supervisor,
                case=case,
                body="Called the customer back.",
                direction=MessageDirection.INTERNAL,
            )


# The server ---------------------------------------------------------------------------------


def _database_url() -> str:
    """The throwaway database the bench runs in, as a URL for the server's environment."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(name).resolve()}"
    configured = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(configured._replace(path=f"/{name}"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _server(stdout):
    from servicecharter.core.management.commands.serve import default_workers

    port = _free_port()
    workers = default_workers()
    # One log per run: several people may run benchmarks on one machine.
    log_path = Path(settings.VAR_DIR) / f"bench_cases_api_server_{os.getpid()}.log"
    env = {**os.environ, "DATABASE_URL": _database_url(), "CHARTER_HOME": str(settings.BASE_DIR)}
    argv = [sys.executable, "-m", "servicecharter.cli", "serve", "--port", str(port)]
    argv += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(port, process)
            stdout.write(f"    `charter serve` on port {port}, {workers} gunicorn workers")
            database = "" if connection.vendor == "sqlite" else connection.settings_dict["NAME"]
            yield Server(port, workers, log_path, process.pid, database)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Server:
    port: int
    workers: int
    log_path: Path
    pid: int  # gunicorn's master (`charter serve` becomes it)
    database: str  # PostgreSQL: the database whose server processes count too; SQLite: ""

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by gunicorn's master and workers and, on PostgreSQL, by the
        database processes serving this database (Linux /proc; None elsewhere)."""
        if not Path("/proc/self/stat").exists():
            return None
        total = 0
        for process in Path("/proc").glob("[0-9]*"):
            try:
                fields = (process / "stat").read_text().rsplit(")", 1)[1].split()
                ours = self.pid in (int(process.name), int(fields[1])) or self._serves_us(process)
            except (OSError, ValueError, IndexError):
                continue  # the process ended meanwhile
            if ours:
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def _serves_us(self, process: Path) -> bool:
        if not self.database:
            return False
        title = (process / "cmdline").read_bytes()  # "postgres: 15/main: user database host…"
        return title.startswith(b"postgres:") and f" {self.database} ".encode() in title


def _wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"charter serve stopped (exit {process.returncode}); see its log")
        try:
            status, _body = _call(port, "GET", "/healthz", "")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)  # a benchmark, not a test: polling a starting server is fine here
    raise RuntimeError(f"charter serve did not answer within {SERVER_START_SECONDS} s")


# The clients --------------------------------------------------------------------------------


def _call(port: int, method: str, path: str, token: str, body: dict | None = None):
    """One request on its own connection, read until the server closes it. Plain sockets, not
    the standard library's HTTP client (which parses every header in Python): the clients share
    the machine with the server, and what they spend is taken from it."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer[9:12]), answer


def _reader(ids: list[int]):
    def request(rng: random.Random, client: int, number: int):
        return "GET", f"/api/cases/{rng.choice(ids)}", None

    return request


def _creator(queue_id: int):
    run_id = f"{os.getpid()}-{time.time_ns()}"

    def request(rng: random.Random, client: int, number: int):
        return (
            "POST",
            "/api/cases/",
            {
                "external_system": "bench",
                "external_id": f"{run_id}-{client}-{number}",
                "kind": "complaint",
                "channel": rng.choice(["chat", "social", "app"]),
                "subject": "Transfer failed in the app",
                "description": "The money left the account but did not arrive.",
                "contact_name": "Bench Customer",
                "contact_phone": "13800000000",
                "department": queue_id,
            },
        )

    return request


def _drive(server, token, seconds, clients, make_request, *, per_second: float | None = None):
    """``clients`` threads for ``seconds``: flat out, or together ``per_second`` requests a
    second, each timed from when it was due (so queueing in the server counts)."""
    tally = Tally()
    stop_at = time.perf_counter() + seconds
    interval = clients / per_second if per_second else 0.0

    def client(number: int) -> None:
        rng = random.Random(f"client:{number}")
        due = time.perf_counter() + rng.random() * interval  # spread the first requests
        sent = 0
        while True:
            now = time.perf_counter()
            if interval:
                if due > now:
                    time.sleep(due - now)
                started = due
                due += interval
            else:
                started = now
            if started >= stop_at or now >= stop_at:
                return  # the window is over; requests not sent by then count as not served
            method, path, body = make_request(rng, number, sent)
            try:
                status, answer = _call(server.port, method, path, token, body)
            except OSError as exc:
                status, answer = 599, str(exc).encode()
            tally.record(status, (time.perf_counter() - started) * 1000, answer)
            sent += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    cpu_before, client_before = server.cpu_seconds(), time.process_time()
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.elapsed = time.perf_counter() - began
    cpu_after = server.cpu_seconds()
    tally.client_cpu = time.process_time() - client_before
    if cpu_before is not None and cpu_after is not None:
        tally.server_cpu = cpu_after - cpu_before
    return tally


# Figures ------------------------------------------------------------------------------------


def _rate(tally: Tally) -> float:
    return tally.ok / tally.elapsed if tally.elapsed else 0.0


def _details(tally: Tally) -> str:
    """Statuses seen, and the CPU each answer cost the server and the clients: with both on one
    machine, these decide how many answers its CPUs can give."""
    statuses = ", ".join(f"{n:,}×{status}" for status, n in sorted(tally.statuses.items()))
    if not tally.latencies_ms:
        return statuses
    count = len(tally.latencies_ms)
    cpu = f"clients {tally.client_cpu * 1000 / count:.1f} ms"
    if tally.server_cpu is not None:
        cpu = f"server {tally.server_cpu * 1000 / count:.1f} ms, {cpu}"
    return f"{statuses}; CPU per request: {cpu}"


def _results(flat_out, paced, created, writers, workers, locked_in_log) -> list[Result]:
    on_postgres = connection.vendor == "postgresql"
    read_rate, paced_rate, create_rate = _rate(flat_out), _rate(paced), _rate(created)
    results = [
        Result(
            f"case reads, {CLIENTS} clients flat out ({workers} workers)",
            f"{read_rate:,.0f} reads/s (p50 {flat_out.p(50):.0f} ms, p95 {flat_out.p(95):.0f} ms;"
            f" {_details(flat_out)})",
            f"≥ {TARGET_READS_PER_SECOND} reads/s on PostgreSQL",
            read_rate >= TARGET_READS_PER_SECOND and not flat_out.errors if on_postgres else None,
        ),
        Result(
            f"case reads offered at {TARGET_READS_PER_SECOND}/s by {CLIENTS} clients",
            f"p95 {paced.p(95):.0f} ms, p50 {paced.p(50):.0f} ms at {paced_rate:,.0f} reads/s"
            f" ({_details(paced)})",
            f"p95 < {TARGET_P95_MS} ms on PostgreSQL",
            paced.p(95) < TARGET_P95_MS
            and paced_rate >= 0.95 * TARGET_READS_PER_SECOND
            and not paced.errors
            if on_postgres
            else None,
        ),
    ]
    if on_postgres:
        results.append(
            Result(
                f"case creations, {writers} clients",
                f"{create_rate:,.0f} creations/s (p95 {created.p(95):.0f} ms; {_details(created)})",
                f"≥ {TARGET_CREATIONS_PER_SECOND} creations/s",
                create_rate >= TARGET_CREATIONS_PER_SECOND and not created.errors,
            )
        )
    else:
        locked = created.locked + locked_in_log
        results.append(
            Result(
                f"case creations on SQLite, {writers} concurrent writers",
                f"{locked} “database is locked”, {created.errors} failed of"
                f" {len(created.latencies_ms):,} ({create_rate:,.0f} creations/s,"
                f" p95 {created.p(95):.0f} ms; {_details(created)})",
                "no “database is locked”",
                locked == 0 and not created.errors,
            )
        )
    return results


def _print_table(stdout, results: list[Result]) -> None:
    headers = ("measure", "result", "target", "")
    rows = [
        (
            r.measure,
            r.value,
            r.target,
            "info" if r.passed is None else "PASS" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    stdout.write("")
    stdout.write(
        f"Case API over HTTP — {connection.vendor}, database {connection.settings_dict['NAME']},"
        f" {os.cpu_count()} CPUs shared by server and clients, load average"
        f" {os.getloadavg()[0]:.1f} (figures from a busy machine are not the system's)"
    )
    for row in [headers, *rows]:
        stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
