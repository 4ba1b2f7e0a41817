"""The engine's end-to-end scenario with Jira Service Management selected by configuration, over loopback.

A TOML file says ``ticketing = "jira"``; ``IntegrationEngine.from_config`` builds everything from it. Work items
for managed and unmanaged sources come in, Jira requests go out for the managed ones only, FakeJira's agents
work them, and the work items are completed or forwarded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from sim_servicenow.adapters import JiraServiceManagementTicketing
from sim_servicenow.auth import BasicAuth, BearerToken
from sim_servicenow.engine import IntegrationEngine, MemoryStore, PlanOutcome, PlanState
from sim_servicenow.engine._auth import jira_auth
from sim_servicenow.errors import ConfigError
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import (
    IntegrationConfig,
    JiraAuthType,
    JiraDeployment,
    JiraSettings,
    Secret,
    StatusMap,
    TicketingSystemKind,
)
from sim_servicenow.testing import FakeIdentityNow, FakeJira, ManualClock, ServedApp, WorkPolicy, serve
from sim_servicenow.testing._faults import FaultKind

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ENVIRON = {"JIRA_API_TOKEN": FakeJira.DEFAULT_API_TOKEN, "ISC_CLIENT_SECRET": "fake-client-secret"}


@attrs.define
class World:
    clock: ManualClock
    jira: FakeJira
    idn: FakeIdentityNow
    jira_served: ServedApp
    idn_served: ServedApp
    badge: Mapping[str, Any]
    laptop: Mapping[str, Any]
    directory: Mapping[str, Any]

    def toml(self, *, jira: str = "", top: str = "", status: str = "") -> str:
        """The integration's file: Jira selected, IdentityNow, two of the three sources managed; the arguments
        add lines to the top level, ``[jira]`` and ``[status]``."""
        return f"""
name = "Access requests in Jira"
ticketing = "jira"
store_url = "memory://"
{top}

[jira]
url = "{self.jira_served.url}"
service_desk_id = "{FakeJira.DEFAULT_SERVICE_DESK_ID}"
request_type_id = "{FakeJira.DEFAULT_REQUEST_TYPE_ID}"
username = "{FakeJira.DEFAULT_LOGIN}"
api_token = {{ env = "JIRA_API_TOKEN" }}
{jira}

[identitynow]
url = "{self.idn_served.url}"
client_id = "fake-client-id"
client_secret = {{ env = "ISC_CLIENT_SECRET" }}

[sources.{self.badge["id"]}]
name = "{self.badge["name"]}"

[sources.{self.laptop["id"]}]
name = "{self.laptop["name"]}"

