"""Peak RSS of one poll cycle over P tracked plans, each size in a fresh process.

The measured process (:mod:`benchmarks._memory_child`) does nothing but open the SqliteStore, build the engine
and run one :meth:`IntegrationEngine.run_once` with every plan due; it reports its peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``). The fake ServiceNow it polls runs in its own process, and the store is
seeded by this (parent) process, so neither the fake's records nor the seeding count. The store file lives on
a RAM disk when there is one: one synced transaction per plan on a real disk would make the 100,000-plan cycle
take minutes, and a RAM disk's pages are not part of the process's RSS.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from ._common import TABLE, correlation_keys, make_plan, ram_disk, run_python, seeded_store_file, table_config
from ._fakeproc import FakeServer


@attrs.frozen
class MemorySample:
    """One poll cycle in a fresh process.

    Attributes:
        plans: tracked plans, all due.
        peak_kib: the process's peak RSS after the cycle (KiB).
        before_kib: the peak RSS before the cycle, once the engine was built (KiB).
        seconds: how long the cycle took.
        ram_disk: whether the store lived on a RAM disk.
    """

    plans: int
    peak_kib: int
    before_kib: int
    seconds: float
    ram_disk: bool

    @property
    def cycle_kib(self) -> int:
        """What the cycle itself added to the peak."""
        return self.peak_kib - self.before_kib


@attrs.frozen
class MemoryResult:
    """Peak RSS of a poll cycle at two sizes.

    Attributes:
        small: the smaller size's sample.
        large: the larger size's sample.
    """

    small: MemorySample
    large: MemorySample

    @property
    def rss_ratio(self) -> float:
        return self.large.peak_kib / self.small.peak_kib


def measure_memory(small: int, large: int) -> MemoryResult:
    """Peak RSS of a poll cycle over ``small`` and ``large`` tracked plans."""
    return MemoryResult(small=_sample(small), large=_sample(large))


def _sample(plans: int) -> MemorySample:
    config = table_config()
    batch = [make_plan(index) for index in range(plans)]
    with FakeServer(tls=True) as server, _store_directory() as (directory, ram_disk):
        tickets = server.seed_tickets(TABLE, correlation_keys(config, batch))
        store = seeded_store_file(directory, config, batch, tickets)
        del batch, tickets
        command = ["-m", "benchmarks._memory_child", "--store", str(store), "--url", server.url]
        command += ["--plans", str(plans)]
        if server.ca_bundle:
            command += ["--ca-bundle", server.ca_bundle]
        output = run_python(command)
    measured = json.loads(output.strip().splitlines()[-1])
    return MemorySample(
        plans=plans,
        peak_kib=int(measured["peak_kib"]),
        before_kib=int(measured["before_kib"]),
        seconds=float(measured["seconds"]),
        ram_disk=ram_disk,
    )


@contextmanager
def _store_directory() -> Iterator[tuple[Path, bool]]:
    ram = ram_disk()
    with tempfile.TemporaryDirectory(prefix="sim-servicenow-bench-", dir=ram) as scratch:
        yield Path(scratch), ram is not None
