"""IdentityNow's manual work items as the engine's plan source."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from .._errors import DecodeError
from ..engine._ports import PlanReport
from ..engine._store import PlanOutcome
from ..identitynow import IdentityNowClient, make_converter
from ..mapping import IntegrationConfig, ManagedSource, ProvisioningPlan

__all__ = ["WorkItemSource"]

logger = logging.getLogger("sim_servicenow.adapters.identitynow")


class WorkItemSource:
    """The `PlanSource` of IdentityNow's pending manual work items.

    IdentityNow creates a manual work item (type ``ManualAction``) for each provisioning task on a source
    configured for manual provisioning. This source reads the pending ones of the managed sources, turns each
    into a plan keyed by the work item id, and when the plan ends:

    * committed (or skipped: nothing to ticket) — completes the work item, with the outcome as comment;
    * failed or expired — forwards it to ``forward_failed_to`` with a comment naming the tickets and their
      statuses, so a person takes over; without ``forward_failed_to`` it is completed with that comment.

    Both are idempotent: a work item already completed, or already with the target owner, counts as done.

    Args:
        client: the IdentityNow client.
        sources: the managed sources (their ids; names are read from IdentityNow).
        forward_failed_to: identity id failed work items are forwarded to.
        owner_id: read only the work items of this owner (default: every work item the client may see).
        name: the source's name in the store.
    """

    def __init__(
        self,
        client: IdentityNowClient,
        sources: Iterable[ManagedSource],
        *,
        forward_failed_to: str | None = None,
        owner_id: str | None = None,
        name: str = "identitynow",
    ) -> None:
        self.client = client
        self.sources = tuple(sources)
        self.forward_failed_to = forward_failed_to
        self.owner_id = owner_id
        self.name = name
        self._converter = make_converter()

    @classmethod
    def from_config(cls, client: IdentityNowClient, config: IntegrationConfig) -> WorkItemSource:
        """The source an `IntegrationConfig` describes."""
        return cls(client, config.sources, forward_failed_to=config.forward_failed_to)

    def __repr__(self) -> str:
        return f"WorkItemSource({self.client.base_url!r}, sources={len(self.sources)})"

    def poll(self) -> Iterator[ProvisioningPlan]:
        """The pending manual work items of the managed sources, as plans (work item id = plan key)."""
        actions = self.client.work_items.iter_manual_actions([s.id for s in self.sources], owner_id=self.owner_id)
        for action in actions:
            data = self._converter.unstructure(action.work_item)
            try:
                yield ProvisioningPlan.from_work_item(data, source_ids={action.source.name: action.source.id})
            except DecodeError as exc:
                # One unreadable work item must not hold up the others; it stays pending for a person.
                logger.error("work item %s cannot be read as a plan, left pending: %s", action.work_item.id, exc)

    def report(self, plan: ProvisioningPlan, report: PlanReport) -> None:
        """Complete or forward the plan's work item; repeating a report changes nothing."""
        comment = f"sim-servicenow: {report.detail}"
        failed = report.outcome in (PlanOutcome.FAILED, PlanOutcome.EXPIRED)
        if failed and self.forward_failed_to:
            forwarded = self.client.work_items.forward(plan.key, self.forward_failed_to, comment)
            logger.info("[%s] work item %s", plan.key, "forwarded" if forwarded else "already forwarded")
            return
        completion = self.client.work_items.complete(plan.key, comment)
        if completion.already_closed:
            logger.info("[%s] work item was already closed", plan.key)
        else:
            logger.info("[%s] work item completed", plan.key)
