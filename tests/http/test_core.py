"""The HTTP core against a real loopback server: retries, Retry-After, error envelopes, decoding, logging."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from sim_servicenow.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
    DecodeError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from sim_servicenow.http import HttpCore, Page, RetryPolicy, Timeout, iter_offset_pages, parse_retry_after, redact_url
from sim_servicenow.testing import DropConnection, mount, serve

Reply = tuple[int, dict[str, str], bytes]


class Script:
    """A WSGI app answering each request with the next scripted reply (the last one repeats)."""

    def __init__(self, *replies: Reply | Callable[[dict[str, Any]], Reply]) -> None:
        self.replies = list(replies)
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read()
        with self.lock:
            self.seen.append(
                {
                    "method": environ["REQUEST_METHOD"],
                    "path": environ["PATH_INFO"],
                    "query": environ["QUERY_STRING"],
                    "body": body,
                    "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
                    "at": time.monotonic(),
                }
            )
            reply = self.replies[min(len(self.seen) - 1, len(self.replies) - 1)]
        if callable(reply):
            reply = reply(environ)
        status, headers, payload = reply
        start_response(f"{status} X", list(headers.items()))
        return [payload]


def js(status: int, body: Any, **headers: str) -> Reply:
    return (status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode())


def drop(_environ: dict[str, Any]) -> Reply:
    raise DropConnection


SN_ERROR = {
    "error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts"},
    "status": "failure",
}
IDN_ERROR = {
    "detailCode": "400.1 Bad request content",
    "trackingId": "e7eab60924f64aa284175b9fa3309599",
    "messages": [
        {"locale": "und", "localeOrigin": "DEFAULT", "text": "The request was syntactically correct but invalid."},
        {"locale": "en-US", "localeOrigin": "REQUEST", "text": "The request contained invalid content."},
    ],
    "causes": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": "limit must be at most 250"}],
}

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, deadline=10.0)


@pytest.fixture
def served() -> Iterator[Callable[..., tuple[HttpCore, Script]]]:
    stack: list[Any] = []

    def make(*replies: Any, retry: RetryPolicy = FAST, timeout: Timeout | None = None) -> tuple[HttpCore, Script]:
        app = Script(*replies)
        ctx = serve(app)
        server = ctx.__enter__()
        stack.append(ctx)
        core = HttpCore(server.url, retry=retry, timeout=timeout or Timeout(connect=2, read=2))
        stack.append(core)
        return core, app

    yield make
    for item in reversed(stack):
        if isinstance(item, HttpCore):
            item.close()
        else:
            item.__exit__(None, None, None)


def test_success_sends_user_agent_accept_and_decodes(served: Any) -> None:
    core, app = served(js(200, {"result": [1, 2]}))
    assert core.request_json("GET", "/api/now/table/incident", params={"sysparm_limit": 2}) == {"result": [1, 2]}
    seen = app.seen[0]
    assert seen["path"] == "/api/now/table/incident"
    assert seen["query"] == "sysparm_limit=2"
    assert seen["headers"]["HTTP_USER_AGENT"].startswith("sim-servicenow/")
    assert seen["headers"]["HTTP_ACCEPT"] == "application/json"


def test_base_url_path_is_kept_when_joining(served: Any) -> None:
    app = Script(js(200, {}))
    with serve(app) as server, HttpCore(server.url + "/tenant/api") as core:
        core.request_json("GET", "/v3/sources")
    assert app.seen[0]["path"] == "/tenant/api/v3/sources"


def test_retry_after_seconds_is_honoured(served: Any) -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=3, sleep=slept.append)
    core, app = served(
        js(429, {"message": " Rate Limit Exceeded "}, **{"Retry-After": "7"}), js(200, {"ok": 1}), retry=policy
    )
    assert core.request_json("GET", "/x") == {"ok": 1}
    assert slept == [7.0]
    assert len(app.seen) == 2
    assert core.stats["retries"] == 1


def test_retry_after_http_date_is_honoured(served: Any) -> None:
    slept: list[float] = []
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    core, _ = served(js(503, SN_ERROR, **{"Retry-After": when}), js(200, {}), retry=RetryPolicy(sleep=slept.append))
    core.request_json("GET", "/x")
    assert len(slept) == 1
    assert 25 <= slept[0] <= 30


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=5.0)
    assert policy.backoff(1, retry_after=3600) == 5.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_capped_jittered_and_grows() -> None:
    policy = RetryPolicy(initial_backoff=1.0, multiplier=2.0, max_backoff=4.0)
    samples = {attempt: [policy.backoff(attempt) for _ in range(300)] for attempt in (1, 2, 3, 6)}
    assert all(0 <= s <= 1.0 for s in samples[1])
    assert all(0 <= s <= 2.0 for s in samples[2])
    assert all(0 <= s <= 4.0 for s in samples[6])
    assert max(samples[6]) > 2.0  # the ceiling really grew to the cap
    assert len({round(s, 6) for s in samples[3]}) > 100  # jittered, not a fixed schedule


def test_deadline_stops_retrying(served: Any) -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=10, deadline=5.0, sleep=slept.append)
    core, app = served(js(503, SN_ERROR, **{"Retry-After": "4"}), retry=policy)
    with pytest.raises(ServerError) as info:
        core.request_json("GET", "/x")
    # 4 s fits in the 5 s deadline once; a second 4 s wait would pass it.
    assert slept == [4.0]
    assert len(app.seen) == 2
    assert info.value.retry_after == 4.0


def test_max_attempts_then_error(served: Any) -> None:
    core, app = served(js(502, SN_ERROR))
    with pytest.raises(ServerError) as info:
        core.request_json("GET", "/x")
    assert len(app.seen) == FAST.max_attempts
    assert info.value.status == 502


def test_plain_post_is_not_retried_on_5xx_or_connection_loss(served: Any) -> None:
    core, app = served(js(503, SN_ERROR), js(201, {"result": {}}))
    with pytest.raises(ServerError):
        core.request_json("POST", "/api/now/table/incident", json_body={"short_description": "x"})
    assert len(app.seen) == 1

    core, app = served(drop, js(201, {"result": {}}))
    with pytest.raises(TransportError):
        core.request_json("POST", "/api/now/table/incident", json_body={"short_description": "x"})
    assert len(app.seen) == 1


def test_post_marked_idempotent_is_retried(served: Any) -> None:
    core, app = served(js(503, SN_ERROR), js(201, {"result": {"sys_id": "a"}}))
    assert core.request_json("POST", "/x", json_body={}, idempotent=True) == {"result": {"sys_id": "a"}}
    assert len(app.seen) == 2


def test_post_refused_with_429_is_retried(served: Any) -> None:
    # A 429 is a refusal before any work: both vendors document it so; repeating it cannot duplicate.
    core, app = served(js(429, SN_ERROR, **{"Retry-After": "0"}), js(201, {"result": {}}))
    core.request_json("POST", "/x", json_body={})
    assert len(app.seen) == 2


def test_get_is_retried_after_dropped_connection(served: Any) -> None:
    core, app = served(drop, js(200, {"ok": True}))
    assert core.request_json("GET", "/x") == {"ok": True}
    assert len(app.seen) == 2
    assert core.stats["transport_errors"] == 1


def test_timeout_becomes_transport_error(served: Any) -> None:
    def slow(_environ: dict[str, Any]) -> Reply:
        time.sleep(0.6)
        return js(200, {})

    core, _ = served(slow, retry=RetryPolicy.never(), timeout=Timeout(connect=1, read=0.2))
    with pytest.raises(TransportError) as info:
        core.request_json("GET", "/slow")
    assert "no response" in str(info.value)
    assert isinstance(info.value.__cause__, requests.Timeout)


def test_connection_refused_is_transport_error() -> None:
    with serve(Script(js(200, {}))) as server:
        url = server.url
    with HttpCore(url, retry=RetryPolicy.never()) as core, pytest.raises(TransportError) as info:
        core.request("GET", "/x")
    assert info.value.method == "GET"
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, ServerError),
        (504, ServerError),
        (418, ApiError),
    ],
)
def test_status_maps_to_subclass(served: Any, status: int, cls: type[ApiError]) -> None:
    core, _ = served(js(status, SN_ERROR), retry=RetryPolicy.never())
    with pytest.raises(cls) as info:
        core.request_json("GET", "/api/now/table/incident/abc")
    assert type(info.value) is cls
    assert info.value.status == status


def test_servicenow_envelope_is_read(served: Any) -> None:
    core, _ = served(js(404, SN_ERROR), retry=RetryPolicy.never())
    with pytest.raises(NotFoundError) as info:
        core.request_json("GET", "/api/now/table/incident/abc")
    error = info.value
    assert error.message == "No Record found"
    assert error.detail == "Record doesn't exist or ACL restricts"
    assert error.method == "GET"
    assert error.url.endswith("/api/now/table/incident/abc")
    assert str(error).startswith("GET http://127.0.0.1:")
    assert "-> 404: No Record found" in str(error)


def test_identitynow_envelope_is_read(served: Any) -> None:
    core, _ = served(js(400, IDN_ERROR), retry=RetryPolicy.never())
    with pytest.raises(BadRequestError) as info:
        core.request_json("GET", "/v3/sources", params={"limit": 500})
    error = info.value
    assert error.message == "The request contained invalid content."  # the English message wins
    assert error.tracking_id == "e7eab60924f64aa284175b9fa3309599"
    assert error.detail is not None
    assert "400.1 Bad request content" in error.detail
    assert "limit must be at most 250" in error.detail
    assert "e7eab60924f64aa284175b9fa3309599" in str(error)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"error": "JWT validation failed: JWT is expired"}, "JWT validation failed: JWT is expired"),
        (429, {"message": " Rate Limit Exceeded "}, "Rate Limit Exceeded"),
        (
            401,
            {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}},
            "User Not Authenticated",
        ),
    ],
)
def test_bare_bodies_of_401_and_429(served: Any, status: int, body: Any, message: str) -> None:
    core, _ = served(js(status, body), retry=RetryPolicy.never())
    with pytest.raises(ApiError) as info:
        core.request_json("GET", "/x")
    assert info.value.message == message


def test_jira_envelope_is_read(served: Any) -> None:
    body = {"errorMessages": ["Issue does not exist"], "errors": {"summary": "Field 'summary' is required"}}
    core, _ = served(js(400, body, **{"X-AREQUESTID": "1104x2x1"}), retry=RetryPolicy.never())
    with pytest.raises(BadRequestError) as info:
        core.request_json("POST", "/rest/servicedeskapi/request", json_body={})
    assert info.value.message == "Issue does not exist"
    assert info.value.detail == "summary: Field 'summary' is required"
    assert info.value.tracking_id == "1104x2x1"


def test_html_body_is_decode_error(served: Any) -> None:
    page = (
        b"<html><head><title>Instance Hibernating page</title></head><body>Your instance is hibernating</body></html>"
    )
    core, _ = served((200, {"Content-Type": "text/html; charset=utf-8"}, page))
    with pytest.raises(DecodeError) as info:
        core.request_json("GET", "/api/now/table/incident")
    error = info.value
    assert error.status == 200
    assert error.content_type == "text/html; charset=utf-8"
    assert error.body_start.startswith("<html><head><title>Instance Hibernating")
    assert "expected a JSON body" in str(error)
    assert isinstance(error.__cause__, ValueError)


def test_truncated_json_is_decode_error(served: Any) -> None:
    core, _ = served((200, {"Content-Type": "application/json"}, b'{"result": [{"sys_id": "a"'))
    with pytest.raises(DecodeError):
        core.request_json("GET", "/x")


def test_html_error_page_keeps_status_class(served: Any) -> None:
    core, _ = served((502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"), retry=RetryPolicy.never())
    with pytest.raises(ServerError) as info:
        core.request_json("GET", "/x")
    assert info.value.body == "<html>Bad Gateway</html>"


def test_empty_204_gives_none(served: Any) -> None:
    core, _ = served((204, {}, b""))
    assert core.request_json("DELETE", "/api/now/table/incident/abc") is None


def test_injected_session_is_used_and_not_closed() -> None:
    app = Script(js(200, {"via": "adapter"}))
    session = mount(requests.Session(), "https://fake.example.test", app)
    core = HttpCore("https://fake.example.test", session=session)
    assert core.request_json("GET", "/x") == {"via": "adapter"}
    core.close()
    assert session.adapters  # still usable: the caller owns it
    assert session.get("https://fake.example.test/y").json() == {"via": "adapter"}


def test_plain_http_refused_for_remote_hosts() -> None:
    with pytest.raises(ConfigError) as info:
        HttpCore("http://dev1234.service-now.com")
    assert "base_url" in str(info.value)
    assert HttpCore("http://dev1234.service-now.com", allow_insecure_http=True).base_url.startswith("http://")
    assert HttpCore("http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080/"
    assert HttpCore("http://localhost:8080").base_url == "http://localhost:8080/"
    with pytest.raises(ConfigError):
        HttpCore("ftp://example.com")


def test_logging_redacts_secrets(served: Any, caplog: pytest.LogCaptureFixture) -> None:
    core, _ = served(js(401, {"error": "invalid_client"}), retry=RetryPolicy.never())
    caplog.set_level(logging.DEBUG, logger="sim_servicenow")
    with pytest.raises(AuthenticationError) as info:
        core.request_json("POST", "/oauth/token", params={"client_id": "abc", "client_secret": "s3cr3t-VALUE"})
    text = caplog.text + str(info.value) + repr(info.value) + repr(core)
    assert "s3cr3t-VALUE" not in text
    assert "client_secret=***" in caplog.text
    assert any(r.levelno == logging.DEBUG and "-> 401 in" in r.getMessage() for r in caplog.records)


def test_redact_url_masks_userinfo_and_secret_params() -> None:
    assert redact_url("https://u:p@h.test/a?password=x&b=1") == "https://***@h.test/a?password=***&b=1"
    assert redact_url("https://h.test/a?sysparm_query=active%3Dtrue") == "https://h.test/a?sysparm_query=active%3Dtrue"


def test_without_sleeping_keeps_schedule_but_does_not_wait(served: Any) -> None:
    policy = RetryPolicy(max_attempts=3).without_sleeping()
    core, app = served(js(503, SN_ERROR, **{"Retry-After": "30"}), js(200, {}), retry=policy)
    started = time.monotonic()
    core.request_json("GET", "/x")
    assert time.monotonic() - started < 5
    assert len(app.seen) == 2


class TestPaging:
    def test_lazy_and_complete_with_total(self) -> None:
        data = list(range(23))
        calls: list[tuple[int, int]] = []

        def fetch(offset: int, limit: int) -> Page[int]:
            calls.append((offset, limit))
            return Page(data[offset : offset + limit], total=len(data))

        iterator = iter_offset_pages(fetch, page_size=10)
        assert calls == []  # nothing fetched before the first item is asked for
        assert next(iterator) == 0
        assert calls == [(0, 10)]
        assert [0, *iterator] == data
        assert calls == [(0, 10), (10, 10), (20, 10)]

    def test_short_pages_in_the_middle_do_not_truncate(self) -> None:
        # ServiceNow: records hidden by ACLs still use up the offset, so a page can be short mid-way.
        pages = {0: [1, 2, 3], 5: [6, 7, 8, 9, 10], 10: [11], 15: []}

        def fetch(offset: int, limit: int) -> Page[int]:
            return Page(pages[offset], total=None)

        assert list(iter_offset_pages(fetch, page_size=5, short_page_is_last=False)) == [1, 2, 3, 6, 7, 8, 9, 10, 11]

    def test_short_page_ends_when_allowed(self) -> None:
        def fetch(offset: int, limit: int) -> Page[int]:
            return Page([1, 2] if offset == 0 else [99], total=None)

        assert list(iter_offset_pages(fetch, page_size=5)) == [1, 2]

    def test_total_keeps_paging_past_short_page(self) -> None:
        def fetch(offset: int, limit: int) -> Page[int]:
            return Page([offset] if offset < 30 else [], total=30)

        assert list(iter_offset_pages(fetch, page_size=10)) == [0, 10, 20]

    def test_bad_page_size(self) -> None:
        with pytest.raises(ValueError, match="page_size"):
            list(iter_offset_pages(lambda _offset, _limit: Page([]), page_size=0))
