"""FakeJira's JQL search: Cloud's enhanced search (token paging, eventual consistency) and Data Center's search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from sim_servicenow.testing._jira import FakeJira

if TYPE_CHECKING:
    from conftest import Clock, Jira


def _keys(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [issue["key"] for issue in response.json()["issues"]]


def _messages(response: requests.Response) -> list[str]:
    assert response.status_code == 400, response.text
    messages: list[str] = response.json()["errorMessages"]
    return messages


def _seed(jira: Jira) -> None:
    """SIM-1 .. SIM-5 with labels and statuses to search on."""
    for n in range(1, 6):
        jira.create(f"Request {n}")
    jira.put("/rest/api/2/issue/SIM-1", json={"fields": {"labels": ["sim-corr-a", "batch"]}})
    jira.put("/rest/api/2/issue/SIM-2", json={"fields": {"labels": ["sim-corr-b", "batch"]}})
    jira.put("/rest/api/2/issue/SIM-3", json={"fields": {"labels": ["other"]}})
    jira.fake.start("SIM-2")
    jira.fake.close("SIM-3")
    jira.fake.reject("SIM-4")


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("key in (SIM-1, sim-3, SIM-5) ORDER BY key", ["SIM-1", "SIM-3", "SIM-5"]),
        ("issuekey = SIM-2", ["SIM-2"]),
        ('labels = "sim-corr-a"', ["SIM-1"]),
        ("labels in (sim-corr-b, other) ORDER BY key ASC", ["SIM-2", "SIM-3"]),
        ("labels is EMPTY ORDER BY key", ["SIM-4", "SIM-5"]),
        ("labels != batch ORDER BY key", ["SIM-3"]),  # Jira: issues without labels never match
        ("statusCategory = Done ORDER BY key", ["SIM-3", "SIM-4"]),
        ('statusCategory in (new, "In Progress") ORDER BY key', ["SIM-1", "SIM-2", "SIM-5"]),
        ('status = "In Progress"', ["SIM-2"]),
        ("resolution = Unresolved ORDER BY key DESC", ["SIM-5", "SIM-2", "SIM-1"]),
        ('resolution in ("Won\'t Do", Declined)', ["SIM-4"]),
        ("project = SIM AND labels = batch AND NOT status = Resolved ORDER BY key", ["SIM-1", "SIM-2"]),
        ("labels = other OR labels = batch AND statusCategory = new", ["SIM-3", "SIM-1"]),
        ("(labels = other OR labels = batch) AND statusCategory = new", ["SIM-1"]),
        ('summary ~ "request 4"', ["SIM-4"]),
        ("created >= -1d AND key in (SIM-1)", ["SIM-1"]),
        ("project = SIM", ["SIM-5", "SIM-4", "SIM-3", "SIM-2", "SIM-1"]),  # newest first without ORDER BY
    ],
)
def test_jql_clauses(jira: Jira, jql: str, expected: list[str]) -> None:
    _seed(jira)
    assert _keys(jira.search(jql, fields="key")) == expected


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("key in (SIM-1, SIM-99)", "An issue with key 'SIM-99' does not exist for field 'key'."),
        ("key = 123", "The issue key '123' for field 'key' is invalid."),
        ('status = "Nope"', "The value 'Nope' does not exist for the field 'status'."),
        (
            "issue.property[sim].key = x",
            "Field 'issue.property[sim].key' does not exist or you do not have permission to view it.",
        ),
        ("cf[10010] = x", "Field 'cf[10010]' does not exist or you do not have permission to view it."),
        ("labels = a/b", "The character '/' is a reserved JQL character."),
        ("labels = and", "'and' is a reserved JQL word."),
        ("labels ~ x", "The operator '~' is not supported by the 'labels' field."),
        ('labels = "open', "is not terminated"),
        ("labels = a AND", "Expecting a field name"),
    ],
)
def test_invalid_queries_are_400_with_jira_messages(jira: Jira, jql: str, message: str) -> None:
    _seed(jira)
    messages = _messages(jira.search(jql))
    assert any(message in m for m in messages), messages


def test_enhanced_search_returns_ids_unless_fields_are_asked(jira: Jira) -> None:
    _seed(jira)
    bare = jira.search("key = SIM-1").json()
    assert bare["issues"] == [{"id": jira.fake.issue("SIM-1").id}]
    assert bare["isLast"] is True
    assert "nextPageToken" not in bare
    full = jira.search("key = SIM-3", fields="status,resolution,labels", properties="p").json()["issues"][0]
    assert set(full["fields"]) == {"status", "resolution", "labels"}
    assert full["fields"]["resolution"]["name"] == "Done"
    assert full["properties"] == {}
    v3 = jira.get("/rest/api/3/search/jql", params={"jql": "key = SIM-1", "fields": "description"}).json()
    assert v3["issues"][0]["fields"]["description"] is None


def test_enhanced_search_pages_with_tokens(jira: Jira) -> None:
    for n in range(7):
        jira.create(f"r{n}")
    jql = "project = SIM ORDER BY key"
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        params: dict[str, Any] = {"maxResults": 3, "fields": "key"}
        if token:
            params["nextPageToken"] = token
        body = jira.search(jql, **params).json()
        pages += 1
        seen += [i["key"] for i in body["issues"]]
        token = body.get("nextPageToken")
        assert body["isLast"] is (token is None)
        if token is None:
            break
    assert seen == [f"SIM-{n}" for n in range(1, 8)]
    assert pages == 3

    first = jira.search(jql, maxResults=3).json()
    assert _messages(jira.search("project = SIM", nextPageToken=first["nextPageToken"])) == [
        "The provided next page token is invalid or expired."
    ]
    assert _messages(jira.search(jql, nextPageToken="garbage"))


def test_enhanced_search_posts_and_refuses_unbounded_queries(jira: Jira) -> None:
    _seed(jira)
    posted = jira.post(
        "/rest/api/3/search/jql", json={"jql": "labels = batch ORDER BY key", "fields": ["labels"], "maxResults": 1}
    ).json()
    assert [i["key"] for i in posted["issues"]] == ["SIM-1"]
    assert posted["nextPageToken"]
    assert _messages(jira.search("ORDER BY key")) == [
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
    ]
    assert _messages(jira.search(""))


def test_page_size_is_capped(clock: Clock, client_for: Any) -> None:
    fake = FakeJira(clock=clock, max_results_limit=2)
    jira = client_for(fake)
    for _ in range(3):
        jira.create()
    body = jira.search("project = SIM", maxResults=1000).json()
    assert len(body["issues"]) == 2
    assert body["isLast"] is False


def test_search_index_lags_behind_changes(clock: Clock, client_for: Any) -> None:
    fake = FakeJira(clock=clock, search_lag=5.0)
    jira = client_for(fake)
    created = jira.create()
    jira.put("/rest/api/2/issue/SIM-1", json={"fields": {"labels": ["sim-corr-a"]}})
    assert _keys(jira.search("labels = sim-corr-a")) == []
    reconciled = jira.search("labels = sim-corr-a", fields="key", reconcileIssues=created["issueId"])
    assert _keys(reconciled) == ["SIM-1"]

    clock.advance(5)
    assert _keys(jira.search("labels = sim-corr-a", fields="key")) == ["SIM-1"]

    fake.close("SIM-1")
    stale = jira.search("labels = sim-corr-a", fields="status").json()["issues"][0]
    assert stale["fields"]["status"]["name"] == "Waiting for support"
    assert jira.get("/rest/api/2/issue/SIM-1", params={"fields": "status"}).json()["fields"]["status"]["name"] == (
        "Resolved"
    )
    clock.advance(5)
    fresh = jira.search("labels = sim-corr-a", fields="status").json()["issues"][0]
    assert fresh["fields"]["status"]["name"] == "Resolved"


def test_cloud_removed_the_old_search(jira: Jira) -> None:
    for method in ("GET", "POST"):
        response = jira.request(method, "/rest/api/2/search", params={"jql": "project = SIM"}, json={})
        assert response.status_code == 410
        assert "migrate to the /rest/api/3/search/jql API" in response.json()["errorMessages"][0]


def test_data_center_search_pages_with_start_at(dc: Jira) -> None:
    for n in range(5):
        dc.create(f"r{n}")
    first = dc.get("/rest/api/2/search", params={"jql": "project = SIM ORDER BY key", "maxResults": 2}).json()
    assert (first["startAt"], first["maxResults"], first["total"]) == (0, 2, 5)
    assert [i["key"] for i in first["issues"]] == ["SIM-1", "SIM-2"]
    assert set(first["issues"][0]["fields"]) >= {"summary", "status", "labels", "resolution"}
    last = dc.post(
        "/rest/api/2/search", json={"jql": "project = SIM ORDER BY key", "startAt": 4, "fields": ["status"]}
    ).json()
    assert [i["key"] for i in last["issues"]] == ["SIM-5"]
    assert set(last["issues"][0]["fields"]) == {"status"}
    assert dc.get("/rest/api/2/search", params={"jql": "ORDER BY key"}).json()["total"] == 5


def test_data_center_query_validation(dc: Jira) -> None:
    dc.create()
    jql = "key in (SIM-1, SIM-404)"
    assert _messages(dc.get("/rest/api/2/search", params={"jql": jql})) == [
        "An issue with key 'SIM-404' does not exist for field 'key'."
    ]
    warned = dc.get("/rest/api/2/search", params={"jql": jql, "validateQuery": "false"}).json()
    assert [i["key"] for i in warned["issues"]] == ["SIM-1"]
    assert warned["warningMessages"] == ["An issue with key 'SIM-404' does not exist for field 'key'."]
    posted = dc.post("/rest/api/2/search", json={"jql": jql, "validateQuery": False}).json()
    assert [i["key"] for i in posted["issues"]] == ["SIM-1"]
    strict = dc.post("/rest/api/2/search", json={"jql": jql, "validateQuery": True})
    assert strict.status_code == 400
    # Cloud's strict/warn/none words are not booleans to Data Center.
    assert dc.post("/rest/api/2/search", json={"jql": jql, "validateQuery": "warn"}).status_code == 400


def test_data_center_has_no_enhanced_search_and_no_v3(dc: Jira) -> None:
    assert dc.get("/rest/api/2/search/jql", params={"jql": "project = SIM"}).status_code == 404
    assert dc.get("/rest/api/3/myself").status_code == 404
    assert dc.get("/rest/api/2/myself").json()["name"] == "sim-bot"
