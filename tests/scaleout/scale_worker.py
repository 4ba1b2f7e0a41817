"""One engine worker of the scale-out tests and benchmark: cycles until killed, its store from the configuration.

Usage: ``python scale_worker.py CONFIG_JSON WORKER_ID SETTINGS_JSON [GO_FILE]``. The configuration is
:meth:`IntegrationConfig.to_dict` data with the secrets inline and ``store_url`` naming the shared PostgreSQL
database, so the store is opened the way a deployment opens it (:func:`~sim_servicenow.engine.open_store`).

Every request the worker sends carries ``X-Sim-Worker: WORKER_ID``, so the fakes' request logs say who sent it;
the worker id is also its lease owner in the store. Prints ``worker ready`` once the engine is built, waits for
GO_FILE to exist when one is named (so a benchmark starts every worker at once), then prints one JSON line per
cycle that did something: the time and the cycle's counters.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import timedelta

import requests

from sim_servicenow.engine import CycleReport, IntegrationEngine
from sim_servicenow.errors import SimServiceNowError
from sim_servicenow.http import RetryPolicy, Timeout
from sim_servicenow.mapping import IntegrationConfig

WORKER_HEADER = "X-Sim-Worker"  # as _fleet.WORKER_HEADER; a script run by path cannot import it
#: The counters each cycle line carries.
COUNTERS = ("received", "created", "found", "checked", "committed", "failed", "reported")


def _session(worker_id: str) -> requests.Session:
    session = requests.Session()
    session.headers[WORKER_HEADER] = worker_id
    return session


def _line(report: CycleReport) -> str:
    counters = {name: getattr(report, name) for name in COUNTERS}
    return json.dumps({"t": time.time(), "errors": len(report.errors), **counters})


def main() -> None:
    config_path, worker_id, settings_json, *go_file = sys.argv[1:]
    settings = json.loads(settings_json)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {worker_id} %(levelname)s %(name)s %(message)s")
    with open(config_path, encoding="utf-8") as file:
        config = IntegrationConfig.from_dict(json.load(file))
    engine = IntegrationEngine.from_config(
        config,
        servicenow_session=_session(worker_id),
        identitynow_session=_session(worker_id),
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.2),
        worker_id=worker_id,
        concurrency=settings["concurrency"],
        batch_size=settings["batch_size"],
        lease_for=timedelta(seconds=settings["lease_for"]),
    )
    timeout = Timeout(connect=2, read=settings["read_timeout"])
    engine.ticketing.client.http.timeout = timeout  # type: ignore[attr-defined]
    print("worker ready", flush=True)
    while go_file and not os.path.exists(go_file[0]):
        time.sleep(0.005)
    interval = settings["cycle_interval"]
    while True:
        try:
            report = engine.run_once()
        except SimServiceNowError as exc:  # as run_forever does: the next cycle tries again
            print(json.dumps({"t": time.time(), "cycle_failed": str(exc)}), flush=True)
        else:
            if any(getattr(report, name) for name in COUNTERS) or report.errors:
                print(_line(report), flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    main()
