"""Status polling of N open tickets: the engine's status-check cycle against three ways of reading the same states.

Contenders, all over TLS to the same FakeServiceNow (pysnc refuses ``http://``), each with one persistent
session reused across rounds:

* ``engine`` — :meth:`IntegrationEngine.run_once` with every ticket due: leases plans from a SqliteStore on disk,
  reads the statuses (``ServiceNowClient.statuses``: ``sys_idIN`` GETs of 100), maps them and writes each plan
  back.
* ``floor`` — the same ``sys_idIN`` GETs in batches of 100 with bare requests; bodies read, never parsed.
* ``naive`` — a script that GETs each ticket by sys_id (keep-alive session) and reads its ``state``.
* ``pysnc`` — ServiceNow's own client: one GlideRecord query per batch of 100 sys_ids (``sys_idIN``), fields
  ``sys_id,state``, database values, reading every record's ``state``.

Details, to show where the engine's time goes: ``engine_ram`` is the same cycle over a copy of the store on a RAM
disk (no synced writes), ``adapter`` is the engine's ticketing adapter alone (``ServiceNowTicketing.statuses``:
the same requests, parsing and status mapping, no store), and one more untimed engine cycle is split into time
spent in the store, in the adapter and in the engine itself.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import requests

from sim_servicenow.engine import (
    IntegrationEngine,
    SqliteStore,
    StateStore,
    TicketingSystem,
    TicketRef,
    TicketStatus,
)
from sim_servicenow.mapping import IntegrationConfig
from sim_servicenow.testing import ManualClock

from ._common import (
    CHECK_INTERVAL,
    START,
    TABLE,
    correlation_keys,
    interleaved,
    make_engine,
    make_plan,
    median,
    ram_disk,
    seeded_store_file,
    servicenow_client,
    table_config,
    timed,
)
from ._fakeproc import PASSWORD, USER, FakeServer

#: sys_ids per ``sys_idIN`` request: our client's default ``status_batch_size`` and pysnc's default batch size.
BATCH = 100
TABLE_PATH = f"/api/now/table/{TABLE}"


@attrs.frozen
class PollResult:
    """Median seconds per contender to read ``tickets`` statuses, and the requests each round took.

    Attributes:
        tickets: how many open tickets were polled.
        seconds: contender -> median seconds of one full read.
        requests: contender -> HTTP requests of one full read (counted by the fake).
        rounds: contender -> how many rounds were timed.
        breakdown: where one more (untimed) engine cycle spent its time: ``store.<method>``,
            ``ticketing.statuses`` (HTTP, parsing, status map) and ``engine`` (everything else).
    """

    tickets: int
    seconds: dict[str, float]
    requests: dict[str, int]
    rounds: dict[str, int]
    breakdown: dict[str, float]

    @property
    def requests_per_100(self) -> float:
        return 100 * self.requests["engine"] / self.tickets

    @property
    def vs_floor(self) -> float:
        return self.seconds["engine"] / self.seconds["floor"]

    @property
    def speedup_vs_naive(self) -> float:
        return self.seconds["naive"] / self.seconds["engine"]

    @property
    def vs_pysnc(self) -> float:
        return self.seconds["engine"] / self.seconds["pysnc"]


def measure_poll(tickets: int, *, rounds: int, naive_rounds: int, workdir: Path | None = None) -> PollResult:
    """Seed ``tickets`` open incidents and as many tracked plans, then time every contender reading them all."""
    config = table_config()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(FakeServer(tls=True))
        plans = [make_plan(index) for index in range(tickets)]
        seeded = server.seed_tickets(TABLE, correlation_keys(config, plans))
        sys_ids = [sys_id for sys_id, _ in seeded]
        store_file = seeded_store_file(_scratch(stack, workdir), config, plans, seeded)
        engine = stack.enter_context(_EngineRounds(config, server, store_file, tickets))
        contenders: dict[str, Callable[[], float]] = {"engine": engine}
        ram = ram_disk()
        if ram is not None:  # the same cycle without the disk's syncs: what durability costs
            copy = shutil.copyfile(store_file, _scratch(stack, ram) / store_file.name)
            contenders["engine_ram"] = stack.enter_context(_EngineRounds(config, server, copy, tickets))
        refs = [TicketRef("servicenow", TABLE, sys_id, number) for sys_id, number in seeded]
        contenders["adapter"] = _adapter_round(engine.ticketing.statuses, refs)
        contenders["floor"] = _floor_round(server, sys_ids)
        contenders["pysnc"] = _pysnc_round(server, sys_ids)

        times, requests_per_round = _counted_round(server, contenders)
        for name, values in interleaved(contenders, rounds - 1).items():
            times[name] += values
        # The naive script is slow by nature: it gets its own, possibly fewer, rounds.
        naive = {"naive": _naive_round(server, sys_ids)}
        naive_times, naive_requests = _counted_round(server, naive)
        times["naive"] = naive_times["naive"] + interleaved(naive, naive_rounds - 1)["naive"]
        requests_per_round.update(naive_requests)
        breakdown = engine.breakdown()
    return PollResult(
        tickets=tickets,
        seconds={name: median(values) for name, values in times.items()},
        requests=requests_per_round,
        rounds={name: len(values) for name, values in times.items()},
        breakdown=breakdown,
    )


def _scratch(stack: contextlib.ExitStack, parent: Path | None) -> Path:
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim-servicenow-bench-", dir=parent)))


def _counted_round(
    server: FakeServer, contenders: dict[str, Callable[[], float]]
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """The first timed round, counting every request the fake received for each contender."""
    times: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for name, run in contenders.items():
        server.clear_log()
        times[name] = [run()]
        counts[name] = server.count_requests()
    return times, counts


class _EngineRounds:
    """The engine over one seeded store; each call moves its clock one interval on and times one full cycle."""

    def __init__(self, config: IntegrationConfig, server: FakeServer, store_file: Path, tickets: int) -> None:
        self.config = config
        self.tickets = tickets
        self.store = SqliteStore(store_file)
        self.client = servicenow_client(server.url, server.verify)
        self.clock = ManualClock(START - CHECK_INTERVAL)
        self.engine = make_engine(config, self.client, self.store, self.clock)
        self.ticketing = self.engine.ticketing

    def __enter__(self) -> _EngineRounds:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.client.close()
        self.store.close()

    def __call__(self) -> float:
        return self._cycle(self.engine)

    def breakdown(self) -> dict[str, float]:
        """One more cycle with the store and the ticketing adapter timed: seconds per part."""
        store, ticketing = _Stopwatch(self.store), _Stopwatch(self.ticketing)
        engine = IntegrationEngine(
            self.config,
            cast(TicketingSystem, ticketing),
            (),
            cast(StateStore, store),
            clock=self.clock,
            worker_id=self.engine.worker_id,
        )
        total = self._cycle(engine)
        parts = {f"store.{name}": seconds for name, seconds in store.seconds.items()}
        parts.update({f"ticketing.{name}": seconds for name, seconds in ticketing.seconds.items()})
        parts["engine"] = total - sum(parts.values())
        return parts

    def _cycle(self, engine: IntegrationEngine) -> float:
        self.clock.advance(CHECK_INTERVAL)  # every ticket is due again
        report = None

        def cycle() -> None:
            nonlocal report
            report = engine.run_once()

        seconds = timed(cycle)
        assert report is not None
        if report.errors or report.checked != self.tickets:
            raise RuntimeError(f"engine cycle checked {report.checked} of {self.tickets} tickets: {report.errors[:3]}")
        return seconds


class _Stopwatch:
    """Wraps an object; adds up the seconds spent in each of its methods (calls from any thread)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with self._lock:
                    self.seconds[name] = self.seconds.get(name, 0.0) + elapsed

        return timed_call


