"""A fleet of engine worker processes sharing one PostgreSQL store, against fakes served by this process.

Shared by the scale-out tests and ``benchmarks/scaleout.py``. The fakes — a :class:`FakeServiceNow` whose
:class:`WorkPolicy` closes tickets on its own, and a :class:`FakeIdentityNow` holding one pending manual work item
per plan — run here on loopback; each worker is ``scale_worker.py`` in its own process, built with
:meth:`IntegrationEngine.from_config` from a configuration whose ``store_url`` names the database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import attrs

from sim_servicenow.engine import PlanState, StateStore
from sim_servicenow.mapping import (
    IdentityNowSettings,
    IntegrationConfig,
    ManagedSource,
    Secret,
    ServiceNowSettings,
    StatusCheck,
)
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, WorkPolicy, serve

__all__ = ["WORKER_HEADER", "Fleet", "Scenario", "Worker", "WorkerSettings", "store_url"]

WORKER_SCRIPT = Path(__file__).with_name("scale_worker.py")
#: The header every worker request carries: the worker's id (its lease owner name too).
WORKER_HEADER = "X-Sim-Worker"
CORRELATION_VARIABLE = "sim_correlation_id"


def store_url(dsn: str) -> str:
    """A ``postgresql://`` store URL for a libpq DSN in either form (``open_store`` takes URLs only)."""
    from psycopg.conninfo import conninfo_to_dict

    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    return "postgresql://?" + urlencode(params, quote_via=quote)


@attrs.frozen
class WorkerSettings:
    """How each worker runs (the engine's knobs a deployment would set).

    Attributes:
        lease_for: seconds a lease lasts; a killed worker's plans are taken over after at most this.
        batch_size: due plans leased at a time.
        concurrency: plans worked on at once in one worker.
        cycle_interval: seconds between two cycles (``run_forever``'s ``interval``).
        read_timeout: the ServiceNow client's read timeout, seconds.
    """

    lease_for: float = 2.0
    batch_size: int = 50
    concurrency: int = 4
    cycle_interval: float = 0.2
    read_timeout: float = 5.0


@attrs.frozen
class Scenario:
    """The world the workers face.

    Attributes:
        plans: pending manual work items, one plan (and one catalog ticket) each.
        close_after: seconds after which ServiceNow's simulated fulfilers close a ticket; ``None``: never.
        status_interval: the integration's status-check interval, seconds.
        outcomes: weights of the ticket outcomes the fulfilers close with.
    """

    plans: int
    close_after: float | None = 1.5
    status_interval: float = 1.0
    outcomes: Mapping[str, float] = attrs.field(factory=lambda: {"complete": 6, "incomplete": 2, "rejected": 1})


