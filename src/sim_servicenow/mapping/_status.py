"""Status maps: a ticket's status value (ServiceNow, Jira) becomes Queued, Committed, Failed or Retry."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._errors import StatusMappingError, ValidationProblem

__all__ = ["ProvisioningStatus", "StatusMap", "StatusResult", "combine_statuses", "worst_status"]


class ProvisioningStatus(enum.Enum):
    """IdentityNow's provisioning statuses a ticket status maps to.

    ``QUEUED``: still being worked. ``COMMITTED``: done. ``FAILED``: will not be done. ``RETRY``: the ticket
    should be created again (IdentityIQ's ``ProvisioningResult.STATUS_RETRY``).
    """

    QUEUED = "Queued"
    COMMITTED = "Committed"
    FAILED = "Failed"
    RETRY = "Retry"

    @classmethod
    def parse(cls, text: str) -> ProvisioningStatus:
        """The status named by ``text`` in any case (``"committed"``, ``"COMMITTED"``, ``"Committed"``).

        Raises:
            ValueError: ``text`` names no status.
        """
        wanted = str(text).strip().casefold()
        for member in cls:
            if member.value.casefold() == wanted:
                return member
        raise ValueError(f"{text!r} is not one of {', '.join(m.value for m in cls)}")

    @property
    def is_final(self) -> bool:
        """True for Committed and Failed: nothing more will happen to the ticket."""
        return self in (ProvisioningStatus.COMMITTED, ProvisioningStatus.FAILED)


#: Jira resolutions that mean the work was not done.
_JIRA_FAILED_RESOLUTIONS = (
    "Won't Do",
    "Won't Fix",
    "Declined",
    "Rejected",
    "Duplicate",
    "Cannot Reproduce",
    "Canceled",
    "Cancelled",
    "Incomplete",
    "Abandoned",
)

# Worst first. A group of tickets (a REQ and its RITMs, or several tickets of one plan) is as bad as its worst
# member: one failure fails it; a retry is needed before anything can be committed; committed only when all are.
_SEVERITY = (
    ProvisioningStatus.FAILED,
    ProvisioningStatus.RETRY,
    ProvisioningStatus.QUEUED,
    ProvisioningStatus.COMMITTED,
)


def worst_status(statuses: Iterable[ProvisioningStatus]) -> ProvisioningStatus:
    """The worst of ``statuses``: Failed, then Retry, then Queued, then Committed.

    An empty input is ``QUEUED``: nothing known is never success.
    """
    present = set(statuses)
    return next((status for status in _SEVERITY if status in present), ProvisioningStatus.QUEUED)


@attrs.frozen
class StatusResult:
    """What a status lookup found.

    Attributes:
        status: the provisioning status.
        unknown_values: ServiceNow values the map did not know (each counted as Queued). The engine reports
            them: a ticket whose status the map cannot read would otherwise wait silently until it expires.
    """

    status: ProvisioningStatus
    unknown_values: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """True when every value was in the map."""
        return not self.unknown_values


def combine_statuses(results: Iterable[StatusResult]) -> StatusResult:
    """Combine the results for the parts of one ticket group: the worst status wins.

    A REQ reported ``closed_complete`` while one of its RITMs is Closed Incomplete is Failed, not Committed;
    a REQ in progress with all RITMs complete is still Queued. Unknown values of all parts are kept.
    """
    collected = list(results)
    unknown = tuple(dict.fromkeys(value for result in collected for value in result.unknown_values))
    return StatusResult(worst_status(result.status for result in collected), unknown)


def _normalize_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _coerce_target(target: Any) -> Any:
    if isinstance(target, str):
        try:
            return ProvisioningStatus.parse(target)
        except ValueError:
            return target  # reported, with its key, by StatusMap's validation
    return target


def _status_entries(value: Mapping[Any, ProvisioningStatus | str]) -> Mapping[str, ProvisioningStatus]:
    return {_normalize_key(key): _coerce_target(target) for key, target in value.items()}


@attrs.frozen
class StatusMap:
    """Ticket status value → provisioning status, validated as SailPoint validates it.

    Look values up with `lookup`. A value the map does not know is never success: it maps to
    ``QUEUED`` and is reported in `StatusResult.unknown_values`. Keys match exactly first, then ignoring
    case; numbers and text are the same key (``3`` and ``"3"``).

    Targets may be `ProvisioningStatus` members or their names in any case, so SailPoint's
    ``statusMap`` works as it is: ``StatusMap({"closed_complete": "Committed", "requested": "queued"})``.
    Defaults: `sc_request`, `task`, `incident`, `change_request` (ServiceNow) and
    `jira` (Jira Service Management).

    Attributes:
        entries: ticket status value → provisioning status.
        field: the ticket field the values come from (``request_state`` on ``sc_request``, ``state`` elsewhere;
            ``statusCategory`` or ``status`` for Jira).
        close_codes: optional ``close_code`` value → provisioning status, consulted only when the state maps to a
            final status (Committed or Failed): an incident resolved with a "not solved" close code can then fail.
            For Jira these are resolution names.

    Raises:
        StatusMappingError: every problem at once, each with the offending key as its path
            (``closed_complete: 'Done' is not one of Queued, Committed, Failed, Retry``; no value maps to
            Committed; an empty key).
    """

    entries: Mapping[str, ProvisioningStatus] = attrs.field(converter=_status_entries, hash=False)
    field: str = "state"
    close_codes: Mapping[str, ProvisioningStatus] = attrs.field(factory=dict, converter=_status_entries, hash=False)

    def __attrs_post_init__(self) -> None:
        problems = _target_problems(self.entries, "") + _target_problems(self.close_codes, "close_codes.")
        if not self.entries:
            problems.append(ValidationProblem("", "the status map is empty; at least one value must map to Committed"))
        elif ProvisioningStatus.COMMITTED not in self.entries.values():
            problems.append(ValidationProblem("", "at least one status value must map to Committed"))
        if problems:
            raise StatusMappingError("invalid status map", problems)

    def to_mapping(self) -> dict[str, str]:
        """The entries as SailPoint writes them: ``{"closed_complete": "Committed", ...}``."""
        return {key: status.value for key, status in self.entries.items()}

    def lookup(self, value: Any, *, close_code: Any = None) -> StatusResult:
        """The provisioning status of ServiceNow value ``value``; unknown values are Queued and flagged.

        Args:
            value: the ticket's status value (text or a number); None or empty text counts as unknown.
            close_code: the ticket's ``close_code``, if it has one; see `close_codes`.
        """
        key = "" if value is None else _normalize_key(value)
        status = self._find(self.entries, key)
        if status is None:
            return StatusResult(ProvisioningStatus.QUEUED, (key,))
        if status.is_final and close_code not in (None, "") and self.close_codes:
            override = self._find(self.close_codes, _normalize_key(close_code))
            if override is not None:
                return StatusResult(override)
        return StatusResult(status)

    @staticmethod
    def _find(entries: Mapping[str, ProvisioningStatus], key: str) -> ProvisioningStatus | None:
        if not key:
            return None
        found = entries.get(key)
        if found is not None:
            return found
        folded = key.casefold()
        return next((status for candidate, status in entries.items() if candidate.casefold() == folded), None)

    # -- defaults -----------------------------------------------------------------------------------------------

    @classmethod
    def sc_request(cls) -> StatusMap:
        """SailPoint's SIM default for ``sc_request.request_state``, plus ``closed_skipped`` → Failed."""
        return cls(
            {
                "requested": ProvisioningStatus.QUEUED,
                "in_process": ProvisioningStatus.QUEUED,
                "closed_complete": ProvisioningStatus.COMMITTED,
                "closed_incomplete": ProvisioningStatus.FAILED,
                "closed_cancelled": ProvisioningStatus.FAILED,
                "closed_rejected": ProvisioningStatus.FAILED,
                "closed_skipped": ProvisioningStatus.FAILED,
            },
            field="request_state",
        )

    @classmethod
    def task(cls) -> StatusMap:
        """The task state model (``sc_req_item``, ``sc_task`` and other task tables): ``state`` values.

        -5 Pending, 1 Open, 2 Work in Progress → Queued; 3 Closed Complete → Committed;
        4 Closed Incomplete, 7 Closed Skipped → Failed.
        """
        return cls(
            {
                "-5": ProvisioningStatus.QUEUED,
                "1": ProvisioningStatus.QUEUED,
                "2": ProvisioningStatus.QUEUED,
                "3": ProvisioningStatus.COMMITTED,
                "4": ProvisioningStatus.FAILED,
                "7": ProvisioningStatus.FAILED,
            }
        )

    @classmethod
    def incident(cls, close_codes: Mapping[str, ProvisioningStatus] | None = None) -> StatusMap:
        """Incident ``state``: 1 New, 2 In Progress, 3 On Hold → Queued; 6 Resolved, 7 Closed → Committed
        (unless ``close_codes`` says otherwise); 8 Canceled → Failed."""
        return cls(
            {
                "1": ProvisioningStatus.QUEUED,
                "2": ProvisioningStatus.QUEUED,
                "3": ProvisioningStatus.QUEUED,
                "6": ProvisioningStatus.COMMITTED,
                "7": ProvisioningStatus.COMMITTED,
                "8": ProvisioningStatus.FAILED,
            },
            close_codes=close_codes or {},
        )

    @classmethod
    def change_request(cls) -> StatusMap:
        """Change ``state``: -5 New … 0 Review → Queued; 3 Closed → Committed, or Failed when the close code
        is ``unsuccessful``; 4 Canceled → Failed."""
        return cls(
            {
                "-5": ProvisioningStatus.QUEUED,
                "-4": ProvisioningStatus.QUEUED,
                "-3": ProvisioningStatus.QUEUED,
                "-2": ProvisioningStatus.QUEUED,
                "-1": ProvisioningStatus.QUEUED,
                "0": ProvisioningStatus.QUEUED,
                "3": ProvisioningStatus.COMMITTED,
                "4": ProvisioningStatus.FAILED,
            },
            close_codes={"unsuccessful": ProvisioningStatus.FAILED},
        )

    @classmethod
    def jira(cls) -> StatusMap:
        """Jira Service Management: the issue's status category, with the resolution deciding success.

        ``new`` and ``indeterminate`` (To Do, In Progress) → Queued; ``done`` → Committed, unless the resolution
        is one that means the work was not done (Won't Do, Won't Fix, Declined, Rejected, Duplicate, Cannot
        Reproduce, Canceled, Cancelled, Incomplete, Abandoned) → Failed. The map's ``field`` is
        ``statusCategory``; its ``close_codes`` are resolution names. For status names instead, build a map
        whose ``field`` is ``status``.
        """
        return cls(
            {
                "new": ProvisioningStatus.QUEUED,
                "indeterminate": ProvisioningStatus.QUEUED,
                "done": ProvisioningStatus.COMMITTED,
            },
            field="statusCategory",
            close_codes=dict.fromkeys(_JIRA_FAILED_RESOLUTIONS, ProvisioningStatus.FAILED),
        )

    @classmethod
    def default_for_table(cls, table: str) -> StatusMap:
        """The default map for tickets on ``table``: sc_request, incident, change_request, else the task map."""
        defaults = {"sc_request": cls.sc_request, "incident": cls.incident, "change_request": cls.change_request}
        return defaults.get(table, cls.task)()


def _target_problems(entries: Mapping[str, Any], prefix: str) -> list[ValidationProblem]:
    problems = []
    for key, target in entries.items():
        if not key:
            problems.append(ValidationProblem(prefix.rstrip("."), "a status value must not be empty"))
        elif isinstance(target, str):
            problems.append(ValidationProblem(f"{prefix}{key}", f"{target!r} is not one of {_CHOICES}"))
        elif not isinstance(target, ProvisioningStatus):
            problems.append(
                ValidationProblem(f"{prefix}{key}", f"expected one of {_CHOICES}, got {type(target).__name__}")
            )
    return problems


_CHOICES = ", ".join(status.value for status in ProvisioningStatus)
