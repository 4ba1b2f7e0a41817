"""``sim-servicenow demo``: the whole loop, against in-process fakes served on loopback, in a few seconds.

IdentityNow (fake) creates manual work items for joiners, movers and leavers on three sources; the engine raises
ServiceNow (fake) catalog requests for the two sources the integration manages; a simulated service desk works the
tickets (most complete, some incomplete or rejected, one never) while simulated time runs half an hour per cycle;
the engine reads the statuses and completes or forwards the work items. A table shows what happened.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Any

import attrs

from ..engine import CycleReport, IntegrationEngine, MemoryStore, PlanState
from ..mapping import CorrelationKey
from ..testing import FakeIdentityNow, FakeServiceNow, ServedApp, WorkPolicy, serve
from ._demo_world import SOURCES, START, DemoClock, DemoWorld, DeskOutcome, PlannedWorkItem, build_scenario
from ._exit import ExitCode
from ._output import print_table, rich_console
from ._toml import dumps

__all__ = ["DemoRow", "run_demo"]

#: Simulated time per engine cycle: IdentityNow's default status-check interval.
STEP = timedelta(minutes=30)
#: The demo gives up if plans are still open this long after the start (a bug, not a scenario).
_GIVE_UP_AFTER = timedelta(days=3)
#: Environment variables the --serve configuration reads its secrets from.
_SECRET_VARIABLES = ("SN_PASSWORD", "SAIL_CLIENT_SECRET")


@attrs.frozen
class DemoRow:
    """One work item of the demo, as it ended.

    Attributes:
        work_item: the work item id (the plan key).
        planned: what the scenario planned.
        ticket: the ServiceNow request number, if a ticket was raised.
        servicenow: the request's ``request_state``.
        identitynow: what happened to the work item: ``completed``, ``forwarded (...)`` or ``pending``.
        problems: how the ending differs from the plan (empty when as expected).
    """

    work_item: str
    planned: PlannedWorkItem
    ticket: str | None
    servicenow: str | None
    identitynow: str
    problems: tuple[str, ...] = ()


class _ServiceDesk:
    """The people who work the tickets: start them, then close them as the scenario says."""

    def __init__(self, servicenow: FakeServiceNow, clock: DemoClock) -> None:
        self.servicenow = servicenow
        self.clock = clock
        self.planned: dict[str, PlannedWorkItem] = {}
        self._seen: dict[str, datetime] = {}

    def work(self) -> None:
        now = self.clock()
        for request in self.servicenow.records("sc_request"):
            if request.get("active") != "true" or not request.get("correlation_id"):
                continue
            plan_key = CorrelationKey.parse(request["correlation_id"]).plan_key
            planned = self.planned.get(plan_key)
            if planned is None or planned.outcome in (None, DeskOutcome.OPEN):
                continue
            first_seen = self._seen.setdefault(request["sys_id"], now)
            if now >= first_seen + planned.closes_after:
                if planned.outcome is DeskOutcome.REJECTED:
                    self.servicenow.reject(request["sys_id"], close_notes="Rejected by the approver.")
                else:
                    self.servicenow.close(request["sys_id"], planned.outcome.value)
            elif now >= first_seen + planned.starts_after and request.get("request_state") == "requested":
                self.servicenow.start(request["sys_id"])


class _Progress:
    """One line per eventful cycle on a pipe; a progress bar on a terminal with rich."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self._bar: Any = None
        self._task: Any = None
        console = rich_console(stream)
        if console is not None and total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self._task = self._bar.add_task("plans done", total=total, detail="")

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def cycle(self, when: str, report: CycleReport, done: int, open_tickets: int) -> None:
        if self._bar is not None:
            detail = f"{when} · {open_tickets} open ticket(s)"
            self._bar.update(self._task, completed=done, detail=detail)
            return
        parts = [
            f"{count} {label}"
            for count, label in (
                (report.received, "new plan(s)"),
                (report.created, "ticket(s) raised"),
                (report.committed, "committed"),
                (report.failed, "failed"),
                (report.expired, "expired"),
                (report.reported, "reported to IdentityNow"),
            )
            if count
        ]
        if report.errors:
            parts.append(f"{len(report.errors)} error(s): {report.errors[0].message}")
        if parts:
            print(f"{when}  {', '.join(parts)}; {done}/{self.total} done", file=self.stream, flush=True)


def _when(clock: DemoClock) -> str:
    return clock().strftime("%a %H:%M")


def _expected_identitynow(planned: PlannedWorkItem) -> str:
    return planned.outcome.identitynow if planned.outcome is not None else "pending"


