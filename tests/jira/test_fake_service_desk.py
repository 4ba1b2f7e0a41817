"""FakeJira's service desk API: customer requests, service desks, request types, comments, their envelopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sim_servicenow.testing._jira import FakeJira

if TYPE_CHECKING:
    from conftest import Clock, Jira


def test_create_request_answers_the_customer_request_shape(jira: Jira, clock: Clock) -> None:
    response = jira.post(
        "/rest/servicedeskapi/request",
        json={
            "serviceDeskId": "1",
            "requestTypeId": "10",
            "requestFieldValues": {"summary": "Create account", "description": "For alice on Badge"},
        },
    )

    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["issueKey"] == "SIM-1"
    assert body["issueId"].isdigit()
    assert (body["serviceDeskId"], body["requestTypeId"]) == ("1", "10")
    assert body["createdDate"]["epochMillis"] == int(clock.now * 1000)
    assert body["createdDate"]["iso8601"] == "2023-11-14T22:13:20+0000"
    assert body["createdDate"]["jira"] == "2023-11-14T22:13:20.000+0000"
    assert body["currentStatus"]["status"] == "Waiting for support"
    assert body["currentStatus"]["statusCategory"] == "NEW"
    assert body["currentStatus"]["statusDate"]["epochMillis"] == int(clock.now * 1000)
    assert body["reporter"]["emailAddress"] == FakeJira.DEFAULT_LOGIN
    assert "accountId" in body["reporter"]
    assert {v["fieldId"]: v["value"] for v in body["requestFieldValues"]} == {
        "summary": "Create account",
        "description": "For alice on Badge",
    }
    assert urlsplit(body["_links"]["self"]).path == f"/rest/servicedeskapi/request/{body['issueId']}"
    assert urlsplit(body["_links"]["jiraRest"]).path == f"/rest/api/2/issue/{body['issueId']}"
    assert body["_links"]["web"].endswith("/servicedesk/customer/portal/1/SIM-1")

    issue = jira.fake.issue("SIM-1")
    assert (issue.summary, issue.description, issue.status, issue.resolution) == (
        "Create account",
        "For alice on Badge",
        "Waiting for support",
        None,
    )


def test_keys_count_per_project(jira: Jira) -> None:
    other = jira.fake.add_service_desk("HR")
    hr_type = jira.fake.add_request_type(other.id, "Onboarding")
    assert [jira.create()["issueKey"] for _ in range(2)] == ["SIM-1", "SIM-2"]
    response = jira.post(
        "/rest/servicedeskapi/request",
        json={"serviceDeskId": other.id, "requestTypeId": hr_type.id, "requestFieldValues": {"summary": "x"}},
    )
    assert response.json()["issueKey"] == "HR-1"
    assert jira.create()["issueKey"] == "SIM-3"


def _service_desk_error(response: object) -> tuple[int, str, str]:
    import requests

    assert isinstance(response, requests.Response)
    body = response.json()
    assert set(body) == {"errorMessage", "i18nErrorMessage"}
    assert set(body["i18nErrorMessage"]) == {"i18nKey", "parameters"}
    return response.status_code, body["errorMessage"], body["i18nErrorMessage"]["i18nKey"]


def test_create_request_refusals_use_the_service_desk_envelope(jira: Jira) -> None:
    def create(payload: dict[str, object]) -> tuple[int, str, str]:
        return _service_desk_error(jira.post("/rest/servicedeskapi/request", json=payload))

    status, message, _ = create({"requestTypeId": "10", "requestFieldValues": {"summary": "x"}})
    assert (status, "serviceDeskId" in message) == (400, True)
    status, message, _ = create({"serviceDeskId": "1", "requestFieldValues": {"summary": "x"}})
    assert (status, "requestTypeId" in message) == (400, True)
    status, message, key = create({"serviceDeskId": "99", "requestTypeId": "10", "requestFieldValues": {}})
    assert (status, key) == (404, "sd.service.desk.error.not.found")
    status, message, key = create({"serviceDeskId": "1", "requestTypeId": "77", "requestFieldValues": {}})
    assert (status, key) == (404, "sd.request.type.error.not.found")
    status, message, _ = create({"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {}})
    assert status == 400
    assert "Summary is required" in message
    status, message, _ = create(
        {"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "x", "labels": ["a"]}}
    )
    assert status == 400
    assert "'labels' is not valid for the request type" in message
    assert jira.fake.issues() == []


def test_labels_are_accepted_when_the_request_type_has_the_field(jira: Jira) -> None:
    labelled = jira.fake.add_request_type("1", "Labelled", fields=("summary", "description", "labels"))

    def create(labels: object) -> int:
        return jira.post(
            "/rest/servicedeskapi/request",
            json={
                "serviceDeskId": "1",
                "requestTypeId": labelled.id,
                "requestFieldValues": {"summary": "x", "labels": labels},
            },
        ).status_code

    assert create(["sim-corr-abc", "sim-corr-abc", "other"]) == 201
    assert jira.fake.issue("SIM-1").labels == ("sim-corr-abc", "other")
    assert create(["has space"]) == 400
    assert create("not-a-list") == 400
    assert len(jira.fake.issues()) == 1


def test_raise_on_behalf_of_a_customer(jira: Jira) -> None:
    jira.fake.add_customer("alice@example.com", display_name="Alice")
    response = jira.post(
        "/rest/servicedeskapi/request",
        json={
            "serviceDeskId": "1",
            "requestTypeId": "10",
            "raiseOnBehalfOf": "alice@example.com",
            "requestFieldValues": {"summary": "For Alice"},
        },
    )
    assert response.status_code == 201
    assert response.json()["reporter"]["displayName"] == "Alice"
    assert jira.fake.issue("SIM-1").reporter == "alice@example.com"

    unknown = jira.post(
        "/rest/servicedeskapi/request",
        json={
            "serviceDeskId": "1",
            "requestTypeId": "10",
            "raiseOnBehalfOf": "mallory@example.com",
            "requestFieldValues": {"summary": "x"},
        },
    )
    assert _service_desk_error(unknown)[0] == 400


def test_get_request_by_key_or_id(jira: Jira) -> None:
    created = jira.create("Reset MFA")
    by_key = jira.get("/rest/servicedeskapi/request/SIM-1").json()
    by_id = jira.get(f"/rest/servicedeskapi/request/{created['issueId']}").json()
    assert by_key == by_id
    assert by_key["issueKey"] == "SIM-1"

    jira.fake.close("SIM-1")
    status = jira.get("/rest/servicedeskapi/request/sim-1").json()["currentStatus"]
    assert (status["status"], status["statusCategory"]) == ("Resolved", "DONE")

    assert _service_desk_error(jira.get("/rest/servicedeskapi/request/SIM-404"))[:1] == (404,)


def test_service_desks_page_with_next_and_prev_links(jira: Jira) -> None:
    for key in ("HR", "FIN", "OPS", "LEG"):
        jira.fake.add_service_desk(key)
    first = jira.get("/rest/servicedeskapi/servicedesk", params={"limit": 2}).json()
    assert (first["size"], first["start"], first["limit"], first["isLastPage"]) == (2, 0, 2, False)
    assert [d["projectKey"] for d in first["values"]] == ["SIM", "HR"]
    assert "prev" not in first["_links"]
    assert first["_links"]["base"].endswith("/rest/servicedeskapi")

    seen = [d["projectKey"] for d in first["values"]]
    page = first
    while not page["isLastPage"]:
        next_url = urlsplit(page["_links"]["next"])
        page = jira.get(f"{next_url.path}?{next_url.query}").json()
        assert "prev" in page["_links"]
        seen += [d["projectKey"] for d in page["values"]]
    assert seen == ["SIM", "HR", "FIN", "OPS", "LEG"]

    desk = jira.get("/rest/servicedeskapi/servicedesk/1").json()
    assert {k: desk[k] for k in ("id", "projectKey", "projectName")} == {
        "id": "1",
        "projectKey": "SIM",
        "projectName": "SIM Service Desk",
    }
    assert jira.get("/rest/servicedeskapi/servicedesk/SIM").json()["id"] == "1"


def test_request_types_and_their_fields(jira: Jira) -> None:
    jira.fake.add_request_type("1", "Labelled", fields=("summary", "labels"), required=("summary",))
    listed = jira.get("/rest/servicedeskapi/servicedesk/1/requesttype").json()
    assert listed["isLastPage"] is True
    assert [(t["id"], t["name"], t["serviceDeskId"]) for t in listed["values"]] == [
        ("10", "Request access", "1"),
        ("11", "Labelled", "1"),
    ]
    fields = jira.get("/rest/servicedeskapi/servicedesk/1/requesttype/11/field").json()
    assert [(f["fieldId"], f["required"]) for f in fields["requestTypeFields"]] == [
        ("summary", True),
        ("labels", False),
    ]
    assert fields["canRaiseOnBehalfOf"] is True
    assert _service_desk_error(jira.get("/rest/servicedeskapi/servicedesk/1/requesttype/99"))[0] == 404


def test_comments_public_and_internal(jira: Jira, clock: Clock) -> None:
    jira.create()
    clock.advance(60)
    public = jira.post("/rest/servicedeskapi/request/SIM-1/comment", json={"body": "Working on it", "public": True})
    internal = jira.post("/rest/servicedeskapi/request/SIM-1/comment", json={"body": "Note", "public": False})
    assert (public.status_code, internal.status_code) == (201, 201)
    comment = public.json()
    assert (comment["body"], comment["public"]) == ("Working on it", True)
    assert comment["created"]["epochMillis"] == int(clock.now * 1000)
    assert comment["author"]["emailAddress"] == FakeJira.DEFAULT_LOGIN
    assert comment["_links"]["self"].endswith(f"/comment/{comment['id']}")

    every = jira.get("/rest/servicedeskapi/request/SIM-1/comment").json()["values"]
    only_public = jira.get("/rest/servicedeskapi/request/SIM-1/comment", params={"internal": "false"}).json()
    assert [c["body"] for c in every] == ["Working on it", "Note"]
    assert [c["body"] for c in only_public["values"]] == ["Working on it"]
    assert [(c.body, c.public) for c in jira.fake.issue("SIM-1").comments] == [
        ("Working on it", True),
        ("Note", False),
    ]

    assert _service_desk_error(jira.post("/rest/servicedeskapi/request/SIM-1/comment", json={"body": " "}))[0] == 400
    not_bool = jira.post("/rest/servicedeskapi/request/SIM-1/comment", json={"body": "x", "public": "yes"})
    assert not_bool.status_code == 400


def test_read_only_users_are_refused_writes(client_for: Callable[..., Jira]) -> None:
    fake = FakeJira(users={"viewer@example.com": "t", "bot@example.com": "u"}, read_only=["viewer@example.com"])
    viewer = client_for(fake, auth=("viewer@example.com", "t"))
    response = viewer.post(
        "/rest/servicedeskapi/request",
        json={"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "x"}},
    )
    assert _service_desk_error(response)[0] == 403
    assert viewer.get("/rest/servicedeskapi/servicedesk").status_code == 200
    assert fake.issues() == []
