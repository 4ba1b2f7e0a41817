"""``sim-servicenow demo``: the whole loop in one command; its table is checked against the scenario."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from sim_servicenow.cli import ExitCode

from .conftest import ENV, run_cli

# The default scenario, as the table must show it: identity, change, ServiceNow request_state, IdentityNow.
EXPECTED = [
    ("ada.lovelace", "joiner: Create on Badge System", "closed_complete", "completed"),
    ("ada.lovelace", "joiner: Create on Laptop Fleet", "closed_complete", "completed"),
    ("ada.lovelace", "joiner: Create on Legacy CRM", "-", "pending (not managed)"),
    ("grace.hopper", "joiner: Create on Badge System", "closed_rejected", "forwarded (failed)"),
    ("alan.turing", "mover: Modify on Badge System", "closed_complete", "completed"),
    ("alan.turing", "mover: Modify on Legacy CRM", "-", "pending (not managed)"),
    ("barbara.liskov", "mover: Modify on Laptop Fleet", "closed_incomplete", "forwarded (failed)"),
    ("edsger.dijkstra", "leaver: Disable on Badge System", "closed_complete", "completed"),
    ("edsger.dijkstra", "leaver: Delete on Laptop Fleet", "requested", "forwarded (expired)"),
    ("edsger.dijkstra", "leaver: Delete on Legacy CRM", "-", "pending (not managed)"),
    ("margaret.hamilton", "joiner: Create on Laptop Fleet", "closed_complete", "completed"),
    ("ken.thompson", "mover: Modify on Badge System", "closed_complete", "completed"),
]

# What IdentityNow must say for each ServiceNow ending (the status map of the demo's integration).
IDENTITYNOW_FOR = {
    "closed_complete": "completed",
    "closed_incomplete": "forwarded (failed)",
    "closed_rejected": "forwarded (failed)",
    "requested": "forwarded (expired)",
    "-": "pending (not managed)",
}


def table_rows(output: str) -> list[list[str]]:
    """The rows of the demo's plain table (cells are separated by two spaces or more)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Work item"))
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def test_demo_shows_every_seeded_work_item_with_its_expected_ending() -> None:
    result = run_cli("demo")

    assert result.returncode == ExitCode.OK, result.stderr
    rows = table_rows(result.stdout)
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == EXPECTED
    work_items = [r[0] for r in rows]
    assert all(re.fullmatch(r"[0-9a-f]{8}", w) for w in work_items)
    assert len(set(work_items)) == len(work_items)
    tickets = [r[3] for r in rows if r[3] != "-"]
    assert len(tickets) == 9
    assert len(set(tickets)) == 9
    assert all(re.fullmatch(r"REQ\d{7}", t) for t in tickets)
    assert [r[3] == "-" for r in rows] == [e[2] == "-" for e in EXPECTED]
    assert "Every work item ended as expected" in result.stdout
    # Live progress went to stderr, one line per eventful cycle, on the simulated clock.
    assert re.search(r"^Mon 09:00 .*ticket\(s\) raised", result.stderr, re.MULTILINE)
    assert re.search(r"^Tue \d\d:\d\d .*1 expired", result.stderr, re.MULTILINE)


def test_demo_scales_and_every_ending_matches_its_ticket() -> None:
    started = time.monotonic()
    result = run_cli("demo", "--plans", "60", "--seed", "3")
    elapsed = time.monotonic() - started

    assert result.returncode == ExitCode.OK, result.stderr
    rows = table_rows(result.stdout)
    assert len(rows) == 60
    for row in rows:
        assert IDENTITYNOW_FOR[row[4]] == row[5], row
    tickets = [r[3] for r in rows if r[3] != "-"]
    assert len(tickets) == len(set(tickets))
    assert sum(r[5] == "forwarded (expired)" for r in rows) == 1
    assert elapsed < 30


def test_demo_is_deterministic_for_a_seed() -> None:
    first = run_cli("demo", "--plans", "16", "--seed", "5")
    second = run_cli("demo", "--plans", "16", "--seed", "5")

    assert first.returncode == second.returncode == ExitCode.OK
    assert table_rows(first.stdout) == table_rows(second.stdout)
    # The seed decides the ids (and the work items after the first twelve): not the default seed's table.
    assert table_rows(first.stdout)[0][0] != table_rows(run_cli("demo", "--plans", "1").stdout)[0][0]


def test_demo_serve_keeps_the_fakes_up_for_other_processes() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sim_servicenow.cli", "demo", "--serve", "--plans", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Serving until Ctrl-C"):
                break
        text = "".join(banner)
        assert re.search(r"^FakeServiceNow\s+http://127\.0\.0\.1:\d+$", text, re.MULTILINE), text
        assert re.search(r"^FakeIdentityNow\s+http://127\.0\.0\.1:\d+$", text, re.MULTILINE)
        match = re.search(r"A configuration for these fakes: (\S+)", text)
        assert match is not None
        config = Path(match.group(1))
        assert "password" not in config.read_text().replace('password = { env = "SN_PASSWORD" }', "")

        checked = run_cli("check", "--config", str(config), env=ENV)
        assert checked.returncode == ExitCode.OK, checked.stdout + checked.stderr
        ran = run_cli("run", "--config", str(config), "--once", env=ENV)
        assert ran.returncode == ExitCode.OK, ran.stderr
        assert "created=4" in ran.stdout  # 6 work items, 4 of them on managed sources
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert process.returncode == ExitCode.OK
    assert "stopped" in out
    assert not config.parent.exists()
