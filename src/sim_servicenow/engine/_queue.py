"""A plan source fed by the embedding application: ``engine.submit(plan)`` or ``QueueSource.put``."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterator

from ..mapping import ProvisioningPlan
from ._ports import PlanReport

__all__ = ["QueueSource"]

logger = logging.getLogger("sim_servicenow.engine")


class QueueSource:
    """A `PlanSource` for plans pushed by your own code (an event-trigger webhook, a script).

    `put` is thread-safe; `poll` drains what was put. Reports go to ``on_report`` (and to the engine's
    ``on_plan_finished`` hook). `IntegrationEngine.submit` records a plan in the store at once instead,
    which survives a crash before the next cycle; prefer it when you hold the engine.

    Args:
        name: the source's name in the store.
        on_report: called with ``(plan, report)`` when a plan from this source ends.
    """

    def __init__(
        self, name: str = "submitted", on_report: Callable[[ProvisioningPlan, PlanReport], None] | None = None
    ) -> None:
        self.name = name
        self.on_report = on_report
        self._queue: queue.SimpleQueue[ProvisioningPlan] = queue.SimpleQueue()

    def __repr__(self) -> str:
        return f"QueueSource(name={self.name!r})"

    def put(self, plan: ProvisioningPlan) -> None:
        """Queue ``plan`` for the next `poll`."""
        self._queue.put(plan)

    def poll(self) -> Iterator[ProvisioningPlan]:
        """Every plan put since the last poll."""
        while True:
            try:
                yield self._queue.get_nowait()
            except queue.Empty:
                return

    def report(self, plan: ProvisioningPlan, report: PlanReport) -> None:
        """Hand the outcome to ``on_report``, if given."""
        if self.on_report is not None:
            self.on_report(plan, report)
