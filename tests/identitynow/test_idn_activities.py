"""Account activities: the documented query parameters, filters and sorters, and get."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from sim_servicenow.errors import ConfigError, NotFoundError
from sim_servicenow.identitynow import CompletionStatus, ExecutionStatus, ProvisioningState, filters


def test_activities_follow_work_items(idn: Any) -> None:
    source = idn.fake.add_source("Badge")
    item = idn.fake.add_manual_work_item(source["id"], "Create", "amos", {"badgeId": "HQ-1"})
    amos = item["requesterId"]
    (activity,) = idn.client.account_activities.list(requested_for=amos).items
    assert activity.execution_status == ExecutionStatus.EXECUTING
    (entry,) = activity.items
    assert (entry.operation, entry.attribute, entry.value, entry.source_id, entry.native_identity) == (
        "SET",
        "badgeId",
        "HQ-1",
        source["id"],
        "amos",
    )
    assert entry.provisioning_status == ProvisioningState.PENDING

    idn.client.work_items.complete(item["id"])
    done = idn.client.account_activities.get(activity.id)
    assert done.completion_status == CompletionStatus.SUCCESS
    assert done.items[0].provisioning_status == ProvisioningState.COMMITED
    assert done.completed is not None


def test_query_parameters_and_filters(idn: Any) -> None:
    admin = idn.fake.admin["id"]
    alice = idn.fake.add_identity("alice")["id"]
    summary = {"id": alice, "name": "alice", "identityId": alice, "completed": False}
    early = idn.fake.add_account_activity(type="appRequest", created="2024-01-01T00:00:00.000Z")
    late = idn.fake.add_account_activity(type="LifecycleStateChange", created="2025-06-01T00:00:00.000Z")
    for_alice = idn.fake.add_account_activity(type="appRequest", targetIdentitySummary=summary)
    api = idn.client.account_activities

    assert [a.id for a in api.iter(requested_for=alice)] == [for_alice["id"]]
    assert {a.id for a in api.iter(regarding_identity=alice)} == {for_alice["id"]}
    assert {a.id for a in api.iter(requested_by=admin)} == {early["id"], late["id"], for_alice["id"]}
    since = filters.gt("created", datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert {a.id for a in api.iter(filters=filters.and_(since, filters.eq("type", "LifecycleStateChange")))} == {
        late["id"]
    }
    ordered = api.list(sorters="created", requested_by="me", count=True)
    assert [a.id for a in ordered.items][:2] == [early["id"], late["id"]]
    assert ordered.total == 3
    sent = [r.query for r in idn.api_requests("GET") if "requested-for" in r.query or "regarding-identity" in r.query]
    assert sent[0]["requested-for"] == [alice]
    assert sent[1]["regarding-identity"] == [alice]


def test_regarding_identity_excludes_the_others(mounted: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        mounted.client.account_activities.list(regarding_identity="me", requested_by="me")
    assert raised.value.problems[0].path == "regarding_identity"
    assert mounted.api_requests() == []


def test_unknown_activity(mounted: Any) -> None:
    with pytest.raises(NotFoundError):
        mounted.client.account_activities.get("ffffffffffffffffffffffffffffffff")
