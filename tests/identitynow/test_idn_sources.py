"""Sources: paging, filters, sorters, lookups and the legacy backend ids of the SIM set-up."""

from __future__ import annotations

from typing import Any

import pytest

from sim_servicenow.errors import ConfigError, NotFoundError
from sim_servicenow.identitynow import Reference, Source, SourceIdMap, filters


def test_iter_walks_every_page_lazily(idn: Any) -> None:
    created = [idn.fake.add_source(f"Source {n:02d}") for n in range(7)]
    pages_before = len(idn.api_requests("GET"))
    iterator = idn.client.sources.iter(sorters="name", page_size=3)
    assert len(idn.api_requests("GET")) == pages_before  # nothing fetched before iterating
    names = [source.name for source in iterator]
    assert names == [source["name"] for source in created]
    listed = [r for r in idn.api_requests("GET") if r.path.endswith(("/v3/sources", "/sources/v1"))]
    assert [(r.query["offset"], r.query["limit"]) for r in listed] == [(["0"], ["3"]), (["3"], ["3"]), (["6"], ["3"])]
    assert all("count" not in r.query for r in listed)


def test_list_is_one_page_with_the_total_when_asked(idn: Any) -> None:
    for n in range(5):
        idn.fake.add_source(f"S{n}")
    page = idn.client.sources.list(offset=1, limit=2, count=True, sorters=["-name"])
    assert [source.name for source in page.items] == ["S3", "S2"]
    assert page.total == 5
    assert idn.client.sources.list(limit=2).total is None


def test_get_and_find_by_name(idn: Any) -> None:
    seeded = idn.fake.add_source('Badge "HQ" #1 & co', connector_name="Badge", features=["PROVISIONING"])
    idn.fake.add_source("Badge")
    source = idn.client.sources.get(seeded["id"])
    assert isinstance(source, Source)
    assert (source.name, source.connector_name, source.features) == ('Badge "HQ" #1 & co', "Badge", ("PROVISIONING",))
    assert source.owner == Reference("IDENTITY", idn.fake.admin["id"], "SailPoint Services")
    assert source.created is not None
    assert source.created.tzinfo is not None
    assert idn.client.sources.find_by_name('Badge "HQ" #1 & co') == source
    assert idn.client.sources.find_by_name("No such source") is None


def test_filters_reach_the_server_quoted(idn: Any) -> None:
    wanted = idn.fake.add_source("HR Directory", type="LDAP")
    idn.fake.add_source("HR Files", type="DelimitedFile")
    found = list(idn.client.sources.iter(filters=filters.and_(filters.sw("name", "HR"), filters.eq("type", "LDAP"))))
    assert [source.id for source in found] == [wanted["id"]]
    (sent,) = [r for r in idn.api_requests("GET") if "filters" in r.query]
    assert sent.query["filters"] == ['(name sw "HR") and (type eq "LDAP")']


def test_unknown_source_is_not_found_with_identitynow_error_details(idn: Any) -> None:
    with pytest.raises(NotFoundError) as raised:
        idn.client.sources.get("2c9180835d191a86015d28455b4a2329")
    error = raised.value
    assert error.status == 404
    assert error.message == "Source with id 2c9180835d191a86015d28455b4a2329 was not found."
    assert error.detail == "404 Not found"
    assert error.tracking_id is not None
    assert len(error.tracking_id) == 32
    assert error.body["detailCode"] == "404 Not found"


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda c: c.sources.list(limit=251), "limit"),
        (lambda c: c.sources.list(limit=-1), "limit"),
        (lambda c: c.sources.list(offset=-1), "offset"),
        (lambda c: list(c.sources.iter(page_size=0)), "page_size"),
        (lambda c: list(c.sources.iter(page_size=500)), "page_size"),
        (lambda c: c.sources.get(""), "source_id"),
    ],
)
def test_invalid_arguments_are_refused_before_any_request(mounted: Any, call: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        call(mounted.client)
    assert [p.path for p in raised.value.problems] == [problem]
    assert mounted.api_requests() == []


def test_ids_are_path_segments_never_paths(mounted: Any) -> None:
    sent: list[str] = []
    mounted.session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request.url))
    with pytest.raises(NotFoundError):
        mounted.client.sources.get("../work-items?x=1")
    assert sent[-1] == mounted.url + "/v3/sources/..%2Fwork-items%3Fx%3D1"


def test_backend_ids_map_both_ways(idn: Any) -> None:
    badge = idn.fake.add_source("Badge System")
    directory = idn.fake.add_source("Directory")
    legacy = idn.client.sources.list_legacy()
    assert {(entry.external_id, entry.name) for entry in legacy} == {
        (badge["id"], "Badge System"),
        (directory["id"], "Directory"),
    }
    ids = idn.client.sources.backend_ids()
    legacy_badge = idn.fake.legacy_source(badge["id"])["id"]
    assert ids.backend_id(badge["id"]) == badge["id"]
    assert ids.source_id(badge["id"]) == badge["id"]
    assert ids.source_id(legacy_badge) == badge["id"]
    assert ids.backend_id("unknown") is None
    assert ids.source_id("unknown") is None


def test_legacy_list_is_fetched_whole_even_when_the_server_pages_it(mounted: Any) -> None:
    for n in range(3):
        mounted.fake.add_source(f"S{n}")

    # A private API that pages by default (two at a time) and reports the total.
    def paging_app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/cc/api/source/list" and "start=" not in environ["QUERY_STRING"]:
            environ["QUERY_STRING"] = "start=0&limit=2"
        return mounted.fake(environ, start_response)

    from sim_servicenow.testing import mount

    mount(mounted.session, mounted.url, paging_app)
    assert [entry.name for entry in mounted.client.sources.list_legacy()] == ["S0", "S1", "S2"]


def test_source_id_map_joins_by_name_when_external_ids_differ() -> None:
    from sim_servicenow.identitynow import LegacySource

    sources = [Source("v3-a", "Alpha"), Source("v3-b", "Beta")]
    legacy = [LegacySource("101", external_id="backend-a", name="alpha"), LegacySource("102", external_id="v3-b")]
    ids = SourceIdMap.build(sources, legacy)
    assert ids.backend_id("v3-a") == "backend-a"
    assert ids.source_id("backend-a") == "v3-a"
    assert ids.source_id("101") == "v3-a"
    assert ids.backend_id("v3-b") == "v3-b"
    assert ids.source_id("102") == "v3-b"
