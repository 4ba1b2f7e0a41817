"""``sim-servicenow run`` against the served fakes, and ``tickets`` over the store it leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sim_servicenow.cli import ExitCode
from sim_servicenow.testing import FakeIdentityNow

from .conftest import ENV, Served, run_cli, write


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    environ = {**os.environ, **ENV}
    return subprocess.Popen(
        [sys.executable, "-m", "sim_servicenow.cli", "run", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )


@pytest.fixture
def config(served: Served, tmp_path: Path) -> Path:
    return write(tmp_path / "integration.toml", served.config_text(f"sqlite:///{tmp_path / 'state.db'}"))


def test_run_once_then_tickets_shows_the_plans(served: Served, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'state.db'}"
    # Tickets are checked again after a few milliseconds, so the second cycle reads the closed statuses.
    config = write(
        tmp_path / "integration.toml", served.config_text(store, extra="\n[status]\ncheck_interval_minutes = 0.001\n")
    )
    badge = served.idn.add_manual_work_item(served.badge["id"], "Create", "ada.lovelace", {"badgeLevel": "3"})["id"]
    laptop = served.idn.add_manual_work_item(served.laptop["id"], "Disable", "alan.turing")["id"]
    served.idn.add_manual_work_item(served.directory["id"], "Create", "grace.hopper")

    first = run_cli("run", "--config", str(config), "--once", env=ENV)

    assert first.returncode == ExitCode.OK, first.stderr
    assert first.stdout.strip() == "cycle done: polled=2 received=2 created=2"
    requests = {r["correlation_id"].split("/")[0]: r for r in served.sn.records("sc_request")}
    assert set(requests) == {badge, laptop}

    served.sn.close(requests[badge]["sys_id"], "complete")
    served.sn.close(requests[laptop]["sys_id"], "incomplete")
    second = run_cli("run", "--config", str(config), "--once", env=ENV)

    assert second.returncode == ExitCode.OK, second.stderr
    assert "committed=1 failed=1 reported=2" in second.stdout
    assert len(served.idn.completions(badge)) == 1
    assert len(served.idn.completions(laptop)) == 1  # no forward_failed_to: completed with the reason

    listed = run_cli("tickets", "--store", store)
    assert listed.returncode == ExitCode.OK, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "Plan",
        "Identity",
        "State",
        "Outcome",
        "Ticket",
        "Ticket",
        "state",
        "Received",
        "(UTC)",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line.strip() and not line.startswith("2 ")}
    assert rows[badge][1:6] == ["ada.lovelace", "done", "committed", requests[badge]["number"], "committed"]
    assert rows[laptop][1:6] == ["alan.turing", "done", "failed", requests[laptop]["number"], "failed"]
    assert lines[-1] == "2 matching plan(s); in the store: 2 done"

    failed = json.loads(run_cli("tickets", "--store", store, "--outcome", "failed", "--json").stdout)
    assert [plan["plan_key"] for plan in failed] == [laptop]
    assert failed[0]["tickets"][0]["status_values"]["request_state"] == "closed_incomplete"

    one = run_cli("tickets", "--config", str(config), "--ticket", requests[badge]["number"])
    assert one.returncode == ExitCode.OK
    assert one.stdout.startswith(f"Plan {badge} for ada.lovelace (from identitynow)")
    assert "creating -> ticketed" in one.stdout
    assert "reporting -> done" in one.stdout

    limited = run_cli("tickets", "--store", store, "--limit", "1", "--json")
    assert [plan["plan_key"] for plan in json.loads(limited.stdout)] == [laptop]

    other_source = run_cli("tickets", "--store", store, "--source", "submitted", "--json")
    assert json.loads(other_source.stdout) == []

    missing = run_cli("tickets", "--store", store, "--plan", "nope")
    assert missing.returncode == ExitCode.FAILED
    assert missing.stderr == f"error: no plan 'nope' in {store}\n"


def test_tickets_does_not_create_a_store_that_is_not_there(tmp_path: Path) -> None:
    result = run_cli("tickets", "--store", f"sqlite:///{tmp_path / 'typo.db'}")

    assert result.returncode == ExitCode.USAGE
    assert "typo.db does not exist" in result.stderr
    assert not (tmp_path / "typo.db").exists()


def test_run_stops_gracefully_on_sigterm(served: Served, config: Path) -> None:
    served.idn.add_manual_work_item(served.badge["id"], "Create", "ada.lovelace", {"badgeLevel": "3"})
    process = start(config, "--interval", "0.2")
    try:
        wait_for(lambda: len(served.sn.records("sc_request")) == 1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)

    assert process.returncode == ExitCode.OK, err
    assert "SIGTERM received: stopping once the steps under way are recorded" in err
    assert "stopped: 1 ticket(s) raised" in err
    assert len(served.sn.records("sc_request")) == 1


def test_a_second_signal_stops_at_once(served: Served, config: Path) -> None:
    slow = served.idn.faults.add("latency", delay=10.0, times=1, path="/v3/work-items")
    process = start(config, "--interval", "0.2")
    try:
        wait_for(lambda: slow.hits == 1)  # the process is waiting on the slow answer
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()

    assert process.returncode == ExitCode.INTERRUPTED, err
    assert err.rstrip().endswith("interrupted")


def test_run_refuses_an_incomplete_configuration(served: Served, config: Path) -> None:
    result = run_cli("run", "--config", str(config), "--once", env={"SN_PASSWORD": "admin"})

    assert result.returncode == ExitCode.USAGE
    assert result.stderr == (
        "error: configuration is not complete enough to run: identitynow.client_secret: environment variable "
        "SAIL_CLIENT_SECRET is not set\n"
    )


def test_run_once_reports_a_cycle_with_errors(served: Served, config: Path) -> None:
    served.idn.add_manual_work_item(served.badge["id"], "Create", "ada.lovelace", {"badgeLevel": "3"})
    served.sn.faults.add("error", status=500, path="/api/sn_sc")

    result = run_cli("run", "--config", str(config), "--once", env=ENV)

    assert result.returncode == ExitCode.FAILED
    assert "errors=1" in result.stdout
    assert "create" in result.stderr


def test_a_sailpoint_sim_definition_runs_unchanged(served: Served, tmp_path: Path) -> None:
    definition = FakeIdentityNow.example_sim_integration([served.badge["id"]])
    catalog = {served.badge["id"]: served.badge_item}
    definition["attributes"].update(url=served.sn_served.url, username="admin", password="admin", catalogItem=catalog)
    sim = write(tmp_path / "sim-integration.json", json.dumps(definition))
    extra = write(
        tmp_path / "extra.toml",
        f'store_url = "sqlite:///{tmp_path / "state.db"}"\n\n[identitynow]\nurl = "{served.idn_served.url}"\n'
        'client_id = "fake-client-id"\nclient_secret = { env = "SAIL_CLIENT_SECRET" }\n',
    )
    work_item = served.idn.add_manual_work_item(served.badge["id"], "Create", "ada.lovelace", {"badgeLevel": "3"})

    checked = run_cli("check", "--sim-definition", str(sim), "--config", str(extra), env=ENV)
    ran = run_cli("run", "--sim-definition", str(sim), "--config", str(extra), "--once", env=ENV)

    assert checked.returncode == ExitCode.OK, checked.stdout
    assert ran.returncode == ExitCode.OK, ran.stderr
    (request,) = served.sn.records("sc_request")
    assert request["correlation_id"] == f"{work_item['id']}/source-{served.badge['id']}"
    # SailPoint's template, rendered as the SIM would: the REQ's fields, and the item's variables.
    assert request["short_description"] == "SailPoint New Access Request Created from IdentityNow"
    (item,) = served.sn.records("sc_req_item")
    assert served.sn.variables(item["sys_id"])["sim_correlation_id"] == request["correlation_id"]
