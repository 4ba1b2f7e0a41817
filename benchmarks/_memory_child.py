"""The measured process of the memory benchmark: one poll cycle, then its peak RSS as JSON on stdout.

Run by :mod:`benchmarks._memory`: ``python -m benchmarks._memory_child --store PATH --url URL --plans N``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence

from sim_servicenow.engine import SqliteStore
from sim_servicenow.testing import ManualClock

from ._common import START, make_engine, servicenow_client, table_config


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    On Linux ``getrusage().ru_maxrss`` survives ``execve``: a process started by a big parent reports the
    parent's peak until it outgrows it. ``VmHWM`` belongs to the process's own address space, so it is read
    instead where it exists. (``ru_maxrss`` is in bytes on macOS, KiB elsewhere.)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def main(argv: Sequence[str] | None = None) -> None:
    """Run one poll cycle over the seeded store and print ``{"peak_kib", "before_kib", "seconds", "checked"}``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True, help="the seeded SqliteStore file")
    parser.add_argument("--url", required=True, help="the fake ServiceNow's URL")
    parser.add_argument("--ca-bundle", help="the CA bundle of a TLS fake")
    parser.add_argument("--plans", type=int, required=True, help="how many plans the cycle must check")
    args = parser.parse_args(argv)
    store = SqliteStore(args.store)
    client = servicenow_client(args.url, args.ca_bundle or True)
    engine = make_engine(table_config(), client, store, ManualClock(START))
    before = peak_rss_kib()
    started = time.perf_counter()
    report = engine.run_once()
    seconds = time.perf_counter() - started
    peak = peak_rss_kib()
    client.close()
    store.close()
    if report.errors or report.checked != args.plans:
        raise SystemExit(f"the cycle checked {report.checked} of {args.plans} plans: {report.errors[:3]}")
    print(json.dumps({"peak_kib": peak, "before_kib": before, "seconds": seconds, "checked": report.checked}))


if __name__ == "__main__":
    main()