[status]
check_interval_minutes = 30
max_check_days = 2
{status}
"""

    def config(self, *, environ: Mapping[str, str] = ENVIRON, **lines: str) -> IntegrationConfig:
        return IntegrationConfig.from_toml(self.toml(**lines), environ=environ)

    def engine(self, config: IntegrationConfig | None = None) -> IntegrationEngine:
        return IntegrationEngine.from_config(
            config or self.config(),
            store=MemoryStore(),
            clock=self.clock,
            retry=RetryPolicy(max_attempts=3).without_sleeping(),
        )

    def work_item(self, source: Mapping[str, Any], operation: str, account: str, attributes: Any = None) -> str:
        return str(self.idn.add_manual_work_item(source["id"], operation, account, attributes)["id"])

    def ticketing(self, engine: IntegrationEngine) -> JiraServiceManagementTicketing:
        assert isinstance(engine.ticketing, JiraServiceManagementTicketing)
        return engine.ticketing

    def ticket_of(self, work_item_id: str) -> str:
        (issue,) = [i for i in self.jira.issues() if f"correlation key: {work_item_id}/" in (i.description or "")]
        return issue.key


def make_world(jira: FakeJira, clock: ManualClock) -> Iterator[World]:
    idn = FakeIdentityNow(clock=clock.epoch, seed=7)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    directory = idn.add_source("Active Directory")
    with serve(jira) as jira_served, serve(idn) as idn_served:
        yield World(clock, jira, idn, jira_served, idn_served, badge, laptop, directory)


@pytest.fixture
def world() -> Iterator[World]:
    clock = ManualClock(START)
    yield from make_world(FakeJira(clock=clock.epoch, seed=7), clock)


@pytest.fixture
def dc_world() -> Iterator[World]:
    clock = ManualClock(START)
    fake = FakeJira(
        edition="data_center",
        users={"sim-bot": "s3cret"},
        personal_access_tokens={"pat-123": "sim-bot"},
        clock=clock.epoch,
        seed=7,
    )
    yield from make_world(fake, clock)


# --------------------------------------------------------------------------------------------- the scenario


def test_the_configuration_selects_jira(world: World) -> None:
    ticketing = world.ticketing(world.engine())
    assert (ticketing.base_url, ticketing.service_desk_id, ticketing.request_type_id) == (
        world.jira_served.url,
        FakeJira.DEFAULT_SERVICE_DESK_ID,
        FakeJira.DEFAULT_REQUEST_TYPE_ID,
    )
    assert ticketing.status_map == StatusMap.jira()


def test_only_managed_sources_become_jira_requests(world: World) -> None:
    badge = world.work_item(world.badge, "Create", "ada.lovelace", {"badgeLevel": "3"})
    laptop = world.work_item(world.laptop, "Create", "ada.lovelace", {"model": "X1"})
    world.work_item(world.directory, "Create", "ada.lovelace", {"memberOf": "staff"})
    engine = world.engine()

    report = engine.run_once()

    assert (report.received, report.created, report.errors) == (2, 2, [])
    issues = world.jira.issues()
    assert len(issues) == 2
    expected = {f"{badge}/source-{world.badge['id']}", f"{laptop}/source-{world.laptop['id']}"}
    for issue in issues:
        # The default template's short_description is Jira's summary; the key is in the description and a label.
        assert issue.summary.startswith("Create account ada.lovelace on ")
        assert set(issue.field_values) == {"summary", "description"}
        assert issue.description is not None
        key = issue.description.rsplit("correlation key: ", 1)[1].split(" (")[0]
        assert key in expected
        assert issue.labels == (world.ticketing(engine).label_for(key),)
    # Basic authentication from the file: the e-mail address and the API token from the environment.
    assert {entry.headers["authorization"] for entry in world.jira.requests} == {"Basic ***"}
    assert all(not world.idn.completions(i["id"]) for i in world.idn.work_items())


def test_outcomes_flow_back_to_identitynow(world: World) -> None:
    ids = {
        "complete": world.work_item(world.badge, "Create", "grace.hopper", {"badgeLevel": "2"}),
        "incomplete": world.work_item(world.laptop, "Create", "alan.turing", {"model": "X1"}),
        "declined": world.work_item(world.badge, "Disable", "edsger.dijkstra"),
        "open": world.work_item(world.laptop, "Modify", "barbara.liskov", {"model": "T14"}),
    }
    owner = world.idn.add_identity("provisioning.desk")["id"]
    engine = world.engine(world.config(top=f'forward_failed_to = "{owner}"'))
    assert engine.run_once().created == 4

    world.jira.close(world.ticket_of(ids["complete"]))
    world.jira.close(world.ticket_of(ids["incomplete"]), "incomplete")  # Closed / Won't Do
    world.jira.reject(world.ticket_of(ids["declined"]))  # Declined / Declined
    searches = world.jira.requests.count("POST", "/rest/api/2/search/jql")

    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert report.checked == 4
    assert (report.committed, report.failed, report.reported) == (1, 2, 3)
    assert world.jira.requests.count("POST", "/rest/api/2/search/jql") - searches == 1  # four tickets, one search

    assert len(world.idn.completions(ids["complete"])) == 1
    for failed in ("incomplete", "declined"):
        forwards = world.idn.forwards(ids[failed])
        assert len(forwards) == 1
        assert world.ticket_of(ids[failed]) in forwards[0].comment
    assert world.idn.completions(ids["open"]) == []

    # Past the maximum days the open request expires and its work item is forwarded; nothing is told twice.
    world.clock.advance(days=2, minutes=1)
    report = engine.run_once()
    assert report.expired == 1
    assert len(world.idn.forwards(ids["open"])) == 1
    outcomes: Counter[PlanOutcome | None] = Counter()
    for key in ids.values():
        record = engine.store.get(key)
        assert record is not None
        assert record.state is PlanState.DONE
        outcomes[record.outcome] += 1
    assert outcomes == {PlanOutcome.COMMITTED: 1, PlanOutcome.FAILED: 2, PlanOutcome.EXPIRED: 1}
    assert len(world.idn.completions(ids["complete"])) == 1
    assert all(len(world.idn.forwards(ids[name])) == 1 for name in ("incomplete", "declined", "open"))


def test_agents_working_the_queue_complete_the_work_items(world: World) -> None:
    world.jira.work_policy = WorkPolicy(start_after=600, close_after=3600, outcomes={"complete": 1})
    keys = [world.work_item(world.badge, "Create", f"user{n}", {"badgeLevel": "1"}) for n in range(5)]
    engine = world.engine()
    engine.run_once()
    world.clock.advance(minutes=31)
    assert engine.run_once().committed == 0  # started, not yet resolved
    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert (report.committed, report.reported) == (5, 5)
    assert all(len(world.idn.completions(k)) == 1 for k in keys)


def test_an_overdue_request_gets_the_comment_the_configuration_asks_for(world: World) -> None:
    key = world.work_item(world.badge, "Create", "ken.thompson", {"badgeLevel": "1"})
    engine = world.engine(world.config(jira="public_comments = true", status='expiry_action = "report"'))
    engine.run_once()
    world.clock.advance(days=3)
    assert engine.run_once().overdue == 1
    comments = world.jira.issue(world.ticket_of(key)).comments
    assert [(c.public, "maximum tracking time" in c.body) for c in comments] == [(True, True)]


def test_a_lost_create_answer_does_not_make_a_second_request(world: World) -> None:
    key = world.work_item(world.badge, "Create", "ken.thompson", {"badgeLevel": "1"})
    world.jira.faults.add(FaultKind.DROP, after=True, method="POST", path="/rest/servicedeskapi/request", times=1)
    engine = world.engine()

    first = engine.run_once()
    assert (first.created, [e.stage for e in first.errors]) == (0, ["create"])
    assert len(world.jira.issues()) == 1  # Jira made it; the engine did not hear back

    world.clock.advance(minutes=5)
    second = engine.run_once()
    assert (second.found, second.created) == (1, 0)
    assert len(world.jira.issues()) == 1
    record = engine.store.get(key)
    assert record is not None
    assert record.groups[0].ticket_number == world.jira.issues()[0].key


# --------------------------------------------------------------------------------------------- the options


def test_labels_and_a_field_map_from_the_configuration(world: World) -> None:
    desk = FakeJira.DEFAULT_SERVICE_DESK_ID
    labelled = world.jira.add_request_type(desk, "Access", fields=("summary", "description", "labels", "customfield_7"))
    options = """