def _row(
    work_item: str,
    planned: PlannedWorkItem,
    world: DemoWorld,
    requests: Sequence[dict[str, str]],
    engine: IntegrationEngine,
) -> DemoRow:
    tickets = [r for r in requests if r.get("correlation_id", "").startswith(f"{work_item}/")]
    completions = world.identitynow.completions(work_item)
    forwards = world.identitynow.forwards(work_item)
    record = engine.store.get(work_item)
    if completions and not forwards:
        identitynow = "completed"
    elif forwards and not completions:
        outcome = record.outcome.value if record is not None and record.outcome is not None else "?"
        identitynow = f"forwarded ({outcome})"
    elif not completions and not forwards:
        identitynow = "pending"
    else:
        identitynow = "completed and forwarded"
    problems: list[str] = []
    if len(completions) + len(forwards) > 1:
        problems.append(f"IdentityNow was told {len(completions) + len(forwards)} times")
    if planned.outcome is None:
        if tickets:
            problems.append("a ticket was raised for a source the integration does not manage")
    elif len(tickets) != 1:
        problems.append(f"{len(tickets)} tickets instead of one")
    elif tickets[0].get("request_state") != planned.outcome.request_state:
        problems.append(f"ServiceNow says {tickets[0].get('request_state')}, not {planned.outcome.request_state}")
    expected = _expected_identitynow(planned)
    if identitynow != expected:
        problems.append(f"IdentityNow: {identitynow}, expected {expected}")
    ticket = tickets[0] if len(tickets) == 1 else None
    return DemoRow(
        work_item=work_item,
        planned=planned,
        ticket=ticket.get("number") if ticket else None,
        servicenow=ticket.get("request_state") if ticket else None,
        identitynow=identitynow if planned.outcome is not None else "pending (not managed)",
        problems=tuple(problems),
    )


def _print_results(rows: Sequence[DemoRow], stream: IO[str]) -> None:
    headers = ("Work item", "Identity", "Change", "Ticket", "ServiceNow", "IdentityNow")
    table = [
        (
            row.work_item[:8],
            row.planned.person,
            row.planned.change,
            row.ticket or "-",
            row.servicenow or "-",
            row.identitynow + (" (!)" if row.problems else ""),
        )
        for row in rows
    ]
    print(file=stream)
    print_table(headers, table, wrap=(2, 5), stream=stream)


def _summary(rows: Sequence[DemoRow]) -> list[str]:
    managed = [row for row in rows if row.planned.outcome is not None]
    completed = sum(row.identitynow == "completed" for row in managed)
    forwarded = sum(row.identitynow.startswith("forwarded") for row in managed)
    left = len(rows) - len(managed)
    unmanaged = ", ".join(spec.name for spec in SOURCES.values() if not spec.managed)
    lines = [
        f"{len(rows)} work items: {len(managed)} became ServiceNow requests ({completed} completed in IdentityNow, "
        f"{forwarded} forwarded to the service desk); {left} left alone ({unmanaged} is not managed by the "
        "integration)."
    ]
    wrong = [row for row in rows if row.problems]
    if wrong:
        lines.append(f"{len(wrong)} work item(s) did NOT end as expected:")
        lines += [f"  {row.work_item}: {'; '.join(row.problems)}" for row in wrong]
    else:
        lines.append("Every work item ended as expected: one ticket each, IdentityNow told exactly once.")
    return lines


def _open_tickets(servicenow: FakeServiceNow) -> int:
    return sum(r.get("active") == "true" for r in servicenow.records("sc_request"))


def _simulate(args: argparse.Namespace, out: IO[str], err: IO[str]) -> ExitCode:
    started = time.monotonic()
    clock = DemoClock()
    world = DemoWorld(args.seed, clock)
    scenario = build_scenario(args.plans, args.seed)
    desk = _ServiceDesk(world.servicenow, clock)
    managed = sum(planned.outcome is not None for planned in scenario)
    print(
        f"Demo: {len(scenario)} work items for joiners, movers and leavers on "
        f"{', '.join(spec.name for spec in SOURCES.values())}; the integration manages "
        f"{', '.join(spec.name for spec in SOURCES.values() if spec.managed)}.",
        file=err,
    )
    print("Simulated time runs 30 minutes per cycle; the service desk works the tickets as they come.", file=err)
    keys = [""] * len(scenario)
    pending = list(enumerate(scenario))
    with serve(world.servicenow) as servicenow, serve(world.identitynow) as identitynow:
        config = world.config(servicenow.url, identitynow.url)
        engine = IntegrationEngine.from_config(
            config, store=MemoryStore(), clock=clock, concurrency=1, worker_id="demo"
        )
        with _Progress(managed, err) as progress:
            while True:
                elapsed = clock() - START
                while pending and pending[0][1].arrives_after <= elapsed:
                    index, planned = pending.pop(0)
                    keys[index] = world.add_work_item(planned)
                    desk.planned[keys[index]] = planned
                desk.work()
                report = engine.run_once()
                done = _done(engine, keys, scenario)
                progress.cycle(_when(clock), report, done, _open_tickets(world.servicenow))
                if (not pending and done == managed) or elapsed > _GIVE_UP_AFTER:
                    break
                clock.advance(STEP)
        requests = world.servicenow.records("sc_request")
        rows = [_row(key, planned, world, requests, engine) for key, planned in zip(keys, scenario, strict=True)]
        engine.store.close()
    simulated = clock() - START
    _print_results(rows, out)
    print(file=out)
    for line in _summary(rows):
        print(line, file=out)
    print(
        f"Simulated {_duration(simulated)} in {time.monotonic() - started:.1f} s. "
        "Next: `sim-servicenow demo --serve` keeps both fakes up for your own scripts.",
        file=out,
    )
    return ExitCode.FAILED if any(row.problems for row in rows) else ExitCode.OK


