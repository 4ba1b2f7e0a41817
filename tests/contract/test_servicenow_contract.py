"""FakeServiceNow against ServiceNow's own documentation: envelopes, headers and sample responses.

The samples are read from ServiceNow's API pages in ``shared/specs/servicenow-docs`` (Table, Service
Catalog, Batch, OAuth, rate limiting, response codes). Values that depend on an instance (sys_ids, dates,
numbers) are compared by shape, the rest by value.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeServiceNow, mount


def _docs_dir() -> Path | None:
    configured = os.environ.get("SIM_SERVICENOW_SPECS")
    if configured:
        return Path(configured) / "servicenow-docs"
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "specs" / "servicenow-docs"
        if candidate.is_dir():
            return candidate
    return None


DOCS = _docs_dir()


def read_page(name: str) -> str:
    assert DOCS is not None
    return (DOCS / name).read_text(encoding="utf-8")


pytestmark = pytest.mark.skipif(DOCS is None, reason="ServiceNow's API pages (shared/specs/servicenow-docs) not found")

BASE = "https://instance.servicenow.com"  # the host of the documentation's samples
TABLE = f"{BASE}/api/now/table"
CATALOG = f"{BASE}/api/sn_sc/servicecatalog"


def section(page: str, heading: str) -> str:
    """The text of the ``## `` section of a docs page whose heading contains ``heading``."""
    text = read_page(page)
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    matches = [p for p in parts if p.splitlines()[0].replace("\\", "").find(heading) >= 0]
    assert matches, f"no section {heading!r} in {page}"
    return matches[0]


def samples(page: str, heading: str = "") -> list[Any]:
    """The JSON code blocks of a section (trailing commas, a doc typo, removed)."""
    text = section(page, heading) if heading else read_page(page)
    found = []
    for block in re.findall(r"```\s*\n(.*?)```", text, flags=re.DOTALL):
        stripped = block.strip()
        if not stripped.startswith("{"):
            continue
        cleaned = re.sub(r",(\s*[\]}])", r"\1", stripped)
        # The Batch page wraps long base64 strings over several lines.
        for candidate in (cleaned, re.sub(r"\n\s*", "", cleaned)):
            try:
                found.append(json.loads(candidate))
                break
            except json.JSONDecodeError:
                continue
    assert found, f"no JSON sample in {page} {heading!r}"
    return found


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(seed=1)


@pytest.fixture
def sn(fake: FakeServiceNow) -> requests.Session:
    session = mount(requests.Session(), BASE, fake)
    session.auth = ("admin", "admin")
    session.headers.update({"Accept": "application/json"})
    return session


def assert_table_value_shapes(record: dict[str, Any]) -> None:
    """Every value a string, or a reference ``{"link", "value"}`` whose link names the referenced record."""
    for name, value in record.items():
        if isinstance(value, dict):
            assert set(value) == {"link", "value"}, name
            assert re.fullmatch(rf"{BASE}/api/now/table/\w+/{re.escape(value['value'])}", value["link"]), name
        else:
            assert isinstance(value, str), name


# -- Table API ------------------------------------------------------------------------------------


def test_list_sample_shapes_match(fake: FakeServiceNow, sn: requests.Session) -> None:
    (sample,) = samples("c_TableAPI.md", "Table - GET /now/table/{tableName}")
    assert set(sample) == {"result"}
    assert_table_value_shapes(sample["result"][0])
    fake.insert("incident", caller_id=fake.add_user("beth.anglin"))
    response = sn.get(f"{TABLE}/incident", params={"sysparm_limit": "1"})
    body = response.json()
    assert set(body) == {"result"}
    assert_table_value_shapes(body["result"][0])
    assert response.headers["X-Total-Count"] == "1"


def test_record_fields_match_the_incident_sample(fake: FakeServiceNow, sn: requests.Session) -> None:
    (sample,) = samples("c_TableAPI.md", "Table - GET /now/table/{tableName}/{sys_id}")
    ours = sn.get(f"{TABLE}/incident/{fake.insert('incident')['sys_id']}").json()["result"]
    assert set(sample["result"]) <= set(ours)
    assert set(ours) - set(sample["result"]) <= {"hold_reason", "rejection_goto"}  # newer base-system fields


def test_insert_matches_the_post_sample(fake: FakeServiceNow, sn: requests.Session) -> None:
    (sample,) = samples("c_TableAPI.md", "Table - POST /now/table/{tableName}")
    expected = sample["result"]
    group = expected["assignment_group"]["value"]
    fake.add_group("Service Desk", sys_id=group)
    # The sample's request body (its curl --data).
    body = {
        "short_description": "Unable to connect to office wifi",
        "assignment_group": group,
        "urgency": "2",
        "impact": "2",
    }
    response = sn.post(f"{TABLE}/incident", json=body)
    assert response.status_code == 201
    assert response.headers["Location"] == f"{TABLE}/incident/{response.json()['result']['sys_id']}"
    ours = response.json()["result"]
    instance_specific = {"sys_id", "number", "sys_created_on", "sys_updated_on", "opened_at", "contact_type"}
    for name, value in expected.items():
        if name in instance_specific:
            continue
        assert ours[name] == value, name
    assert re.fullmatch(r"INC\d{7}", ours["number"])
    for stamp in ("sys_created_on", "sys_updated_on", "opened_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", ours[stamp])