correlation_field = "labels"
[jira.field_map]
short_description = "summary"
account = "customfield_7"
"""
    text = world.toml(jira=options).replace(
        f'request_type_id = "{FakeJira.DEFAULT_REQUEST_TYPE_ID}"', f'request_type_id = "{labelled.id}"'
    )
    text += '\n[request]\nshort_description = "Badge for $identity.label"\naccount = "$plan.requests.get(0).id"\n'
    key = world.work_item(world.badge, "Create", "ada.lovelace", {"badgeLevel": "3"})
    engine = world.engine(IntegrationConfig.from_toml(text, environ=ENVIRON))

    assert engine.run_once().created == 1
    (issue,) = world.jira.issues()
    assert (issue.request_type_id, issue.summary, issue.field_values["customfield_7"]) == (
        labelled.id,
        "Badge for ada.lovelace",
        "ada.lovelace",
    )
    assert issue.description is None  # the key travelled as a label in the create request itself
    assert world.jira.requests.count("PUT") == 0
    correlation_key = f"{key}/source-{world.badge['id']}"
    assert issue.labels == (world.ticketing(engine).label_for(correlation_key),)


def test_data_center_with_a_personal_access_token(dc_world: World) -> None:
    options = 'deployment = "data_center"\nauth = "bearer"\npersonal_access_token = { env = "JIRA_PAT" }'
    text = dc_world.toml(jira=options).replace(f'username = "{FakeJira.DEFAULT_LOGIN}"\n', "")
    config = IntegrationConfig.from_toml(text, environ={**ENVIRON, "JIRA_PAT": "pat-123"})
    key = dc_world.work_item(dc_world.badge, "Create", "ada.lovelace", {"badgeLevel": "3"})
    engine = dc_world.engine(config)

    assert engine.run_once().created == 1
    dc_world.jira.close(dc_world.ticket_of(key))
    dc_world.clock.advance(minutes=31)
    assert engine.run_once().committed == 1
    assert len(dc_world.idn.completions(key)) == 1
    assert {entry.headers["authorization"] for entry in dc_world.jira.requests} == {"Bearer ***"}
    assert dc_world.jira.requests.count("POST", "/rest/api/2/search") == 1  # Data Center's search


# --------------------------------------------------------------------------------------------- refusals


def test_an_incomplete_jira_configuration_is_refused_with_every_problem(world: World) -> None:
    config = world.config(environ={"ISC_CLIENT_SECRET": "x"})
    with pytest.raises(ConfigError) as caught:
        world.engine(config)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("jira.api_token", "environment variable JIRA_API_TOKEN is not set")
    ]
    assert list(world.jira.requests) == []


def test_without_identitynow_there_is_nothing_to_run(world: World) -> None:
    config = attrs.evolve(world.config(), identitynow=None)
    with pytest.raises(ConfigError, match=r"identitynow\.url: required to run"):
        world.engine(config)


def test_the_adapter_needs_the_jira_settings() -> None:
    with pytest.raises(ConfigError, match=r"jira\.url: required to run"):
        JiraServiceManagementTicketing.from_config(IntegrationConfig(ticketing=TicketingSystemKind.JIRA), None)


def test_jira_auth_follows_the_deployment_and_the_authentication_type() -> None:
    cloud = JiraSettings("https://a.atlassian.net", "1", "10", username="bot@a.com", api_token=Secret("t"))
    assert jira_auth(cloud) == BasicAuth("bot@a.com", "t")
    data_center = attrs.evolve(cloud, deployment=JiraDeployment.DATA_CENTER, username="bot", password=Secret("pw"))
    assert jira_auth(data_center) == BasicAuth("bot", "pw")
    bearer = attrs.evolve(data_center, auth=JiraAuthType.BEARER, personal_access_token=Secret("pat"))
    assert jira_auth(bearer) == BearerToken("pat")
    with pytest.raises(ConfigError, match=r"jira\.personal_access_token: required"):
        jira_auth(attrs.evolve(bearer, personal_access_token=None))
    with pytest.raises(ConfigError, match="JIRA_TOKEN is not set"):
        jira_auth(attrs.evolve(cloud, api_token=Secret.from_env("JIRA_TOKEN", {})))
