"""FakeJira driven by an independent client, atlassian-python-api, the way people script Jira.

If the fake answers what that client expects, scripts written for real sites run against it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sim_servicenow.testing import ServedApp, serve
from sim_servicenow.testing._jira import FakeJira

atlassian = pytest.importorskip("atlassian")


@pytest.fixture
def cloud() -> Iterator[ServedApp]:
    with serve(FakeJira(seed=3)) as served:
        yield served


@pytest.fixture
def data_center() -> Iterator[ServedApp]:
    fake = FakeJira(edition="data_center", users={"sim-bot": "pw"}, personal_access_tokens={"pat-1": "sim-bot"})
    with serve(fake) as served:
        yield served


def test_service_desk_scripts_on_cloud(cloud: ServedApp) -> None:
    desk = atlassian.ServiceDesk(
        url=cloud.url, username=FakeJira.DEFAULT_LOGIN, password=FakeJira.DEFAULT_API_TOKEN, cloud=True
    )
    assert [d["projectKey"] for d in desk.get_service_desks()] == ["SIM"]
    assert [t["name"] for t in desk.get_request_types("1")["values"]] == ["Request access"]
    created = desk.create_customer_request("1", "10", {"summary": "Badge for Ada", "description": "Level 3"})
    key = created["issueKey"]
    assert desk.get_customer_request(key)["currentStatus"]["statusCategory"] == "NEW"
    assert desk.create_request_comment(key, "checking", public=False)["public"] is False
    assert [c["body"] for c in desk.get_request_comments(key)] == ["checking"]
    fake: FakeJira = cloud.app
    assert fake.issue(key).summary == "Badge for Ada"


def test_platform_scripts_on_cloud(cloud: ServedApp) -> None:
    fake: FakeJira = cloud.app
    desk = atlassian.ServiceDesk(
        url=cloud.url, username=FakeJira.DEFAULT_LOGIN, password=FakeJira.DEFAULT_API_TOKEN, cloud=True
    )
    key = desk.create_customer_request("1", "10", {"summary": "VPN for Grace"})["issueKey"]
    jira = atlassian.Jira(
        url=cloud.url, username=FakeJira.DEFAULT_LOGIN, password=FakeJira.DEFAULT_API_TOKEN, cloud=True
    )

    jira.update_issue_field(key, {"labels": ["vpn"]})
    jira.set_issue_property(key, "sim", {"attempt": 1})
    assert jira.get_issue_property(key, "sim")["value"] == {"attempt": 1}
    found = jira.enhanced_jql("labels = vpn", fields="labels,status")
    assert [(i["key"], i["fields"]["labels"]) for i in found["issues"]] == [(key, ["vpn"])]
    assert found["isLast"] is True

    assert "Resolved" in [t["to"] for t in jira.get_issue_transitions(key)]
    jira.set_issue_status(key, "Resolved", fields={"resolution": {"name": "Won't Do"}})
    assert jira.get_issue_status(key) == "Resolved"
    assert (fake.issue(key).status, fake.issue(key).resolution) == ("Resolved", "Won't Do")


def test_scripts_on_data_center_with_a_personal_access_token(data_center: ServedApp) -> None:
    desk = atlassian.ServiceDesk(url=data_center.url, token="pat-1")
    created = desk.create_customer_request("1", "10", {"summary": "Laptop for Alan"})
    assert created["reporter"]["name"] == "sim-bot"
    jira = atlassian.Jira(url=data_center.url, token="pat-1")
    assert jira.myself()["name"] == "sim-bot"
    assert jira.jql("project = SIM", limit=1)["total"] == 1
    lenient = jira.jql(f"key in ({created['issueKey']}, SIM-99)", validate_query=False)
    assert [i["key"] for i in lenient["issues"]] == [created["issueKey"]]
    assert lenient["warningMessages"] == ["An issue with key 'SIM-99' does not exist for field 'key'."]
    with pytest.raises(requests.HTTPError, match="An issue with key 'SIM-99' does not exist"):
        jira.jql("key = SIM-99")
