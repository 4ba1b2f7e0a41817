"""FakeJira's platform API: issues, labels, issue properties, transitions, and its error envelope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from conftest import Clock, Jira


def _errors(response: requests.Response) -> tuple[int, list[str], dict[str, str]]:
    body = response.json()
    assert set(body) == {"errorMessages", "errors"}
    return response.status_code, body["errorMessages"], body["errors"]


def test_issue_fields(jira: Jira, clock: Clock) -> None:
    created = jira.create("Create account", description="line one\nline two")
    issue = jira.get("/rest/api/2/issue/SIM-1").json()
    assert (issue["id"], issue["key"]) == (created["issueId"], "SIM-1")
    assert issue["self"].endswith(f"/rest/api/2/issue/{created['issueId']}")
    fields = issue["fields"]
    assert fields["summary"] == "Create account"
    assert fields["description"] == "line one\nline two"
    assert fields["status"]["name"] == "Waiting for support"
    assert {k: fields["status"]["statusCategory"][k] for k in ("id", "key", "name")} == {
        "id": 2,
        "key": "new",
        "name": "To Do",
    }
    assert fields["resolution"] is None
    assert fields["resolutiondate"] is None
    assert fields["labels"] == []
    assert fields["created"] == "2023-11-14T22:13:20.000+0000"
    assert fields["project"]["key"] == "SIM"
    assert fields["reporter"]["emailAddress"] == jira.fake.DEFAULT_LOGIN

    chosen = jira.get("/rest/api/2/issue/SIM-1", params={"fields": "status,labels"}).json()["fields"]
    assert set(chosen) == {"status", "labels"}
    excluded = jira.get("/rest/api/2/issue/SIM-1", params={"fields": "*all,-comment,-description"}).json()["fields"]
    assert "summary" in excluded
    assert not {"comment", "description"} & set(excluded)

    rich = jira.get("/rest/api/3/issue/SIM-1", params={"fields": "description"}).json()["fields"]["description"]
    assert rich["type"] == "doc"
    assert [block["content"][0]["text"] for block in rich["content"]] == ["line one", "line two"]


def test_unknown_issue_and_unknown_path(jira: Jira) -> None:
    assert _errors(jira.get("/rest/api/2/issue/SIM-99")) == (
        404,
        ["Issue does not exist or you do not have permission to see it."],
        {},
    )
    status, messages, _ = _errors(jira.get("/rest/api/2/nothing/here"))
    assert status == 404
    assert messages[0].startswith("null for uri: ")
    not_allowed = jira.delete("/rest/api/2/issue/SIM-1")
    assert not_allowed.status_code == 405
    assert "GET" in not_allowed.headers["Allow"]


def test_labels_set_add_and_remove(jira: Jira, clock: Clock) -> None:
    jira.create()
    clock.advance(30)
    assert jira.put("/rest/api/2/issue/SIM-1", json={"fields": {"labels": ["a", "b"]}}).status_code == 204
    response = jira.put(
        "/rest/api/2/issue/SIM-1", json={"update": {"labels": [{"add": "c"}, {"remove": "a"}, {"add": "b"}]}}
    )
    assert response.status_code == 204
    assert response.content == b""
    fields = jira.get("/rest/api/2/issue/SIM-1", params={"fields": "labels,updated"}).json()["fields"]
    assert fields["labels"] == ["b", "c"]
    assert fields["updated"] == "2023-11-14T22:13:50.000+0000"


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"fields": {"labels": ["two words"]}}, "labels"),
        ({"update": {"labels": [{"add": "x" * 256}]}}, "labels"),
        ({"fields": {"customfield_10010": "x"}}, "customfield_10010"),
        ({"update": {"labels": [{"rename": "x"}]}}, "labels"),
    ],
)
def test_invalid_edits_are_refused_field_by_field(jira: Jira, update: dict[str, Any], field: str) -> None:
    jira.create()
    status, messages, errors = _errors(jira.put("/rest/api/2/issue/SIM-1", json=update))
    assert (status, messages, list(errors)) == (400, [], [field])
    assert jira.fake.issue("SIM-1").labels == ()


def test_request_bodies_must_be_json(jira: Jira) -> None:
    jira.create()
    wrong_type = jira.put("/rest/api/2/issue/SIM-1", data="labels=a", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    broken = jira.put("/rest/api/2/issue/SIM-1", data="{not json", headers={"Content-Type": "application/json"})
    assert _errors(broken)[0] == 400


def test_issue_properties(jira: Jira) -> None:
    jira.create()
    path = "/rest/api/2/issue/SIM-1/properties/sim-servicenow.correlation"
    assert jira.put(path, json={"key": "wi-1/g1"}).status_code == 201
    assert jira.put(path, json={"key": "wi-1/g2"}).status_code == 200
    assert jira.get(path).json() == {"key": "sim-servicenow.correlation", "value": {"key": "wi-1/g2"}}
    keys = jira.get("/rest/api/2/issue/SIM-1/properties").json()["keys"]
    assert [k["key"] for k in keys] == ["sim-servicenow.correlation"]
    assert jira.fake.issue("SIM-1").properties == {"sim-servicenow.correlation": {"key": "wi-1/g2"}}
    in_issue = jira.get(
        "/rest/api/2/issue/SIM-1", params={"fields": "summary", "properties": "sim-servicenow.correlation"}
    )
    assert in_issue.json()["properties"] == {"sim-servicenow.correlation": {"key": "wi-1/g2"}}

    assert jira.delete(path).status_code == 204
    assert _errors(jira.get(path)) == (404, ["The property with key 'sim-servicenow.correlation' does not exist."], {})
    assert _errors(jira.delete(path))[0] == 404
    assert _errors(jira.put(path, json={"blob": "x" * 40_000}))[0] == 400
    assert _errors(jira.put("/rest/api/2/issue/SIM-1/properties/" + "k" * 256, json=1))[0] == 400


def test_transitions_list_every_other_status(jira: Jira) -> None:
    jira.create()
    transitions = jira.get("/rest/api/2/issue/SIM-1/transitions").json()["transitions"]
    names = {t["to"]["name"] for t in transitions}
    assert "Waiting for support" not in names
    assert {"In Progress", "Resolved", "Declined", "Canceled"} <= names
    resolve = next(t for t in transitions if t["to"]["name"] == "Resolved")
    assert resolve["to"]["statusCategory"]["key"] == "done"
    only = jira.get("/rest/api/2/issue/SIM-1/transitions", params={"transitionId": resolve["id"]}).json()
    assert [t["id"] for t in only["transitions"]] == [resolve["id"]]


def _transition_id(jira: Jira, status: str) -> str:
    transitions = jira.get("/rest/api/2/issue/SIM-1/transitions").json()["transitions"]
    return str(next(t["id"] for t in transitions if t["to"]["name"] == status))


def test_transition_with_resolution_and_comment(jira: Jira, clock: Clock) -> None:
    jira.create()
    clock.advance(120)
    response = jira.post(
        "/rest/api/2/issue/SIM-1/transitions",
        json={
            "transition": {"id": _transition_id(jira, "Resolved")},
            "fields": {"resolution": {"name": "Won't Do"}},
            "update": {"comment": [{"add": {"body": "Not needed any more"}}]},
        },
    )
    assert response.status_code == 204
    fields = jira.get("/rest/api/2/issue/SIM-1", params={"fields": "status,resolution,resolutiondate"}).json()["fields"]
    assert fields["status"]["name"] == "Resolved"
    assert fields["resolution"]["name"] == "Won't Do"
    assert fields["resolutiondate"] == "2023-11-14T22:15:20.000+0000"
    issue = jira.fake.issue("SIM-1")
    assert [c.body for c in issue.comments] == ["Not needed any more"]

    # Reopening clears the resolution; a transition without one uses the status's default.
    reopen = {"transition": {"id": _transition_id(jira, "Waiting for support")}}
    assert jira.post("/rest/api/2/issue/SIM-1/transitions", json=reopen).status_code == 204
    assert jira.fake.issue("SIM-1").resolution is None
    decline = {"transition": {"id": _transition_id(jira, "Declined")}}
    assert jira.post("/rest/api/2/issue/SIM-1/transitions", json=decline).status_code == 204
    assert (jira.fake.issue("SIM-1").status, jira.fake.issue("SIM-1").resolution) == ("Declined", "Declined")


def test_transition_refusals(jira: Jira) -> None:
    jira.create()
    path = "/rest/api/2/issue/SIM-1/transitions"
    assert _errors(jira.post(path, json={})) == (400, ["Missing 'transition' identifier"], {})
    status, messages, _ = _errors(jira.post(path, json={"transition": {"id": "999"}}))
    assert (status, messages) == (400, ["Transition id '999' is not valid for this issue."])
    to_current = {"transition": {"id": jira.fake.statuses[0].transition_id}}
    assert _errors(jira.post(path, json=to_current))[0] == 400
    to_progress = {
        "transition": {"id": _transition_id(jira, "In Progress")},
        "fields": {"resolution": {"name": "Done"}},
    }
    assert list(_errors(jira.post(path, json=to_progress))[2]) == ["resolution"]
    bad_resolution = {
        "transition": {"id": _transition_id(jira, "Resolved")},
        "fields": {"resolution": {"name": "Fixed"}},
    }
    assert list(_errors(jira.post(path, json=bad_resolution))[2]) == ["resolution"]
    assert jira.fake.issue("SIM-1").status == "Waiting for support"


def test_lifecycle_control(jira: Jira, clock: Clock) -> None:
    jira.create()
    clock.advance(10)
    assert jira.fake.start("SIM-1").status == "In Progress"
    resolved = jira.fake.close("SIM-1", comment="Account created")
    assert (resolved.status, resolved.status_category, resolved.resolution) == ("Resolved", "done", "Done")
    assert resolved.comments[-1].body == "Account created"
    with pytest.raises(ValueError, match="already closed"):
        jira.fake.reject("SIM-1")
    assert jira.fake.transition("SIM-1", "Pending").resolution is None
    assert (jira.fake.reject("SIM-1").status, jira.fake.issue("SIM-1").resolution) == ("Declined", "Declined")
    jira.fake.transition("SIM-1", "Pending")
    outcomes = {}
    for outcome in ("incomplete", "cancelled", "skipped"):
        closed = jira.fake.close("SIM-1", outcome)
        outcomes[outcome] = (closed.status, closed.resolution)
        jira.fake.transition("SIM-1", "Pending")
    assert outcomes == {
        "incomplete": ("Closed", "Won't Do"),
        "cancelled": ("Canceled", "Won't Do"),
        "skipped": ("Closed", "Duplicate"),
    }
    assert jira.fake.transition("SIM-1", "Resolved", resolution="Known Error").resolution == "Known Error"
    with pytest.raises(ValueError, match="no status"):
        jira.fake.transition("SIM-1", "Nope")
    with pytest.raises(ValueError, match="takes no resolution"):
        jira.fake.transition("SIM-1", "In Progress", resolution="Done")
    with pytest.raises(ValueError, match="no resolution"):
        jira.fake.transition("SIM-1", "Resolved", resolution="Fixed")
    with pytest.raises(ValueError, match="no outcome"):
        jira.fake.close("SIM-1", "fixed")
    with pytest.raises(KeyError):
        jira.fake.issue("SIM-2")

    snapshot = jira.fake.issue("SIM-1")
    jira.fake.transition("SIM-1", "Pending")
    assert snapshot.status == "Resolved"  # snapshots do not follow the fake
    with pytest.raises(TypeError):
        snapshot.properties["x"] = 1  # type: ignore[index]

    jira.fake.delete_issue("SIM-1")
    assert jira.get("/rest/api/2/issue/SIM-1").status_code == 404
    assert jira.fake.issues() == []
