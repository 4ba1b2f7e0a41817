"""ServiceNow's own Python client, pysnc, works against FakeServiceNow unchanged.

pysnc insists on ``https://``, so the fake is served over TLS on loopback with a throwaway CA. A difference
between what pysnc sees and what the fake holds is a fidelity bug in the fake.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sim_servicenow.testing import FakeServiceNow, ServedApp, serve

pytest.importorskip("pysnc")

from pysnc import ServiceNowClient
from pysnc.auth import ServiceNowClientCredentialsFlow, ServiceNowPasswordGrantFlow
from pysnc.exceptions import AuthenticationException, RequestException

CLIENT_ID, CLIENT_SECRET = "pysnc-client", "pysnc-secret"


@pytest.fixture(scope="module")
def fake() -> FakeServiceNow:
    return FakeServiceNow(
        seed=17, users={"admin": "admin", "svc.pysnc": "pysnc-pw"}, oauth_clients={CLIENT_ID: CLIENT_SECRET}
    )


@pytest.fixture(scope="module")
def served(fake: FakeServiceNow) -> Iterator[ServedApp]:
    with serve(fake, tls=True) as app:
        yield app


@pytest.fixture(autouse=True)
def fresh(fake: FakeServiceNow, served: ServedApp, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.reset()
    # requests lets REQUESTS_CA_BUNDLE override a session's verify= for pysnc's prepared requests, and
    # pysnc's client-credentials flow posts with plain requests.post: point both at the throwaway CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(served.ca_bundle))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def client(served: ServedApp) -> ServiceNowClient:
    return ServiceNowClient(served.url, ("svc.pysnc", "pysnc-pw"), verify=served.ca_bundle)


def seed_incidents(fake: FakeServiceNow, count: int) -> list[dict[str, str]]:
    return [
        fake.insert("incident", short_description=f"incident {n}", urgency=str(1 + n % 3), correlation_id=f"plan-{n}")
        for n in range(count)
    ]


def test_basic_auth_query_with_encoded_query_pages_through_every_record(
    fake: FakeServiceNow, client: ServiceNowClient
) -> None:
    seeded = seed_incidents(fake, 47)
    gr = client.GlideRecord("incident", batch_size=10)
    gr.add_encoded_query("urgency=1^ORurgency=3")
    gr.add_query("short_description", "STARTSWITH", "incident")
    gr.query()
    expected = {r["sys_id"] for r in seeded if r["urgency"] in ("1", "3")}
    assert len(gr) == len(expected) == 31
    seen = [record.sys_id.get_value() for record in gr]
    assert len(seen) == len(set(seen)) == 31
    assert set(seen) == expected
    assert seen == sorted(seen)  # pysnc orders by sys_id
    pages = fake.requests.filter("GET", "/api/now/table/incident")
    assert [p.query["sysparm_offset"] for p in pages] == [["0"], ["10"], ["20"], ["30"]]
    assert all(p.query["sysparm_suppress_pagination_header"] == ["true"] for p in pages)


def test_values_display_values_and_dot_walked_fields(fake: FakeServiceNow, client: ServiceNowClient) -> None:
    caller = fake.add_user("beth.anglin", name="Beth Anglin", email="beth@example.com")
    incident = fake.insert("incident", short_description="VPN down", caller_id=caller, state="2")
    gr = client.GlideRecord("incident")
    gr.fields = "number,state,caller_id,caller_id.email"
    gr.add_query("number", incident["number"])
    gr.query()
    assert gr.next()
    assert gr.state.get_value() == "2"
    assert gr.get_display_value("state") == "In Progress"
    assert gr.caller_id.get_value() == caller
    assert gr.caller_id.get_display_value() == "Beth Anglin"
    assert gr.caller_id.email == "beth@example.com"
    assert not gr.next()


def test_get_by_sys_id_and_by_field(fake: FakeServiceNow, client: ServiceNowClient) -> None:
    seeded = seed_incidents(fake, 3)
    gr = client.GlideRecord("incident")
    assert gr.get(seeded[1]["sys_id"])
    assert (gr.number, gr.short_description) == (seeded[1]["number"], "incident 1")
    assert not client.GlideRecord("incident").get("0" * 32)
    by_field = client.GlideRecord("incident")
    assert by_field.get("correlation_id", "plan-2")
    assert by_field.sys_id == seeded[2]["sys_id"]


def test_insert_update_delete(fake: FakeServiceNow, client: ServiceNowClient) -> None:
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "Created by pysnc"
    gr.urgency = 1
    gr.impact = 1
    sys_id = gr.insert()
    stored = fake.get("incident", str(sys_id))
    assert stored is not None
    assert (stored["short_description"], stored["priority"], stored["sys_created_by"]) == (
        "Created by pysnc",
        "1",
        "svc.pysnc",
    )
    assert gr.number == stored["number"]

    gr.short_description = "Updated by pysnc"
    gr.work_notes = "a note"
    assert gr.update() == sys_id
    updated = fake.get("incident", str(sys_id))
    assert updated is not None
    assert (updated["short_description"], updated["sys_mod_count"]) == ("Updated by pysnc", "1")
    patch = json.loads(fake.requests.filter("PATCH")[0].body)
    assert patch == {"short_description": "Updated by pysnc", "work_notes": "a note"}  # only the changes
    assert [e["value"] for e in fake.journal(str(sys_id), "work_notes")] == ["a note"]

    assert gr.delete() is True
    assert fake.get("incident", str(sys_id)) is None


def test_password_grant_login(fake: FakeServiceNow, served: ServedApp) -> None:
    pytest.importorskip("requests_oauthlib", reason="pysnc's password-grant flow needs pysnc[oauth]")
    seed_incidents(fake, 12)
    flow = ServiceNowPasswordGrantFlow("svc.pysnc", "pysnc-pw", CLIENT_ID, CLIENT_SECRET)
    client = ServiceNowClient(served.url, flow, verify=served.ca_bundle)
    gr = client.GlideRecord("incident", batch_size=5)
    gr.query()
    assert len(list(gr)) == 12
    assert fake.requests.count("POST", "/oauth_token.do") == 1
    api_calls = fake.requests.filter(path="/api/")
    assert len(api_calls) == 3
    assert all(call.headers["authorization"] == "Bearer ***" for call in api_calls)
    created = client.GlideRecord("incident")
    created.initialize()
    created.short_description = "via OAuth"
    created.insert()
    assert fake.records("incident")[-1]["sys_created_by"] == "svc.pysnc"


def test_client_credentials_login(served: ServedApp) -> None:
    flow = ServiceNowClientCredentialsFlow(CLIENT_ID, CLIENT_SECRET)
    client = ServiceNowClient(served.url, flow, verify=served.ca_bundle)
    gr = client.GlideRecord("sys_user")
    gr.add_query("user_name", "admin")
    gr.query()
    assert gr.next()
    assert gr.name == "System Administrator"


def test_multi_delete_and_update_through_the_batch_api(fake: FakeServiceNow, client: ServiceNowClient) -> None:
    seed_incidents(fake, 9)
    doomed = client.GlideRecord("incident", batch_size=4)
    doomed.add_query("urgency", "2")
    assert doomed.delete_multiple() is True
    assert sorted(r["urgency"] for r in fake.records("incident")) == ["1", "1", "1", "3", "3", "3"]
    assert fake.requests.count("POST", "/api/now/v1/batch") >= 1

    rest = client.GlideRecord("incident")
    rest.query()
    for record in rest:
        record.short_description = "bulk edited"
    assert rest.update_multiple() is True
    assert {r["short_description"] for r in fake.records("incident")} == {"bulk edited"}


def test_pysnc_retries_rate_limits(fake: FakeServiceNow, client: ServiceNowClient) -> None:
    seed_incidents(fake, 2)
    fake.faults.add("rate_limit", retry_after=0, times=2, path="/api/now/table/incident")
    gr = client.GlideRecord("incident")
    gr.query()
    assert len(gr) == 2
    assert [entry.status for entry in fake.requests] == [429, 429, 200]


def test_pysnc_sees_the_fakes_errors(served: ServedApp, client: ServiceNowClient) -> None:
    wrong = ServiceNowClient(served.url, ("svc.pysnc", "wrong"), verify=served.ca_bundle)
    with pytest.raises(AuthenticationException, match="User Not Authenticated"):
        wrong.GlideRecord("incident").query()
    with pytest.raises(RequestException, match="Invalid table"):
        client.GlideRecord("u_no_such_table").query()
