"""The ``charter`` command: the project's own commands first, then every Django command."""

import os
import sys

# The commands a user of Service Charter needs, each with its one-line purpose.
COMMANDS = {
    "demo": "Create the local database, load the demo institution, run server and worker together.",
    "serve": "Run the production web server (gunicorn) on --host/--port.",
    "worker": "Run the background worker: deliver domain events and run periodic jobs.",
    "migrate": "Create or update the database tables.",
    "seed": "Build a realistic, deterministic demo institution (--seed N --size small|large).",
    "createadmin": "Create an administrator account.",
    "audit": "Verify the tamper-evident audit trail (charter audit verify).",
    "events": "Show or retry events that failed delivery (charter events dead|retry).",
    "pii": "Re-encrypt personal data with the newest key (charter pii rotate).",
    "bench": "Run the speed and memory benchmarks in bench/ (charter bench foundation).",
    "check": "Check the configuration (charter check --deploy for production).",
}


def print_help() -> None:
    print("Usage: charter <command> [options]\n\nCommands:")
    width = max(len(name) for name in COMMANDS)
    for name, purpose in COMMANDS.items():
        print(f"  {name.ljust(width)}  {purpose}")
    print("\n'charter <command> --help' shows a command's options; 'charter help --all' lists")
    print("every lower-level Django command as well.")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicecharter.settings")
    argv = sys.argv[1:]
    if not argv or argv[0] in {"-h", "--help"} or argv == ["help"]:
        print_help()
        return
    if argv[:2] == ["help", "--all"]:
        argv = ["help"]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["charter", *argv])


if __name__ == "__main__":
    main()
