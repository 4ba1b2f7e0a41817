"""In-process fakes of IdentityNow, ServiceNow and Jira Service Management, for your tests and ours.

The fakes are WSGI applications with inspectable, lock-protected state. Reach them over loopback with
`serve` (optionally TLS), or without sockets by mounting a `WSGIAdapter` on a
`requests.Session`::

    from sim_servicenow.testing import FakeServiceNow, serve

    with serve(FakeServiceNow(users={"admin": "secret"})) as sn:
        client = ServiceNowClient(sn.url, BasicAuth("admin", "secret"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._clock import ManualClock
from ._faults import Fault, FaultKind, Faults, LoggedRequest, RequestLog
from ._server import DropConnection, ServedApp, WSGIAdapter, mount, serve

if TYPE_CHECKING:
    from ._identitynow import Completion, FakeIdentityNow, Forward
    from ._jira import (
        FakeJira,
        JiraComment,
        JiraIssue,
        JiraOutcome,
        JiraRequestType,
        JiraResolution,
        JiraServiceDesk,
        JiraStatus,
    )
    from ._servicenow import FakeServiceNow, WorkPolicy

_LAZY = {
    "FakeServiceNow": "._servicenow",
    "WorkPolicy": "._servicenow",
    "FakeIdentityNow": "._identitynow",
    "Completion": "._identitynow",
    "Forward": "._identitynow",
    "FakeJira": "._jira",
    "JiraComment": "._jira",
    "JiraIssue": "._jira",
    "JiraOutcome": "._jira",
    "JiraRequestType": "._jira",
    "JiraResolution": "._jira",
    "JiraServiceDesk": "._jira",
    "JiraStatus": "._jira",
}

__all__ = [
    "Completion",
    "DropConnection",
    "FakeIdentityNow",
    "FakeJira",
    "FakeServiceNow",
    "Fault",
    "FaultKind",
    "Faults",
    "Forward",
    "JiraComment",
    "JiraIssue",
    "JiraOutcome",
    "JiraRequestType",
    "JiraResolution",
    "JiraServiceDesk",
    "JiraStatus",
    "LoggedRequest",
    "ManualClock",
    "RequestLog",
    "ServedApp",
    "WSGIAdapter",
    "WorkPolicy",
    "mount",
    "serve",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim_servicenow.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
