"""statuses(): the engine's polling hot path costs one request per batch of sys_ids, never one per ticket."""

from __future__ import annotations

import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.auth import BasicAuth
from sim_servicenow.http import RetryPolicy
from sim_servicenow.servicenow import QueryError, ServiceNowClient
from sim_servicenow.testing import FakeServiceNow, mount, serve

PATH = "/api/now/table/sc_request"


def _requests_for(fake: FakeServiceNow) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in r.query.items()} for r in fake.requests.filter("GET", PATH)]


def test_one_request_per_hundred_tickets(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    ids = [fake.insert("sc_request", short_description=f"t{i}")["sys_id"] for i in range(250)]
    fake.update("sc_request", ids[0], request_state="closed_complete")
    found = client.statuses("sc_request", ids, ["request_state", "state"])
    assert sorted(found) == sorted(ids)
    assert found[ids[0]].get_str("request_state") == "closed_complete"
    assert found[ids[1]].get_str("request_state") == "requested"
    assert set(found[ids[1]].raw) == {"sys_id", "request_state", "state"}
    sent = _requests_for(fake)
    assert len(sent) == 3
    assert [q["sysparm_limit"] for q in sent] == ["100", "100", "50"]
    for query in sent:
        assert query["sysparm_fields"] == "sys_id,request_state,state"
        assert query["sysparm_query"].startswith("sys_idIN")
        assert (query["sysparm_no_count"], query["sysparm_suppress_pagination_header"]) == ("true", "true")
        assert (query["sysparm_display_value"], query["sysparm_exclude_reference_link"]) == ("false", "true")


def test_missing_and_repeated_ids(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    kept = fake.insert("sc_request", short_description="kept")["sys_id"]
    gone = fake.insert("sc_request", short_description="gone")["sys_id"]
    fake.delete("sc_request", gone)
    found = client.statuses("sc_request", [kept, gone, kept, "f" * 32], fields="state")
    assert list(found) == [kept]
    assert _requests_for(fake)[0]["sysparm_query"] == f"sys_idIN{kept},{gone},{'f' * 32}"
    assert client.statuses("sc_request", []) == {}
    assert len(_requests_for(fake)) == 1  # nothing asked, nothing sent


def test_records_hidden_by_acls_are_absent(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    sys_id = fake.insert("sc_request", short_description="secret")["sys_id"]
    fake.deny("sc_request", ["read"])
    assert client.statuses("sc_request", [sys_id]) == {}


def test_ids_that_would_inject_conditions_are_refused(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    with pytest.raises(QueryError, match="comma"):
        client.statuses("sc_request", ["a,b"])
    with pytest.raises(QueryError, match="caret"):
        client.statuses("sc_request", ["a^NQactive=true"])
    assert fake.requests.count() == 0


def test_batches_split_to_keep_urls_short(fake: FakeServiceNow) -> None:
    sent_urls: list[str] = []
    with requests.Session() as session:
        mount(session, "https://fake-sn.test", fake)
        session.hooks["response"].append(lambda response, *args, **kwargs: sent_urls.append(response.url))
        client = ServiceNowClient(
            "https://fake-sn.test", BasicAuth("admin", "admin"), session=session, max_url_length=1200
        )
        ids = [fake.insert("sc_request", short_description="u")["sys_id"] for _ in range(60)]
        found = client.statuses("sc_request", ids, ["state"])
    assert sorted(found) == sorted(ids)
    assert len(sent_urls) > 2
    assert all(len(url) <= 1200 for url in sent_urls)
    assert len(sent_urls) == len(_requests_for(fake))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=st.integers(min_value=1, max_value=120),
    batch=st.integers(min_value=1, max_value=100),
    max_url=st.integers(min_value=400, max_value=5000),
)
def test_every_id_is_asked_exactly_once_within_the_limits(count: int, batch: int, max_url: int) -> None:
    fake = FakeServiceNow(seed=count)
    ids = [f"{i:032x}" for i in range(count)]  # fake ids: only the requests matter here
    sent_urls: list[str] = []
    with requests.Session() as session:
        mount(session, "https://fake-sn.test", fake)
        session.hooks["response"].append(lambda response, *args, **kwargs: sent_urls.append(response.url))
        client = ServiceNowClient(
            "https://fake-sn.test",
            BasicAuth("admin", "admin"),
            session=session,
            status_batch_size=batch,
            max_url_length=max_url,
        )
        client.statuses("sc_request", ids, ["state"])
    asked = [q["sysparm_query"].removeprefix("sys_idIN").split(",") for q in _requests_for(fake)]
    assert [i for batch_ids in asked for i in batch_ids] == ids
    assert all(len(batch_ids) <= batch for batch_ids in asked)
    # A URL may only be over the limit when even one id does not fit under it.
    assert all(len(url) <= max_url or len(ids_) == 1 for url, ids_ in zip(sent_urls, asked, strict=True))


def test_a_failed_batch_is_retried_as_a_read(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    ids = [fake.insert("sc_request", short_description="r")["sys_id"] for _ in range(3)]
    fake.faults.add("rate_limit", retry_after=0, times=1, path=PATH)
    fake.faults.add("drop", times=1, path=PATH)
    assert sorted(client.statuses("sc_request", ids)) == sorted(ids)
    assert [r.status for r in fake.requests.filter("GET", PATH)] == [429, 0, 200]


@pytest.mark.slow
def test_statuses_cost_close_to_bare_requests() -> None:
    """Benchmark target: <= 1.2 requests per 100 tickets, <= 1.5x the time of bare requests doing the same GETs."""
    fake = FakeServiceNow(seed=3)
    ids = [fake.insert("sc_request", short_description=f"b{i}")["sys_id"] for i in range(1000)]
    with serve(fake) as served:
        with ServiceNowClient(served.url, BasicAuth("admin", "admin"), retry=RetryPolicy.never()) as client:
            client.statuses("sc_request", ids[:100], ["state"])  # warm up the connection
            fake.requests.clear()
            started = time.perf_counter()
            for _ in range(3):
                found = client.statuses("sc_request", ids, ["request_state", "state"])
            ours = time.perf_counter() - started
            assert len(found) == 1000
            assert fake.requests.count() / (3 * len(ids) / 100) <= 1.2
        with requests.Session() as bare:
            bare.get(f"{served.url}{PATH}", auth=("admin", "admin"), params={"sysparm_limit": "1"}, timeout=10)
            started = time.perf_counter()
            for _ in range(3):
                rows = []
                for start in range(0, len(ids), 100):
                    response = bare.get(
                        f"{served.url}{PATH}",
                        auth=("admin", "admin"),
                        params={
                            "sysparm_query": "sys_idIN" + ",".join(ids[start : start + 100]),
                            "sysparm_fields": "sys_id,request_state,state",
                            "sysparm_limit": "100",
                            "sysparm_no_count": "true",
                            "sysparm_exclude_reference_link": "true",
                            "sysparm_suppress_pagination_header": "true",
                        },
                        timeout=10,
                    )
                    rows.extend(response.json()["result"])
            bare_time = time.perf_counter() - started
            assert len(rows) == 1000
    print(f"statuses: {ours:.3f} s, bare requests: {bare_time:.3f} s, ratio {ours / bare_time:.2f}")
    assert ours <= 1.5 * bare_time, (ours, bare_time)
