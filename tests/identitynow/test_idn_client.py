"""The client as a whole: construction, URL layouts, retries and Retry-After, rate limiting, tokens, TLS, logging."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sim_servicenow.auth import BearerToken, OAuth2ClientCredentials
from sim_servicenow.errors import ConfigError, DecodeError, RateLimitError, TransportError
from sim_servicenow.http import RetryPolicy
from sim_servicenow.identitynow import ApiLayout, IdentityNowClient, WindowRateLimiter
from sim_servicenow.testing import FakeIdentityNow, mount, serve
from sim_servicenow.testing._faults import FaultKind

# ------------------------------------------------------------------------------------------ construction


def test_repr_shows_the_url_and_the_auth_type_only(mounted: Any) -> None:
    text = repr(mounted.client)
    assert text == "IdentityNowClient(base_url='https://acme.api.identitynow.test/', auth=OAuth2ClientCredentials)"
    limited = mounted.connect(rate_limiter=WindowRateLimiter())
    assert "auth=OAuth2ClientCredentials" in repr(limited)
    assert "fake-client-secret" not in repr(limited)


@pytest.mark.parametrize(
    ("url", "options", "problem"),
    [
        ("https://acme.api.identitynow.com/v3", {}, "base_url"),
        ("https://acme.api.identitynow.com/beta/", {}, "base_url"),
        ("https://acme.api.identitynow.com/v2025", {}, "base_url"),
        ("http://acme.api.identitynow.com", {}, "base_url"),
        ("acme.api.identitynow.com", {}, "base_url"),
        ("https://acme.api.identitynow.com", {"layout": "v3"}, "layout"),
    ],
)
def test_invalid_settings_are_config_errors(url: str, options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        IdentityNowClient(url, BearerToken("t"), **options)
    assert [p.path for p in raised.value.problems] == [problem]


def test_plain_http_to_a_named_host_needs_consent() -> None:
    client = IdentityNowClient("http://idn.internal.test", BearerToken("t"), allow_insecure_http=True)
    assert client.base_url == "http://idn.internal.test/"
    client.close()


def test_tls_settings_reach_the_http_core(tmp_path: Any) -> None:
    bundle = str(tmp_path / "ca.pem")
    client = IdentityNowClient(
        "https://acme.api.identitynow.test", None, verify=bundle, cert=("client.pem", "client.key")
    )
    assert (client.http.verify, client.http.cert) == (bundle, ("client.pem", "client.key"))


def test_layout_accepts_the_enum_and_strings() -> None:
    assert IdentityNowClient("https://a.test", None, layout=ApiLayout.PER_API).layout is ApiLayout.PER_API
    assert IdentityNowClient("https://a.test", None, layout="per-api").layout is ApiLayout.PER_API
    assert IdentityNowClient("https://a.test", None).layout is ApiLayout.CLASSIC


_CALLS: dict[str, tuple[Callable[[Any], object], str, str]] = {
    "sources": (lambda c: c.sources.list(), "/v3/sources", "/sources/v1"),
    "service desk": (
        lambda c: c.service_desk_integrations.types(),
        "/v3/service-desk-integrations/types",
        "/service-desk-integrations/v1/types",
    ),
    "status checks": (
        lambda c: c.service_desk_integrations.status_check_configuration(),
        "/v3/service-desk-integrations/status-check-configuration",
        "/service-desk-integrations/v1/status-check-configuration",
    ),
    "sim": (lambda c: c.sim_integrations.list(), "/beta/sim-integrations", "/sim-integrations/v1"),
    "work items": (lambda c: c.work_items.summary(), "/v3/work-items/summary", "/work-items/v1/summary"),
    "activities": (lambda c: c.account_activities.list(), "/v3/account-activities", "/account-activities/v1"),
    "legacy sources": (lambda c: c.sources.list_legacy(), "/cc/api/source/list", "/cc/api/source/list"),
}


@pytest.mark.parametrize("api", sorted(_CALLS))
@pytest.mark.parametrize("layout", ["classic", "per-api"])
def test_each_api_is_addressed_per_layout(mounted: Any, api: str, layout: str) -> None:
    call, classic, per_api = _CALLS[api]
    call(mounted.connect(layout=layout))
    assert mounted.api_requests()[-1].path == (classic if layout == "classic" else per_api)


def test_an_injected_session_stays_open(fake: FakeIdentityNow, session: requests.Session) -> None:
    mount(session, "https://acme.api.identitynow.test", fake)
    auth = OAuth2ClientCredentials.for_identitynow(
        "https://acme.api.identitynow.test", "fake-client-id", "fake-client-secret", session=session
    )
    with IdentityNowClient("https://acme.api.identitynow.test", auth, session=session) as client:
        client.work_items.count()
    # The caller's session still works after the client is closed.
    with IdentityNowClient("https://acme.api.identitynow.test", auth, session=session) as again:
        assert again.work_items.count() == 0


# ------------------------------------------------------------------------------ retries and rate limits


def test_retry_after_is_honoured(idn: Any) -> None:
    idn.client.work_items.count()  # the token is fetched: the faults below meet API requests only
    idn.fake.faults.add(FaultKind.RATE_LIMIT, retry_after=3, times=2)
    idn.fake.faults.add(FaultKind.ERROR, status=503, times=1)
    assert idn.client.work_items.count() == 0
    assert idn.sleeps[:2] == [3.0, 3.0]
    assert len(idn.sleeps) == 3


def test_rate_limit_persisting_beyond_the_policy_is_raised_with_its_advice(mounted: Any) -> None:
    mounted.client.work_items.count()  # token first
    mounted.fake.faults.add(FaultKind.RATE_LIMIT, retry_after=7, path="/v3/")
    client = mounted.connect(retry=RetryPolicy(max_attempts=2, sleep=mounted.sleeps.append))
    with pytest.raises(RateLimitError) as raised:
        client.work_items.count()
    assert raised.value.retry_after == 7.0
    assert raised.value.message == "Rate Limit Exceeded"


class VirtualClock:
    """Seconds that pass only when someone sleeps; thread-safe."""

    def __init__(self, start: float = 1_767_600_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_client_side_limiter_keeps_a_server_limit_from_answering_429(session: requests.Session) -> None:
    clock = VirtualClock()
    fake = FakeIdentityNow(seed=1, clock=clock, rate_limit=(5, 10.0))
    mount(session, "https://acme.api.identitynow.test", fake)
    auth = OAuth2ClientCredentials.for_identitynow(
        "https://acme.api.identitynow.test", "fake-client-id", "fake-client-secret", session=session
    )
    limiter = WindowRateLimiter(5, 10.0, clock=clock, sleep=clock.sleep)
    client = IdentityNowClient(
        "https://acme.api.identitynow.test",
        auth,
        session=session,
        rate_limiter=limiter,
        retry=RetryPolicy.never(),
    )
    started = clock()
    for _ in range(12):
        client.work_items.count()
    statuses = [r.status for r in fake.requests if r.path != "/oauth/token"]
    assert statuses == [200] * 12
    assert clock() - started == pytest.approx(20.0)  # two full windows waited


def test_without_a_limiter_the_server_limit_is_met_with_retry_after(session: requests.Session) -> None:
    clock = VirtualClock()
    fake = FakeIdentityNow(seed=1, clock=clock, rate_limit=(5, 10.0))
    mount(session, "https://acme.api.identitynow.test", fake)
    auth = OAuth2ClientCredentials.for_identitynow(
        "https://acme.api.identitynow.test", "fake-client-id", "fake-client-secret", session=session
    )
    client = IdentityNowClient(
        "https://acme.api.identitynow.test", auth, session=session, retry=RetryPolicy(sleep=clock.sleep)
    )
    for _ in range(7):
        client.work_items.count()
    statuses = [r.status for r in fake.requests if r.path != "/oauth/token"]
    assert statuses.count(429) == 1
    assert statuses.count(200) == 7


# -------------------------------------------------------------------------------- tokens and transport


def test_an_expired_token_mid_paging_is_renewed_once(mounted: Any) -> None:
    for n in range(6):
        mounted.fake.add_source(f"S{n}")
    iterator = mounted.client.sources.iter(page_size=2)
    first = [next(iterator), next(iterator)]
    mounted.fake.expire_tokens()
    rest = list(iterator)
    assert [s.name for s in first + rest] == [f"S{n}" for n in range(6)]
    assert len(mounted.fake.requests.filter("POST", "/oauth/token")) == 2
    assert [r.status for r in mounted.api_requests("GET")].count(401) == 1


def test_a_dropped_connection_on_a_read_is_retried(idn: Any) -> None:
    idn.fake.add_source("S")
    idn.fake.faults.add(FaultKind.DROP, times=1, method="GET")
    assert [s.name for s in idn.client.sources.iter()] == ["S"]
    assert len(idn.sleeps) == 1


def test_an_html_page_instead_of_json_is_a_decode_error(mounted: Any) -> None:
    mounted.fake.faults.add(FaultKind.HTML, status=200, method="GET", path="/v3/sources")
    with pytest.raises(DecodeError) as raised:
        mounted.client.sources.list()
    assert raised.value.status == 200
    assert "expected a JSON body" in str(raised.value)


def test_a_wrong_shape_is_a_decode_error_naming_request_and_place(session: requests.Session) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'[{"id": "w1", "state": "Pending"}, {"id": "w2", "created": "yesterday"}]']

    mount(session, "https://stub.test", app)
    client = IdentityNowClient("https://stub.test", None, session=session)
    with pytest.raises(DecodeError) as raised:
        client.work_items.list()
    message = str(raised.value)
    assert message.startswith(
        "GET https://stub.test/v3/work-items?offset=0&limit=250 -> 200: cannot read a list of WorkItem"
    )
    assert "$[1].created" in message
    assert raised.value.method == "GET"


def test_tls_with_a_ca_bundle(fake: FakeIdentityNow) -> None:
    fake.add_source("Over TLS")
    with serve(fake, tls=True) as served, requests.Session() as session:
        assert served.ca_bundle is not None
        auth = OAuth2ClientCredentials.for_identitynow(
            served.url, "fake-client-id", "fake-client-secret", session=session, verify=served.ca_bundle
        )
        client = IdentityNowClient(served.url, auth, session=session, verify=served.ca_bundle)
        assert [s.name for s in client.sources.iter()] == ["Over TLS"]
        untrusting = IdentityNowClient(served.url, BearerToken("t"), session=session, retry=RetryPolicy.never())
        with pytest.raises(TransportError, match="SSLError"):
            untrusting.sources.list()


def test_one_client_serves_many_threads(mounted: Any) -> None:
    for n in range(30):
        mounted.fake.add_source(f"S{n:02d}")
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append([s.name for s in mounted.client.sources.iter(page_size=7)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [[f"S{n:02d}" for n in range(30)]] * 8


def test_logs_carry_no_secrets(mounted: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sim_servicenow")
    auth = mounted.auth()
    client = mounted.connect(auth=auth)
    client.work_items.count()
    client.sources.list(filters='name eq "x"')
    text = caplog.text
    assert "GET https://acme.api.identitynow.test/v3/work-items/count -> 200" in text
    assert "fake-client-secret" not in text
    assert auth.get_token().access_token not in text
