"""Both clients (and the adapters the engine drives them through) against a server that answers anything.

Whatever the body — arbitrary JSON, an HTML page, a truncated document, wrong types in the right places, huge
strings, a missing envelope, bytes that are not UTF-8 — and whatever the status and headers, a call either
succeeds or raises one of the library's own errors (:class:`DecodeError`, :class:`ApiError`). Never a
``TypeError``, ``KeyError``, ``AttributeError`` or ``ValueError`` from deep inside a decoder.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.adapters import ServiceNowTicketing, WorkItemSource
from sim_servicenow.auth import BasicAuth, BearerToken, OAuth2ClientCredentials
from sim_servicenow.engine import PlanOutcome, PlanReport, TicketRef
from sim_servicenow.errors import ApiError, ConfigError, DecodeError
from sim_servicenow.http import RetryPolicy
from sim_servicenow.identitynow import IdentityNowClient
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    IntegrationConfig,
    ManagedSource,
    ProvisioningPlan,
    TicketPayload,
    TicketType,
    plan_ticket_groups,
    render_ticket_payload,
)
from sim_servicenow.servicenow import Field, ServiceNowClient
from sim_servicenow.testing import WSGIAdapter

from .conftest import attempt

SN_URL = "https://hostile-sn.test"
IDN_URL = "https://hostile-idn.test"
LIBRARY_ERRORS = (DecodeError, ApiError)
SYS_ID = "0" * 32
OTHER_SYS_ID = "1" * 32

# ------------------------------------------------------------------------------------------------ responses

#: Field names the decoders look for, so "wrong types in the right places" is likely, not just possible.
SERVICENOW_KEYS = (
    "sys_id", "number", "request_id", "request_number", "table", "parent_id", "parent_table", "correlation_id",
    "request_state", "state", "request", "request.request_state", "cat_item", "variables.sim_correlation_id",
    "sys_class_name", "sys_created_on", "sys_updated_on", "active", "u_cost_centre", "items", "cart_id", "subtotal",
    "id", "name", "displayvalue", "value", "link", "display_value", "element", "element_id", "sys_created_by",
    "sequence", "label", "inactive", "variables", "quantity", "mandatory", "type", "close_code", "error", "message",
    "detail", "status",
)  # fmt: skip
IDENTITYNOW_KEYS = (
    "id", "name", "description", "type", "state", "created", "modified", "completed", "ownerId", "ownerName",
    "requesterId", "requesterDisplayName", "approvalItems", "remediationItems", "numItems", "form", "errors",
    "application", "account", "operation", "value", "applicationName", "attributeName", "attributeOperation",
    "attributeValue", "nativeIdentity", "targetId", "targetName", "targetDisplayName", "owner", "connector",
    "cluster", "attributes", "sources", "statusMap", "request", "beforeProvisioningRule", "detailCode",
    "trackingId", "messages", "causes", "access_token", "expires_in", "token_type", "refresh_token", "count",
    "provisioningStatusCheckIntervalMinutes", "provisioningMaxStatusCheckDays", "managedResourceRefs", "error",
    "error_description", "message", "text", "locale",
)  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "true", "false", "2026-03-02 09:00:00", "2026-03-02T09:00:00Z", "not a date", "3", "-5"])
)


def json_values(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    names = st.sampled_from(keys) | st.text(max_size=12)
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=6), max_leaves=24
    )


def records(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), json_values(keys), max_size=len(keys))


def bodies(keys: tuple[str, ...], envelope: Callable[[Any], Any]) -> st.SearchStrategy[bytes]:
    """Response bodies: mostly JSON near the expected shape, then everything that is not."""
    anything = json_values(keys)
    shaped = st.one_of(
        records(keys).map(envelope),
        st.lists(records(keys), max_size=4).map(envelope),
        anything.map(envelope),
        anything,
        st.lists(records(keys), max_size=4),
        records(keys),
    )
    encoded = shaped.map(lambda value: json.dumps(value).encode())
    return st.one_of(
        encoded,
        st.tuples(encoded, st.integers(min_value=0, max_value=200)).map(lambda pair: pair[0][: pair[1]]),  # truncated
        st.sampled_from(
            [
                b"",
                b"<!DOCTYPE html><html><body><h1>Your instance is hibernating</h1></body></html>",
                b"<html><head><title>502 Bad Gateway</title></head></html>",
                b"null",
                b'{"result": null}',
                b"\xff\xfe\x00not utf-8\x80",
                b'{"result": {"sys_id": "' + b"x" * 1_000_000 + b'"}}',
                b"[" + b'{"id": "' + b"y" * 200_000 + b'"},' * 5 + b"{}]",
                b'{"error": {"message": "Invalid table", "detail": null}, "status": "failure"}',
                b'{"detailCode": "400.1 Bad Request", "trackingId": 7, "messages": "not a list"}',
            ]
        ),
        st.binary(max_size=64),
    )


@attrs.frozen
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


def answers(keys: tuple[str, ...], envelope: Callable[[Any], Any]) -> st.SearchStrategy[Answer]:
    # Totals stay small: paging walks through empty pages up to the first page's X-Total-Count (a page emptied by
    # ACLs looks the same), so a server claiming 10**20 records is answered with 10**20 / page_size requests.
    header_values = st.sampled_from(["0", "1", "7", "40", "-3", "abc", "", "1.5"])
    headers = st.lists(
        st.tuples(st.sampled_from(["X-Total-Count", "Retry-After", "Link", "X-RateLimit-Reset"]), header_values),
        max_size=3,
        unique_by=lambda pair: pair[0],
    )
    content_types = st.sampled_from(
        ["application/json", "application/json;charset=utf-8", "text/html", "text/plain", "application/xml"]
    )
    status = st.sampled_from([200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503]) | st.integers(
        min_value=200, max_value=599
    )
    return st.builds(
        lambda code, body, extra, ctype: Answer(code, body, (("Content-Type", ctype), *extra)),
        status,
        bodies(keys, envelope),
        headers,
        content_types,
    )


class HostileServer:
    """A WSGI app answering the first few requests with the drawn answer, then with an empty, final page.

    The later answers keep paging finite: a hostile total count cannot make a test loop for ever.
    """

    def __init__(self, answer: Answer, final: bytes, repeat: int = 3) -> None:
        self.answer = answer
        self.final = final
        self.repeat = repeat
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        if self.calls <= self.repeat:
            start_response(f"{self.answer.status} Whatever", list(self.answer.headers))
            return [self.answer.body]
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Total-Count", "0")])
        return [self.final]


def _session(url: str, app: HostileServer) -> requests.Session:
    session = requests.Session()
    session.mount(url + "/", WSGIAdapter(app))
    return session


#: Calls that first check the sources they are given against the tenant: a tenant that does not list them is a
#: configuration problem (documented as ConfigError), whatever else the answer holds.
CHECKS_SOURCES = frozenset({"work_items.iter_manual_actions", "source.poll"})


def _only_library_errors(name: str, call: Callable[[], object]) -> None:
    expected: tuple[type[Exception], ...] = (*LIBRARY_ERRORS, ConfigError) if name in CHECKS_SOURCES else LIBRARY_ERRORS

    def consumed() -> object:
        result = call()
        if isinstance(result, Iterable) and not isinstance(result, (str, bytes, dict)):
            return list(itertools.islice(result, 50))
        return result

    outcome = attempt(consumed, expected)
    if isinstance(outcome, Exception):
        # One line, whatever the server wrote into its error body: a log line cannot be forged through it.
        assert "\n" not in str(outcome), repr(str(outcome))
        assert "\r" not in str(outcome), repr(str(outcome))


FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# ------------------------------------------------------------------------------------------------ ServiceNow


def _servicenow(app: HostileServer) -> ServiceNowClient:
    return ServiceNowClient(
        SN_URL,
        BasicAuth("admin", "admin"),
        session=_session(SN_URL, app),
        retry=RetryPolicy.never(),
        request_item_wait=0.0,
    )


def _payload(config: IntegrationConfig) -> TicketPayload:
    """A real payload: rendered from a plan by the mapping layer, as the engine does."""
    plan = ProvisioningPlan(
        "plan", account_requests=(AccountRequest(AccountOperation.CREATE, source_id="a" * 32, native_identity="ada"),)
    )
    [group] = plan_ticket_groups(plan, config)
    return render_ticket_payload(plan, group, config)


_CATALOG = IntegrationConfig(sources=(ManagedSource("a" * 32, "Badge", "b" * 32),))
_TABLE = IntegrationConfig(sources=(ManagedSource("a" * 32, "Badge"),), ticket_type=TicketType.TABLE, table="incident")
_REF = TicketRef("servicenow", "sc_request", SYS_ID, "REQ0010001", (OTHER_SYS_ID,))
_INCIDENT = TicketRef("servicenow", "incident", OTHER_SYS_ID, "INC0010001")

SERVICENOW_CALLS: dict[str, Callable[[ServiceNowClient], object]] = {
    "table.get": lambda c: c.table("incident").get(SYS_ID),
    "table.query": lambda c: c.table("incident").query(Field("active").eq(True), page_size=2, limit=6),
    "table.first": lambda c: c.table("sc_request").first(Field("correlation_id").eq("k/1")),
    "table.count": lambda c: c.table("incident").count(),
    "table.create": lambda c: c.table("incident").create({"short_description": "x"}),
    "table.update": lambda c: c.table("sc_request").update(SYS_ID, {"correlation_id": "k"}, idempotent=True),
    "table.delete": lambda c: c.table("incident").delete(SYS_ID),
    "statuses": lambda c: c.statuses("sc_request", [SYS_ID, OTHER_SYS_ID], ["request_state"]),
    "choices": lambda c: c.choices("incident", "state"),
    "catalog.get_item": lambda c: c.catalog.get_item("b" * 32),
    "catalog.order_now": lambda c: c.catalog.order_now("b" * 32, {"sim_correlation_id": "k/1"}),
    "catalog.add_to_cart": lambda c: c.catalog.add_to_cart("b" * 32, {"a": "b"}),
    "catalog.get_cart": lambda c: c.catalog.get_cart(),
    "catalog.submit_order": lambda c: c.catalog.submit_order(),
    "catalog.request_items": lambda c: c.catalog.request_items(SYS_ID),
    "journal.add_work_note": lambda c: c.journal.add_work_note("incident", SYS_ID, "note"),
    "journal.history": lambda c: c.journal.history("incident", SYS_ID),
    # The adapter the engine raises and tracks tickets through.
    "ticketing.create(catalog)": lambda c: ServiceNowTicketing.from_config(c, _CATALOG).create(
        _payload(_CATALOG), "plan/source-x"
    ),
    "ticketing.create(table)": lambda c: ServiceNowTicketing.from_config(c, _TABLE).create(
        _payload(_TABLE), "plan/source-x"
    ),
    "ticketing.find(catalog)": lambda c: ServiceNowTicketing.from_config(c, _CATALOG).find("plan/source-x"),
    "ticketing.find(table)": lambda c: ServiceNowTicketing.from_config(c, _TABLE).find("plan/source-x"),
    "ticketing.statuses": lambda c: ServiceNowTicketing.from_config(c, _CATALOG).statuses([_REF, _INCIDENT]),
    "ticketing.comment": lambda c: ServiceNowTicketing.from_config(c, _CATALOG).comment(_REF, "note"),
}


@FUZZ
@given(call=st.sampled_from(sorted(SERVICENOW_CALLS)), answer=answers(SERVICENOW_KEYS, lambda v: {"result": v}))
def test_servicenow_client_raises_only_library_errors(call: str, answer: Answer) -> None:
    client = _servicenow(HostileServer(answer, final=b'{"result": []}'))
    _only_library_errors(call, lambda: SERVICENOW_CALLS[call](client))


# ------------------------------------------------------------------------------------------------ IdentityNow


def _identitynow(app: HostileServer) -> IdentityNowClient:
    return IdentityNowClient(IDN_URL, BearerToken("t0ken"), session=_session(IDN_URL, app), retry=RetryPolicy.never())


_PLAN = ProvisioningPlan("c" * 32)
_REPORTS = {
    outcome: PlanReport("c" * 32, outcome, (), (), f"sim-servicenow: {outcome.value}")
    for outcome in (PlanOutcome.COMMITTED, PlanOutcome.FAILED)
}

IDENTITYNOW_CALLS: dict[str, Callable[[IdentityNowClient], object]] = {
    "sources.list": lambda c: c.sources.list(),
    "sources.iter": lambda c: c.sources.iter(page_size=2),
    "sources.get": lambda c: c.sources.get("a" * 32),
    "sources.find_by_name": lambda c: c.sources.find_by_name("Badge"),
    "sources.backend_ids": lambda c: c.sources.backend_ids(),
    "work_items.list": lambda c: c.work_items.list(count=True),
    "work_items.get": lambda c: c.work_items.get("c" * 32),
    "work_items.complete": lambda c: c.work_items.complete("c" * 32, "done"),
    "work_items.forward": lambda c: c.work_items.forward("c" * 32, "d" * 32, "over to you"),
    "work_items.count": lambda c: c.work_items.count(),
    "work_items.summary": lambda c: c.work_items.summary(),
    "work_items.iter_manual_actions": lambda c: c.work_items.iter_manual_actions(["a" * 32], page_size=2),
    "sim_integrations.list": lambda c: c.sim_integrations.list(),
    "sim_integrations.get": lambda c: c.sim_integrations.get("e" * 32),
    "service_desk_integrations.list": lambda c: c.service_desk_integrations.list(),
    "service_desk_integrations.get": lambda c: c.service_desk_integrations.get("e" * 32),
    "service_desk_integrations.status_check_configuration": lambda c: (
        c.service_desk_integrations.status_check_configuration()
    ),
    "account_activities.list": lambda c: c.account_activities.list(),
    # The plan source the engine polls and reports through.
    "source.poll": lambda c: WorkItemSource(c, [ManagedSource("a" * 32, "Badge")]).poll(),
    "source.report(committed)": lambda c: WorkItemSource(c, []).report(_PLAN, _REPORTS[PlanOutcome.COMMITTED]),
    "source.report(failed)": lambda c: WorkItemSource(c, [], forward_failed_to="d" * 32).report(
        _PLAN, _REPORTS[PlanOutcome.FAILED]
    ),
}


@FUZZ
@given(call=st.sampled_from(sorted(IDENTITYNOW_CALLS)), answer=answers(IDENTITYNOW_KEYS, lambda v: v))
def test_identitynow_client_raises_only_library_errors(call: str, answer: Answer) -> None:
    client = _identitynow(HostileServer(answer, final=b"[]"))
    _only_library_errors(call, lambda: IDENTITYNOW_CALLS[call](client))


# ------------------------------------------------------------------------------------------------ token endpoints


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers(IDENTITYNOW_KEYS, lambda v: v))
def test_a_token_endpoint_answering_anything_gives_only_library_errors(answer: Answer) -> None:
    app = HostileServer(answer, final=b"{}", repeat=10)
    token = OAuth2ClientCredentials.for_identitynow(
        IDN_URL, "client", "s3cret-value", session=_session(IDN_URL, app), retry=RetryPolicy.never()
    )
    outcome = attempt(token.get_token, LIBRARY_ERRORS)
    if isinstance(outcome, Exception):
        assert "s3cret-value" not in str(outcome)
        assert "\n" not in str(outcome)
    else:
        assert isinstance(outcome.access_token, str)
        assert outcome.access_token


# ------------------------------------------------------------------------------------------------ found by the fuzz


def test_a_list_of_records_holding_a_non_object_is_a_decode_error() -> None:
    body = json.dumps({"result": [{"sys_id": SYS_ID}, 7, "text"]}).encode()
    client = _servicenow(HostileServer(Answer(200, body, (("Content-Type", "application/json"),)), final=b"{}"))
    with pytest.raises(DecodeError, match="non-object"):
        list(client.table("incident").query(limit=5))


def test_a_server_message_with_line_breaks_stays_on_one_line() -> None:
    envelope = {"error": {"message": "Invalid table\nERROR forged", "detail": "at line 1\r\nat line 2"}}
    answer = Answer(400, json.dumps(envelope).encode(), (("Content-Type", "application/json"),))
    client = _servicenow(HostileServer(answer, final=b"{}"))
    with pytest.raises(ApiError) as caught:
        client.table("incident").get(SYS_ID)
    assert "\n" not in str(caught.value)
    assert "Invalid table\\nERROR forged" in str(caught.value)
    assert caught.value.message == "Invalid table\nERROR forged"  # the attribute keeps what the server said
