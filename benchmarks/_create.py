"""Ticket creation for P plans: the engine at concurrency 1 and 4 against sequential pysnc inserts.

Every contender raises the same table tickets (``incident``, the payload :func:`render_ticket_payloads` makes for
each plan) on the same FakeServiceNow over TLS. The engine is timed for one :meth:`IntegrationEngine.run_once`
taking P queued plans to TICKETED: recording each plan, splitting it, rendering, ``CREATING`` before the POST and
``TICKETED`` after, in a SqliteStore on disk. pysnc is given the fields the engine's adapter sends (the rendered
payload plus ``correlation_id`` and ``correlation_display``) and inserts them one by one
(``GlideRecord.initialize`` / ``set_value`` / ``insert``), the way a script without the engine would.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from sim_servicenow.engine import SqliteStore
from sim_servicenow.mapping import (
    CORRELATION_DISPLAY,
    IntegrationConfig,
    ProvisioningPlan,
    TableTicketPayload,
    render_ticket_payloads,
)
from sim_servicenow.testing import ManualClock

from ._common import (
    START,
    TABLE,
    interleaved,
    make_engine,
    make_plan,
    median,
    servicenow_client,
    table_config,
    timed,
)
from ._fakeproc import PASSWORD, USER, FakeServer

CONCURRENCIES = (1, 4)


@attrs.frozen
class CreateResult:
    """Median seconds per contender to raise ``plans`` tickets.

    Attributes:
        plans: how many plans (one ticket each) every contender raised per round.
        seconds: contender (``engine_c1``, ``engine_c4``, ``pysnc``) -> median seconds.
        rounds: how many rounds were timed.
        latency: seconds the fake waited before serving each insert (0: none added).
    """

    plans: int
    seconds: dict[str, float]
    rounds: int
    latency: float = 0.0

    @property
    def speedup_vs_pysnc(self) -> float:
        return self.seconds["pysnc"] / self.seconds["engine_c4"]


def measure_create(plans: int, *, rounds: int, latency: float = 0.0, workdir: Path | None = None) -> CreateResult:
    """Time each contender raising ``plans`` tickets, ``rounds`` times, in turn; check every ticket exists once.

    ``latency`` makes the fake wait that long before serving each insert, as a remote instance's network and
    business rules do; the waits of concurrent requests overlap, as they would on an instance.
    """
    config = table_config()
    batches = iter(range(10**6))  # every round of every contender works on plans of its own
    with FakeServer(tls=True) as server, tempfile.TemporaryDirectory(dir=workdir) as scratch:
        if latency:
            server.add_latency(latency, method="POST", path=f"/api/now/table/{TABLE}")
        contenders: dict[str, Callable[[], float]] = {
            f"engine_c{concurrency}": _engine_round(server, config, Path(scratch), plans, concurrency, batches)
            for concurrency in CONCURRENCIES
        }
        contenders["pysnc"] = _pysnc_round(server, config, plans, batches)
        times = interleaved(contenders, rounds)
        keys = server.records(TABLE, "correlation_id")
        if len(keys) != len(set(keys)) or len(keys) != plans * rounds * len(contenders):
            raise RuntimeError(f"expected {plans * rounds * len(contenders)} distinct tickets, found {len(keys)}")
    seconds = {name: median(values) for name, values in times.items()}
    return CreateResult(plans=plans, seconds=seconds, rounds=rounds, latency=latency)


def _plans(plans: int, batches: Iterator[int]) -> list[ProvisioningPlan]:
    start = next(batches) * plans + 10**7  # away from the polling benchmark's keys
    return [make_plan(start + index) for index in range(plans)]


def _engine_round(
    server: FakeServer,
    config: IntegrationConfig,
    directory: Path,
    plans: int,
    concurrency: int,
    batches: Iterator[int],
) -> Callable[[], float]:
    def run() -> float:
        batch = _plans(plans, batches)
        store = SqliteStore(directory / f"create-{batch[0].key}.db")
        client = servicenow_client(server.url, server.verify)
        engine = make_engine(config, client, store, ManualClock(START), concurrency=concurrency)
        for plan in batch:
            engine.queue.put(plan)
        report = None

        def cycle() -> None:
            nonlocal report
            report = engine.run_once()

        try:
            seconds = timed(cycle)
        finally:
            client.close()
            store.close()
        assert report is not None
        if report.errors or report.created != plans:
            raise RuntimeError(f"engine created {report.created} of {plans} tickets: {report.errors[:3]}")
        return seconds

    return run


def _pysnc_round(
    server: FakeServer, config: IntegrationConfig, plans: int, batches: Iterator[int]
) -> Callable[[], float]:
    import pysnc

    client = pysnc.ServiceNowClient(server.url, (USER, PASSWORD), verify=server.verify)

    def run() -> float:
        payloads = []
        for plan in _plans(plans, batches):
            (payload,) = render_ticket_payloads(plan, config)
            assert isinstance(payload, TableTicketPayload)
            # What the engine's adapter sends: the rendered fields and the correlation key in the same insert.
            correlation = {"correlation_id": str(payload.correlation_key), "correlation_display": CORRELATION_DISPLAY}
            payloads.append({**payload.fields, **correlation})
        created = 0

        def insert() -> None:
            nonlocal created
            for fields in payloads:
                record = client.GlideRecord(TABLE)
                record.initialize()
                for name, value in fields.items():
                    record.set_value(name, value)
                if record.insert() is None:
                    raise RuntimeError("pysnc: insert returned no sys_id")
                created += 1

        seconds = timed(insert)
        if created != plans:
            raise RuntimeError(f"pysnc created {created} of {plans} tickets")
        return seconds

    return run