def test_patch_matches_the_patch_sample(fake: FakeServiceNow, sn: requests.Session) -> None:
    (sample,) = samples("c_TableAPI.md", "Table - PATCH /now/table/{tableName}/{sys_id}")
    expected = sample["result"]
    assignee = expected["assigned_to"]["value"]
    fake.add_user("fred.luddy", sys_id=assignee)
    record = fake.insert("incident", impact="1", urgency="3", state="2")
    before = int(record["sys_mod_count"])
    # The sample's request body.
    body = {"assigned_to": assignee, "urgency": "1", "comments": "Elevating urgency, this is a blocking issue"}
    ours = sn.patch(f"{TABLE}/incident/{record['sys_id']}", json=body).json()["result"]
    for name in ("urgency", "priority", "comments", "assigned_to", "incident_state", "state", "active"):
        assert ours[name] == expected[name], name
    assert int(ours["sys_mod_count"]) == before + 1


def test_delete_matches_the_documented_answer(fake: FakeServiceNow, sn: requests.Session) -> None:
    assert "|204|" in section("c_TableAPI.md", "Table - DELETE")
    response = sn.delete(f"{TABLE}/incident/{fake.insert('incident')['sys_id']}")
    assert (response.status_code, response.content) == (204, b"")


def test_link_header_has_the_documented_form(fake: FakeServiceNow, sn: requests.Session) -> None:
    documented = section("c_TableAPI.md", "Table - GET /now/table/{tableName}")
    rels = set(re.findall(r';rel="(\w+)"', documented))
    assert rels == {"next", "prev", "first", "last"}
    for _ in range(5):
        fake.insert("incident")
    link = sn.get(f"{TABLE}/incident", params={"sysparm_limit": "2", "sysparm_offset": "2"}).headers["Link"]
    parts = link.split(",")
    for part in parts:
        assert re.fullmatch(
            rf'<{TABLE}/incident\?[^>]*sysparm_offset=\d+&sysparm_limit=2>;rel="(first|prev|next|last)"', part
        )
    assert {re.search(r'rel="(\w+)"', p).group(1) for p in parts} == rels  # type: ignore[union-attr]


def test_error_envelopes(fake: FakeServiceNow, sn: requests.Session) -> None:
    documented = section("c_TableAPI.md", "Table - GET /now/table/{tableName}/{sys_id}")
    assert "|404|" in documented
    not_found = sn.get(f"{TABLE}/incident/{'0' * 32}")
    invalid = sn.get(f"{TABLE}/no_such_table")
    anonymous = mount(requests.Session(), BASE, fake)
    unauthenticated = anonymous.get(f"{TABLE}/incident")
    for response, status in ((not_found, 404), (invalid, 400), (unauthenticated, 401)):
        assert response.status_code == status
        body = response.json()
        assert set(body) == {"error", "status"}
        assert body["status"] == "failure"
        assert set(body["error"]) == {"message", "detail"}
        assert response.headers["Content-Type"] == "application/json;charset=UTF-8"


def test_status_codes_are_the_documented_ones(fake: FakeServiceNow, sn: requests.Session) -> None:
    documented = {int(code) for code in re.findall(r"^\|(\d{3})\|", read_page("r_RESTAPIHTTPResponseCodes.md"), re.M)}
    record = fake.insert("incident")
    answers = [
        sn.get(f"{TABLE}/incident").status_code,
        sn.post(f"{TABLE}/incident", json={}).status_code,
        sn.delete(f"{TABLE}/incident/{record['sys_id']}").status_code,
        sn.get(f"{BASE}/api/now/not_an_api").status_code,
        sn.post(f"{TABLE}/incident/{'0' * 32}", json={}).status_code,
        sn.get(f"{TABLE}/incident", headers={"Accept": "application/xml"}).status_code,
        sn.post(f"{TABLE}/incident", data="<x/>", headers={"Content-Type": "application/xml"}).status_code,
    ]
    assert answers == [200, 201, 204, 400, 405, 406, 415]
    assert set(answers) <= documented


def test_rate_limit_answer_is_the_documented_one(fake: FakeServiceNow, sn: requests.Session) -> None:
    (sample,) = samples("inbound-REST-API-rate-limiting.md")
    documented = read_page("inbound-REST-API-rate-limiting.md")
    fake.faults.add("rate_limit", retry_after=30, times=1)
    response = sn.get(f"{TABLE}/incident")
    assert "429 Too Many Requests" in documented
    assert response.status_code == 429
    assert response.json() == sample
    for header in ("X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Rule", "Retry-After"):
        assert header in documented
        assert response.headers[header]


# -- OAuth ----------------------------------------------------------------------------------------


