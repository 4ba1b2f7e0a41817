"""FakeServiceNow's Batch API: base64 bodies, per-item answers, headers, unserviced requests."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeServiceNow, mount

BASE = "https://acme.service-now.test"
BATCH = f"{BASE}/api/now/v1/batch"


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(seed=2)


@pytest.fixture
def sn(fake: FakeServiceNow) -> requests.Session:
    session = mount(requests.Session(), BASE, fake)
    session.auth = ("admin", "admin")
    return session


def item(item_id: str, method: str, url: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": item_id,
        "method": method,
        "url": url,
        "headers": [
            {"name": "Content-Type", "value": "application/json"},
            {"name": "Accept", "value": "application/json"},
        ],
        **extra,
    }
    if body is not None:
        entry["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return entry


def decoded(serviced: dict[str, Any]) -> Any:
    raw = base64.b64decode(serviced["body"])
    return json.loads(raw) if raw else None


def test_batch_services_each_request(fake: FakeServiceNow, sn: requests.Session) -> None:
    existing = fake.insert("incident", short_description="old")
    response = sn.post(
        BATCH,
        json={
            "batch_request_id": 7,
            "rest_requests": [
                item("11", "GET", "/api/now/table/incident?sysparm_limit=1&sysparm_fields=short_description"),
                item(
                    "12", "POST", "/api/now/table/incident", {"short_description": "new"}, exclude_response_headers=True
                ),
                item("13", "PATCH", f"/api/now/table/incident/{existing['sys_id']}", {"urgency": "1"}),
                item("14", "DELETE", f"/api/now/table/incident/{'0' * 32}"),
                item("15", "GET", "/api/now/table/u_missing"),
            ],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["batch_request_id"] == "7"
    assert body["unserviced_requests"] == []
    by_id = {entry["id"]: entry for entry in body["serviced_requests"]}
    assert [by_id[i]["status_code"] for i in ("11", "12", "13", "14", "15")] == [200, 201, 200, 404, 400]
    assert by_id["11"]["status_text"] == "OK"
    assert decoded(by_id["11"]) == {"result": [{"short_description": "old"}]}
    assert {"name": "X-Total-Count", "value": "1"} in by_id["11"]["headers"]
    assert by_id["12"]["headers"] == []
    assert decoded(by_id["12"])["result"]["short_description"] == "new"
    assert decoded(by_id["13"])["result"]["priority"] == "3"
    assert decoded(by_id["15"])["error"]["message"] == "Invalid table u_missing"
    assert all(isinstance(entry["execution_time"], int) for entry in body["serviced_requests"])
    assert [r["short_description"] for r in fake.records("incident")] == ["old", "new"]


def test_items_past_the_limit_are_unserviced() -> None:
    fake = FakeServiceNow(batch_item_limit=2)
    sn = mount(requests.Session(), BASE, fake)
    sn.auth = ("admin", "admin")
    requests_ = [item(str(n), "POST", "/api/now/table/incident", {"short_description": str(n)}) for n in range(4)]
    body = sn.post(BATCH, json={"batch_request_id": "b", "rest_requests": requests_}).json()
    assert [entry["id"] for entry in body["serviced_requests"]] == ["0", "1"]
    assert body["unserviced_requests"] == ["2", "3"]
    assert len(fake.records("incident")) == 2


def test_batch_needs_authentication_and_a_request_list(fake: FakeServiceNow, sn: requests.Session) -> None:
    anonymous = mount(requests.Session(), BASE, fake)
    assert anonymous.post(BATCH, json={"rest_requests": []}).status_code == 401
    assert sn.post(BATCH, json={"batch_request_id": "1"}).status_code == 400
    assert sn.post(BATCH, json={"rest_requests": [{"id": "1"}]}).status_code == 400
    assert sn.get(BATCH).status_code == 405
    nested = sn.post(BATCH, json={"rest_requests": [item("1", "POST", "/api/now/v1/batch", {"rest_requests": []})]})
    assert nested.json()["serviced_requests"][0]["status_code"] == 400
    garbled = {**item("2", "POST", "/api/now/table/incident"), "body": "not base64!"}
    answer = sn.post(BATCH, json={"rest_requests": [garbled]}).json()["serviced_requests"][0]
    assert (answer["status_code"], answer["error_message"]) == (400, "Bad Request")


def test_batch_items_act_as_the_caller(fake: FakeServiceNow) -> None:
    fake.add_user("itil", "pw")
    fake.deny("incident", ["create"], user="itil")
    itil = mount(requests.Session(), BASE, fake)
    itil.auth = ("itil", "pw")
    body = itil.post(BATCH, json={"rest_requests": [item("1", "POST", "/api/now/table/incident", {})]}).json()
    assert body["serviced_requests"][0]["status_code"] == 403