def _done(engine: IntegrationEngine, keys: Sequence[str], scenario: Sequence[PlannedWorkItem]) -> int:
    done = 0
    for key, planned in zip(keys, scenario, strict=True):
        if not key or planned.outcome is None:
            continue
        record = engine.store.get(key)
        done += record is not None and record.state is PlanState.DONE
    return done


def _duration(delta: timedelta) -> str:
    days, hours = divmod(int(delta.total_seconds() // 3600), 24)
    parts = [_plural(days, "day")] if days else []
    return " ".join([*parts, _plural(hours, "hour")]) if hours or not days else parts[0]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ---------------------------------------------------------------------------------------------------- --serve


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(args: argparse.Namespace, out: IO[str]) -> ExitCode:
    clock = DemoClock()
    clock.run_in_real_time()
    policy = WorkPolicy(
        start_after=20.0, close_after=60.0, outcomes={"complete": 8, "incomplete": 1, "rejected": 1}, seed=args.seed
    )
    fake_servicenow = FakeServiceNow(clock=clock.epoch, seed=args.seed, work_policy=policy)
    world = DemoWorld(args.seed, clock, fake_servicenow, check_interval=timedelta(minutes=1))
    keys = [world.add_work_item(planned) for planned in build_scenario(args.plans, args.seed)]
    directory = Path(tempfile.mkdtemp(prefix="sim-servicenow-demo-"))
    try:
        with (
            serve(fake_servicenow, port=args.port) as servicenow,
            serve(world.identitynow, port=args.port + 1 if args.port else 0) as identitynow,
            _stop_on_signals() as stop,
        ):
            config_path = directory / "demo.toml"
            config = world.config(
                servicenow.url,
                identitynow.url,
                store_url=f"sqlite:///{directory / 'state.db'}",
                secrets_from_env=_SECRET_VARIABLES,
            )
            header = "The demo's fakes, served by `sim-servicenow demo --serve`; they stop when it stops."
            config_path.write_text(dumps(_essentials(config.to_dict()), header=header), encoding="utf-8")
            for line in _serve_banner(servicenow, identitynow, world, config_path, len(keys)):
                print(line, file=out, flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print("stopped", file=out)
    return ExitCode.OK


def _essentials(data: dict[str, Any]) -> dict[str, Any]:
    """The settings a person writes; the rest are the defaults (a short file is a better example)."""
    kept = {
        key: data[key] for key in ("name", "store_url", "forward_failed_to", "servicenow", "identitynow", "sources")
    }
    status = data["status"]
    kept["status"] = {key: status[key] for key in ("check_interval_minutes", "max_check_days")}
    return kept


def _serve_banner(
    servicenow: ServedApp, identitynow: ServedApp, world: DemoWorld, config_path: Path, work_items: int
) -> list[str]:
    sources = [f"  {spec.name:<13} {world.sources[key]['id']}" for key, spec in SOURCES.items()]
    for index, (key, spec) in enumerate(SOURCES.items()):
        if spec.managed:
            sources[index] += f"  catalog item {spec.catalog_item!r} {world.catalog_items[key]}"
        else:
            sources[index] += "  (not managed by the integration)"
    client_id, client_secret = FakeIdentityNow.DEFAULT_CLIENT_ID, FakeIdentityNow.DEFAULT_CLIENT_SECRET
    oauth_id, oauth_secret = next(iter(FakeServiceNow.DEFAULT_OAUTH_CLIENTS.items()))
    return [
        f"FakeServiceNow   {servicenow.url}",
        f"  Basic auth: user {DemoWorld.SERVICENOW_USER!r}, password {DemoWorld.SERVICENOW_PASSWORD!r}; "
        f"OAuth client {oauth_id!r}, secret {oauth_secret!r}",
        "  tickets are started after 20 s and closed after 60 s (mostly complete)",
        f"FakeIdentityNow  {identitynow.url}",
        f"  OAuth client credentials: client id {client_id!r}, secret {client_secret!r}",
        f"  {work_items} pending manual work items; failed ones are forwarded to 'service.desk' "
        f"({world.service_desk['id']})",
        "Sources:",
        *sources,
        "",
        f"A configuration for these fakes: {config_path}",
        "Run the integration against them from another terminal:",
        f"  export {_SECRET_VARIABLES[0]}={DemoWorld.SERVICENOW_PASSWORD} {_SECRET_VARIABLES[1]}={client_secret}",
        f"  sim-servicenow check --config {config_path}",
        f"  sim-servicenow run --config {config_path} --interval 5",
        "",
        "Serving until Ctrl-C.",
    ]


def run_demo(args: argparse.Namespace) -> ExitCode:
    """Run the demo (or, with ``--serve``, serve its fakes)."""
    if args.serve:
        return _serve(args, sys.stdout)
    return _simulate(args, sys.stdout, sys.stderr)
