"""Built-in choice lists of the state fields the integration reads, for instances that are not customised.

Choice values are instance-configurable; `ServiceNowClient.choices` reads the live list from
``sys_choice`` and falls back to these. Sources: ServiceNow's task state model (``TaskStateUtil``:
-5, 1, 2, 3, 4, 7), the incident and change state models, and the commonly used catalog request values.
Values marked UNCONFIRMED in the research (``sc_request.request_state`` beyond ``requested`` /
``in_process``, ``sc_req_item.stage``) may differ on an instance: read them live when it matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._models import Choice

__all__ = ["DEFAULT_CHOICES", "default_choices"]


def _choices(*pairs: tuple[str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(value=value, label=label, sequence=index) for index, (value, label) in enumerate(pairs))


_TASK_STATE = _choices(
    ("-5", "Pending"),
    ("1", "Open"),
    ("2", "Work in Progress"),
    ("3", "Closed Complete"),
    ("4", "Closed Incomplete"),
    ("7", "Closed Skipped"),
)
_APPROVAL = _choices(
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
)

#: ``(table, field)`` -> the base system's choices, in display order.
DEFAULT_CHOICES: Mapping[tuple[str, str], tuple[Choice, ...]] = MappingProxyType(
    {
        ("task", "state"): _TASK_STATE,
        ("task", "approval"): _APPROVAL,
        ("sc_task", "state"): _TASK_STATE,
        ("sc_req_item", "state"): _TASK_STATE,
        ("sc_req_item", "approval"): _APPROVAL,
        ("sc_req_item", "stage"): _choices(
            ("waiting_for_approval", "Waiting for Approval"),
            ("request_approved", "Request Approved"),
            ("fulfillment", "Fulfillment"),
            ("delivery", "Delivery"),
            ("complete", "Completed"),
            ("Request Cancelled", "Request Cancelled"),
        ),
        ("sc_request", "state"): _TASK_STATE,
        ("sc_request", "approval"): _APPROVAL,
        ("sc_request", "request_state"): _choices(
            ("requested", "Pending Approval"),
            ("in_process", "Approved"),
            ("closed_complete", "Closed Complete"),
            ("closed_incomplete", "Closed Incomplete"),
            ("closed_cancelled", "Closed Cancelled"),
            ("closed_rejected", "Closed Rejected"),
            ("closed_skipped", "Closed Skipped"),
        ),
        ("incident", "state"): _choices(
            ("1", "New"),
            ("2", "In Progress"),
            ("3", "On Hold"),
            ("6", "Resolved"),
            ("7", "Closed"),
            ("8", "Canceled"),
        ),
        ("incident", "approval"): _APPROVAL,
        ("change_request", "state"): _choices(
            ("-5", "New"),
            ("-4", "Assess"),
            ("-3", "Authorize"),
            ("-2", "Scheduled"),
            ("-1", "Implement"),
            ("0", "Review"),
            ("3", "Closed"),
            ("4", "Canceled"),
        ),
        ("change_request", "approval"): _APPROVAL,
    }
)


def default_choices(table: str, field: str) -> tuple[Choice, ...]:
    """The built-in choices of ``table.field``; ``()`` when there are none built in."""
    return DEFAULT_CHOICES.get((table, field), ())
