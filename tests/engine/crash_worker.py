"""An engine worker for the crash tests: runs cycles forever against the URLs in its configuration.

Usage: ``python crash_worker.py CONFIG_JSON STORE_PATH``. The configuration is :meth:`IntegrationConfig.to_dict`
data with secrets inline; the parent process kills this one with SIGKILL at random moments.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

from sim_servicenow.engine import IntegrationEngine, SqliteStore
from sim_servicenow.http import RetryPolicy, Timeout
from sim_servicenow.mapping import IntegrationConfig


def main() -> None:
    config_path, store_path = sys.argv[1], sys.argv[2]
    with open(config_path, encoding="utf-8") as file:
        config = IntegrationConfig.from_dict(json.load(file))
    engine = IntegrationEngine.from_config(
        config,
        store=SqliteStore(store_path),
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.2),
        concurrency=4,
        batch_size=50,
        lease_for=timedelta(seconds=2),
    )
    engine.ticketing.client.http.timeout = Timeout(connect=2, read=5)  # type: ignore[attr-defined]
    print("worker ready", flush=True)
    while True:
        engine.run_once()
        time.sleep(0.05)


if __name__ == "__main__":
    main()
