"""`charter serve`: the production web server (gunicorn on servicecharter.wsgi), never runserver."""

import errno
import os
import socket
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _


def default_workers() -> int:
    """gunicorn's rule of thumb, (2 × CPUs) + 1, capped: each worker holds its own connections."""
    return min(2 * (os.cpu_count() or 1) + 1, 8)


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port. Binds the way gunicorn does (with
    SO_REUSEADDR), so a socket lingering in TIME_WAIT does not count as taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise CommandError(
                _("Cannot listen on %(host)s:%(port)s: %(error)s")
                % {"host": host, "port": port, "error": exc.strerror}
            ) from exc
    return False


def refuse_taken_port(host: str, port: int) -> None:
    if port_in_use(host, port):
        raise CommandError(
            _(
                "Port %(port)s on %(host)s is already in use. Stop what is using it, "
                "or choose another port with --port."
            )
            % {"host": host, "port": port}
        )


def gunicorn_argv(*, host: str, port: int, workers: int) -> list[str]:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # Extra gunicorn settings (timeouts, --forwarded-allow-ips…) come from GUNICORN_CMD_ARGS.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "servicecharter.wsgi:application",
        "--config",
        "python:servicecharter.gunicorn_conf",  # each worker warms up before serving
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
    ]


class Command(BaseCommand):
    help = "Run the production web server (gunicorn) on --host/--port."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help="Worker processes (default: 2 × CPUs + 1, at most 8).",
        )

    def handle(self, *args, host, port, workers, **options):
        if not 0 < port < 65536:
            raise CommandError(_("--port must be between 1 and 65535."))
        if workers < 1:
            raise CommandError(_("--workers must be at least 1."))
        refuse_taken_port(host, port)
        if settings.PRODUCTION:
            # Production serves hashed, compressed files from STATIC_ROOT; collecting is cheap
            # when nothing changed, and forgetting it would break every page's styles.
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(
            _("Serving on http://%(host)s:%(port)s with %(workers)s workers (gunicorn).")
            % {"host": host, "port": port, "workers": workers}
        )
        self.stdout.flush()
        argv = gunicorn_argv(host=host, port=port, workers=workers)
        # Become gunicorn, so signals (TERM: graceful stop, HUP: reload) reach it directly.
        os.execv(argv[0], argv)
