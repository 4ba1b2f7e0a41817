"""The Table API surface against FakeServiceNow, over loopback HTTP and through a mounted adapter."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import requests

from sim_servicenow.auth import BasicAuth
from sim_servicenow.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    DecodeError,
    NotFoundError,
    ServerError,
    TransportError,
)
from sim_servicenow.http import RetryPolicy
from sim_servicenow.servicenow import (
    Field,
    Incident,
    InvalidInputError,
    QueryError,
    RawQuery,
    Reference,
    ServiceNowClient,
)
from sim_servicenow.testing import FakeServiceNow, mount, serve

UTC = dt.timezone.utc
TABLE = "/api/now/table/incident"


def _gets(fake: FakeServiceNow, path: str = TABLE) -> list[dict[str, str]]:
    """The query parameters of every GET the fake received on ``path`` (one value per name)."""
    return [{k: v[0] for k, v in r.query.items()} for r in fake.requests.filter("GET", path) if r.path == path]


def test_create_returns_the_stored_record_in_wire_format(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    due = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    created = client.table("incident").create(
        {
            "short_description": "Badge for Ada",
            "urgency": 2,
            "due_date": due,
            "u_vendor_ticket": "V-7",
            "knowledge": True,
        }
    )
    assert created.get_str("number", "").startswith("INC")
    assert created.get_int("urgency") == 2
    assert created.get_bool("active") is True
    assert created.get_datetime("due_date") == dt.datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    assert created.custom_fields == {"u_vendor_ticket": "V-7"}
    stored = fake.get("incident", created.sys_id)
    assert stored is not None
    assert (stored["urgency"], stored["due_date"], stored["knowledge"]) == ("2", "2026-03-01 11:30:00", "true")
    post = fake.requests.filter("POST", TABLE)[0]
    assert post.query["sysparm_exclude_reference_link"] == ["true"]
    assert post.query["sysparm_display_value"] == ["false"]


def test_get_by_sys_id_with_fields_and_display_values(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    caller = fake.add_user("ada.lovelace", name="Ada Lovelace")
    sys_id = fake.insert("incident", short_description="Printer", caller_id=caller, state="2")["sys_id"]
    incidents = client.table("incident")

    plain = incidents.get(sys_id, fields=["number", "state", "caller_id"])
    assert set(plain.raw) == {"sys_id", "number", "state", "caller_id"}
    assert plain.get_reference("caller_id") == Reference(value=caller)

    labelled = incidents.get(sys_id, fields="state,caller_id", display_value=True, exclude_reference_link=False)
    assert labelled.get_str("state") == "In Progress"
    reference = labelled.get_reference("caller_id")
    assert reference is not None
    assert (reference.value, reference.display_value, reference.table) == (caller, "Ada Lovelace", "sys_user")

    both = incidents.get(sys_id, fields=["state", "caller_id"], display_value="all")
    assert (both.get_int("state"), both.get_display("state")) == (2, "In Progress")
    assert both.get_reference("caller_id") == Reference(value=caller, display_value="Ada Lovelace")


def test_typed_models_read_from_records(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    values = {"short_description": "Disk", "impact": "1", "urgency": "1", "correlation_id": "wi-9/0"}
    sys_id = fake.insert("incident", values)["sys_id"]
    incident = client.table("incident").get(sys_id).to_model(Incident)
    assert (incident.sys_id, incident.impact, incident.urgency, incident.correlation_id) == (sys_id, 1, 1, "wi-9/0")
    assert incident.priority == 1
    assert incident.active is True
    assert incident.opened_at is not None
    assert incident.opened_at.tzinfo is UTC


def test_missing_records_and_unknown_tables_raise_api_errors(client: ServiceNowClient) -> None:
    with pytest.raises(NotFoundError, match="No Record found"):
        client.table("incident").get("0" * 32)
    with pytest.raises(BadRequestError, match="Invalid table u_nope"):
        list(client.table("u_nope").query())
    with pytest.raises(InvalidInputError, match="invalid table name"):
        client.table("../sys_user")
    with pytest.raises(InvalidInputError, match="sys_id"):
        client.table("incident").get("")


def test_update_patches_only_the_given_fields(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    sys_id = fake.insert("incident", short_description="Badge", urgency="3")["sys_id"]
    updated = client.table("incident").update(sys_id, {"urgency": 1, "assigned_to": None})
    assert updated.get_int("urgency") == 1
    assert updated.get_str("short_description") == "Badge"
    assert fake.requests.filter("PATCH")[0].path == f"{TABLE}/{sys_id}"
    with pytest.raises(NotFoundError):
        client.table("incident").update("0" * 32, {"urgency": 1})


def test_delete_removes_the_record(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    sys_id = fake.insert("incident", short_description="Badge")["sys_id"]
    client.table("incident").delete(sys_id)
    assert fake.get("incident", sys_id) is None
    with pytest.raises(NotFoundError):
        client.table("incident").delete(sys_id)


def test_query_pages_lazily_in_a_stable_order(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    ids = [fake.insert("incident", short_description=f"p{i}")["sys_id"] for i in range(25)]
    records = client.table("incident").query(Field("short_description").starts_with("p"), page_size=10)
    assert _gets(fake) == []  # nothing fetched before iterating
    assert [r.sys_id for r in records] == sorted(ids)
    pages = _gets(fake)
    assert [p["sysparm_offset"] for p in pages] == ["0", "10", "20"]  # the total says when to stop
    assert [p["sysparm_no_count"] for p in pages] == ["false", "true", "true"]  # one count(*) per query
    assert {p["sysparm_query"] for p in pages} == {"short_descriptionSTARTSWITHp^ORDERBYsys_id"}
    assert all(p["sysparm_suppress_pagination_header"] == "true" for p in pages)


def test_order_by_puts_the_callers_order_first_and_sys_id_last(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    for urgency in ("1", "3", "2", "3"):
        fake.insert("incident", short_description="o", urgency=urgency)
    records = list(client.table("incident").query(Field("short_description").eq("o"), order_by=["-urgency"]))
    assert [r.get_int("urgency") for r in records] == [3, 3, 2, 1]
    tied = [r.sys_id for r in records[:2]]
    assert tied == sorted(tied)
    assert _gets(fake)[0]["sysparm_query"] == "short_description=o^ORDERBYDESCurgency^ORDERBYsys_id"
    own_order = Field("short_description").eq("o").order_by("number")
    list(client.table("incident").query(own_order, order_by="urgency"))
    assert _gets(fake)[-1]["sysparm_query"] == "short_description=o^ORDERBYnumber^ORDERBYurgency^ORDERBYsys_id"


def test_a_short_page_in_the_middle_does_not_end_the_iteration(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    ids = sorted(fake.insert("incident", short_description="s")["sys_id"] for _ in range(25))
    records = client.table("incident").query(Field("short_description").eq("s"), page_size=10)
    first_page = [next(records) for _ in range(10)]
    for sys_id in ids[15:]:  # records vanish between pages: the next page comes back short
        fake.delete("incident", sys_id)
    rest = list(records)
    assert [r.sys_id for r in first_page + rest] == ids[:15]
    assert [p["sysparm_offset"] for p in _gets(fake)] == ["0", "10", "20"]


def test_limit_and_first_stop_early(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    ids = sorted(fake.insert("incident", short_description="l")["sys_id"] for _ in range(8))
    assert [r.sys_id for r in client.table("incident").query(Field("short_description").eq("l"), limit=3)] == ids[:3]
    assert _gets(fake)[-1]["sysparm_limit"] == "3"
    assert len(_gets(fake)) == 1
    first = client.table("incident").first(Field("short_description").eq("l"), fields=["number"])
    assert first is not None
    assert first.sys_id == ids[0]
    assert _gets(fake)[-1]["sysparm_limit"] == "1"
    assert len(_gets(fake)) == 2  # one request each
    assert client.table("incident").first(Field("short_description").eq("none")) is None


def test_count_reads_the_total(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    for state in ("1", "2", "2"):
        fake.insert("incident", short_description="c", state=state)
    incidents = client.table("incident")
    assert incidents.count(Field("short_description").eq("c")) == 3
    assert incidents.count(Field("short_description").eq("c") & Field("state").eq(2)) == 2
    assert incidents.count(Field("short_description").eq("nothing")) == 0
    assert _gets(fake)[-1]["sysparm_limit"] == "1"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_versioned_paths_and_v1_empty_results(
    make_client: Callable[..., ServiceNowClient], fake: FakeServiceNow, version: str
) -> None:
    client = make_client(api_version=version)
    path = f"/api/now/{version}/table/incident"
    assert list(client.table("incident").query(Field("short_description").eq("none"))) == []
    assert client.table("incident").count(Field("short_description").eq("none")) == 0
    assert client.statuses("incident", ["0" * 32]) == {}
    sys_id = client.table("incident").create({"short_description": "versioned"}).sys_id
    assert [r.sys_id for r in client.table("incident").query(Field("short_description").eq("versioned"))] == [sys_id]
    assert {r.path for r in fake.requests} <= {path, f"{path}/{sys_id}"}
    with pytest.raises(ConfigError, match="api_version"):
        make_client(api_version="latest")


def test_a_plain_string_is_not_a_query_but_raw_queries_are_sent_verbatim(
    client: ServiceNowClient, fake: FakeServiceNow
) -> None:
    mine = fake.insert("incident", short_description="mine", caller_id=FakeServiceNow.ADMIN_SYS_ID)["sys_id"]
    fake.insert("incident", short_description="theirs")
    with pytest.raises(QueryError, match="RawQuery"):
        client.table("incident").query("active=true")  # type: ignore[arg-type]
    found = client.table("incident").query(RawQuery("caller_id=javascript:gs.getUserID()"))
    assert [r.sys_id for r in found] == [mine]
    assert _gets(fake)[-1]["sysparm_query"] == "caller_id=javascript:gs.getUserID()^ORDERBYsys_id"
    assert fake.requests.count() == 1  # the refused string never reached the server


def test_bad_options_are_refused_before_any_request(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    with pytest.raises(ConfigError, match="page_size"):
        client.table("incident").query(page_size=0)
    with pytest.raises(ConfigError, match="limit"):
        client.table("incident").query(limit=0)
    with pytest.raises(InvalidInputError, match="display_value"):
        client.table("incident").get("a", display_value="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="invalid field name"):
        client.table("incident").get("a", fields=["state", "sys_id,number"])
    with pytest.raises(InvalidInputError, match="no time zone"):
        client.table("incident").create({"due_date": dt.datetime(2026, 1, 1)})
    assert fake.requests.count() == 0


def test_reads_are_retried_but_creates_and_updates_are_not(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    sys_id = fake.insert("incident", short_description="r")["sys_id"]
    fake.faults.add("error", status=503, times=2, method="GET")
    assert client.table("incident").get(sys_id).sys_id == sys_id
    assert [r.status for r in fake.requests.filter("GET")] == [503, 503, 200]

    fake.faults.add("error", status=503, times=1, method="POST")
    with pytest.raises(ServerError):
        client.table("incident").create({"short_description": "once"})
    assert [r["short_description"] for r in fake.records("incident")].count("once") == 0

    fake.faults.add("drop", after=True, times=1, method="PATCH")
    with pytest.raises(TransportError):
        client.table("incident").update(sys_id, {"comments": "said once"})
    assert len(fake.journal(sys_id, "comments")) == 1  # applied once, not repeated


def test_callers_may_declare_a_write_idempotent(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    sys_id = fake.insert("incident", short_description="i", urgency="3")["sys_id"]
    fake.faults.add("drop", after=True, times=1, method="PATCH")
    assert client.table("incident").update(sys_id, {"urgency": 1}, idempotent=True).get_int("urgency") == 1
    fake.faults.add("error", status=502, times=1, method="POST")
    created = client.table("incident").create({"short_description": "unique"}, idempotent=True)
    assert created.get_str("short_description") == "unique"
    assert [r.status for r in fake.requests.filter("POST")] == [502, 201]


def test_refused_credentials_and_non_json_answers(
    make_client: Callable[..., ServiceNowClient], fake: FakeServiceNow
) -> None:
    with pytest.raises(AuthenticationError, match="User Not Authenticated"):
        make_client(auth=BasicAuth("admin", "wrong")).table("incident").count()
    fake.faults.add("html", times=1)
    with pytest.raises(DecodeError, match="expected a JSON body"):
        make_client().table("incident").count()


def test_repr_shows_no_secret_and_the_instance_name_expands(make_client: Callable[..., ServiceNowClient]) -> None:
    client = make_client(auth=BasicAuth("admin", "s3cr3t-password"))
    assert "s3cr3t" not in repr(client)
    assert repr(client) == f"ServiceNowClient({client.instance_url!r}, auth=BasicAuth)"
    named = ServiceNowClient("dev1234", None)
    assert named.instance_url == "https://dev1234.service-now.com"
    assert repr(named) == "ServiceNowClient('https://dev1234.service-now.com', auth=None)"
    named.close()
    assert repr(named.table("incident")) == "Table('incident')"


def test_plain_http_is_refused_beyond_loopback() -> None:
    with pytest.raises(ConfigError, match="insecure"):
        ServiceNowClient("http://dev1234.service-now.com", BasicAuth("a", "b"))
    with pytest.raises(ConfigError, match="status_batch_size"):
        ServiceNowClient("https://dev1234.service-now.com", None, status_batch_size=0)
    with pytest.raises(ConfigError, match="request_item_wait"):
        ServiceNowClient("https://dev1234.service-now.com", None, request_item_wait=-1)


def test_tls_verification_uses_the_given_ca_bundle() -> None:
    fake = FakeServiceNow()
    fake.insert("incident", short_description="tls")
    with serve(fake, tls=True) as served:
        assert served.ca_bundle is not None
        with ServiceNowClient(
            served.url, BasicAuth("admin", "admin"), verify=served.ca_bundle, retry=RetryPolicy.never()
        ) as trusted:
            assert trusted.table("incident").count(Field("short_description").eq("tls")) == 1
        untrusting = ServiceNowClient(served.url, BasicAuth("admin", "admin"), retry=RetryPolicy.never())
        with untrusting, pytest.raises(TransportError, match="SSLError"):
            untrusting.table("incident").count()


class _TrackingSession(requests.Session):
    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def test_a_session_passed_in_is_the_callers_to_close(fake: FakeServiceNow) -> None:
    session = _TrackingSession()
    mount(session, "https://own-session.test", fake)
    with ServiceNowClient("https://own-session.test", BasicAuth("admin", "admin"), session=session) as client:
        assert client.table("incident").count() == 0
    assert not session.closed
    assert fake.requests.count("GET") == 1  # the request went through the caller's session
    session.close()


class _LimitBeforeAcl:
    """The fake, answering like an instance whose ACLs hide ``hidden`` records *after* ``sysparm_limit``.

    ServiceNow documents that the limit is applied before ACL evaluation: hidden records still use up
    their places in a page, which then comes back short or empty while ``X-Total-Count`` counts them.
    """

    def __init__(self, app: FakeServiceNow, hidden: set[str]) -> None:
        self.app = app
        self.hidden = hidden

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: list[Any] = []
        body = b"".join(self.app(environ, lambda status, headers, *_: captured.extend([status, headers])))
        status, headers = captured
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == TABLE and status.startswith("200"):
            payload = json.loads(body)
            payload["result"] = [row for row in payload["result"] if row.get("sys_id") not in self.hidden]
            body = json.dumps(payload).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers)
        return [body]


def _client_through(app: Any, session: requests.Session) -> ServiceNowClient:
    mount(session, "https://acl.test", app)
    return ServiceNowClient("https://acl.test", BasicAuth("admin", "admin"), session=session)


def test_first_looks_past_a_match_hidden_by_an_acl(fake: FakeServiceNow) -> None:
    ids = sorted(fake.insert("incident", short_description="h")["sys_id"] for _ in range(3))
    with requests.Session() as session:
        client = _client_through(_LimitBeforeAcl(fake, {ids[0]}), session)
        first = client.table("incident").first(Field("short_description").eq("h"))
    assert first is not None
    assert first.sys_id == ids[1]


def test_pages_shortened_by_acls_do_not_end_the_iteration(fake: FakeServiceNow) -> None:
    ids = sorted(fake.insert("incident", short_description="a")["sys_id"] for _ in range(25))
    hidden = set(ids[3:8])
    with requests.Session() as session:
        client = _client_through(_LimitBeforeAcl(fake, hidden), session)
        found = [r.sys_id for r in client.table("incident").query(Field("short_description").eq("a"), page_size=5)]
    assert found == [i for i in ids if i not in hidden]


def test_a_page_emptied_by_acls_does_not_end_the_iteration(fake: FakeServiceNow) -> None:
    ids = sorted(fake.insert("incident", short_description="e")["sys_id"] for _ in range(15))
    hidden = set(ids[5:10])  # the whole second page
    with requests.Session() as session:
        client = _client_through(_LimitBeforeAcl(fake, hidden), session)
        found = [r.sys_id for r in client.table("incident").query(Field("short_description").eq("e"), page_size=5)]
    assert found == ids[:5] + ids[10:]


def test_an_oauth_token_expiring_mid_paging_is_renewed(fake: FakeServiceNow) -> None:
    from sim_servicenow.auth import OAuth2PasswordGrant

    ids = sorted(fake.insert("incident", short_description="o")["sys_id"] for _ in range(12))
    with requests.Session() as session:
        mount(session, "https://oauth.test", fake)
        auth = OAuth2PasswordGrant.for_servicenow(
            "https://oauth.test", "sim-servicenow", "sim-servicenow-secret", "admin", "admin", session=session
        )
        client = ServiceNowClient("https://oauth.test", auth, session=session)
        pages = client.table("incident").query(Field("short_description").eq("o"), page_size=5)
        first = [next(pages) for _ in range(5)]
        fake.expire_tokens()  # the token dies between two pages
        rest = list(pages)
    assert [r.sys_id for r in first + rest] == ids
    assert "OAuth2PasswordGrant" in repr(client)
    assert "sim-servicenow-secret" not in repr(client)
    assert fake.requests.count("POST", "/oauth_token.do") == 2


class _Rewriting:
    """The fake, with each Table API answer passed through ``rewrite(status, headers, body)``."""

    def __init__(
        self, app: FakeServiceNow, rewrite: Callable[[str, list[tuple[str, str]], bytes], tuple[list[Any], bytes]]
    ) -> None:
        self.app = app
        self.rewrite = rewrite

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: list[Any] = []
        body = b"".join(self.app(environ, lambda status, headers, *_: captured.extend([status, headers])))
        headers, body = self.rewrite(captured[0], captured[1], body)
        start_response(captured[0], headers)
        return [body]


def test_a_success_without_the_result_envelope_is_a_decode_error(fake: FakeServiceNow) -> None:
    sys_id = fake.insert("incident", short_description="x")["sys_id"]
    with requests.Session() as session:
        client = _client_through(_Rewriting(fake, lambda status, headers, body: (headers, b'{"records": []}')), session)
        no_envelope = r'GET https://acl.test/api/now/table/incident\?.* -> 200: expected \{"result": a list\}'
        with pytest.raises(DecodeError, match=no_envelope):
            list(client.table("incident").query())
        with pytest.raises(DecodeError, match=r'expected \{"result": an object\}'):
            client.table("incident").get(sys_id)


def test_a_total_is_optional_for_paging_but_required_for_count(fake: FakeServiceNow) -> None:
    ids = sorted(fake.insert("incident", short_description="n")["sys_id"] for _ in range(7))

    def drop_total(status: str, headers: list[tuple[str, str]], body: bytes) -> tuple[list[Any], bytes]:
        return [(k, v) for k, v in headers if k.lower() != "x-total-count"], body

    with requests.Session() as session:
        client = _client_through(_Rewriting(fake, drop_total), session)
        found = client.table("incident").query(Field("short_description").eq("n"), page_size=3)
        assert [r.sys_id for r in found] == ids
        assert len(fake.requests.filter("GET", TABLE)) == 4  # without a total, an empty page ends the paging
        with pytest.raises(DecodeError, match="no X-Total-Count"):
            client.table("incident").count()
