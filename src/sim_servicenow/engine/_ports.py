"""The engine's ports: what a ticketing system and a plan source must offer.

The engine knows ServiceNow and IdentityNow only through these protocols; adapters implement them
(`sim_servicenow.adapters`). Write your own to connect another ticketing system or another source of
provisioning plans — the guide "Writing a ticketing adapter" walks through one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from ..mapping import ProvisioningPlan, ProvisioningStatus, TicketPayload
from ._store import PlanOutcome


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _summaries(values: Iterable[TicketSummary]) -> tuple[TicketSummary, ...]:
    return tuple(values)


__all__ = ["PlanReport", "PlanSource", "TicketRef", "TicketStatus", "TicketSummary", "TicketingSystem"]


@attrs.frozen
class TicketRef:
    """Where a ticket lives, as the ticketing system identified it when it was created.

    The engine stores it (as `to_json`) and hands it back to the same ticketing system for status checks
    and comments; only the adapter that made it needs to understand ``kind`` and ``item_ids``.

    Attributes:
        system: which ticketing system (``"servicenow"``, ``"jira"``, ...).
        kind: the ticket's kind within that system: a ServiceNow table (``sc_request``, ``incident``) or a
            Jira request type.
        id: the system's id of the ticket (a ServiceNow ``sys_id``, a Jira issue id).
        number: the id people use (``REQ0010001``, ``INC0010002``, ``ITHELP-12``).
        item_ids: ids of the ticket's parts whose statuses count too (the RITMs of a catalog request).
        url: a link a person can open, when the system gives one.
    """

    system: str
    kind: str
    id: str
    number: str
    item_ids: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The reference as JSON-ready data."""
        data: dict[str, Any] = {"system": self.system, "kind": self.kind, "id": self.id, "number": self.number}
        if self.item_ids:
            data["item_ids"] = list(self.item_ids)
        if self.url:
            data["url"] = self.url
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketRef:
        """Read a reference written by `to_json`."""
        return cls(
            system=str(data["system"]),
            kind=str(data["kind"]),
            id=str(data["id"]),
            number=str(data["number"]),
            item_ids=tuple(str(i) for i in data.get("item_ids", ())),
            url=data.get("url"),
        )


@attrs.frozen
class TicketStatus:
    """A ticket's status as one check read it.

    Attributes:
        status: the provisioning status the status map gave (the worst over the ticket's parts).
        values: the raw values read, for reports and the audit trail (``{"request_state": "closed_complete"}``).
        unknown_values: values the status map did not know; the ticket then counts as ``QUEUED``.
        detail: a short human explanation, e.g. ``"RITM0010003 state=4 (Closed Incomplete)"``.
    """

    status: ProvisioningStatus
    values: Mapping[str, Any] = attrs.field(factory=dict)
    unknown_values: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    detail: str = ""


@runtime_checkable
class TicketingSystem(Protocol):
    """A system tickets are raised in: ServiceNow, Jira Service Management, your own.

    Implementations must be safe to call from several threads at once (the engine creates tickets
    concurrently) and must let errors of the library's tree (`ApiError`,
    `TransportError`) propagate: the engine decides what is retried.
    """

    def create(self, payload: TicketPayload, correlation_key: str) -> TicketRef:
        """Raise one ticket for ``payload``, writing ``correlation_key`` into the ticket in the same request.

        Called only after the engine has recorded that it is about to; never retried blindly (a request that
        timed out may have created the ticket, so the engine calls `find` first next time).
        """
        ...

    def find(self, correlation_key: str) -> TicketRef | None:
        """The ticket carrying ``correlation_key``, or ``None`` if there is none.

        It may search an eventually consistent index (Jira Cloud's search trails writes by a few seconds), so a
        ticket created moments ago may not be found yet. The engine calls it only for a group whose create was
        interrupted, and only after waiting: a create that failed for a passing reason is looked up again after
        the engine's transient back-off (``_TRANSIENT_BACKOFF``, 30 seconds), a crashed worker's groups once its
        lease has expired — both well past such a lag.
        """
        ...

    def statuses(self, refs: Sequence[TicketRef]) -> Mapping[str, TicketStatus]:
        """The current status of each ticket, keyed by `TicketRef.id`, read in as few requests as possible.

        A ticket missing from the answer no longer exists (it was deleted).
        """
        ...

    def comment(self, ref: TicketRef, text: str) -> None:
        """Add a note to the ticket (a work note or an internal comment)."""
        ...


@attrs.frozen
class TicketSummary:
    """One ticket of a finished plan, as reported to the plan's source.

    Attributes:
        correlation_key: the ticket group's correlation key.
        number: the ticket number, or ``None`` if no ticket could be created.
        outcome: how the group ended: ``committed``, ``failed`` or ``expired``.
        status_values: the raw status values of the last check.
        detail: why, in a few words (the status, the error that prevented creation, the expiry).
    """

    correlation_key: str
    number: str | None
    outcome: str
    status_values: Mapping[str, Any] = attrs.field(factory=dict)
    detail: str = ""


@attrs.frozen
class PlanReport:
    """How a plan ended, as the engine reports it to the plan's source.

    Attributes:
        plan_key: the plan.
        outcome: committed, failed, expired or skipped (no requests for a managed source).
        tickets: one summary per ticket group.
        unmanaged_sources: names or ids of sources in the plan that the integration does not manage (their
            account requests were left alone).
        detail: a one-line summary for people (used as the comment when a work item is forwarded).
    """

    plan_key: str
    outcome: PlanOutcome
    tickets: tuple[TicketSummary, ...] = attrs.field(default=(), converter=_summaries)
    unmanaged_sources: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    detail: str = ""


@runtime_checkable
class PlanSource(Protocol):
    """Where provisioning plans come from, and where their outcome is reported.

    Attributes:
        name: a stable name for the source; the store records it with each plan, and the engine uses it to
            route each plan's report back to the source it came from.
    """

    name: str

    def poll(self) -> Iterable[ProvisioningPlan]:
        """New plans to work on. Returning a plan again is harmless: plans are recorded once, by key."""
        ...

    def report(self, plan: ProvisioningPlan, report: PlanReport) -> None:
        """Tell the source how ``plan`` ended. Must be idempotent: reporting twice counts as once."""
        ...
