"""Work items: manual provisioning tasks by source, idempotent completion, forwarding, approvals, counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sim_servicenow.errors import BadRequestError, ConfigError, NotFoundError, TransportError
from sim_servicenow.http import RetryPolicy
from sim_servicenow.identitynow import WorkItemState, WorkItemType
from sim_servicenow.testing._faults import FaultKind


def test_manual_actions_of_given_sources(idn: Any) -> None:
    badge = idn.fake.add_source("Badge System")
    hr = idn.fake.add_source("HR Files")
    other = idn.fake.add_source("Other")
    create = idn.fake.add_manual_work_item(badge["id"], "Create", "amos", {"badgeId": "HQ-1", "groups": ["A", "B"]})
    disable = idn.fake.add_manual_work_item(hr["id"], "Disable", "bob")
    idn.fake.add_manual_work_item(other["id"], "Delete", "carl")
    idn.fake.add_manual_work_item(badge["id"], "Modify", "dora", type="Approval")  # not a manual action

    actions = list(idn.client.work_items.iter_manual_actions([badge["id"], hr["id"], badge["id"]], page_size=1))
    assert [(a.work_item.id, a.source.id) for a in actions] == [(create["id"], badge["id"]), (disable["id"], hr["id"])]
    first = actions[0].work_item
    assert first.type == WorkItemType.MANUAL_ACTION
    assert first.is_pending
    assert [(a.application, a.account, a.name, a.operation, a.value) for a in first.approval_items] == [
        ("Badge System", "amos", "badgeId", "Set", "HQ-1"),
        ("Badge System", "amos", "groups", "Set", "A"),
        ("Badge System", "amos", "groups", "Set", "B"),
    ]
    assert first.num_items == 3
    source_queries = [r.query["filters"][0] for r in idn.api_requests("GET") if "filters" in r.query]
    assert source_queries == [f'id in ("{badge["id"]}","{hr["id"]}")']
    assert list(idn.client.work_items.iter_manual_actions([])) == []


def test_manual_actions_of_many_sources_are_resolved_in_chunks(mounted: Any) -> None:
    sources = [mounted.fake.add_source(f"Source {n:03d}") for n in range(90)]
    items = [mounted.fake.add_manual_work_item(s["id"], "Enable", f"user{n}") for n, s in enumerate(sources)]
    actions = list(mounted.client.work_items.iter_manual_actions([s["id"] for s in sources]))
    assert [a.work_item.id for a in actions] == [i["id"] for i in items]
    assert all(len(r.path + str(r.query)) < 4000 for r in mounted.api_requests())


def test_unknown_source_ids_are_refused_before_reading_work_items(mounted: Any) -> None:
    known = mounted.fake.add_source("Badge")
    with pytest.raises(ConfigError) as raised:
        mounted.client.work_items.iter_manual_actions([known["id"], "nope"])
    assert [p.path for p in raised.value.problems] == ["source_ids[1]"]
    assert not [r for r in mounted.api_requests() if "work-items" in r.path]


def test_manual_actions_match_internal_application_names(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge System")
    item = mounted.fake.add_manual_work_item(source["id"], "Enable", "amos")
    legacy_name = f"Badge System [source-{mounted.fake.legacy_source(source['id'])['id']}]"
    with mounted.fake._lock:  # rename the application as older tenants report it
        for approval in mounted.fake._work_items[item["id"]]["approvalItems"]:
            approval["application"] = legacy_name
        for remediation in mounted.fake._work_items[item["id"]]["remediationItems"]:
            remediation["applicationName"] = "BADGE SYSTEM [source]"
    found = list(mounted.client.work_items.iter_manual_actions([source["id"]]))
    assert [a.work_item.id for a in found] == [item["id"]]


def test_complete_is_recognisably_idempotent(idn: Any) -> None:
    source = idn.fake.add_source("Badge")
    item = idn.fake.add_manual_work_item(source["id"], "Create", "amos", {"badgeId": "1"})

    first = idn.client.work_items.complete(item["id"], "Ticket RITM0010001 closed complete")
    assert not first.already_closed
    assert first.work_item.state == WorkItemState.FINISHED
    assert first.work_item.completed is not None

    again = idn.client.work_items.complete(item["id"], "Ticket RITM0010001 closed complete")
    assert again.already_closed
    assert again.work_item.state == WorkItemState.FINISHED
    assert again.work_item.completed == first.work_item.completed

    (completion,) = idn.fake.completions(item["id"])
    assert completion.body == "Ticket RITM0010001 closed complete"
    assert idn.fake.account_activities()[0]["completionStatus"] == "SUCCESS"


def test_complete_without_a_comment_sends_no_body(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    item = mounted.fake.add_manual_work_item(source["id"], "Unlock", "amos")
    mounted.client.work_items.complete(item["id"])
    (sent,) = mounted.api_requests("POST")
    assert sent.body == b""
    assert mounted.fake.completions(item["id"])[0].body is None


def test_completion_whose_answer_was_lost_is_retried_and_recognised(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    item = mounted.fake.add_manual_work_item(source["id"], "Create", "amos")
    # The fake completes the item, then drops the connection before answering.
    mounted.fake.faults.add(FaultKind.DROP, after=True, times=1, method="POST", path="/v3/work-items/")
    result = mounted.client.work_items.complete(item["id"], "done")
    assert result.already_closed
    assert result.work_item.state == WorkItemState.FINISHED
    assert len(mounted.fake.completions(item["id"])) == 1
    assert [r.status for r in mounted.api_requests("POST")] == [0, 400]


def test_completion_of_a_cancelled_item_reports_its_state(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    item = mounted.fake.add_manual_work_item(source["id"], "Create", "amos", state="Canceled")
    result = mounted.client.work_items.complete(item["id"])
    assert result.already_closed
    assert result.work_item.state == WorkItemState.CANCELED
    assert mounted.fake.completions(item["id"]) == []


def test_other_refusals_are_raised(mounted: Any) -> None:
    with pytest.raises(NotFoundError):
        mounted.client.work_items.complete("2c9180835d2e5168015d32f890ca1581")
    source = mounted.fake.add_source("Badge")
    item = mounted.fake.add_manual_work_item(source["id"], "Create", "amos")
    # A refusal while the item is still pending is not "already done".
    mounted.fake.faults.add(FaultKind.ERROR, status=400, times=1, method="POST", path="/v3/work-items/")
    with pytest.raises(BadRequestError):
        mounted.client.work_items.complete(item["id"])
    assert mounted.fake.work_item(item["id"])["state"] == "Pending"


def test_completion_without_any_answer_is_a_transport_error(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    item = mounted.fake.add_manual_work_item(source["id"], "Create", "amos")
    mounted.fake.faults.add(FaultKind.DROP, method="POST", path="/v3/work-items/")
    client = mounted.connect(retry=RetryPolicy(max_attempts=2, sleep=mounted.sleeps.append))
    with pytest.raises(TransportError, match="after 2 attempt"):
        client.work_items.complete(item["id"])
    assert mounted.fake.completions(item["id"]) == []


def test_forward_is_recognisably_idempotent(idn: Any) -> None:
    source = idn.fake.add_source("Badge")
    item = idn.fake.add_manual_work_item(source["id"], "Create", "amos")
    helpdesk = idn.fake.add_identity("helpdesk")
    assert idn.client.work_items.forward(item["id"], helpdesk["id"], "Ticket failed: please do it by hand")
    (forward,) = idn.fake.forwards(item["id"])
    assert (forward.to_owner_id, forward.comment, forward.send_notifications) == (
        helpdesk["id"],
        "Ticket failed: please do it by hand",
        True,
    )
    current = idn.client.work_items.get(item["id"])
    assert current.owner_id == helpdesk["id"]
    assert current.is_pending
    assert idn.client.work_items.list(owner_id=helpdesk["id"]).items == (current,)
    # Again (a retry after a crash): nothing is sent.
    assert not idn.client.work_items.forward(item["id"], helpdesk["id"], "Ticket failed: please do it by hand")
    assert len(idn.fake.forwards(item["id"])) == 1
    assert idn.client.work_items.forward(item["id"], idn.fake.admin["id"], "back", send_notifications=False)
    assert json.loads(idn.api_requests("POST")[-1].body)["sendNotifications"] is False


def test_forward_of_a_closed_item_is_refused(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    item = mounted.fake.add_manual_work_item(source["id"], "Create", "amos")
    mounted.client.work_items.complete(item["id"])
    with pytest.raises(BadRequestError, match="not Pending"):
        mounted.client.work_items.forward(item["id"], mounted.fake.add_identity("x")["id"], "late")


def test_approve_and_reject(idn: Any) -> None:
    source = idn.fake.add_source("Badge")
    one = idn.fake.add_manual_work_item(source["id"], "Modify", "amos", [("groups", "Add", ["A", "B"])])
    first, second = (a["id"] for a in one["approvalItems"])
    after_first = idn.client.work_items.approve(one["id"], first)
    assert after_first.is_pending
    after_second = idn.client.work_items.reject(one["id"], second)
    assert after_second.state == WorkItemState.REJECTED
    assert [a.state for a in after_second.approval_items] == ["Finished", "Rejected"]

    two = idn.fake.add_manual_work_item(source["id"], "Modify", "bob", [("groups", "Add", "A")])
    assert idn.client.work_items.approve_all(two["id"]).state == WorkItemState.FINISHED
    three = idn.fake.add_manual_work_item(source["id"], "Modify", "carl", [("groups", "Add", "A")])
    assert idn.client.work_items.reject_all(three["id"]).state == WorkItemState.REJECTED


def test_counts_summary_and_completed_lists(idn: Any) -> None:
    source = idn.fake.add_source("Badge")
    items = [idn.fake.add_manual_work_item(source["id"], "Create", f"user{n}") for n in range(4)]
    idn.client.work_items.complete(items[0]["id"])
    idn.client.work_items.complete(items[1]["id"])
    assert idn.client.work_items.count() == 2
    assert idn.client.work_items.count(completed=True) == 2
    summary = idn.client.work_items.summary()
    assert (summary.open, summary.completed, summary.total) == (2, 2, 4)
    assert {w.id for w in idn.client.work_items.iter_completed(page_size=1)} == {items[0]["id"], items[1]["id"]}
    page = idn.client.work_items.list_completed(limit=1, count=True)
    assert (len(page.items), page.total) == (1, 2)
    stranger = idn.fake.add_identity("stranger")
    assert idn.client.work_items.count(owner_id=stranger["id"]) == 0
