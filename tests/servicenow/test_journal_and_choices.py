"""Journal entries (comments, work notes) and choice lists, against FakeServiceNow."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
import requests

from sim_servicenow.auth import BasicAuth
from sim_servicenow.errors import TransportError
from sim_servicenow.servicenow import DEFAULT_CHOICES, Choice, InvalidInputError, ServiceNowClient
from sim_servicenow.testing import FakeServiceNow, mount


@pytest.fixture
def ritm(client: ServiceNowClient, fake: FakeServiceNow) -> str:
    item = fake.add_catalog_item("Badge", ["building"])
    return client.catalog.order_now(item, {"building": "HQ"}).items[0].sys_id


def test_comments_and_work_notes_are_appended_and_read_back_oldest_first() -> None:
    ticks = itertools.count(1_767_225_600)  # every look at the clock is a second later
    fake = FakeServiceNow(clock=lambda: float(next(ticks)))
    ritm = fake.insert("sc_req_item", short_description="Badge")["sys_id"]
    with requests.Session() as session:
        mount(session, "https://fake-sn.test", fake)
        client = ServiceNowClient("https://fake-sn.test", BasicAuth("admin", "admin"), session=session)
        client.journal.add_comment("sc_req_item", ritm, "Your badge is ready.")
        client.journal.add_work_note("sc_req_item", ritm, "Printed on printer 3.")
        client.journal.add_comment("sc_req_item", ritm, "Collect it at reception.")
        history = client.journal.history("sc_req_item", ritm)
        notes = client.journal.history("sc_req_item", ritm, fields=["work_notes"])
    patches = fake.requests.filter("PATCH", f"/api/now/table/sc_req_item/{ritm}")
    assert [json.loads(p.body) for p in patches] == [
        {"comments": "Your badge is ready."},
        {"work_notes": "Printed on printer 3."},
        {"comments": "Collect it at reception."},
    ]
    assert [(e.field, e.text, e.customer_visible) for e in history] == [
        ("comments", "Your badge is ready.", True),
        ("work_notes", "Printed on printer 3.", False),
        ("comments", "Collect it at reception.", True),
    ]
    assert all(e.record_sys_id == ritm and e.table == "sc_req_item" and e.created_by == "admin" for e in history)
    assert all(e.created_on is not None and e.created_on.tzinfo is dt.timezone.utc for e in history)
    assert [e.text for e in notes] == ["Printed on printer 3."]


def test_history_is_per_record_and_table(client: ServiceNowClient, fake: FakeServiceNow, ritm: str) -> None:
    other = fake.insert("incident", short_description="x")["sys_id"]
    client.journal.add_work_note("incident", other, "Not the badge.")
    client.journal.add_work_note("sc_req_item", ritm, "The badge.")
    assert [e.text for e in client.journal.history("sc_req_item", ritm)] == ["The badge."]
    assert [e.text for e in client.journal.history("incident", other)] == ["Not the badge."]


def test_journal_writes_are_not_repeated(client: ServiceNowClient, fake: FakeServiceNow, ritm: str) -> None:
    fake.faults.add("drop", after=True, times=1, method="PATCH")
    with pytest.raises(TransportError):
        client.journal.add_comment("sc_req_item", ritm, "Exactly once.")
    assert [e["value"] for e in fake.journal(ritm, "comments")] == ["Exactly once."]


def test_empty_entries_are_refused(client: ServiceNowClient, fake: FakeServiceNow, ritm: str) -> None:
    with pytest.raises(InvalidInputError, match="needs some text"):
        client.journal.add_work_note("sc_req_item", ritm, "   ")
    assert fake.requests.count("PATCH") == 0


def test_choices_are_read_live_in_display_order(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    states = client.choices("incident", "state")
    assert [(c.value, c.label) for c in states] == [
        ("1", "New"),
        ("2", "In Progress"),
        ("3", "On Hold"),
        ("6", "Resolved"),
        ("7", "Closed"),
        ("8", "Canceled"),
    ]
    sent = fake.requests.filter("GET", "/api/now/table/sys_choice")[0].query["sysparm_query"][0]
    assert sent == "name=incident^element=state^language=en^inactive=false^ORDERBYsequence^ORDERBYvalue^ORDERBYsys_id"


def test_instance_customisations_win_over_the_defaults(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    fake.insert("sys_choice", name="incident", element="state", value="9", label="Awaiting Vendor", sequence="25")
    retired = fake.insert("sys_choice", name="incident", element="state", value="5", label="Old", sequence="99")
    fake.update("sys_choice", retired["sys_id"], inactive="true")
    values = [c.value for c in client.choices("incident", "state")]
    assert "9" in values
    assert "5" not in values
    with_inactive = client.choices("incident", "state", include_inactive=True)
    assert Choice("5", "Old", 99, inactive=True) in with_inactive


def test_defaults_fill_in_when_the_instance_has_no_choices(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    for row in fake.records("sys_choice"):
        if row["name"] == "sc_request" and row["element"] == "request_state":
            fake.delete("sys_choice", row["sys_id"])
    defaults = client.choices("sc_request", "request_state")
    assert defaults == DEFAULT_CHOICES[("sc_request", "request_state")]
    assert client.choices("sc_request", "request_state", defaults=False) == ()
    assert client.choices("sc_request", "no_such_field") == ()
