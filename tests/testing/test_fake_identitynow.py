"""FakeIdentityNow: OAuth, URL layouts, faults, rate limits, request log, reset, TLS and thread safety.

Every test speaks HTTP to the fake, through a mounted WSGIAdapter or over loopback with serve().
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeIdentityNow, mount, serve

BASE = "https://acme.api.identitynow.test"
CLIENT_ID = FakeIdentityNow.DEFAULT_CLIENT_ID
CLIENT_SECRET = FakeIdentityNow.DEFAULT_CLIENT_SECRET


class Clock:
    """A settable clock for the fake (epoch seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Idn:
    """A requests session on the fake, with a bearer token from ``/oauth/token``."""

    def __init__(self, fake: FakeIdentityNow, *, authenticate: bool = True) -> None:
        self.fake = fake
        self.session = mount(requests.Session(), BASE, fake)
        if authenticate:
            self.login()

    def login(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> dict[str, Any]:
        response = self.session.post(
            f"{BASE}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.session.headers["Authorization"] = f"Bearer {body['access_token']}"
        return body

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, BASE + path, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeIdentityNow:
    return FakeIdentityNow(clock=clock, seed=7)


@pytest.fixture
def idn(fake: FakeIdentityNow) -> Iterator[Idn]:
    client = Idn(fake)
    yield client
    client.session.close()


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def assert_envelope(response: requests.Response, status: int, detail_code: str | None = None) -> str:
    """IdentityNow's ErrorResponseDto; returns the message text."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detailCode", "trackingId", "messages", "causes"}
    assert len(body["trackingId"]) == 32
    if detail_code is not None:
        assert body["detailCode"] == detail_code
    assert body["messages"][0]["locale"] == "en-US"
    assert body["messages"][0]["localeOrigin"] == "DEFAULT"
    text: str = body["messages"][0]["text"]
    assert text
    return text


# --------------------------------------------------------------------------------------------------- OAuth


def token_with(session: requests.Session, **kwargs: Any) -> requests.Response:
    return session.post(f"{BASE}/oauth/token", timeout=5, **kwargs)


@pytest.mark.parametrize(
    "how",
    ["form", "query", "multipart", "basic"],
)
def test_client_credentials_are_accepted_the_ways_identitynow_documents(fake: FakeIdentityNow, how: str) -> None:
    session = mount(requests.Session(), BASE, fake)
    fields = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if how == "form":
        response = token_with(session, data=fields)
    elif how == "query":
        response = token_with(session, params=fields)
    elif how == "multipart":
        response = token_with(session, files={name: (None, value) for name, value in fields.items()})
    else:
        response = token_with(session, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    listed = session.get(f"{BASE}/v3/sources", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert listed.status_code == 200
    assert listed.json() == []


def test_token_response_carries_identitynow_fields_and_a_jwt(fake: FakeIdentityNow, clock: Clock) -> None:
    body = Idn(fake, authenticate=False).login()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 749
    assert body["org"] == "acme"
    assert body["identity_id"] == fake.admin["id"]
    claims = jwt_claims(body["access_token"])
    assert claims["client_id"] == CLIENT_ID
    assert claims["exp"] == int(clock.now + 749)
    assert claims["jti"] == body["jti"]
    assert claims["authorities"] == ["ORG_ADMIN"]


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, 401, "invalid_client"),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, 400, "invalid_request"),
        (
            {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            400,
            "unsupported_grant_type",
        ),
    ],
)
def test_bad_token_requests_get_oauth_errors(
    fake: FakeIdentityNow, fields: dict[str, str], status: int, error: str
) -> None:
    response = token_with(mount(requests.Session(), BASE, fake), data=fields)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_token_endpoint_only_takes_post(fake: FakeIdentityNow) -> None:
    response = mount(requests.Session(), BASE, fake).get(f"{BASE}/oauth/token", timeout=5)
    assert_envelope(response, 405)


def test_oauth_info_names_the_token_endpoint_of_the_address_used(fake: FakeIdentityNow) -> None:
    response = mount(requests.Session(), BASE, fake).get(f"{BASE}/oauth/info", timeout=5)
    assert response.status_code == 200
    info = response.json()
    assert info["tokenEndpoint"] == f"{BASE}/oauth/token"
    assert info["tenantName"] == "acme"
    assert set(info) == {
        "tenantId",
        "tenantName",
        "authorizeEndpoint",
        "tokenEndpoint",
        "cloudDomainUrl",
        "logoutUrl",
        "pod",
    }


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "JWT validation failed: JWT is missing"),
        ("Basic abc", "JWT validation failed: JWT is missing"),
        ("Bearer not-a-jwt", "JWT validation failed: JWT is invalid"),
    ],
)
def test_api_calls_without_a_valid_bearer_token_get_401(
    fake: FakeIdentityNow, authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = mount(requests.Session(), BASE, fake).get(f"{BASE}/v3/sources", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"error": message}


def test_a_forged_token_is_refused(idn: Idn) -> None:
    token = idn.session.headers["Authorization"].split(" ", 1)[1]
    header, _payload, signature = str(token).split(".")
    claims = jwt_claims(str(token))
    claims["client_id"] = "someone-else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = idn.get("/v3/sources", headers={"Authorization": f"Bearer {header}.{forged_payload}.{signature}"})
    assert response.status_code == 401
    assert response.json() == {"error": "JWT validation failed: JWT is invalid"}


def test_tokens_expire_after_their_lifetime(idn: Idn, clock: Clock) -> None:
    assert idn.get("/v3/sources").status_code == 200
    clock.advance(748)
    assert idn.get("/v3/sources").status_code == 200
    clock.advance(1)
    expired = idn.get("/v3/sources")
    assert expired.status_code == 401
    assert expired.json() == {"error": "JWT validation failed: JWT is expired"}
    idn.login()
    assert idn.get("/v3/sources").status_code == 200


def test_expire_tokens_invalidates_every_issued_token(idn: Idn, fake: FakeIdentityNow) -> None:
    minted = fake.issue_token()
    fake.expire_tokens()
    assert idn.get("/v3/sources").status_code == 401
    assert idn.get("/v3/sources", headers={"Authorization": f"Bearer {minted}"}).status_code == 401
    idn.login()
    assert idn.get("/v3/sources").status_code == 200


def test_token_lifetime_is_configurable(clock: Clock) -> None:
    fake = FakeIdentityNow(clock=clock, token_lifetime=60)
    idn = Idn(fake, authenticate=False)
    assert idn.login()["expires_in"] == 60
    clock.advance(60)
    assert idn.get("/v3/sources").status_code == 401


def test_issue_token_mints_a_usable_token_without_http(fake: FakeIdentityNow) -> None:
    token = fake.issue_token()
    response = mount(requests.Session(), BASE, fake).get(
        f"{BASE}/v3/work-items/count", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.json() == {"count": 0}
    with pytest.raises(KeyError, match="no OAuth client"):
        fake.issue_token("unknown")


def test_a_client_bound_to_another_identity_acts_as_it(fake: FakeIdentityNow) -> None:
    reviewer = fake.add_identity("rita.reviewer")
    fake.add_client("rita-pat", "rita-secret", identity_id=reviewer["id"])
    source = fake.add_source("Badge System", owner={"type": "IDENTITY", "id": reviewer["id"], "name": "Rita"})
    fake.add_manual_work_item(source["id"], "Create", "amos")
    as_admin = Idn(fake)
    as_rita = Idn(fake, authenticate=False)
    body = as_rita.login("rita-pat", "rita-secret")
    assert body["identity_id"] == reviewer["id"]
    assert len(as_rita.get("/v3/work-items").json()) == 1
    assert as_admin.get("/v3/work-items").json() == []


def test_constructor_clients_replace_the_default(clock: Clock) -> None:
    fake = FakeIdentityNow(clients={"ci-bot": "s3cret"}, clock=clock)
    idn = Idn(fake, authenticate=False)
    assert (
        token_with(
            idn.session,
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        ).status_code
        == 401
    )
    assert idn.login("ci-bot", "s3cret")["token_type"] == "bearer"


# ------------------------------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("prefix", ["/v3/work-items", "/beta/work-items", "/v2025/work-items", "/work-items/v1"])
def test_both_url_layouts_serve_the_same_state(idn: Idn, fake: FakeIdentityNow, prefix: str) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Disable", "amos")
    listed = idn.get(prefix)
    assert [w["id"] for w in listed.json()] == [item["id"]]
    assert idn.get(f"{prefix}/{item['id']}").json() == item
    assert idn.get(f"{prefix}/count").json() == {"count": 1}


def test_sim_integrations_are_not_served_under_v3(idn: Idn) -> None:
    text = assert_envelope(idn.get("/v3/sim-integrations"), 404, "404 Not found")
    assert "/v3/sim-integrations" in text


@pytest.mark.parametrize("path", ["/v2025/sim-integrations", "/v2024/sim-integrations", "/sim-integrations/v1"])
def test_experimental_sim_paths_need_the_experimental_header(idn: Idn, path: str) -> None:
    text = assert_envelope(idn.get(path), 400)
    assert "X-SailPoint-Experimental" in text
    response = idn.get(path, headers={"X-SailPoint-Experimental": "true"})
    assert response.status_code == 200
    assert response.json() == []


def test_beta_sim_paths_need_no_experimental_header(idn: Idn) -> None:
    assert idn.get("/beta/sim-integrations").status_code == 200


def test_the_experimental_header_requirement_can_be_switched_off() -> None:
    fake = FakeIdentityNow(require_experimental_header=False)
    assert Idn(fake).get("/sim-integrations/v1").status_code == 200


@pytest.mark.parametrize("path", ["/v4/sources", "/v3/identities", "/nothing", "/cc/api/other"])
def test_unknown_paths_get_a_404_envelope(idn: Idn, path: str) -> None:
    assert_envelope(idn.get(path), 404, "404 Not found")


def test_unsupported_methods_get_a_405_envelope(idn: Idn) -> None:
    text = assert_envelope(idn.request("DELETE", "/v3/work-items"), 405, "405 Method Not Allowed")
    assert "GET" in text


def test_authentication_comes_before_routing(fake: FakeIdentityNow) -> None:
    response = mount(requests.Session(), BASE, fake).get(f"{BASE}/v3/nothing-here", timeout=5)
    assert response.status_code == 401


# -------------------------------------------------------------------------------------------------- faults


def seeded_item(fake: FakeIdentityNow) -> dict[str, Any]:
    source = fake.add_source("Badge System")
    return fake.add_manual_work_item(source["id"], "Create", "amos", {"email": "amos@example.com"})


def test_error_fault_answers_in_the_envelope_without_acting(idn: Idn, fake: FakeIdentityNow) -> None:
    item = seeded_item(fake)
    fake.faults.add("error", status=500, times=1, method="POST", path="/v3/work-items/")
    assert_envelope(idn.post(f"/v3/work-items/{item['id']}"), 500, "500.0 Internal Fault")
    assert fake.work_item(item["id"])["state"] == "Pending"
    assert idn.post(f"/v3/work-items/{item['id']}").json()["state"] == "Finished"


def test_error_fault_status_is_configurable(idn: Idn, fake: FakeIdentityNow) -> None:
    fake.faults.add("error", status=503, times=1)
    response = idn.get("/v3/sources")
    assert response.status_code == 503
    assert response.json()["detailCode"] == "503 Service Unavailable"


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"error": "JWT validation failed: JWT is invalid"}), (429, {"message": " Rate Limit Exceeded "})],
)
def test_error_faults_speak_the_dialect_of_their_status(
    idn: Idn, fake: FakeIdentityNow, status: int, body: dict[str, str]
) -> None:
    fake.faults.add("error", status=status, times=1)
    response = idn.get("/v3/sources")
    assert response.status_code == status
    assert response.json() == body


def test_rate_limit_fault_sends_retry_after_and_the_documented_body(idn: Idn, fake: FakeIdentityNow) -> None:
    fake.faults.add("rate_limit", retry_after=2, times=1)
    response = idn.get("/v3/sources")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {"message": " Rate Limit Exceeded "}
    assert idn.get("/v3/sources").status_code == 200


def test_semaphore_fault_is_a_429_without_retry_after(idn: Idn, fake: FakeIdentityNow) -> None:
    fake.faults.add("semaphore", times=1)
    response = idn.get("/v3/sources")
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_drop_fault_before_acting_leaves_state_unchanged(idn: Idn, fake: FakeIdentityNow) -> None:
    item = seeded_item(fake)
    fake.faults.add("drop", times=1, method="POST")
    with pytest.raises(requests.ConnectionError):
        idn.post(f"/v3/work-items/{item['id']}")
    assert fake.work_item(item["id"])["state"] == "Pending"
    assert fake.completions(item["id"]) == []
    assert [entry.status for entry in fake.requests.filter(method="POST", path="/v3/work-items")] == [0]


def test_drop_fault_after_acting_completes_but_never_answers(idn: Idn, fake: FakeIdentityNow) -> None:
    item = seeded_item(fake)
    fake.faults.add("drop", times=1, method="POST", after=True)
    with pytest.raises(requests.ConnectionError):
        idn.post(f"/v3/work-items/{item['id']}")
    assert fake.work_item(item["id"])["state"] == "Finished"
    assert len(fake.completions(item["id"])) == 1
    # The retry a careful client makes finds the work item already finished.
    assert idn.post(f"/v3/work-items/{item['id']}").status_code == 400


def test_drop_fault_over_loopback_is_a_connection_error(fake: FakeIdentityNow) -> None:
    fake.faults.add("drop", times=1, path="/v3/sources")
    with serve(fake) as served:
        headers = {"Authorization": f"Bearer {fake.issue_token()}"}
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{served.url}/v3/sources", headers=headers, timeout=5)
        assert requests.get(f"{served.url}/v3/sources", headers=headers, timeout=5).status_code == 200


def test_latency_fault_delays_the_answer(fake: FakeIdentityNow) -> None:
    fake.faults.add("latency", delay=0.3, times=1)
    with serve(fake) as served:
        headers = {"Authorization": f"Bearer {fake.issue_token()}"}
        with pytest.raises(requests.ReadTimeout):
            requests.get(f"{served.url}/v3/sources", headers=headers, timeout=(5, 0.05))
        fake.faults.add("latency", delay=0.05, times=1)
        started = time.monotonic()
        assert requests.get(f"{served.url}/v3/sources", headers=headers, timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.05


def test_html_fault_is_a_gateway_error_page(idn: Idn, fake: FakeIdentityNow) -> None:
    fake.faults.add("html", status=502, times=1)
    response = idn.get("/v3/sources")
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert response.text.lstrip().startswith("<html>")
    assert "502 Bad Gateway" in response.text


def test_expire_token_fault_expires_the_presented_token(idn: Idn, fake: FakeIdentityNow) -> None:
    fake.faults.add("expire_token", times=1, path="/v3/work-items")
    expired = idn.get("/v3/work-items")
    assert expired.status_code == 401
    assert expired.json() == {"error": "JWT validation failed: JWT is expired"}
    assert idn.get("/v3/sources").status_code == 401  # the token itself is now expired
    idn.login()
    assert idn.get("/v3/work-items").status_code == 200


def test_faults_match_method_path_and_count(idn: Idn, fake: FakeIdentityNow) -> None:
    rule = fake.faults.add("error", status=500, times=2, method="GET", path="/v3/sources")
    assert idn.get("/v3/work-items").status_code == 200
    assert idn.get("/v3/sources").status_code == 500
    assert idn.get("/v3/sources").status_code == 500
    assert idn.get("/v3/sources").status_code == 200
    assert rule.hits == 2
    assert fake.faults.counts["error"] == 2


def test_fault_probability_is_reproducible_with_a_seed() -> None:
    def statuses(seed: int) -> list[int]:
        fake = FakeIdentityNow(seed=seed)
        fake.faults.add("error", status=500, probability=0.5)
        idn = Idn(fake, authenticate=False)
        idn.session.headers["Authorization"] = f"Bearer {fake.issue_token()}"
        return [idn.get("/v3/sources").status_code for _ in range(20)]

    first = statuses(3)
    assert first == statuses(3)
    assert {200, 500} == set(first)


# ---------------------------------------------------------------------------------------------- rate limit


def test_rate_limit_answers_429_with_the_seconds_left_in_the_window(clock: Clock) -> None:
    fake = FakeIdentityNow(clock=clock, rate_limit=(3, 10.0))
    idn = Idn(fake)
    assert [idn.get("/v3/sources").status_code for _ in range(3)] == [200, 200, 200]
    clock.advance(2.5)
    limited = idn.get("/v3/sources")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "8"
    assert limited.json() == {"message": " Rate Limit Exceeded "}
    clock.advance(7.5)
    assert idn.get("/v3/sources").status_code == 200


def test_rate_limit_is_per_client_and_per_api_version(clock: Clock) -> None:
    fake = FakeIdentityNow(clock=clock, rate_limit=(2, 10.0))
    fake.add_client("second", "secret-2")
    first, second = Idn(fake), Idn(fake, authenticate=False)
    second.login("second", "secret-2")
    assert [first.get("/v3/sources").status_code for _ in range(3)] == [200, 200, 429]
    assert first.get("/beta/sources").status_code == 200
    assert second.get("/v3/sources").status_code == 200


def test_rate_limit_can_be_changed_at_run_time(clock: Clock) -> None:
    fake = FakeIdentityNow(clock=clock)
    idn = Idn(fake)
    assert all(idn.get("/v3/sources").status_code == 200 for _ in range(5))
    fake.rate_limit = (1, 0.5)
    assert idn.get("/v3/sources").status_code == 200
    limited = idn.get("/v3/sources")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "0.5"


@pytest.mark.parametrize("limit", [(0, 10.0), (5, 0.0), (5, -1.0)])
def test_nonsensical_rate_limits_are_refused(limit: tuple[int, float]) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        FakeIdentityNow(rate_limit=limit)
    fake = FakeIdentityNow()
    with pytest.raises(ValueError, match="rate_limit"):
        fake.rate_limit = limit
    assert fake.rate_limit is None


def test_rate_limit_holds_under_concurrent_clients() -> None:
    fake = FakeIdentityNow(rate_limit=(10, 60.0))
    token = fake.issue_token()
    statuses: list[int] = []
    lock = threading.Lock()
    with serve(fake) as served:

        def call() -> None:
            response = requests.get(f"{served.url}/v3/sources", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=call) for _ in range(25)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses.count(200) == 10
    assert statuses.count(429) == 15


# ------------------------------------------------------------------------------------------- request log


def test_request_log_records_requests_with_secrets_masked(fake: FakeIdentityNow) -> None:
    idn = Idn(fake)
    idn.session.post(
        f"{BASE}/oauth/token",
        params={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )
    idn.get("/v3/sources", params={"limit": "5"})
    entries = list(fake.requests)
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", "/oauth/token", 200),
        ("POST", "/oauth/token", 200),
        ("GET", "/v3/sources", 200),
    ]
    assert b"client_secret=***" in entries[0].body
    assert CLIENT_SECRET.encode() not in entries[0].body
    assert entries[1].query["client_secret"] == ["***"]
    assert entries[2].headers["authorization"] == "***"
    assert entries[2].query == {"limit": ["5"]}
    assert all(CLIENT_SECRET not in repr(entry) for entry in entries)
    assert fake.requests.count("GET", "/v3/sources") == 1


def test_request_log_stamps_entries_with_the_fake_clock_and_the_fault(
    idn: Idn, fake: FakeIdentityNow, clock: Clock
) -> None:
    fake.requests.clear()
    fake.faults.add("semaphore", times=1)
    idn.get("/v3/sources")
    (entry,) = list(fake.requests)
    assert entry.at == clock.now
    assert entry.fault == "semaphore"
    assert entry.status == 429


def test_multipart_secrets_are_masked_too(fake: FakeIdentityNow) -> None:
    session = mount(requests.Session(), BASE, fake)
    fields = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert token_with(session, files={n: (None, v) for n, v in fields.items()}).status_code == 200
    (entry,) = list(fake.requests)
    assert CLIENT_SECRET.encode() not in entry.body


def test_repr_names_clients_but_never_secrets(fake: FakeIdentityNow) -> None:
    text = repr(fake)
    assert CLIENT_ID in text
    assert CLIENT_SECRET not in text


# ------------------------------------------------------------------------------------------------- reset


def test_reset_forgets_state_tokens_faults_and_the_log(idn: Idn, fake: FakeIdentityNow) -> None:
    seeded_item(fake)
    fake.add_service_desk_integration("SN")
    fake.faults.add("latency", delay=0)
    admin_before = fake.admin["id"]
    fake.reset()
    assert fake.sources() == []
    assert fake.work_items() == []
    assert fake.service_desk_integrations() == []
    assert len(fake.faults) == 0
    assert len(fake.requests) == 0
    assert fake.admin["id"] != admin_before
    assert idn.get("/v3/sources").status_code == 401
    idn.login()
    assert idn.get("/v3/work-items").json() == []
    assert len(idn.get("/v3/service-desk-integrations/types").json()) == 3


# ------------------------------------------------------------------------------------------ TLS, threads


def test_served_over_tls_with_a_throwaway_ca(fake: FakeIdentityNow) -> None:
    fake.add_source("Badge System")
    with serve(fake, tls=True) as served:
        assert served.url.startswith("https://")
        token = requests.post(
            f"{served.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            verify=served.ca_bundle,
            timeout=5,
        ).json()["access_token"]
        response = requests.get(
            f"{served.url}/v3/sources", headers={"Authorization": f"Bearer {token}"}, verify=served.ca_bundle, timeout=5
        )
        assert [s["name"] for s in response.json()] == ["Badge System"]
        info = requests.get(f"{served.url}/oauth/info", verify=served.ca_bundle, timeout=5).json()
        assert info["tokenEndpoint"] == f"{served.url}/oauth/token"


def test_concurrent_completions_complete_a_work_item_exactly_once(fake: FakeIdentityNow) -> None:
    item = seeded_item(fake)
    token = fake.issue_token()
    statuses: list[int] = []
    lock = threading.Lock()
    with serve(fake) as served:

        def complete() -> None:
            response = requests.post(
                f"{served.url}/v3/work-items/{item['id']}", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=complete) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] + [400] * 11
    assert len(fake.completions(item["id"])) == 1


def test_retry_after_rounds_up_to_whole_seconds(clock: Clock) -> None:
    fake = FakeIdentityNow(clock=clock, rate_limit=(1, 10.0))
    idn = Idn(fake)
    idn.get("/v3/sources")
    clock.advance(0.25)
    assert idn.get("/v3/sources").headers["Retry-After"] == str(math.ceil(9.75))
