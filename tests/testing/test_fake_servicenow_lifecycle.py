"""FakeServiceNow's ticket lifecycle: business rules on writes, roll-ups, lifecycle helpers and the work policy."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeServiceNow, mount

# WorkPolicy is re-exported from sim_servicenow.testing once the package's __init__ lists it.
from sim_servicenow.testing._servicenow import Outcome, WorkPolicy

BASE = "https://acme.service-now.test"
TABLE = f"{BASE}/api/now/table"
CATALOG = f"{BASE}/api/sn_sc/servicecatalog"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeServiceNow:
    return FakeServiceNow(seed=5, clock=clock)


@pytest.fixture
def sn(fake: FakeServiceNow) -> requests.Session:
    session = mount(requests.Session(), BASE, fake)
    session.auth = ("admin", "admin")
    return session


@pytest.fixture
def item(fake: FakeServiceNow) -> str:
    return fake.add_catalog_item("Access", ["account"])


def order(sn: requests.Session, item: str, **extra: Any) -> dict[str, Any]:
    response = sn.post(f"{CATALOG}/items/{item}/order_now", json={"sysparm_quantity": 1, **extra})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def fields(fake: FakeServiceNow, table: str, ref: str, *names: str) -> tuple[str, ...]:
    record = fake.get(table, ref)
    assert record is not None
    return tuple(record[name] for name in names)


def items_of(fake: FakeServiceNow, request_id: str) -> list[dict[str, str]]:
    return [r for r in fake.records("sc_req_item") if r["request"] == request_id]


# -- business rules on Table API writes -----------------------------------------------------------


def test_closing_state_makes_a_task_inactive(sn: requests.Session, clock: Clock) -> None:
    created = sn.post(f"{TABLE}/change_request", json={"short_description": "patch"}).json()["result"]
    assert (created["state"], created["active"]) == ("-5", "true")
    clock.advance(60)
    closed = sn.patch(f"{TABLE}/change_request/{created['sys_id']}", json={"state": "3"}).json()["result"]
    assert (closed["active"], closed["closed_at"], closed["closed_by"]["value"]) == (
        "false",
        "2023-11-14 22:14:20",
        FakeServiceNow.ADMIN_SYS_ID,
    )
    reopened = sn.patch(f"{TABLE}/change_request/{created['sys_id']}", json={"state": "-1"}).json()["result"]
    assert reopened["active"] == "true"


def test_incident_state_and_incident_state_follow_each_other(sn: requests.Session) -> None:
    created = sn.post(f"{TABLE}/incident", json={"incident_state": "2"}).json()["result"]
    assert (created["state"], created["incident_state"]) == ("2", "2")
    resolved = sn.patch(f"{TABLE}/incident/{created['sys_id']}", json={"state": "6"}).json()["result"]
    assert (resolved["incident_state"], resolved["active"]) == ("6", "true")
    assert resolved["resolved_at"] != ""
    closed = sn.patch(f"{TABLE}/incident/{created['sys_id']}", json={"incident_state": "7"}).json()["result"]
    assert (closed["state"], closed["active"]) == ("7", "false")


def test_closing_the_last_item_closes_the_request(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    ritm = items_of(fake, request["request_id"])[0]
    sn.patch(f"{TABLE}/sc_req_item/{ritm['sys_id']}", json={"state": "3"})
    assert fields(fake, "sc_req_item", ritm["sys_id"], "state", "stage", "active") == ("3", "complete", "false")
    assert fields(fake, "sc_request", request["request_id"], "request_state", "state", "active", "stage") == (
        "closed_complete",
        "3",
        "false",
        "closed_complete",
    )


def test_request_waits_for_all_its_items(fake: FakeServiceNow, sn: requests.Session) -> None:
    first, second = fake.add_catalog_item("A"), fake.add_catalog_item("B")
    for catalog_item in (first, second):
        sn.post(f"{CATALOG}/items/{catalog_item}/add_to_cart", json={"sysparm_quantity": 1})
    request = sn.post(f"{CATALOG}/cart/submit_order").json()["result"]
    ritm_a, ritm_b = items_of(fake, request["request_id"])
    fake.close(ritm_a["number"], "complete")
    assert fields(fake, "sc_request", request["request_id"], "active") == ("true",)
    fake.close(ritm_b["number"], "incomplete")
    assert fields(fake, "sc_request", request["request_id"], "request_state", "state") == ("closed_incomplete", "4")


def test_writing_request_state_closes_the_request(fake: FakeServiceNow, sn: requests.Session) -> None:
    request = sn.post(f"{TABLE}/sc_request", json={"short_description": "manual"}).json()["result"]
    assert (request["request_state"], request["approval"], request["stage"]) == ("requested", "requested", "requested")
    closed = sn.patch(f"{TABLE}/sc_request/{request['sys_id']}", json={"request_state": "closed_skipped"}).json()
    assert (closed["result"]["state"], closed["result"]["active"]) == ("7", "false")
    other = sn.post(f"{TABLE}/sc_request", json={}).json()["result"]
    by_state = sn.patch(f"{TABLE}/sc_request/{other['sys_id']}", json={"state": "4"}).json()["result"]
    assert (by_state["request_state"], by_state["active"]) == ("closed_incomplete", "false")
    reopened = sn.patch(f"{TABLE}/sc_request/{other['sys_id']}", json={"request_state": "in_process"}).json()["result"]
    assert (reopened["state"], reopened["active"]) == ("1", "true")


def test_cancelling_a_request_cancels_its_open_items(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    sn.patch(f"{TABLE}/sc_request/{request['request_id']}", json={"request_state": "closed_cancelled"})
    ritm = items_of(fake, request["request_id"])[0]
    assert (ritm["state"], ritm["stage"], ritm["active"]) == ("4", "Request Cancelled", "false")


def test_catalog_tasks_roll_up_to_their_item(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    ritm = items_of(fake, request["request_id"])[0]
    tasks = [
        fake.insert("sc_task", request=request["request_id"], request_item=ritm["sys_id"], short_description=name)
        for name in ("create account", "notify")
    ]
    sn.patch(f"{TABLE}/sc_task/{tasks[0]['sys_id']}", json={"state": "3"})
    assert fields(fake, "sc_req_item", ritm["sys_id"], "active") == ("true",)
    sn.patch(f"{TABLE}/sc_task/{tasks[1]['sys_id']}", json={"state": "7"})
    assert fields(fake, "sc_req_item", ritm["sys_id"], "state", "active") == ("3", "false")
    assert fields(fake, "sc_request", request["request_id"], "request_state") == ("closed_complete",)


# -- lifecycle helpers ----------------------------------------------------------------------------


def test_approve_moves_request_and_items_to_fulfilment(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    approved = fake.approve(request["number"])
    assert (approved["approval"], approved["request_state"], approved["stage"]) == (
        "approved",
        "in_process",
        "fulfillment",
    )
    ritm = items_of(fake, request["request_id"])[0]
    assert (ritm["approval"], ritm["stage"], ritm["state"]) == ("approved", "fulfillment", "1")


def test_approving_an_item_approves_its_request(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    ritm = items_of(fake, request["request_id"])[0]
    fake.approve(ritm["number"])
    assert fields(fake, "sc_request", request["request_id"], "approval", "request_state") == ("approved", "in_process")


def test_start_then_close_with_each_outcome(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    expected: dict[Outcome, tuple[str, str, str]] = {
        "complete": ("3", "complete", "closed_complete"),
        "incomplete": ("4", "complete", "closed_incomplete"),
        "cancelled": ("4", "Request Cancelled", "closed_cancelled"),
        "rejected": ("4", "Request Cancelled", "closed_rejected"),
        "skipped": ("7", "complete", "closed_skipped"),
    }
    for outcome, (state, stage, request_state) in expected.items():
        request = order(sn, item)
        ritm = items_of(fake, request["request_id"])[0]
        started = fake.start(ritm["number"])
        assert (started["state"], started["approval"]) == ("2", "approved")
        closed = fake.close(ritm["number"], outcome, close_notes=f"{outcome} by the fake")
        assert (closed["state"], closed["stage"], closed["active"], closed["close_notes"]) == (
            state,
            stage,
            "false",
            f"{outcome} by the fake",
        )
        parent = fake.get("sc_request", request["request_id"])
        assert parent is not None
        assert (parent["request_state"], parent["active"]) == (request_state, "false")
        if outcome == "rejected":
            assert (closed["approval"], parent["approval"]) == ("rejected", "rejected")


def test_reject_a_request(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    rejected = fake.reject(request["number"])
    assert (rejected["request_state"], rejected["approval"], rejected["active"]) == (
        "closed_rejected",
        "rejected",
        "false",
    )


def test_closing_a_request_without_items(fake: FakeServiceNow) -> None:
    request = fake.insert("sc_request", short_description="table ticket")
    closed = fake.close(request["number"], "cancelled")
    assert (closed["request_state"], closed["state"], closed["active"]) == ("closed_cancelled", "4", "false")
    with pytest.raises(ValueError, match="already closed"):
        fake.close(request["number"])


def test_incident_and_change_outcomes(fake: FakeServiceNow) -> None:
    incident = fake.insert("incident")
    assert fake.close(incident["number"])["state"] == "7"
    assert fake.close(fake.insert("incident")["number"], "rejected")["state"] == "8"
    change = fake.insert("change_request")
    closed = fake.close(change["number"], "incomplete")
    assert (closed["state"], closed["close_code"]) == ("3", "unsuccessful")
    assert fake.close(fake.insert("change_request")["number"], "cancelled")["state"] == "4"


def test_advance_walks_the_happy_path(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    request = order(sn, item)
    ritm = items_of(fake, request["request_id"])[0]["number"]
    steps = [fake.advance(ritm) for _ in range(3)]
    assert [(s["approval"], s["state"], s["stage"]) for s in steps] == [
        ("approved", "1", "fulfillment"),
        ("approved", "2", "fulfillment"),
        ("approved", "3", "complete"),
    ]
    incident = fake.insert("incident")["number"]
    assert [fake.advance(incident)["state"] for _ in range(3)] == ["2", "6", "7"]
    change = fake.insert("change_request")["number"]
    assert [fake.advance(change)["state"] for _ in range(6)] == ["-4", "-3", "-2", "-1", "0", "3"]


def test_unknown_tickets_and_outcomes(fake: FakeServiceNow) -> None:
    with pytest.raises(LookupError, match="REQ9999999"):
        fake.close("REQ9999999")
    with pytest.raises(ValueError, match="outcome"):
        fake.close(fake.insert("incident")["number"], "exploded")  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="not a requested item"):
        fake.variables(fake.insert("incident")["number"])


# -- the work policy ------------------------------------------------------------------------------


def test_policy_closes_tickets_after_the_delay(
    clock: Clock, item: str, fake: FakeServiceNow, sn: requests.Session
) -> None:
    fake.work_policy = WorkPolicy(close_after=30, start_after=10)
    request = order(sn, item)
    incident = sn.post(f"{TABLE}/incident", json={}).json()["result"]
    clock.advance(9)
    assert fake.tick() == 0
    clock.advance(1)
    assert fake.tick() == 2  # the item (approving its request) and the incident start
    ritm = items_of(fake, request["request_id"])[0]
    assert (ritm["approval"], ritm["state"]) == ("approved", "2")
    assert fields(fake, "incident", incident["sys_id"], "state") == ("2",)
    clock.advance(20)
    # Evaluated lazily on the next request, whatever it is.
    response = sn.get(f"{TABLE}/sc_request/{request['request_id']}", params={"sysparm_fields": "request_state,active"})
    assert response.json()["result"] == {"request_state": "closed_complete", "active": "false"}
    assert fields(fake, "incident", incident["sys_id"], "state", "active") == ("7", "false")


def test_policy_outcome_mix_is_seeded() -> None:
    def run() -> Counter[str]:
        clock = Clock()
        fake = FakeServiceNow(
            clock=clock,
            seed=1,
            work_policy=WorkPolicy(close_after=5, outcomes={"complete": 6, "rejected": 3, "skipped": 1}, seed=42),
        )
        for _ in range(200):
            fake.insert("incident")
        clock.advance(5)
        fake.tick()
        return Counter(r["state"] for r in fake.records("incident"))

    first, second = run(), run()
    assert first == second
    assert set(first) == {"7", "8"}
    assert 40 <= first["8"] <= 80  # about 3 in 10 rejected


def test_policy_set_later_schedules_open_tickets(fake: FakeServiceNow, clock: Clock) -> None:
    open_one = fake.insert("incident")
    closed_one = fake.insert("incident", state="7")
    clock.advance(100)
    fake.work_policy = WorkPolicy(close_after=50, tables=("incident",))
    assert fake.tick() == 1
    assert fields(fake, "incident", open_one["sys_id"], "active") == ("false",)
    assert fields(fake, "incident", closed_one["sys_id"], "closed_at") == (closed_one["closed_at"],)
    fake.work_policy = None
    fake.insert("incident")
    clock.advance(1000)
    assert fake.tick() == 0


def test_policy_leaves_tables_it_does_not_work(fake: FakeServiceNow, clock: Clock) -> None:
    fake.work_policy = WorkPolicy(close_after=1, tables=("incident",))
    change = fake.insert("change_request")
    clock.advance(10)
    fake.tick()
    assert fields(fake, "change_request", change["sys_id"], "active") == ("true",)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="unknown outcomes"):
        WorkPolicy(outcomes={"exploded": 1})
    with pytest.raises(ValueError, match="not all zero"):
        WorkPolicy(outcomes={"complete": 0})
    with pytest.raises(ValueError, match="start_after"):
        WorkPolicy(close_after=5, start_after=10)
    with pytest.raises(ValueError, match="close_after"):
        WorkPolicy(close_after=-1)
    assert WorkPolicy(outcomes={"skipped": 1}).outcome_for("INC0010001") == "skipped"


def test_reset_restores_the_constructor_policy(clock: Clock) -> None:
    fake = FakeServiceNow(clock=clock, work_policy=WorkPolicy(close_after=1, tables=("incident",)))
    fake.work_policy = None
    fake.reset()
    incident = fake.insert("incident")
    clock.advance(2)
    fake.tick()
    assert fields(fake, "incident", incident["sys_id"], "active") == ("false",)
