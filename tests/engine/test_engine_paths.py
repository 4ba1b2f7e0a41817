"""Engine paths beyond the basic loop: SailPoint's own SIM definition, table tickets, grouping, retry, poison, hooks."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from sim_servicenow.engine import (
    EngineHooks,
    GroupState,
    IntegrationEngine,
    MemoryStore,
    PlanOutcome,
    PlanState,
    QueueSource,
)
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeRequest,
    Grouping,
    IntegrationConfig,
    ProvisioningPlan,
    RequestTemplate,
    StatusCheck,
    StatusMap,
    TicketType,
)
from sim_servicenow.testing import FakeIdentityNow

from .conftest import World


def test_sailpoint_example_sim_definition_runs_unchanged(world: World) -> None:
    definition: dict[str, Any] = FakeIdentityNow.example_sim_integration([world.badge["id"], world.laptop["id"]])
    definition["attributes"]["url"] = world.sn_served.url
    definition["attributes"]["username"] = "admin"
    definition["attributes"]["password"] = "admin"
    definition["attributes"]["catalogItem"] = {
        world.badge["id"]: world.badge_item,
        world.laptop["id"]: world.laptop_item,
    }
    original = copy.deepcopy(definition)
    config = IntegrationConfig.from_sim_integration(
        definition,
        overrides={
            "identitynow": {
                "url": world.idn_served.url,
                "client_id": "fake-client-id",
                "client_secret": "fake-client-secret",
            }
        },
    )
    assert definition == original  # loading does not touch the caller's definition
    key = world.work_item(world.badge, "Create", "linus.torvalds", {"badgeLevel": "4"})
    world.work_item(world.directory, "Create", "linus.torvalds", {"memberOf": "staff"})
    engine = world.engine(config)
    report = engine.run_once()
    assert report.created == 1
    [request] = world.tickets()
    # SailPoint's templates, rendered as SailPoint renders them ($! quiet reference: no identityRequestId here).
    assert request["short_description"] == "SailPoint New Access Request Created from IdentityNow"
    assert "Service Integration Module (SIM)" in request["description"]
    [item] = world.sn.records("sc_req_item")
    variables = world.sn.variables(item["sys_id"])
    assert variables["short_description"] == "SailPoint Access Request "
    assert variables["sim_correlation_id"] == request["correlation_id"]
    # SailPoint's status map: closed_complete -> Committed.
    world.sn.close(request["sys_id"], "complete")
    world.clock.advance(minutes=31)
    assert engine.run_once().committed == 1
    assert len(world.idn.completions(key)) == 1


def _incident_config(world: World, **overrides: Any) -> IntegrationConfig:
    values: dict[str, Any] = {"ticket_type": TicketType.TABLE, "table": "incident"}
    values.update(overrides)
    return world.config(**values)


def test_table_tickets_carry_the_correlation_key_in_the_insert(world: World) -> None:
    key = world.work_item(world.laptop, "Create", "margaret.hamilton", {"model": "X1"})
    engine = world.engine(_incident_config(world))
    assert engine.run_once().created == 1
    [incident] = world.sn.records("incident")
    assert incident["correlation_id"] == f"{key}/source-{world.laptop['id']}"
    assert incident["correlation_display"] == "sim-servicenow"
    assert "margaret.hamilton" in incident["short_description"]
    inserts = world.sn.requests.filter("POST", "/api/now/table/incident")
    assert len(inserts) == 1
    world.sn.update("incident", incident["sys_id"], state="6")
    world.clock.advance(minutes=31)
    assert engine.run_once().committed == 1
    assert len(world.idn.completions(key)) == 1


@pytest.mark.parametrize(
    ("grouping", "expected_tickets"), [(Grouping.PLAN, 1), (Grouping.SOURCE, 2), (Grouping.ACCOUNT_REQUEST, 3)]
)
def test_grouping(world: World, grouping: Grouping, expected_tickets: int) -> None:
    plan = ProvisioningPlan(
        key="joiner-42",
        account_requests=(
            AccountRequest(AccountOperation.CREATE, world.badge["id"], "Badge System", "ada"),
            AccountRequest(
                AccountOperation.MODIFY,
                world.laptop["id"],
                "Laptop Fleet",
                "ada",
                attribute_requests=(AttributeRequest("model", value="X1"),),
            ),
            AccountRequest(AccountOperation.ENABLE, world.laptop["id"], "Laptop Fleet", "ada-admin"),
            AccountRequest(AccountOperation.CREATE, world.directory["id"], "Active Directory", "ada"),
        ),
    )
    finished: list[Any] = []
    hooks = EngineHooks(on_plan_finished=lambda key, report: finished.append((key, report)))
    engine = world.engine(_incident_config(world, grouping=grouping), hooks=hooks)
    assert engine.submit(plan) is True
    assert engine.submit(plan) is False  # recorded once, by key
    assert engine.run_once().created == expected_tickets
    incidents = world.sn.records("incident")
    assert len(incidents) == expected_tickets
    assert len({i["correlation_id"] for i in incidents}) == expected_tickets
    for incident in incidents:
        world.sn.update("incident", incident["sys_id"], state="7")
    world.clock.advance(minutes=31)
    engine.run_once()
    [(key, report)] = finished
    assert key == "joiner-42"
    assert report.outcome is PlanOutcome.COMMITTED
    assert len(report.tickets) == expected_tickets
    assert report.unmanaged_sources == ("Active Directory",)


def test_retry_status_raises_a_new_ticket_under_a_new_key(world: World) -> None:
    status_map = StatusMap({"1": "Queued", "2": "Queued", "6": "Committed", "7": "Committed", "8": "Retry"})
    key = world.work_item(world.badge, "Create", "john.backus", {"badgeLevel": "2"})
    engine = world.engine(_incident_config(world, status_map=status_map, retry_limit=2))
    engine.run_once()
    [first] = world.sn.records("incident")
    world.sn.update("incident", first["sys_id"], state="8")
    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert (report.retried, report.created) == (1, 1)
    second = next(i for i in world.sn.records("incident") if i["sys_id"] != first["sys_id"])
    assert second["correlation_id"] == first["correlation_id"] + "#2"
    # The limit is two attempts: a second Retry fails the group.
    world.sn.update("incident", second["sys_id"], state="8")
    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert report.failed == 1
    record = engine.store.get(key)
    assert record is not None
    assert record.outcome is PlanOutcome.FAILED
    assert "asked for a retry after 2 attempt(s)" in record.groups[0].detail
    assert len(world.sn.records("incident")) == 2


def test_unknown_status_is_reported_and_never_success(world: World) -> None:
    key = world.work_item(world.badge, "Create", "frances.allen", {"badgeLevel": "2"})
    engine = world.engine(_incident_config(world))
    engine.run_once()
    [incident] = world.sn.records("incident")
    world.sn.update("incident", incident["sys_id"], state="42")
    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert report.unknown_statuses == [(f"{key}/source-{world.badge['id']}", ("42",))]
    assert report.committed == 0
    record = engine.store.get(key)
    assert record is not None
    assert record.groups[0].state is GroupState.TICKETED
    assert record.groups[0].unknown_status is True


def test_a_poisoned_plan_fails_alone(world: World) -> None:
    # A strict template needs an argument; the one plan without it cannot be rendered, the others flow on.
    template = RequestTemplate({"short_description": "Badge for $plan.arguments.badgeHolder"}, strict=True)
    engine = world.engine(_incident_config(world, request_template=template))

    def plan(key: str, **arguments: Any) -> ProvisioningPlan:
        request = AccountRequest(AccountOperation.CREATE, world.badge["id"], "Badge System", key)
        return ProvisioningPlan(key=key, arguments=arguments, account_requests=(request,))

    engine.submit(plan("good-1", badgeHolder="Ada"))
    engine.submit(plan("poison-1"))
    engine.submit(plan("good-2", badgeHolder="Grace"))
    report = engine.run_once()
    assert report.created == 2
    assert [e.plan_key for e in report.errors if e.permanent] == ["poison-1"]
    record = engine.store.get("poison-1")
    assert record is not None
    assert record.state is PlanState.DONE
    assert record.outcome is PlanOutcome.FAILED
    assert "ticket not created" in record.groups[0].detail
    assert "badgeHolder" in record.groups[0].detail
    for key in ("good-1", "good-2"):
        assert engine.store.get(key).groups[0].state is GroupState.TICKETED  # type: ignore[union-attr]
    assert sorted(i["short_description"] for i in world.sn.records("incident")) == ["Badge for Ada", "Badge for Grace"]


def test_hooks_see_tickets_and_status_changes_and_a_failing_hook_is_ignored(world: World) -> None:
    events: list[str] = []

    def explode(*_args: Any) -> None:
        raise RuntimeError("a user hook bug")

    hooks = EngineHooks(
        on_ticket_created=lambda key, group, ref: events.append(f"created {ref.number}"),
        on_status_changed=lambda key, group, old, new: events.append(f"{old}->{new.status.value}"),
        on_plan_finished=explode,
    )
    key = world.work_item(world.badge, "Create", "niklaus.wirth", {"badgeLevel": "2"})
    engine = world.engine(_incident_config(world), hooks=hooks)
    engine.run_once()
    [incident] = world.sn.records("incident")
    world.sn.update("incident", incident["sys_id"], state="6")
    world.clock.advance(minutes=31)
    engine.run_once()
    assert events == [f"created {incident['number']}", "None->Committed"]
    assert engine.store.get(key).state is PlanState.DONE  # type: ignore[union-attr]


def test_status_checks_can_follow_the_tenants_configuration(world: World) -> None:
    world.idn.set_status_check_configuration(interval_minutes=10, max_days=1)
    key = world.work_item(world.badge, "Create", "tim.berners-lee", {"badgeLevel": "2"})
    engine = IntegrationEngine.from_config(
        world.config(),
        store=MemoryStore(),
        clock=world.clock,
        retry=RetryPolicy(max_attempts=3).without_sleeping(),
        status_check_from_identitynow=True,
    )
    assert engine.config.status_check == StatusCheck(interval=timedelta(minutes=10), max_days=1)
    engine.run_once()
    world.sn.close(world.tickets()[0]["sys_id"], "complete")
    world.clock.advance(minutes=11)  # due after the tenant's 10 minutes, not the configuration's 30
    assert engine.run_once().committed == 1
    assert len(world.idn.completions(key)) == 1


def test_extra_sources_feed_the_same_engine(world: World) -> None:
    queue = QueueSource(name="webhook")
    engine = IntegrationEngine.from_config(
        _incident_config(world),
        store=MemoryStore(),
        clock=world.clock,
        retry=RetryPolicy(max_attempts=3).without_sleeping(),
        extra_sources=[queue],
    )
    queue.put(
        ProvisioningPlan(
            key="event-7",
            account_requests=(AccountRequest(AccountOperation.CREATE, world.laptop["id"], "Laptop Fleet", "zoe"),),
        )
    )
    assert engine.run_once().created == 1
    assert engine.store.get("event-7").source == "webhook"  # type: ignore[union-attr]