@attrs.define
class Worker:
    """One worker process; its output (readiness, one JSON line per busy cycle, warnings) goes to ``log_path``."""

    worker_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the worker printed ``worker ready``; ``AssertionError`` with its output if it died."""
        deadline = time.monotonic() + timeout
        while "worker ready" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {self.worker_id} did not start:\n{self.output()[-3000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Fleet:
    """Both fakes, served; a configuration pointing at them and at the store; worker processes on demand.

    Use it as a context manager: entering seeds and serves the fakes and writes the configuration; leaving kills
    every worker and stops the fakes.

    Args:
        scenario: what the fakes hold and how they behave.
        dsn: the store's database (a libpq DSN, URL or ``key=value`` form); the workers open it from ``store_url``.
        workdir: where the configuration and the workers' logs go.
        settings: how the workers run.
    """

    def __init__(self, scenario: Scenario, dsn: str, workdir: Path, settings: WorkerSettings | None = None) -> None:
        self.scenario = scenario
        self.dsn = dsn
        self.workdir = workdir
        self.settings = settings or WorkerSettings()
        policy = (
            None
            if scenario.close_after is None
            else WorkPolicy(close_after=scenario.close_after, outcomes=dict(scenario.outcomes), seed=3)
        )
        self.sn = FakeServiceNow(seed=1, work_policy=policy)
        self.idn = FakeIdentityNow(seed=1)
        self.workers: dict[str, Worker] = {}
        self.work_items: list[str] = []
        #: The integration's configuration (set on entering); the workers read it from :attr:`config_path`.
        self.config: IntegrationConfig
        self._exit = ExitStack()

    def __enter__(self) -> Fleet:
        badge = self.idn.add_source("Badge System")
        laptop = self.idn.add_source("Laptop Fleet")
        variables = [CORRELATION_VARIABLE, "short_description", "description"]
        badge_item = self.sn.add_catalog_item("Security badge", variables)
        laptop_item = self.sn.add_catalog_item("Laptop", variables)
        desk = self.idn.add_identity("provisioning.desk")["id"]
        for n in range(self.scenario.plans):
            source = badge if n % 2 else laptop
            item = self.idn.add_manual_work_item(source["id"], "Create", f"user{n:05d}", {"level": str(n % 5)})
            self.work_items.append(item["id"])
        try:
            sn_served = self._exit.enter_context(serve(self.sn))
            idn_served = self._exit.enter_context(serve(self.idn))
        except BaseException:
            self._exit.close()
            raise
        self.config = config = IntegrationConfig(
            servicenow=ServiceNowSettings(sn_served.url, username="admin", password=Secret("admin")),
            identitynow=IdentityNowSettings(
                idn_served.url, client_id="fake-client-id", client_secret=Secret("fake-client-secret")
            ),
            sources=(
                ManagedSource(badge["id"], badge["name"], badge_item),
                ManagedSource(laptop["id"], laptop["name"], laptop_item),
            ),
            status_check=StatusCheck(interval=timedelta(seconds=self.scenario.status_interval), max_days=2),
            forward_failed_to=desk,
            correlation_variable=CORRELATION_VARIABLE,
            store_url=store_url(self.dsn),
        )
        data = config.to_dict()
        # The workers need the secrets themselves; this file lives in the caller's temporary directory only.
        data["servicenow"]["password"] = "admin"
        data["identitynow"]["client_secret"] = "fake-client-secret"
        self.config_path = self.workdir / "config.json"
        self.config_path.write_text(json.dumps(data), encoding="utf-8")
        return self

    def __exit__(self, *_exc_info: object) -> None:
        for worker in self.workers.values():
            worker.kill()
        self._exit.close()

    def start(self, worker_id: str, *, go_file: Path | None = None) -> Worker:
        """Start one worker process, not waiting for it to be ready; with ``go_file``, it waits for that file."""
        log_path = self.workdir / f"{worker_id}.log"
        log = log_path.open("wb")
        settings = json.dumps(attrs.asdict(self.settings))
        arguments = [str(self.config_path), worker_id, settings, *([str(go_file)] if go_file else [])]
        process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()  # the child holds its own descriptor
        worker = self.workers[worker_id] = Worker(worker_id, process, log_path)
        return worker

    def start_many(self, count: int, *, go_file: Path | None = None) -> list[Worker]:
        """Start ``count`` more workers (``w1``, ``w2``...) and wait until all are ready."""
        first = len(self.workers) + 1
        started = [self.start(f"w{n}", go_file=go_file) for n in range(first, first + count)]
        for worker in started:
            worker.wait_ready()
        return started

    def wait_done(self, store: StateStore, *, timeout: float, poll: float = 0.25) -> float:
        """Block until every plan is DONE; return the time it happened (``time.time()``).

        Raises:
            AssertionError: the timeout passed, or every worker died; with the store's counts.
        """
        deadline = time.monotonic() + timeout
        while True:
            counts = store.counts()
            if counts.total_plans == self.scenario.plans and counts.plans[PlanState.DONE] == self.scenario.plans:
                return time.time()
            alive = [w for w in self.workers.values() if w.process.poll() is None]
            if not alive or time.monotonic() > deadline:
                why = "timeout" if alive else "no worker alive"
                tails = "\n".join(f"--- {w.worker_id}\n{w.output()[-1500:]}" for w in self.workers.values())
                raise AssertionError(f"plans not all DONE ({why}): {dict(counts.plans)}\n{tails}")
            time.sleep(poll)