def _adapter_round(
    statuses: Callable[[Sequence[TicketRef]], Mapping[str, TicketStatus]], refs: Sequence[TicketRef]
) -> Callable[[], float]:
    def run() -> float:
        found: dict[str, TicketStatus] = {}

        def read() -> None:
            # The engine hands the adapter one leased batch (500 plans) at a time.
            for start in range(0, len(refs), 500):
                found.update(statuses(refs[start : start + 500]))

        seconds = timed(read)
        _check_count("adapter", len(found), len(refs))
        return seconds

    return run


def _session(server: FakeServer) -> requests.Session:
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    session.verify = server.verify
    session.headers["Accept"] = "application/json"
    return session


def _floor_round(server: FakeServer, sys_ids: Sequence[str]) -> Callable[[], float]:
    session = _session(server)
    url = server.url + TABLE_PATH
    batches = [sys_ids[start : start + BATCH] for start in range(0, len(sys_ids), BATCH)]

    def run() -> float:
        received = 0

        def read() -> None:
            nonlocal received
            for batch in batches:
                params = {
                    "sysparm_query": "sys_idIN" + ",".join(batch),
                    "sysparm_fields": "sys_id,state",
                    "sysparm_display_value": "false",
                    "sysparm_exclude_reference_link": "true",
                    "sysparm_no_count": "true",
                    "sysparm_suppress_pagination_header": "true",
                    "sysparm_limit": str(len(batch)),
                }
                response = session.get(url, params=params, timeout=30, verify=server.verify)
                if response.status_code != 200:
                    raise RuntimeError(f"floor: GET answered {response.status_code}")
                received += len(response.content)

        seconds = timed(read)
        if not received:
            raise RuntimeError("floor: no response bodies")
        return seconds

    return run


def _naive_round(server: FakeServer, sys_ids: Sequence[str]) -> Callable[[], float]:
    session = _session(server)
    url = server.url + TABLE_PATH

    def run() -> float:
        states: dict[str, str] = {}

        def read() -> None:
            for sys_id in sys_ids:
                response = session.get(
                    f"{url}/{sys_id}", params={"sysparm_fields": "state"}, timeout=30, verify=server.verify
                )
                response.raise_for_status()
                states[sys_id] = response.json()["result"]["state"]

        seconds = timed(read)
        _check_count("naive", len(states), len(sys_ids))
        return seconds

    return run


def _pysnc_round(server: FakeServer, sys_ids: Sequence[str]) -> Callable[[], float]:
    import pysnc

    client = pysnc.ServiceNowClient(server.url, (USER, PASSWORD), verify=server.verify)
    batches = [sys_ids[start : start + BATCH] for start in range(0, len(sys_ids), BATCH)]

    def run() -> float:
        states: dict[str, str] = {}

        def read() -> None:
            for batch in batches:
                record = client.GlideRecord(TABLE, batch_size=BATCH)
                record.fields = "sys_id,state"
                record.display_value = False
                record.add_query("sys_id", "IN", ",".join(batch))
                record.query()
                while record.next():
                    states[record.get_value("sys_id")] = record.get_value("state")

        seconds = timed(read)
        _check_count("pysnc", len(states), len(sys_ids))
        return seconds

    return run


def _check_count(contender: str, found: int, wanted: int) -> None:
    if found != wanted:
        raise RuntimeError(f"{contender} read {found} of {wanted} tickets")