def test_token_answer_matches_the_documented_one(sn: requests.Session) -> None:
    (sample,) = samples("r_OAuthAPIResponseParameters.md")
    client_id, secret = next(iter(FakeServiceNow.DEFAULT_OAUTH_CLIENTS.items()))
    # The documented request: form-encoded, grant_type=password with client and user credentials.
    form = {
        "grant_type": "password",
        "client_id": client_id,
        "client_secret": secret,
        "username": "admin",
        "password": "admin",
    }
    ours = sn.post(f"{BASE}/oauth_token.do", data=form).json()
    assert set(ours) == set(sample)
    assert (ours["scope"], ours["token_type"], ours["expires_in"]) == (
        sample["scope"],
        sample["token_type"],
        sample["expires_in"],
    )


# -- Service Catalog ------------------------------------------------------------------------------


@pytest.fixture
def item(fake: FakeServiceNow) -> str:
    return fake.add_catalog_item("Apple iPhone 5", [{"name": "acrobat", "type": "check_box"}], price=799.99)


def test_order_now_answer(sn: requests.Session, item: str) -> None:
    (sample,) = samples(
        "c_ServiceCatalogAPI.md", "Service Catalog - POST /sn_sc/servicecatalog/items/{sys_id}/order_now"
    )
    ours = sn.post(f"{CATALOG}/items/{item}/order_now", json={"sysparm_quantity": 1, "variables": {"acrobat": "true"}})
    assert ours.status_code == 200
    assert set(ours.json()["result"]) == set(sample["result"])
    assert ours.json()["result"]["table"] == sample["result"]["table"]


def test_add_to_cart_and_submit_order_answers(sn: requests.Session, item: str) -> None:
    (added_sample,) = samples(
        "c_ServiceCatalogAPI.md", "Service Catalog - POST /sn_sc/servicecatalog/items/{sys_id}/add_to_cart"
    )
    added = sn.post(
        f"{CATALOG}/items/{item}/add_to_cart", json={"sysparm_quantity": "1", "variables": {"acrobat": "true"}}
    )
    result = added.json()["result"]
    assert set(result) == set(added_sample["result"])
    assert set(result["items"][0]) == set(added_sample["result"]["items"][0])
    assert result["items"][0]["price"] == "$799.99"

    (cart_sample,) = samples("c_ServiceCatalogAPI.md", "Service Catalog - GET /sn_sc/servicecatalog/cart")
    cart = sn.get(f"{CATALOG}/cart").json()["result"]
    assert set(cart) == set(cart_sample["result"])
    assert set(cart["none"]) == set(cart_sample["result"]["none"])
    assert set(cart["none"]["items"][0]) >= set(cart_sample["result"]["none"]["items"][0])

    (submitted_sample,) = samples(
        "c_ServiceCatalogAPI.md", "Service Catalog - POST /sn_sc/servicecatalog/cart/submit_order"
    )
    submitted = sn.post(f"{CATALOG}/cart/submit_order").json()["result"]
    assert set(submitted) == set(submitted_sample["result"])


def test_catalog_item_answer(sn: requests.Session, item: str) -> None:
    (sample,) = samples("c_ServiceCatalogAPI.md", "Service Catalog - GET /sn_sc/servicecatalog/items/{sys_id}")
    ours = sn.get(f"{CATALOG}/items/{item}").json()["result"]
    assert set(sample["result"]) - set(ours) == {"category"}  # the fake's items have no category
    documented_variables = [
        variable
        for block in samples("c_ServiceCatalogAPI.md")
        for variable in _variables(block)
        if variable.get("friendly_type") in ("check_box", "multi_line_text", "single_line_text")
    ]
    assert documented_variables
    (variable,) = ours["variables"]
    for documented in documented_variables:
        assert set(documented) - {"pricing_implications"} <= set(variable)
    assert (variable["type"], variable["friendly_type"], variable["display_type"], variable["value"]) == (
        7,
        "check_box",
        "CheckBox",
        False,
    )


def _variables(block: Any) -> list[dict[str, Any]]:
    """Every variable object in a documentation sample, containers' children included."""
    found: list[dict[str, Any]] = []
    if isinstance(block, dict):
        if "friendly_type" in block:
            found.append(block)
        for value in block.values():
            found += _variables(value)
    elif isinstance(block, list):
        for value in block:
            found += _variables(value)
    return found


# -- Batch ----------------------------------------------------------------------------------------


def test_batch_answer_matches_the_sample(fake: FakeServiceNow, sn: requests.Session) -> None:
    request_sample = section("batch-api.md", "Batch - POST /now/batch")
    assert '"unserviced_requests"' in request_sample
    (sample,) = samples("batch-api.md", "Batch - POST /now/batch")
    fake.insert("incident")
    body: dict[str, Any] = {
        "batch_request_id": "1",
        "rest_requests": [
            {
                "id": "12",
                "exclude_response_headers": True,
                "headers": [{"name": "Accept", "value": "application/json"}],
                "url": "/api/now/table/incident?sysparm_limit=1",
                "method": "GET",
            }
        ],
    }
    ours = sn.post(f"{BASE}/api/now/v1/batch", json=body).json()
    assert set(ours) == set(sample)
    assert set(ours["serviced_requests"][0]) == set(sample["serviced_requests"][1])
    assert ours["batch_request_id"] == sample["batch_request_id"]
