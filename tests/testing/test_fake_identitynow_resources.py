"""FakeIdentityNow's resources: sources, service-desk and SIM integrations, work items and account activities.

Every test speaks HTTP to the fake through a mounted WSGIAdapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeIdentityNow, mount

BASE = "https://acme.api.identitynow.test"
PATCH_JSON = {"Content-Type": "application/json-patch+json"}
EXPERIMENTAL = {"X-SailPoint-Experimental": "true"}


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Idn:
    """A requests session on the fake with a bearer token."""

    def __init__(self, fake: FakeIdentityNow) -> None:
        self.session = mount(requests.Session(), BASE, fake)
        self.session.headers["Authorization"] = f"Bearer {fake.issue_token()}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, BASE + path, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, operations: Any, headers: dict[str, str] | None = None) -> requests.Response:
        return self.request("PATCH", path, json=operations, headers={**PATCH_JSON, **(headers or {})})

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeIdentityNow:
    return FakeIdentityNow(clock=clock, seed=11)


@pytest.fixture
def idn(fake: FakeIdentityNow) -> Iterator[Idn]:
    client = Idn(fake)
    yield client
    client.session.close()


def error_text(response: requests.Response, status: int, detail_code: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    if detail_code is not None:
        assert body["detailCode"] == detail_code
    text: str = body["messages"][0]["text"]
    return text


def stamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------------------------------------- sources


def test_add_source_returns_what_the_api_shows(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    source = fake.add_source("Badge System", connector_name="Badge Connector", features=["PROVISIONING"])
    assert len(source["id"]) == 32
    assert int(source["id"], 16) >= 0
    assert source["connectorName"] == "Badge Connector"
    assert source["features"] == ["PROVISIONING"]
    assert source["owner"] == {"type": "IDENTITY", "id": fake.admin["id"], "name": "SailPoint Services"}
    assert source["created"] == stamp(clock.now)
    assert idn.ok("GET", f"/v3/sources/{source['id']}") == source
    assert idn.ok("GET", "/v3/sources") == [source]


def test_unknown_source_is_a_404_envelope(idn: Idn) -> None:
    assert "was not found" in error_text(idn.get("/v3/sources/0123"), 404, "404 Not found")


def test_legacy_source_list_maps_numeric_ids_to_v3_ids(idn: Idn, fake: FakeIdentityNow) -> None:
    first = fake.add_source("Badge System")
    second = fake.add_source("Door Locks")
    response = idn.get("/cc/api/source/list")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    legacy = response.json()
    assert [entry["externalId"] for entry in legacy] == [first["id"], second["id"]]
    assert all(entry["id"].isdigit() for entry in legacy)
    assert legacy[0]["id"] != legacy[1]["id"]
    assert legacy[0] == fake.legacy_source(first["id"])
    paged = idn.get("/cc/api/source/list", params={"start": "1", "limit": "1"})
    assert [entry["name"] for entry in paged.json()] == ["Door Locks"]
    assert paged.headers["X-Total-Count"] == "2"


def test_legacy_ids_can_be_chosen_and_stay_unique(fake: FakeIdentityNow) -> None:
    chosen = fake.add_source("Badge System", legacy_id=62863)
    assert fake.legacy_source(chosen["id"])["id"] == "62863"
    assert "legacyId" not in chosen
    with pytest.raises(ValueError, match="legacy_id"):
        fake.add_source("Other", legacy_id="62863")
    with pytest.raises(ValueError, match="already exists"):
        fake.add_source("Same id", id=chosen["id"])


def seed_sources(fake: FakeIdentityNow, clock: Clock) -> list[dict[str, Any]]:
    specs: list[tuple[str, dict[str, Any]]] = [
        (
            "Active Directory",
            {"features": ["PROVISIONING", "ENABLE"], "authoritative": True, "type": "Active Directory - Direct"},
        ),
        ("Badge System", {"features": ["NO_RANDOM_ACCESS"]}),
        ("badge archive", {"features": ["NO_RANDOM_ACCESS", "ENABLE"], "description": "Old badges"}),
        ("Door Locks", {"healthy": False, "status": "SOURCE_STATE_ERROR_SOURCE"}),
        ("ServiceNow", {"connector_name": "ServiceNow", "type": "ServiceNow"}),
        ("Workday", {"authoritative": True, "category": "CredentialProvider"}),
        ("Zendesk", {"connection_type": "direct"}),
    ]
    sources = []
    for name, fields in specs:
        clock.advance(60)
        sources.append(fake.add_source(name, **fields))
    return sources


def test_source_paging_with_count(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    sources = seed_sources(fake, clock)
    response = idn.get("/v3/sources", params={"offset": "3", "limit": "3", "count": "true"})
    assert response.headers["X-Total-Count"] == "7"
    assert [s["id"] for s in response.json()] == [s["id"] for s in sources[3:6]]
    assert "X-Total-Count" not in idn.get("/v3/sources").headers
    assert idn.ok("GET", "/v3/sources", params={"limit": "0"}) == []
    assert idn.ok("GET", "/v3/sources", params={"offset": "99"}) == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": "251"}, "limit must be between 0 and 250"),
        ({"limit": "-1"}, "limit must not be negative"),
        ({"offset": "x"}, "offset must be an integer"),
        ({"count": "yes"}, "count must be true or false"),
    ],
)
def test_bad_paging_is_a_400(idn: Idn, params: dict[str, str], fragment: str) -> None:
    assert fragment in error_text(idn.get("/v3/sources", params=params), 400, "400.1 Bad Request Content")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('name eq "badge system"', ["Badge System"]),
        ('name sw "Badge"', ["Badge System", "badge archive"]),
        ('name co "OO"', ["Door Locks"]),
        ('name in ("Zendesk","Workday")', ["Workday", "Zendesk"]),
        ("authoritative eq true", ["Active Directory", "Workday"]),
        ('features ca ("NO_RANDOM_ACCESS","ENABLE")', ["badge archive"]),
        ('features co "ENABLE"', ["Active Directory", "badge archive"]),
        ('type eq "ServiceNow"', ["ServiceNow"]),
        ('status ne "SOURCE_STATE_HEALTHY"', ["Door Locks"]),
        ("healthy isnull", []),
        ('category eq "credentialprovider"', ["Workday"]),
        ('connectionType eq "direct"', ["Zendesk"]),
        ('description sw "old"', ["badge archive"]),
        ('not name sw "b" and authoritative eq true', ["Active Directory", "Workday"]),
        ('name eq "Zendesk" or name eq "Workday" and authoritative eq true', ["Workday", "Zendesk"]),
        ('(name eq "Zendesk" or name eq "Workday") and authoritative eq true', ["Workday"]),
        ('not (name sw "B" or name sw "D")', ["Active Directory", "ServiceNow", "Workday", "Zendesk"]),
    ],
)
def test_source_filters(idn: Idn, fake: FakeIdentityNow, clock: Clock, expression: str, expected: list[str]) -> None:
    seed_sources(fake, clock)
    listed = idn.ok("GET", "/v3/sources", params={"filters": expression})
    assert sorted(s["name"] for s in listed) == sorted(expected)


def test_source_filters_on_dates_and_owners(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    sources = seed_sources(fake, clock)
    cutoff = sources[4]["created"]
    newer = idn.ok("GET", "/v3/sources", params={"filters": f"created gt {cutoff}"})
    assert [s["name"] for s in newer] == ["Workday", "Zendesk"]
    quoted = idn.ok("GET", "/v3/sources", params={"filters": f'created ge "{cutoff}"'})
    assert len(quoted) == 3
    owned = idn.ok("GET", "/v3/sources", params={"filters": f'owner.id eq "{fake.admin["id"]}"'})
    assert len(owned) == 7


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ('connector eq "x"', "filtering on 'connector' is not supported"),
        ('description co "x"', "operator 'co' is not supported for 'description'"),
        ('name EQ "x"', "operators are lower case"),
        ("name eq Badge", "must be quoted"),
        ('name eq "x" and', "expected a field name"),
        ('(name eq "x"', "expected ')'"),
        ('name in "x"', "expected '('"),
        ('authoritative eq "yes"', "takes true or false"),
        ('created gt "yesterday"', "is not a date-time"),
        ('name eq "x" name eq "y"', "unexpected 'name'"),
    ],
)
def test_unsupported_or_malformed_filters_are_a_400(
    idn: Idn, fake: FakeIdentityNow, clock: Clock, expression: str, fragment: str
) -> None:
    seed_sources(fake, clock)
    assert fragment in error_text(idn.get("/v3/sources", params={"filters": expression}), 400)


def test_source_sorters(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    seed_sources(fake, clock)
    by_name = [s["name"] for s in idn.ok("GET", "/v3/sources", params={"sorters": "name"})]
    assert by_name == sorted(by_name, key=str.casefold)
    newest_first = [s["name"] for s in idn.ok("GET", "/v3/sources", params={"sorters": "-created"})]
    assert newest_first[0] == "Zendesk"
    assert newest_first[-1] == "Active Directory"
    grouped = [s["name"] for s in idn.ok("GET", "/v3/sources", params={"sorters": "-authoritative,name"})]
    assert grouped[:2] == ["Active Directory", "Workday"]
    assert "sorting on 'connector' is not supported" in error_text(
        idn.get("/v3/sources", params={"sorters": "connector"}), 400
    )


def test_filters_and_sorters_combine_with_paging(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    seed_sources(fake, clock)
    response = idn.get(
        "/sources/v1", params={"filters": 'name sw "b"', "sorters": "-name", "limit": "1", "count": "true"}
    )
    assert [s["name"] for s in response.json()] == ["Badge System"]  # case-insensitive: "badge s..." > "badge a..."
    assert response.headers["X-Total-Count"] == "2"


# ---------------------------------------------------------------------------- service-desk integrations


def sdim_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "ServiceNow - Disconnected Apps",
        "description": "Tickets for manual provisioning",
        "type": "ServiceNowSDIM",
        "attributes": {"url": "https://example.service-now.com", "username": "svc"},
    }
    body.update(overrides)
    return body


def test_create_fills_ids_times_and_both_mirrors(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    source = fake.add_source("Badge System")
    created = idn.ok(
        "POST",
        "/v3/service-desk-integrations",
        json=sdim_body(
            clusterRef={"type": "CLUSTER", "id": "c-1", "name": "Prod VA"},
            provisioningConfig={"managedResourceRefs": [{"type": "SOURCE", "id": source["id"]}]},
            ownerRef={"type": "IDENTITY", "id": fake.admin["id"]},
        ),
    )
    assert len(created["id"]) == 32
    assert created["created"] == created["modified"] == stamp(clock.now)
    assert created["cluster"] == "c-1"
    assert created["clusterRef"] == {"type": "CLUSTER", "id": "c-1", "name": "Prod VA"}
    assert created["managedSources"] == [source["id"]]
    assert created["provisioningConfig"]["managedResourceRefs"] == [
        {"type": "SOURCE", "id": source["id"], "name": "Badge System"}
    ]
    assert created["provisioningConfig"]["universalManager"] is False
    assert created["ownerRef"]["name"] == "SailPoint Services"
    assert idn.ok("GET", f"/v3/service-desk-integrations/{created['id']}") == created


def test_deprecated_fields_alone_fill_the_new_ones(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    created = idn.ok(
        "POST", "/v3/service-desk-integrations", json=sdim_body(cluster="c-9", managedSources=[source["id"]])
    )
    assert created["clusterRef"] == {"type": "CLUSTER", "id": "c-9"}
    assert created["provisioningConfig"]["managedResourceRefs"][0]["id"] == source["id"]


def test_new_fields_win_over_conflicting_deprecated_ones(idn: Idn, fake: FakeIdentityNow) -> None:
    kept, dropped = fake.add_source("Kept"), fake.add_source("Dropped")
    created = idn.ok(
        "POST",
        "/v3/service-desk-integrations",
        json=sdim_body(
            cluster="old",
            clusterRef={"id": "new"},
            managedSources=[dropped["id"]],
            provisioningConfig={"managedResourceRefs": [{"id": kept["id"]}]},
        ),
    )
    assert created["cluster"] == "new"
    assert created["managedSources"] == [kept["id"]]


def test_integrations_without_cluster_or_owner_omit_them(idn: Idn) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    assert created["cluster"] is None
    assert "clusterRef" not in created
    assert "ownerRef" not in created
    assert "beforeProvisioningRule" not in created
    assert created["managedSources"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x"}, "Required field(s) missing: description, type, attributes"),
        (sdim_body(attributes="url=x"), "attributes must be a JSON object"),
        (sdim_body(name=3), "name must be a string"),
        (sdim_body(managedSources=["nope"]), "Unknown source id(s)"),
        (sdim_body(clusterRef="c-1"), "clusterRef must be an object"),
        (sdim_body(provisioningConfig={"provisioningRequestExpiration": "7"}), "must be an integer"),
        ([sdim_body()], "must be a JSON object"),
    ],
)
def test_invalid_integrations_are_a_400(idn: Idn, body: Any, fragment: str) -> None:
    assert fragment in error_text(idn.post("/v3/service-desk-integrations", json=body), 400)


def test_non_json_bodies_are_a_400(idn: Idn) -> None:
    response = idn.post("/v3/service-desk-integrations", data="name=x", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in error_text(response, 400)
    assert "body is empty" in error_text(idn.post("/v3/service-desk-integrations"), 400)


def test_integration_names_are_unique(idn: Idn) -> None:
    idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body(name="SN"))
    response = idn.post("/v3/service-desk-integrations", json=sdim_body(name="sn"))
    assert "already exists" in error_text(response, 400, "400.1.409 Reference conflict")


def test_put_replaces_but_keeps_id_and_created(idn: Idn, clock: Clock) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    clock.advance(30)
    replaced = idn.ok(
        "PUT", f"/v3/service-desk-integrations/{created['id']}", json=sdim_body(description="New", id="ignored")
    )
    assert replaced["id"] == created["id"]
    assert replaced["created"] == created["created"]
    assert replaced["modified"] == stamp(clock.now)
    assert replaced["description"] == "New"
    assert idn.put("/v3/service-desk-integrations/missing", json=sdim_body()).status_code == 404


def test_delete_is_204_then_404(idn: Idn) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    deleted = idn.delete(f"/v3/service-desk-integrations/{created['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert idn.get(f"/v3/service-desk-integrations/{created['id']}").status_code == 404
    assert idn.delete(f"/v3/service-desk-integrations/{created['id']}").status_code == 404


def test_patch_replace(idn: Idn, fake: FakeIdentityNow) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    owner = fake.add_identity("owen.owner", displayName="Owen Owner")
    patched = idn.patch(
        f"/v3/service-desk-integrations/{created['id']}",
        [
            {"op": "replace", "path": "/description", "value": "Patched"},
            {"op": "replace", "path": "/attributes/url", "value": "https://new.service-now.com"},
            {"op": "replace", "path": "/ownerRef", "value": {"type": "IDENTITY", "id": owner["id"]}},
        ],
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["description"] == "Patched"
    assert body["attributes"] == {"url": "https://new.service-now.com", "username": "svc"}
    assert body["ownerRef"] == {"type": "IDENTITY", "id": owner["id"], "name": "Owen Owner"}


@pytest.mark.parametrize("op", ["add", "remove", "move", "copy", "test"])
def test_patch_operations_other_than_replace_are_forbidden(idn: Idn, op: str) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    operation = {"op": op, "path": "/attributes/url", "value": "x", "from": "/description"}
    response = idn.patch(f"/v3/service-desk-integrations/{created['id']}", [operation])
    assert "Only replace operations are accepted" in error_text(response, 403, "403 Forbidden")
    assert idn.ok("GET", f"/v3/service-desk-integrations/{created['id']}") == created


def test_patching_a_deprecated_mirror_moves_its_twin(idn: Idn, fake: FakeIdentityNow) -> None:
    first, second = fake.add_source("First"), fake.add_source("Second")
    created = idn.ok(
        "POST",
        "/v3/service-desk-integrations",
        json=sdim_body(clusterRef={"id": "c-1", "name": "VA 1"}, managedSources=[first["id"]]),
    )
    path = f"/v3/service-desk-integrations/{created['id']}"
    by_cluster = idn.patch(path, [{"op": "replace", "path": "/cluster", "value": "c-2"}]).json()
    assert by_cluster["clusterRef"] == {"type": "CLUSTER", "id": "c-2"}
    by_ref = idn.patch(path, [{"op": "replace", "path": "/clusterRef", "value": {"id": "c-3", "name": "VA 3"}}]).json()
    assert by_ref["cluster"] == "c-3"
    by_legacy_sources = idn.patch(path, [{"op": "replace", "path": "/managedSources", "value": [second["id"]]}]).json()
    assert [r["name"] for r in by_legacy_sources["provisioningConfig"]["managedResourceRefs"]] == ["Second"]
    by_refs = idn.patch(
        path,
        [
            {
                "op": "replace",
                "path": "/provisioningConfig/managedResourceRefs",
                "value": [{"id": first["id"]}, {"id": second["id"]}],
            }
        ],
    ).json()
    assert by_refs["managedSources"] == [first["id"], second["id"]]
    cleared = idn.patch(
        path,
        [
            {"op": "replace", "path": "/clusterRef", "value": None},
            {"op": "replace", "path": "/provisioningConfig/managedResourceRefs", "value": None},
        ],
    ).json()
    assert (cleared["cluster"], cleared["managedSources"]) == (None, [])
    assert "clusterRef" not in cleared
    assert cleared["provisioningConfig"]["managedResourceRefs"] == []
    legacy_cleared = idn.patch(
        path,
        [
            {"op": "replace", "path": "/cluster", "value": "c-4"},
            {"op": "replace", "path": "/managedSources", "value": None},
        ],
    ).json()
    assert legacy_cleared["clusterRef"] == {"type": "CLUSTER", "id": "c-4"}
    assert legacy_cleared["managedSources"] == []


@pytest.mark.parametrize(
    ("operations", "status", "fragment"),
    [
        ([{"op": "replace", "path": "/id", "value": "x"}], 400, "id is read-only"),
        ([{"op": "replace", "path": "/attributes/missing/deeper", "value": 1}], 400, "does not exist"),
        ([{"op": "replace", "path": "description", "value": 1}], 400, "is not a JSON pointer"),
        ([{"op": "replace", "path": "/description"}], 400, "needs a value"),
        ([{"op": "replace", "path": "/name", "value": None}], 400, "Required field(s) missing: name"),
        ({"op": "replace"}, 400, "must be an array"),
        ([{"op": "explode", "path": "/name"}], 400, "unknown op"),
    ],
)
def test_bad_patches_are_refused(idn: Idn, operations: Any, status: int, fragment: str) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    response = idn.patch(f"/v3/service-desk-integrations/{created['id']}", operations)
    assert fragment in error_text(response, status)


def test_patch_wants_a_json_patch_media_type(idn: Idn) -> None:
    created = idn.ok("POST", "/v3/service-desk-integrations", json=sdim_body())
    response = idn.request(
        "PATCH",
        f"/v3/service-desk-integrations/{created['id']}",
        json=[{"op": "replace", "path": "/description", "value": "x"}],
        headers={"Content-Type": "text/plain"},
    )
    assert "application/json-patch+json" in error_text(response, 415)


def test_patch_accepts_the_beta_operations_wrapper(idn: Idn) -> None:
    created = idn.ok("POST", "/beta/service-desk-integrations", json=sdim_body())
    response = idn.patch(
        f"/beta/service-desk-integrations/{created['id']}",
        {"operations": [{"op": "replace", "path": "/description", "value": "Wrapped"}]},
    )
    assert response.json()["description"] == "Wrapped"


def test_integration_list_filters_sorts_and_pages(idn: Idn, fake: FakeIdentityNow) -> None:
    for name, kind, cluster in [
        ("b", "ServiceNowSDIM", "c1"),
        ("a", "Generic SDIM", "c2"),
        ("c", "ServiceNowSDIM", None),
    ]:
        fake.add_service_desk_integration(name, type=kind, cluster=cluster)
    listed = idn.get("/v3/service-desk-integrations", params={"sorters": "name", "count": "true", "limit": "2"})
    assert [i["name"] for i in listed.json()] == ["a", "b"]
    assert listed.headers["X-Total-Count"] == "3"
    by_type = idn.ok("GET", "/v3/service-desk-integrations", params={"filters": 'type in ("Generic SDIM")'})
    assert [i["name"] for i in by_type] == ["a"]
    by_cluster = idn.ok("GET", "/v3/service-desk-integrations", params={"filters": 'cluster eq "c1"'})
    assert [i["name"] for i in by_cluster] == ["b"]
    assert error_text(idn.get("/v3/service-desk-integrations", params={"filters": 'name co "a"'}), 400)
    assert error_text(idn.get("/v3/service-desk-integrations", params={"sorters": "type"}), 400)


def test_types_and_templates(idn: Idn, fake: FakeIdentityNow) -> None:
    types = idn.ok("GET", "/v3/service-desk-integrations/types")
    assert {"name": "ServiceNow Service Desk", "type": "ServiceNowSDIM", "scriptName": "servicenow-sdim"} in types
    template = idn.ok("GET", "/v3/service-desk-integrations/templates/servicenow-sdim")
    assert template["type"] == "ServiceNowSDIM"
    assert set(template) == {"id", "name", "created", "modified", "type", "attributes", "provisioningConfig"}
    assert idn.get("/v3/service-desk-integrations/templates/nope").status_code == 404
    fake.add_service_desk_type("Custom", "CustomSDIM", "custom-sdim", attributes={"k": "v"})
    assert idn.ok("GET", "/v3/service-desk-integrations/templates/custom-sdim")["attributes"] == {"k": "v"}


def test_status_check_configuration_is_strings_on_the_wire(idn: Idn, fake: FakeIdentityNow) -> None:
    path = "/v3/service-desk-integrations/status-check-configuration"
    assert idn.ok("GET", path) == {
        "provisioningStatusCheckIntervalMinutes": "30",
        "provisioningMaxStatusCheckDays": "2",
    }
    updated = idn.ok(
        "PUT", path, json={"provisioningStatusCheckIntervalMinutes": "15", "provisioningMaxStatusCheckDays": 5}
    )
    assert updated == {"provisioningStatusCheckIntervalMinutes": "15", "provisioningMaxStatusCheckDays": "5"}
    assert idn.ok("GET", path) == updated
    assert fake.status_check_configuration() == updated
    fake.set_status_check_configuration(interval_minutes=60, max_days=1)
    assert (
        idn.ok("GET", "/service-desk-integrations/v1/status-check-configuration")[
            "provisioningStatusCheckIntervalMinutes"
        ]
        == "60"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"provisioningStatusCheckIntervalMinutes": "15"},
        {"provisioningStatusCheckIntervalMinutes": "0", "provisioningMaxStatusCheckDays": "2"},
        {"provisioningStatusCheckIntervalMinutes": "soon", "provisioningMaxStatusCheckDays": "2"},
        {"provisioningStatusCheckIntervalMinutes": True, "provisioningMaxStatusCheckDays": "2"},
    ],
)
def test_invalid_status_check_configuration_is_a_400(idn: Idn, body: dict[str, Any]) -> None:
    response = idn.put("/v3/service-desk-integrations/status-check-configuration", json=body)
    assert "must be a positive whole number" in error_text(response, 400)


def test_add_service_desk_integration_validates_like_the_api(fake: FakeIdentityNow) -> None:
    with pytest.raises(ValueError, match="Unknown source id"):
        fake.add_service_desk_integration("SN", managed_sources=["missing"])


# -------------------------------------------------------------------------------------- SIM integrations


def test_sim_integration_seeded_from_sailpoints_example(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    seeded = fake.add_sim_integration(sources=[source["id"]])
    assert seeded["statusMap"]["closed_complete"] == "Committed"
    assert seeded["request"]["short_description"] == "SailPoint Access Request $!plan.arguments.identityRequestId"
    assert seeded["sources"] == [source["id"]]
    assert seeded["type"] == "ServiceNow Service Desk"
    assert idn.ok("GET", "/beta/sim-integrations") == [seeded]
    assert idn.ok("GET", f"/sim-integrations/v1/{seeded['id']}", headers=EXPERIMENTAL) == seeded


def test_sim_crud(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    source = fake.add_source("Badge System")
    body = FakeIdentityNow.example_sim_integration([source["id"]])
    created = idn.ok("POST", "/beta/sim-integrations", json=body)
    assert created["cluster"] == "xyzzy999"
    assert created["beforeProvisioningRule"]["type"] == "RULE"
    clock.advance(5)
    replaced = idn.ok("PUT", f"/beta/sim-integrations/{created['id']}", json={**body, "description": "Replaced"})
    assert replaced["description"] == "Replaced"
    assert replaced["created"] == created["created"]
    assert replaced["modified"] == stamp(clock.now)
    deleted = idn.delete(f"/beta/sim-integrations/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert idn.get(f"/beta/sim-integrations/{created['id']}").status_code == 404


def test_sim_sources_must_be_v3_ids_not_legacy_numbers(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    legacy_id = fake.legacy_source(source["id"])["id"]
    body = FakeIdentityNow.example_sim_integration([legacy_id])
    text = error_text(idn.post("/beta/sim-integrations", json=body), 400, "400.1.1 Illegal value")
    assert "externalId" in text


def test_sim_patch_applies_any_json_patch_op(idn: Idn, fake: FakeIdentityNow) -> None:
    created = fake.add_sim_integration()
    path = f"/beta/sim-integrations/{created['id']}"
    patched = idn.patch(
        path,
        [
            {"op": "add", "path": "/statusMap/closed_skipped", "value": "Failed"},
            {"op": "remove", "path": "/request/req_description"},
            {"op": "replace", "path": "/description", "value": "Patched"},
            {"op": "test", "path": "/type", "value": "ServiceNow Service Desk"},
        ],
    ).json()
    assert patched["statusMap"]["closed_skipped"] == "Failed"
    assert "req_description" not in patched["request"]
    assert patched["description"] == "Patched"
    failed = idn.patch(path, [{"op": "test", "path": "/type", "value": "Other"}])
    assert "test of '/type' failed" in error_text(failed, 400)


def test_sim_before_provisioning_rule_patch_only_touches_the_rule(idn: Idn, fake: FakeIdentityNow) -> None:
    created = fake.add_sim_integration()
    path = f"/sim-integrations/v1/{created['id']}/beforeProvisioningRule"
    patched = idn.patch(
        path, [{"op": "replace", "path": "/beforeProvisioningRule/name", "value": "Renamed"}], headers=EXPERIMENTAL
    )
    assert patched.json()["beforeProvisioningRule"]["name"] == "Renamed"
    refused = idn.patch(path, [{"op": "replace", "path": "/description", "value": "x"}], headers=EXPERIMENTAL)
    assert "Only /beforeProvisioningRule" in error_text(refused, 400)


def test_sim_create_needs_a_name(idn: Idn) -> None:
    assert "name" in error_text(idn.post("/beta/sim-integrations", json={"type": "x"}), 400)


# ------------------------------------------------------------------------------------------- work items


@pytest.mark.parametrize(
    ("operation", "name", "description"),
    [
        ("Create", "Account Create", "Create account on source 'Badge System'"),
        ("modify", "Account Modify", "Modify account 'amos' on source 'Badge System'"),
        ("DELETE", "Account Delete", "Delete account 'amos' on source 'Badge System'"),
        ("Enable", "Account Enable", "Enable account 'amos' on source 'Badge System'"),
        ("Disable", "Account Disable", "Disable account 'amos' on source 'Badge System'"),
        ("Unlock", "Account Unlock", "Unlock account 'amos' on source 'Badge System'"),
    ],
)
def test_manual_work_items_for_each_account_operation(
    idn: Idn, fake: FakeIdentityNow, operation: str, name: str, description: str
) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], operation, "amos")
    assert item["type"] == "ManualAction"
    assert item["state"] == "Pending"
    assert item["name"] == name
    assert item["description"] == description
    assert item["ownerId"] == fake.admin["id"]
    assert item["completed"] is None
    (approval,) = item["approvalItems"]
    assert approval["account"] == "amos"
    assert approval["application"] == "Badge System"
    assert approval["operation"] == name.split()[1]
    assert approval["name"] is None
    (remediation,) = item["remediationItems"]
    assert remediation["nativeIdentity"] == "amos"
    assert remediation["applicationName"] == "Badge System"
    assert idn.ok("GET", f"/v3/work-items/{item['id']}") == item


def test_entitlement_add_and_remove_become_approval_items(fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(
        source["id"],
        "Modify",
        "amos",
        [("groups", "add", "Lobby"), {"name": "groups", "operation": "Remove", "value": "Vault"}],
    )
    assert [(a["name"], a["operation"], a["value"]) for a in item["approvalItems"]] == [
        ("groups", "Add", "Lobby"),
        ("groups", "Remove", "Vault"),
    ]
    assert [(r["attributeName"], r["attributeOperation"], r["attributeValue"]) for r in item["remediationItems"]] == [
        ("groups", "Add", "Lobby"),
        ("groups", "Remove", "Vault"),
    ]
    assert item["numItems"] == 2


def test_create_attributes_are_set_and_list_values_fan_out(fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(
        source["id"], "Create", "amos", {"email": "a@x.com", "groups": ["A", "B"], "badge": 7}
    )
    assert [(a["name"], a["operation"], a["value"]) for a in item["approvalItems"]] == [
        ("email", "Set", "a@x.com"),
        ("groups", "Set", "A"),
        ("groups", "Set", "B"),
        ("badge", "Set", "7"),
    ]


def test_work_item_identities_owners_and_overrides(fake: FakeIdentityNow) -> None:
    owner = fake.add_identity("olga.owner", displayName="Olga Owner")
    source = fake.add_source("Badge System", owner={"type": "IDENTITY", "id": owner["id"], "name": "Olga Owner"})
    item = fake.add_manual_work_item(source["id"], "Create", "amos.cunningham")
    assert (item["ownerId"], item["ownerName"]) == (owner["id"], "Olga Owner")
    amos = next(i for i in fake.identities() if i["name"] == "amos.cunningham")
    assert item["requesterId"] == amos["id"]
    assert item["remediationItems"][0]["targetId"] == amos["id"]
    again = fake.add_manual_work_item(source["id"], "Disable", "amos.cunningham")
    assert again["requesterId"] == amos["id"]
    other = fake.add_identity("ivy")
    overridden = fake.add_manual_work_item(
        source["id"], "Enable", "x", identity_id=other["id"], owner_id=fake.admin["id"], description="Custom"
    )
    assert overridden["requesterId"] == other["id"]
    assert overridden["ownerName"] == "SailPoint Services"
    assert overridden["description"] == "Custom"


def test_work_items_can_show_the_internal_application_name(fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System", legacy_id=42423)
    item = fake.add_manual_work_item(source["id"], "Enable", "amos", application="Badge System [source-42423]")
    assert item["approvalItems"][0]["application"] == "Badge System [source-42423]"
    assert item["remediationItems"][0]["applicationName"] == "Badge System [source-42423]"
    assert "application" not in item


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda f, s: f.add_manual_work_item(s, "Explode", "amos"), ValueError),
        (lambda f, s: f.add_manual_work_item("missing", "Create", "amos"), KeyError),
        (lambda f, s: f.add_manual_work_item(s, "Modify", "amos", [("groups", "Toggle", "x")]), ValueError),
        (lambda f, s: f.add_manual_work_item(s, "Modify", "amos", [("groups", "Add")]), ValueError),
        (lambda f, s: f.add_manual_work_item(s, "Create", "amos", owner_id="nobody"), KeyError),
    ],
)
def test_seeding_mistakes_raise_at_once(fake: FakeIdentityNow, call: Any, error: type[Exception]) -> None:
    source = fake.add_source("Badge System")
    with pytest.raises(error):
        call(fake, source["id"])


def test_pending_lists_counts_and_summary_by_owner(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    other = fake.add_identity("other")
    mine = [fake.add_manual_work_item(source["id"], "Create", f"user{n}") for n in range(3)]
    theirs = fake.add_manual_work_item(source["id"], "Delete", "user9", owner_id=other["id"])
    assert [w["id"] for w in idn.ok("GET", "/v3/work-items")] == [w["id"] for w in mine]
    assert [w["id"] for w in idn.ok("GET", "/v3/work-items", params={"ownerId": other["id"]})] == [theirs["id"]]
    paged = idn.get("/v3/work-items", params={"limit": "2", "offset": "1", "count": "true"})
    assert [w["id"] for w in paged.json()] == [w["id"] for w in mine[1:3]]
    assert paged.headers["X-Total-Count"] == "3"
    idn.ok("POST", f"/v3/work-items/{mine[0]['id']}")
    assert idn.ok("GET", "/v3/work-items/count") == {"count": 2}
    assert idn.ok("GET", "/v3/work-items/completed/count") == {"count": 1}
    assert idn.ok("GET", "/v3/work-items/summary") == {"open": 2, "completed": 1, "total": 3}
    assert idn.ok("GET", "/v3/work-items/summary", params={"ownerId": other["id"]}) == {
        "open": 1,
        "completed": 0,
        "total": 1,
    }
    assert [w["id"] for w in idn.ok("GET", "/v3/work-items/completed")] == [mine[0]["id"]]
    assert fake.work_items(state="Pending") == [fake.work_item(w["id"]) for w in [*mine[1:], theirs]]


def test_complete_finishes_once_and_records_when(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Create", "amos")
    clock.advance(120)
    done = idn.ok("POST", f"/v3/work-items/{item['id']}", json="Ticket RITM0010001 closed complete")
    assert done["state"] == "Finished"
    assert done["completed"] == done["modified"] == stamp(clock.now)
    assert done["approvalItems"] == item["approvalItems"]
    (completion,) = fake.completions(item["id"])
    assert completion.at == datetime.fromtimestamp(clock.now, tz=timezone.utc)
    assert completion.via == "complete"
    assert completion.state == "Finished"
    assert completion.client_id == FakeIdentityNow.DEFAULT_CLIENT_ID
    assert completion.body == "Ticket RITM0010001 closed complete"
    again = idn.post(f"/work-items/v1/{item['id']}")
    assert "not Pending" in error_text(again, 400, "400.1.3 Illegal update attempt")
    assert len(fake.completions(item["id"])) == 1
    assert idn.post("/v3/work-items/unknown").status_code == 404


def test_forward_changes_the_owner_and_records_the_comment(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Create", "amos")
    helpdesk = fake.add_identity("helpdesk", displayName="Help Desk")
    clock.advance(10)
    response = idn.post(
        f"/v3/work-items/{item['id']}/forward", json={"targetOwnerId": helpdesk["id"], "comment": "Ticket failed"}
    )
    assert response.status_code == 200
    assert response.content == b""
    forwarded = fake.work_item(item["id"])
    assert (forwarded["ownerId"], forwarded["ownerName"], forwarded["state"]) == (
        helpdesk["id"],
        "Help Desk",
        "Pending",
    )
    (forward,) = fake.forwards(item["id"])
    assert (forward.from_owner_id, forward.to_owner_id, forward.comment) == (
        fake.admin["id"],
        helpdesk["id"],
        "Ticket failed",
    )
    assert forward.send_notifications is True
    assert forward.at == datetime.fromtimestamp(clock.now, tz=timezone.utc)
    assert idn.ok("GET", "/v3/work-items") == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"comment": "x"}, "targetOwnerId is required"),
        ({"targetOwnerId": "ADMIN"}, "comment is required"),
        ({"targetOwnerId": "nobody", "comment": "x"}, "was not found"),
        ({"targetOwnerId": "ADMIN", "comment": "x", "sendNotifications": "no"}, "sendNotifications"),
    ],
)
def test_bad_forwards_are_a_400(idn: Idn, fake: FakeIdentityNow, body: dict[str, Any], fragment: str) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Create", "amos")
    body = {k: (fake.admin["id"] if v == "ADMIN" else v) for k, v in body.items()}
    assert fragment in error_text(idn.post(f"/v3/work-items/{item['id']}/forward", json=body), 400)
    assert fake.forwards(item["id"]) == []


def test_finished_work_items_cannot_be_forwarded(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Create", "amos")
    idn.ok("POST", f"/v3/work-items/{item['id']}")
    response = idn.post(
        f"/v3/work-items/{item['id']}/forward", json={"targetOwnerId": fake.admin["id"], "comment": "x"}
    )
    assert error_text(response, 400, "400.1.3 Illegal update attempt")


def test_approval_items_decided_one_by_one(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Modify", "amos", [("groups", "Add", "A"), ("groups", "Add", "B")])
    first, second = (a["id"] for a in item["approvalItems"])
    after_first = idn.ok("POST", f"/v3/work-items/{item['id']}/approve/{first}")
    assert after_first["state"] == "Pending"
    assert after_first["approvalItems"][0]["state"] == "Finished"
    assert "already decided" in error_text(idn.post(f"/v3/work-items/{item['id']}/reject/{first}"), 400)
    assert idn.post(f"/v3/work-items/{item['id']}/approve/nope").status_code == 404
    after_second = idn.ok("POST", f"/v3/work-items/{item['id']}/reject/{second}")
    assert after_second["state"] == "Rejected"
    (completion,) = fake.completions(item["id"])
    assert (completion.state, completion.via) == ("Rejected", "reject")


@pytest.mark.parametrize(("action", "state"), [("bulk-approve", "Finished"), ("bulk-reject", "Rejected")])
def test_bulk_decisions(idn: Idn, fake: FakeIdentityNow, action: str, state: str) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Modify", "amos", [("groups", "Add", "A"), ("groups", "Add", "B")])
    decided = idn.ok("POST", f"/v3/work-items/{action}/{item['id']}")
    assert decided["state"] == state
    assert {a["state"] for a in decided["approvalItems"]} == {state}
    assert [c.via for c in fake.completions(item["id"])] == [action]


def test_work_item_lifecycle_shows_in_its_account_activity(idn: Idn, fake: FakeIdentityNow) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Modify", "amos", [("groups", "Add", "Lobby")])
    rejected_item = fake.add_manual_work_item(source["id"], "Disable", "amos")
    first, second = idn.ok("GET", "/v3/account-activities", params={"sorters": "created"})
    assert (first["executionStatus"], first["completionStatus"]) == ("EXECUTING", "PENDING")
    assert first["items"][0]["provisioningStatus"] == "PENDING"
    assert (first["items"][0]["operation"], first["items"][0]["attribute"], first["items"][0]["value"]) == (
        "ADD",
        "groups",
        "Lobby",
    )
    assert second["type"] == "AccountStateUpdate"
    idn.ok("POST", f"/v3/work-items/{item['id']}")
    idn.ok("POST", f"/v3/work-items/bulk-reject/{rejected_item['id']}")
    done = idn.ok("GET", f"/v3/account-activities/{first['id']}")
    assert (done["executionStatus"], done["completionStatus"]) == ("COMPLETED", "SUCCESS")
    assert done["items"][0]["provisioningStatus"] == "COMMITED"
    failed = idn.ok("GET", f"/v3/account-activities/{second['id']}")
    assert failed["completionStatus"] == "FAILURE"
    assert failed["items"][0]["provisioningStatus"] == "FAILED"


# ----------------------------------------------------------------------------------- account activities


def test_account_activity_query_parameters(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    alice, bob = fake.add_identity("alice"), fake.add_identity("bob")
    fake.add_account_activity(
        type="appRequest", requesterIdentitySummary={"id": alice["id"]}, targetIdentitySummary={"id": bob["id"]}
    )
    clock.advance(60)
    fake.add_account_activity(type="Identity Refresh", targetIdentitySummary={"id": alice["id"]})

    def names(listed: list[dict[str, Any]]) -> list[str]:
        return [activity["type"] for activity in listed]

    assert names(idn.ok("GET", "/v3/account-activities", params={"requested-for": bob["id"]})) == ["appRequest"]
    assert names(idn.ok("GET", "/v3/account-activities", params={"requested-by": alice["id"]})) == ["appRequest"]
    assert names(idn.ok("GET", "/v3/account-activities", params={"regarding-identity": alice["id"]})) == [
        "appRequest",
        "Identity Refresh",
    ]
    assert names(idn.ok("GET", "/v3/account-activities", params={"requested-by": "me"})) == ["Identity Refresh"]
    conflict = idn.get("/v3/account-activities", params={"regarding-identity": "me", "requested-for": bob["id"]})
    assert "cannot be combined" in error_text(conflict, 400)


def test_account_activity_filters_and_sorters(idn: Idn, fake: FakeIdentityNow, clock: Clock) -> None:
    early = fake.add_account_activity(type="appRequest")
    clock.advance(600)
    late = fake.add_account_activity(type="Identity Refresh")
    cutoff = (datetime.fromtimestamp(clock.now, tz=timezone.utc) - timedelta(minutes=5)).isoformat()
    after = idn.ok("GET", "/account-activities/v1", params={"filters": f'created gt "{cutoff}"'})
    assert [a["id"] for a in after] == [late["id"]]
    assert [a["id"] for a in idn.ok("GET", "/v3/account-activities", params={"filters": 'type sw "app"'})] == [
        early["id"]
    ]
    assert [a["id"] for a in idn.ok("GET", "/v3/account-activities", params={"sorters": "-created"})] == [
        late["id"],
        early["id"],
    ]
    assert error_text(idn.get("/v3/account-activities", params={"filters": 'type co "app"'}), 400)
    assert idn.get("/v3/account-activities/missing").status_code == 404
