"""The command's shell: version, help, usage errors, one-line errors, tracebacks only with --debug."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim_servicenow import __version__
from sim_servicenow.cli import ExitCode, main

from .conftest import ENV, Served, run_cli, write


def test_version() -> None:
    result = run_cli("--version")

    assert result.returncode == ExitCode.OK
    assert result.stdout.strip() == f"sim-servicenow {__version__}"


def test_help_lists_every_command_and_the_exit_codes() -> None:
    result = run_cli("--help")

    assert result.returncode == ExitCode.OK
    for command in ("demo", "run", "check", "render", "pull", "tickets"):
        assert re.search(rf"^\s+{command}\s+\S", result.stdout, re.MULTILINE), command
    assert "exit codes: 0 done; 1 the job failed" in " ".join(result.stdout.split())


def test_no_command_is_a_usage_error() -> None:
    result = run_cli()

    assert result.returncode == ExitCode.USAGE
    assert "usage: sim-servicenow" in result.stderr


def test_an_unknown_option_is_a_usage_error() -> None:
    result = run_cli("demo", "--plans", "many")

    assert result.returncode == ExitCode.USAGE
    assert "argument --plans: not a whole number: 'many'" in result.stderr


def test_run_without_a_configuration_is_a_usage_error() -> None:
    result = run_cli("run", "--once")

    assert result.returncode == ExitCode.USAGE
    assert result.stderr == "sim-servicenow run: error: give --config FILE (or --sim-definition FILE)\n"


def test_errors_are_one_line_and_debug_adds_the_traceback(tmp_path: Path) -> None:
    config = write(tmp_path / "integration.toml", "[servicenow\nurl = 1\n")
    plan = write(tmp_path / "plan.json", json.dumps({"trackingNumber": "p1"}))

    plain = run_cli("render", "--config", str(config), "--plan", str(plan))
    debug = run_cli("--debug", "render", "--config", str(config), "--plan", str(plan))
    after = run_cli("render", "--config", str(config), "--plan", str(plan), "--debug")

    assert plain.returncode == debug.returncode == after.returncode == ExitCode.USAGE
    assert len(plain.stderr.splitlines()) == 1
    assert plain.stderr.startswith("error: invalid configuration") or plain.stderr.startswith("error: configuration")
    assert "Traceback" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1] == plain.stderr.rstrip()
    assert "Traceback" in after.stderr


def test_logs_can_be_json_lines(served: Served, tmp_path: Path) -> None:
    config = write(tmp_path / "integration.toml", served.config_text("memory://"))

    result = run_cli("check", "--config", str(config), "-vv", "--log-format", "json", env=ENV)

    assert result.returncode == ExitCode.OK, result.stdout
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records
    assert all({"time", "level", "logger", "message"} <= set(record) for record in records)
    requests = [r for r in records if r["logger"] == "sim_servicenow.http" and r["level"] == "DEBUG"]
    assert any(f"GET {served.sn_served.url}/api/now/table/sc_request" in r["message"] for r in requests)
    assert "admin" not in result.stderr.replace("as admin", "")


def test_main_returns_the_exit_code_in_process(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["tickets", "--store", f"sqlite:///{tmp_path / 'none.db'}"])

    assert code == ExitCode.USAGE
    assert "none.db does not exist" in capsys.readouterr().err
