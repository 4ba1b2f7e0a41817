"""sim-servicenow benchmarks: the engine against bare requests, a naive script and pysnc.

    python benchmarks/run.py                         # full run: N = 1,000 and 10,000 tickets, 100,000 plans
    python benchmarks/run.py --quick                 # under a minute: smaller sizes, the same keys
    python benchmarks/run.py --json figures.json     # also write the figures (nested objects, see below)

Every comparison runs all its contenders in this process, in turn, against the same FakeServiceNow served over
loopback TLS by a child process; the figures are ratios of medians, so they hold on a noisy machine. The JSON
file holds nested objects with exactly these keys: ``poll.requests_per_100``, ``poll.vs_floor``,
``poll.speedup_vs_naive``, ``poll.vs_pysnc``, ``create.speedup_vs_pysnc``, ``memory.rss_ratio_100k_10k``,
``mapping.plans_per_s``, ``mapping.status_lookups_per_s`` and ``import_ms``; ``details`` has the raw timings and
``run`` describes the run. What the figures mean: docs/performance.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._suite import FULL, QUICK, Results, Sizes, main, run

__all__ = ["FULL", "QUICK", "Results", "Sizes", "main", "run"]

if __name__ == "__main__":
    raise SystemExit(main())
