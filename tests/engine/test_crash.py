"""The core promise under SIGKILL: every plan ends, exactly one ticket per ticket group, each work item told once.

An engine worker runs as a subprocess against both fakes (served here, over loopback) and a SQLite store; it is
killed with SIGKILL at random moments, at least 20 times, and restarted each time; a last worker drains the rest.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sim_servicenow.engine import PlanState, SqliteStore
from sim_servicenow.mapping import (
    IdentityNowSettings,
    IntegrationConfig,
    ManagedSource,
    Secret,
    ServiceNowSettings,
    StatusCheck,
)
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, WorkPolicy, serve

WORKER = Path(__file__).with_name("crash_worker.py")
PLANS = 240
KILLS = 22


def _start(config_path: Path, store_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(config_path), str(store_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _wait_ready(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    assert "worker ready" in line, line


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261129)
    sn = FakeServiceNow(
        seed=1,
        work_policy=WorkPolicy(close_after=1.5, outcomes={"complete": 6, "incomplete": 2, "rejected": 1}, seed=3),
    )
    idn = FakeIdentityNow(seed=1)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    variables = ["sim_correlation_id", "short_description", "description"]
    badge_item = sn.add_catalog_item("Security badge", variables)
    laptop_item = sn.add_catalog_item("Laptop", variables)
    desk = idn.add_identity("provisioning.desk")["id"]
    work_items = []
    for n in range(PLANS):
        source = badge if n % 2 else laptop
        work_items.append(idn.add_manual_work_item(source["id"], "Create", f"user{n:04d}", {"level": str(n % 5)})["id"])

    with serve(sn) as sn_served, serve(idn) as idn_served:
        config = IntegrationConfig(
            servicenow=ServiceNowSettings(sn_served.url, username="admin", password=Secret("admin")),
            identitynow=IdentityNowSettings(
                idn_served.url, client_id="fake-client-id", client_secret=Secret("fake-client-secret")
            ),
            sources=(
                ManagedSource(badge["id"], badge["name"], badge_item),
                ManagedSource(laptop["id"], laptop["name"], laptop_item),
            ),
            status_check=StatusCheck(interval=timedelta(seconds=1), max_days=2),
            forward_failed_to=desk,
        )
        data = config.to_dict()
        # The worker needs the secrets themselves; this file lives in the test's temporary directory only.
        data["servicenow"]["password"] = "admin"
        data["identitynow"]["client_secret"] = "fake-client-secret"
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(data), encoding="utf-8")
        store_path = tmp_path / "state.db"

        kills = 0
        while kills < KILLS:
            worker = _start(config_path, store_path)
            _wait_ready(worker)
            time.sleep(rng.uniform(0.05, 1.2))
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1

        drain = _start(config_path, store_path)
        try:
            _wait_ready(drain)
            deadline = time.monotonic() + 120
            with SqliteStore(store_path) as store:
                while time.monotonic() < deadline:
                    counts = store.counts()
                    if counts.plans[PlanState.DONE] == PLANS:
                        break
                    time.sleep(0.5)
                final = store.counts()
                groups = [g for record in store.iter_plans() for g in record.groups]
        finally:
            drain.send_signal(signal.SIGKILL)
            drain.wait(timeout=10)

    assert kills >= 20
    assert final.plans[PlanState.DONE] == PLANS, final
    # Exactly one ticket per ticket group: no correlation key twice, none missing.
    keys = Counter(r["correlation_id"] for r in sn.records("sc_request"))
    assert [k for k, n in keys.items() if n > 1] == []
    assert set(keys) == {g.correlation_key for g in groups}
    assert len(sn.records("sc_request")) == PLANS
    # Every work item completed or forwarded exactly once.
    told = {wid: len(idn.completions(wid)) + len(idn.forwards(wid)) for wid in work_items}
    assert [wid for wid, n in told.items() if n != 1] == []
