"""A state machine drives FakeIdentityNow's work items over HTTP and checks its invariants after every step.

Invariants: an item finishes at most once (one completion, ever); a final item refuses every further action with
400; lists, counts and the summary agree with each other and with the fake's own view; forwards move items
between owners' lists and are all recorded.
"""

from __future__ import annotations

from typing import Any

import requests
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sim_servicenow.testing import FakeIdentityNow, mount

BASE = "https://acme.api.identitynow.test"


class WorkItemMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeIdentityNow(seed=0)
        self.session = mount(requests.Session(), BASE, self.fake)
        self.session.headers["Authorization"] = f"Bearer {self.fake.issue_token()}"
        self.items: list[str] = []
        self.finished: set[str] = set()
        self.forwards: dict[str, int] = {}
        self.owners: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, BASE + path, timeout=5, **kwargs)

    @initialize()
    def seed(self) -> None:
        self.source = self.fake.add_source("Badge System")
        self.owners = [
            self.fake.admin["id"],
            self.fake.add_identity("helpdesk")["id"],
            self.fake.add_identity("ops")["id"],
        ]

    @rule(
        operation=st.sampled_from(["Create", "Modify", "Delete", "Enable", "Disable", "Unlock"]),
        values=st.lists(st.sampled_from(["A", "B", "C"]), max_size=3),
    )
    def add_item(self, operation: str, values: list[str]) -> None:
        attributes = [("groups", "Add", value) for value in values] or None
        item = self.fake.add_manual_work_item(self.source["id"], operation, "amos", attributes)
        self.items.append(item["id"])

    def pick(self, data: st.DataObject) -> str | None:
        return data.draw(st.sampled_from(self.items)) if self.items else None

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        item_id = self.pick(data)
        if item_id is None:
            return
        response = self.call("POST", f"/v3/work-items/{item_id}")
        if item_id in self.finished:
            assert response.status_code == 400
        else:
            assert response.status_code == 200
            assert response.json()["state"] == "Finished"
            self.finished.add(item_id)

    @rule(data=st.data(), owner=st.integers(min_value=0, max_value=2))
    def forward(self, data: st.DataObject, owner: int) -> None:
        item_id = self.pick(data)
        if item_id is None:
            return
        response = self.call(
            "POST", f"/work-items/v1/{item_id}/forward", json={"targetOwnerId": self.owners[owner], "comment": "moved"}
        )
        if item_id in self.finished:
            assert response.status_code == 400
        else:
            assert response.status_code == 200
            self.forwards[item_id] = self.forwards.get(item_id, 0) + 1

    @rule(data=st.data(), approve=st.booleans())
    def decide_one(self, data: st.DataObject, approve: bool) -> None:
        item_id = self.pick(data)
        if item_id is None:
            return
        approvals = self.fake.work_item(item_id)["approvalItems"]
        approval = data.draw(st.sampled_from(approvals))
        response = self.call("POST", f"/v3/work-items/{item_id}/{'approve' if approve else 'reject'}/{approval['id']}")
        if item_id in self.finished or approval["state"] is not None:
            assert response.status_code == 400
            return
        assert response.status_code == 200
        if response.json()["state"] != "Pending":
            self.finished.add(item_id)

    @rule(data=st.data(), approve=st.booleans())
    def decide_all(self, data: st.DataObject, approve: bool) -> None:
        item_id = self.pick(data)
        if item_id is None:
            return
        response = self.call("POST", f"/beta/work-items/{'bulk-approve' if approve else 'bulk-reject'}/{item_id}")
        if item_id in self.finished:
            assert response.status_code == 400
        else:
            assert response.status_code == 200
            self.finished.add(item_id)

    @invariant()
    def each_item_finishes_at_most_once(self) -> None:
        for item_id in self.items:
            completions = self.fake.completions(item_id)
            assert len(completions) == (1 if item_id in self.finished else 0)
            state = self.fake.work_item(item_id)["state"]
            assert (state != "Pending") == (item_id in self.finished)
            assert len(self.fake.forwards(item_id)) == self.forwards.get(item_id, 0)

    @invariant()
    def lists_counts_and_summary_agree(self) -> None:
        for owner in self.owners:
            query = {"ownerId": owner}
            pending = self.call("GET", "/v3/work-items", params=query).json()
            completed = self.call("GET", "/v3/work-items/completed", params=query).json()
            summary = self.call("GET", "/v3/work-items/summary", params=query).json()
            assert self.call("GET", "/v3/work-items/count", params=query).json() == {"count": len(pending)}
            assert summary == {
                "open": len(pending),
                "completed": len(completed),
                "total": len(pending) + len(completed),
            }
            assert all(item["ownerId"] == owner and item["state"] == "Pending" for item in pending)
            assert all(item["state"] != "Pending" for item in completed)
        everything = sum(len(self.call("GET", "/v3/work-items", params={"ownerId": o}).json()) for o in self.owners)
        assert everything == len(self.fake.work_items(state="Pending"))

    def teardown(self) -> None:
        self.session.close()


WorkItemMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
test_work_item_state_machine = WorkItemMachine.TestCase
