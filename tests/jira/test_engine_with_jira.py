"""The engine's end-to-end loop with Jira Service Management as the ticketing system, over loopback.

The configuration is the one the ServiceNow scenario uses (catalog-shaped, grouped by source); only the
ticketing system differs: work items in, Jira requests out, statuses read, work items completed or forwarded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from sim_servicenow.adapters import WorkItemSource
from sim_servicenow.adapters._jira import JiraServiceManagementTicketing
from sim_servicenow.auth import BasicAuth, OAuth2ClientCredentials
from sim_servicenow.engine import IntegrationEngine, MemoryStore, PlanOutcome, PlanState
from sim_servicenow.http import RetryPolicy
from sim_servicenow.identitynow import IdentityNowClient
from sim_servicenow.mapping import ExpiryAction, IntegrationConfig, ManagedSource, StatusCheck
from sim_servicenow.testing import FakeIdentityNow, ManualClock, ServedApp, serve
from sim_servicenow.testing._faults import FaultKind
from sim_servicenow.testing._jira import FakeJira
from sim_servicenow.testing._servicenow import WorkPolicy

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
RETRY = RetryPolicy(max_attempts=3).without_sleeping()


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

    def config(self, **overrides: Any) -> IntegrationConfig:
        values: dict[str, Any] = {
            # Catalog items are ServiceNow's; the same configuration carries them, and Jira ignores them.
            "sources": (
                ManagedSource(self.badge["id"], self.badge["name"], "a" * 32),
                ManagedSource(self.laptop["id"], self.laptop["name"], "b" * 32),
            ),
            "status_check": StatusCheck(interval=timedelta(minutes=30), max_days=2),
        }
        values.update(overrides)
        return IntegrationConfig(**values)

    def ticketing(self) -> JiraServiceManagementTicketing:
        return JiraServiceManagementTicketing(
            self.jira_served.url,
            BasicAuth(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN),
            service_desk_id=FakeJira.DEFAULT_SERVICE_DESK_ID,
            request_type_id=FakeJira.DEFAULT_REQUEST_TYPE_ID,
            retry=RETRY,
        )

    def engine(self, config: IntegrationConfig | None = None, **options: Any) -> IntegrationEngine:
        config = config or self.config()
        url = self.idn_served.url
        identitynow = IdentityNowClient(
            url,
            OAuth2ClientCredentials(f"{url}/oauth/token", "fake-client-id", "fake-client-secret"),
            retry=RETRY,
        )
        options.setdefault("store", MemoryStore())
        return IntegrationEngine(
            config,
            self.ticketing(),
            WorkItemSource.from_config(identitynow, config),
            options.pop("store"),
            clock=self.clock,
            **options,
        )

    def work_item(self, source: Mapping[str, Any], operation: str, account: str, attributes: Any = None) -> str:
        return str(self.idn.add_manual_work_item(source["id"], operation, account, attributes)["id"])

    def ticket_of(self, work_item_id: str) -> str:
        (issue,) = [i for i in self.jira.issues() if f"correlation key: {work_item_id}/" in (i.description or "")]
        return issue.key


@pytest.fixture
def world() -> Iterator[World]:
    clock = ManualClock(START)
    jira = FakeJira(clock=clock.epoch, seed=7)
    idn = FakeIdentityNow(clock=clock.epoch, seed=7)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    directory = idn.add_source("Active Directory")
    with serve(jira) as jira_served, serve(idn) as idn_served:
        yield World(clock, jira, idn, jira_served, idn_served, badge, laptop, directory)


def test_only_managed_sources_become_requests(world: World) -> None:
    badge = world.work_item(world.badge, "Create", "ada.lovelace", {"badgeLevel": "3"})
    laptop = world.work_item(world.laptop, "Create", "ada.lovelace", {"model": "X1"})
    world.work_item(world.directory, "Create", "ada.lovelace", {"memberOf": "staff"})
    engine = world.engine()

    report = engine.run_once()

    assert (report.received, report.created, report.errors) == (2, 2, [])
    issues = world.jira.issues()
    assert len(issues) == 2
    ticketing = world.ticketing()
    expected = {f"{badge}/source-{world.badge['id']}", f"{laptop}/source-{world.laptop['id']}"}
    assert {label for i in issues for label in i.labels} == {ticketing.label_for(k) for k in expected}
    assert all(i.summary.startswith("Create account ada.lovelace on ") for i in issues)
    assert all(not world.idn.completions(i["id"]) for i in world.idn.work_items())


def test_outcomes_flow_back_to_identitynow(world: World) -> None:
    ids = {
        "complete": world.work_item(world.badge, "Create", "grace.hopper", {"badgeLevel": "2"}),
        "incomplete": world.work_item(world.laptop, "Create", "alan.turing", {"model": "X1"}),
        "rejected": world.work_item(world.badge, "Disable", "edsger.dijkstra"),
        "open": world.work_item(world.laptop, "Modify", "barbara.liskov", {"model": "T14"}),
    }
    owner = world.idn.add_identity("provisioning.desk")["id"]
    engine = world.engine(world.config(forward_failed_to=owner))
    engine.run_once()

    world.jira.close(world.ticket_of(ids["complete"]))
    world.jira.close(world.ticket_of(ids["incomplete"]), "incomplete")
    world.jira.reject(world.ticket_of(ids["rejected"]))

    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert report.checked == 4
    assert (report.committed, report.failed, report.reported) == (1, 2, 3)
    assert world.jira.requests.count("POST", "/rest/api/2/search/jql") == 1  # four tickets, one search

    assert len(world.idn.completions(ids["complete"])) == 1
    for failed in ("incomplete", "rejected"):
        forwards = world.idn.forwards(ids[failed])
        assert len(forwards) == 1
        assert world.ticket_of(ids[failed]) in forwards[0].comment

    world.clock.advance(days=2, minutes=1)
    report = engine.run_once()
    assert report.expired == 1
    assert len(world.idn.forwards(ids["open"])) == 1
    outcomes = Counter()
    for key in ids.values():
        record = engine.store.get(key)
        assert record is not None
        assert record.state is PlanState.DONE
        outcomes[record.outcome] += 1
    assert outcomes == {PlanOutcome.COMMITTED: 1, PlanOutcome.FAILED: 2, PlanOutcome.EXPIRED: 1}


def test_overdue_requests_get_an_internal_comment(world: World) -> None:
    key = world.work_item(world.badge, "Create", "ken.thompson", {"badgeLevel": "1"})
    engine = world.engine(world.config(expiry_action=ExpiryAction.REPORT))
    engine.run_once()
    world.clock.advance(days=3)
    assert engine.run_once().overdue == 1
    comments = world.jira.issue(world.ticket_of(key)).comments
    assert [(c.public, "maximum tracking time" in c.body) for c in comments] == [(False, True)]


def test_the_work_policy_of_the_servicenow_scenario_drives_jira(world: World) -> None:
    world.jira.work_policy = WorkPolicy(start_after=600, close_after=3600, outcomes={"complete": 1})
    keys = [world.work_item(world.badge, "Create", f"user{n}", {"badgeLevel": "1"}) for n in range(5)]
    engine = world.engine()
    engine.run_once()
    world.clock.advance(minutes=31)
    assert engine.run_once().committed == 0
    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert (report.committed, report.reported) == (5, 5)
    assert all(len(world.idn.completions(k)) == 1 for k in keys)


def test_a_lost_create_answer_does_not_make_a_second_request(world: World) -> None:
    key = world.work_item(world.badge, "Create", "ken.thompson", {"badgeLevel": "1"})
    world.jira.faults.add(FaultKind.DROP, after=True, method="POST", path="/rest/servicedeskapi/request", times=1)
    engine = world.engine()

    first = engine.run_once()
    assert first.created == 0
    assert [e.stage for e in first.errors] == ["create"]
    assert len(world.jira.issues()) == 1  # Jira made it; the engine did not hear back

    world.clock.advance(minutes=5)
    second = engine.run_once()
    assert (second.found, second.created) == (1, 0)
    assert len(world.jira.issues()) == 1
    record = engine.store.get(key)
    assert record is not None
    assert record.groups[0].ticket_number == world.jira.issues()[0].key
