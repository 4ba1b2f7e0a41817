"""``sim-servicenow run``: the integration as a long-running process, stopped gracefully by SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from types import FrameType
from typing import IO

from ..engine import EngineHooks, IntegrationEngine, PlanReport, TicketGroupRecord, TicketRef, mask_store_url
from ._exit import ExitCode
from ._load import load_config
from ._output import rich_console

__all__ = ["run_engine"]

logger = logging.getLogger("sim_servicenow.cli")


class _Tally:
    """Counts what the engine did, through its hooks; ``listener`` gets the new status line after each change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tickets = 0
        self.outcomes: Counter[str] = Counter()
        self.listener: Callable[[str], None] | None = None

    def ticket_created(self, _plan_key: str, _group: TicketGroupRecord, _ticket: TicketRef) -> None:
        with self.lock:
            self.tickets += 1
        self._changed()

    def plan_finished(self, _plan_key: str, report: PlanReport) -> None:
        with self.lock:
            self.outcomes[report.outcome.value] += 1
        self._changed()

    def _changed(self) -> None:
        if self.listener is not None:
            self.listener(self.line())

    def line(self) -> str:
        with self.lock:
            finished = sum(self.outcomes.values())
            detail = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items()))
        return f"{self.tickets} ticket(s) raised · {finished} plan(s) finished" + (f" ({detail})" if detail else "")


@contextlib.contextmanager
def _graceful_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop``; a second one raises `KeyboardInterrupt` (exit at once)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        logger.warning("%s received: stopping once the steps under way are recorded (again: stop at once)", name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _status_line(tally: _Tally, stream: IO[str]) -> Iterator[None]:
    """A live status line on a terminal with rich; nothing otherwise (the log lines tell the story)."""
    console = rich_console(stream)
    if console is None:
        yield
        return
    with console.status(tally.line()) as status:
        tally.listener = status.update
        try:
            yield
        finally:
            tally.listener = None


def run_engine(args: argparse.Namespace) -> ExitCode:
    """Run cycles until stopped (or one cycle with ``--once``)."""
    config = load_config(args.config, sim_definition=args.sim_definition, store=args.store)
    tally = _Tally()
    engine = IntegrationEngine.from_config(
        config,
        verify=args.ca_bundle or True,
        concurrency=args.concurrency,
        worker_id=args.worker_id,
        hooks=EngineHooks(on_ticket_created=tally.ticket_created, on_plan_finished=tally.plan_finished),
    )
    try:
        logger.info(
            "running integration %r as worker %s: %d managed source(s), store %s, a cycle every %g s",
            config.name,
            engine.worker_id,
            len(config.sources),
            mask_store_url(config.store_url),
            args.interval,
        )
        if args.once:
            report = engine.run_once()
            for error in report.errors:
                logger.warning("%s%s: %s", error.stage, f" [{error.plan_key}]" if error.plan_key else "", error.message)
            print(f"cycle done: {report.summary()}", file=sys.stdout)
            return ExitCode.FAILED if report.errors else ExitCode.OK
        stop = threading.Event()
        with _graceful_signals(stop), _status_line(tally, sys.stderr):
            engine.run_forever(stop, interval=args.interval)
        logger.info("stopped: %s", tally.line())
        return ExitCode.OK
    finally:
        engine.store.close()
