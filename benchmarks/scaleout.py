"""Throughput of 1, 2 and 4 engine workers sharing one PostgreSQL store: ``python benchmarks/scaleout.py``.

Each worker is a separate process built with ``IntegrationEngine.from_config`` (``store_url`` = the database), as in
a deployment; FakeServiceNow and FakeIdentityNow are served by this process on loopback. Two runs per worker count,
each on a fresh schema and fresh fakes:

- **end to end** — ``--plans`` pending manual work items; ServiceNow's simulated fulfilers close each ticket
  ``--close-after`` seconds after it was ordered, the status-check interval is the same. Measured: plans/s from
  the go signal until every plan is DONE (work item completed or forwarded), and tickets ordered/s until the last
  order. Also the requests each plan cost in each service, polling included.
- **tracking** — the same number of tickets, never closed, checked every 0.25 s: once every ticket exists, the
  tickets whose status was read per second over ``--window`` seconds (counted from ServiceNow's request log: the
  REQ ids in each status query), i.e. how many status checks the workers sustain.

Also the CPU time per plan of each end-to-end run, by process (workers, this process with the fakes, PostgreSQL
when it runs here), and, once, how long a cycle takes that only polls: every work item pending and known, nothing
due — the cost each worker pays on each cycle.

The PostgreSQL server is ``$SIM_SERVICENOW_TEST_PG_DSN`` (the role needs CREATE on the database) or a throwaway
one started from the local binaries. On a small machine every worker, both fakes and the database share the same
cores, so the figures are a floor, not a forecast; see docs/scaling.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scaleout._fleet import Fleet, Scenario, WorkerSettings  # noqa: E402
from tests.scaleout._pgserver import PostgresUnavailable, fresh_schema, throwaway_server  # noqa: E402

from sim_servicenow.engine import GroupState, IntegrationEngine, PostgresStore  # noqa: E402
from sim_servicenow.http import RetryPolicy  # noqa: E402

PG_DSN_ENV = "SIM_SERVICENOW_TEST_PG_DSN"
SETTINGS = WorkerSettings(lease_for=30.0, batch_size=100, concurrency=4, cycle_interval=0.2)
TRACKING_INTERVAL = 0.25


@attrs.frozen
class Row:
    """The figures of one worker count (CPU: milliseconds per plan of the end-to-end run; -1: not measurable)."""

    workers: int
    plans: int
    seconds: float
    plans_per_second: float
    orders_per_second: float
    checks_per_second: float
    sn_requests_per_plan: float
    idn_requests_per_plan: float
    cpu_workers: float
    cpu_fakes: float
    cpu_database: float


@contextmanager
def _server() -> Iterator[str]:
    dsn = os.environ.get(PG_DSN_ENV)
    if dsn:
        yield dsn
        return
    with throwaway_server() as started:
        yield started


@contextmanager
def _world(server_dsn: str, scenario: Scenario) -> Iterator[tuple[Fleet, PostgresStore, Path]]:
    """Fresh schema, store, fakes and working directory for one run; the workers are reaped on leaving."""
    with (
        fresh_schema(server_dsn) as dsn,
        PostgresStore(dsn) as store,
        tempfile.TemporaryDirectory() as tmp,
        Fleet(scenario, dsn, Path(tmp), SETTINGS) as fleet,
    ):
        yield fleet, store, Path(tmp)


def _go(fleet: Fleet, workers: int, workdir: Path) -> float:
    go_file = workdir / "go"
    fleet.start_many(workers, go_file=go_file)
    go_file.touch()
    return time.time()


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _postgres_cpu(dsn: str) -> float | None:
    """CPU seconds of the server so far (the postmaster and the backends it reaped), when it runs on this machine."""
    import psycopg

    with psycopg.connect(dsn) as connection:
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()
    try:
        stat = Path(f"/proc/{backend[0] if backend else 0}/stat").read_text()
        postmaster = int(stat.rpartition(")")[2].split()[1])
        fields = Path(f"/proc/{postmaster}/stat").read_text().rpartition(")")[2].split()
    except (OSError, ValueError, IndexError):
        return None
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted after the ")" that ends the command name.
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def end_to_end(server_dsn: str, workers: int, plans: int, close_after: float) -> dict[str, float]:
    """Seconds, plans/s, orders/s, requests per plan and CPU ms per plan of one end-to-end run."""
    scenario = Scenario(plans, close_after=close_after, status_interval=close_after, outcomes={"complete": 1})
    fakes, children, database = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), _postgres_cpu(server_dsn)
    with _world(server_dsn, scenario) as (fleet, store, workdir):
        started = _go(fleet, workers, workdir)
        finished = fleet.wait_done(store, timeout=1800, poll=0.25)
        fakes = _cpu(resource.RUSAGE_SELF) - fakes
        orders = [r.at for r in fleet.sn.requests.filter("POST", "/api/sn_sc/") if r.path.endswith("/order_now")]
        sn_requests, idn_requests = len(fleet.sn.requests), len(fleet.idn.requests)
    time.sleep(0.5)  # let the server reap the workers' backends
    children = _cpu(resource.RUSAGE_CHILDREN) - children
    database_after = _postgres_cpu(server_dsn)
    seconds = finished - started
    return {
        "seconds": seconds,
        "plans_per_second": plans / seconds,
        "orders_per_second": len(orders) / (max(orders) - started),
        "sn_requests_per_plan": sn_requests / plans,
        "idn_requests_per_plan": idn_requests / plans,
        "cpu_workers": 1000 * children / plans,
        "cpu_fakes": 1000 * fakes / plans,
        "cpu_database": -1.0
        if database is None or database_after is None
        else 1000 * (database_after - database) / plans,
    }


def _tickets_read(query: str) -> int:
    ids = query.removeprefix("requestIN")
    return 0 if ids == query else len(ids.split(","))


def tracking(server_dsn: str, workers: int, plans: int, window: float) -> float:
    """Ticket statuses read per second once every ticket exists."""
    scenario = Scenario(plans, close_after=None, status_interval=TRACKING_INTERVAL)
    with _world(server_dsn, scenario) as (fleet, store, workdir):
        _go(fleet, workers, workdir)
        deadline = time.monotonic() + 1800
        while store.counts().groups[GroupState.TICKETED] < plans:
            if time.monotonic() > deadline:
                raise RuntimeError("the tickets were not all created in time")
            time.sleep(0.1)
        start = time.time()
        time.sleep(window)
        end = time.time()
        reads = fleet.sn.requests.filter("GET", "/api/now/table/sc_req_item", predicate=lambda r: start <= r.at < end)
        checked = sum(_tickets_read(r.query.get("sysparm_query", [""])[0]) for r in reads)
    return checked / (end - start)


def idle_cycle(server_dsn: str, plans: int) -> float:
    """Seconds of one cycle with ``plans`` pending work items, all recorded already, and nothing due.

    That is the intake every worker pays on every cycle: read every pending work item, offer each to the store.
    """
    scenario = Scenario(plans, close_after=None, status_interval=3600)
    with _world(server_dsn, scenario) as (fleet, store, _workdir):
        engine = IntegrationEngine.from_config(
            fleet.config, store=store, retry=RetryPolicy.never(), batch_size=SETTINGS.batch_size
        )
        engine.run_once()  # records every plan and creates every ticket; none is due again for an hour
        started = time.perf_counter()
        report = engine.run_once()
        seconds = time.perf_counter() - started
    if (report.polled, report.received, report.created, report.checked) != (plans, 0, 0, 0):
        raise RuntimeError(f"the idle cycle was not idle: {report.summary()}")
    return seconds


def measure(server_dsn: str, workers: int, plans: int, close_after: float, window: float) -> Row:
    figures = end_to_end(server_dsn, workers, plans, close_after)
    return Row(workers, plans, checks_per_second=tracking(server_dsn, workers, plans, window), **figures)


def best(rows: list[Row]) -> Row:
    """Each figure at its best over repeated runs of one worker count: other load on the machine only slows a run."""
    lower_is_better = (
        "seconds",
        "sn_requests_per_plan",
        "idn_requests_per_plan",
        "cpu_workers",
        "cpu_fakes",
        "cpu_database",
    )
    figures = {
        field.name: (min if field.name in lower_is_better else max)(getattr(row, field.name) for row in rows)
        for field in attrs.fields(Row)
    }
    return Row(**figures)


def table(rows: list[Row]) -> str:
    lines = [
        "| workers | plans | end to end (s) | plans/s | tickets ordered/s | status checks/s "
        "| ServiceNow requests/plan | IdentityNow requests/plan | CPU ms/plan: workers | fakes | PostgreSQL |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.workers} | {r.plans} | {r.seconds:.1f} | {r.plans_per_second:.0f} | {r.orders_per_second:.0f} "
        f"| {r.checks_per_second:.0f} | {r.sn_requests_per_plan:.1f} | {r.idn_requests_per_plan:.1f} "
        f"| {r.cpu_workers:.1f} | {r.cpu_fakes:.1f} | {'n/a' if r.cpu_database < 0 else f'{r.cpu_database:.1f}'} |"
        for r in rows
    ]
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--plans", type=int, default=1000, help="work items per run (default 1000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts (default 1 2 4)")
    parser.add_argument("--close-after", type=float, default=0.5, help="seconds until a ticket closes (0.5)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds status checks are counted (10)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count; each figure's best is shown")
    parser.add_argument("--quick", action="store_true", help="300 plans, 5 s window, one run: a smoke run")
    args = parser.parse_args(argv)
    plans, window, repeat = (300, 5.0, 1) if args.quick else (args.plans, args.window, args.repeat)
    print(f"{os.cpu_count()} CPU(s), load average {_load()}; {plans} plans per run, best of {repeat}; {SETTINGS}")
    rows: list[Row] = []
    try:
        with _server() as server_dsn:
            for workers in args.workers:
                rows.append(
                    best([measure(server_dsn, workers, plans, args.close_after, window) for _ in range(repeat)])
                )
                print(f"  {workers} worker(s) measured", flush=True)
            idle = min(idle_cycle(server_dsn, plans) for _ in range(repeat))
    except PostgresUnavailable as exc:
        print(f"no PostgreSQL: {exc}; set {PG_DSN_ENV}", file=sys.stderr)
        return 2
    print(f"load average {_load()}")
    print(table(rows))
    print(
        f"A cycle with {plans} pending work items, all known, nothing due: {idle:.2f} s "
        f"({1000 * idle / plans:.2f} ms per pending work item)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
