"""The `charter` command: its help lists every command of ours with a one-line purpose."""

import subprocess
import sys

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connections

from servicecharter import cli


def test_help_lists_every_command_with_its_purpose(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["charter", "--help"])
    cli.main()
    out = capsys.readouterr().out
    for name, purpose in cli.COMMANDS.items():
        assert f"  {name.ljust(max(map(len, cli.COMMANDS)))}  {purpose}" in out


def test_every_listed_command_exists():
    available = get_commands()
    assert [name for name in cli.COMMANDS if name not in available] == []


def test_every_command_of_ours_is_listed():
    ours = {name for name, app in get_commands().items() if app.startswith("servicecharter")}
    assert sorted(ours - set(cli.COMMANDS)) == []


def test_the_console_script_answers_help_and_refuses_an_unknown_command():
    help_run = subprocess.run(
        [sys.executable, "-m", "servicecharter.cli", "--help"], capture_output=True, text=True
    )
    assert help_run.returncode == 0
    assert "demo" in help_run.stdout and "serve" in help_run.stdout

    unknown = subprocess.run(
        [sys.executable, "-m", "servicecharter.cli", "no-such-command"],
        capture_output=True,
        text=True,
    )
    assert unknown.returncode != 0
    assert "Unknown command" in unknown.stderr


def test_bench_refuses_an_unknown_benchmark_and_lists_the_known_ones():
    with pytest.raises(CommandError, match="foundation"):
        call_command("bench", "no-such-bench")


def test_bench_never_works_in_the_configured_database():
    from servicecharter.core.management.commands import bench

    name = bench.throwaway_name("foundation")
    configured = connections["default"].settings_dict["NAME"]
    assert name != configured
    assert "bench_foundation" in str(name)
