"""The whole loop over loopback: work items in, tickets out, statuses read, work items completed or forwarded."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import attrs

from sim_servicenow.engine import GroupState, PlanOutcome, PlanState
from sim_servicenow.mapping import ExpiryAction

from .conftest import World


def test_only_managed_sources_become_tickets(world: World) -> None:
    badge = world.work_item(world.badge, "Create", "ada.lovelace", {"badgeLevel": "3"})
    laptop = world.work_item(world.laptop, "Create", "ada.lovelace", {"model": "X1"})
    world.work_item(world.directory, "Create", "ada.lovelace", {"memberOf": "staff"})
    engine = world.engine()

    report = engine.run_once()

    assert report.received == 2
    assert report.created == 2
    assert report.errors == []
    requests = world.tickets()
    assert len(requests) == 2
    keys = sorted(r["correlation_id"] for r in requests)
    assert keys == sorted(f"{key}/source-{src['id']}" for key, src in ((badge, world.badge), (laptop, world.laptop)))
    # The order carried the key in its variable too, so a crash between order and REQ update is recoverable.
    items = world.sn.records("sc_req_item")
    assert {world.sn.variables(i["sys_id"])["sim_correlation_id"] for i in items} == set(keys)
    # The unmanaged work item was not touched.
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

    by_key = {r["correlation_id"].split("/")[0]: r for r in world.tickets()}
    world.sn.close(by_key[ids["complete"]]["sys_id"], "complete")
    world.sn.close(by_key[ids["incomplete"]]["sys_id"], "incomplete")
    world.sn.close(by_key[ids["rejected"]]["sys_id"], "rejected")

    world.clock.advance(minutes=31)
    report = engine.run_once()
    assert report.checked == 4
    assert (report.committed, report.failed, report.reported) == (1, 2, 3)

    assert len(world.idn.completions(ids["complete"])) == 1
    for failed in ("incomplete", "rejected"):
        forwards = world.idn.forwards(ids[failed])
        assert len(forwards) == 1
        assert by_key[ids[failed]]["number"] in forwards[0].comment
    assert world.idn.completions(ids["open"]) == []

    # Past the maximum days the open ticket expires and its work item is forwarded; nothing is reported twice.
    world.clock.advance(days=2, minutes=1)
    report = engine.run_once()
    assert report.expired == 1
    assert len(world.idn.forwards(ids["open"])) == 1
    for key in ids.values():
        record = engine.store.get(key)
        assert record is not None
        assert record.state is PlanState.DONE
    outcomes = Counter(engine.store.get(k).outcome for k in ids.values())  # type: ignore[union-attr]
    assert outcomes == {PlanOutcome.COMMITTED: 1, PlanOutcome.FAILED: 2, PlanOutcome.EXPIRED: 1}
    assert len(world.idn.completions(ids["complete"])) == 1


def test_expiry_can_leave_tickets_open(world: World) -> None:
    key = world.work_item(world.badge, "Create", "ken.thompson", {"badgeLevel": "1"})
    engine = world.engine(world.config(expiry_action=ExpiryAction.REPORT))
    engine.run_once()
    world.clock.advance(days=3)
    report = engine.run_once()
    assert report.overdue == 1
    record = engine.store.get(key)
    assert record is not None
    assert record.state is PlanState.ACTIVE
    assert record.groups[0].state is GroupState.TICKETED
    ticket = world.tickets()[0]
    assert any("maximum tracking time" in note["value"] for note in world.sn.journal(ticket["sys_id"], "work_notes"))
    # Reported overdue once, then tracked on: closing it later still completes the work item.
    world.clock.advance(minutes=31)
    assert engine.run_once().overdue == 0
    world.sn.close(ticket["sys_id"], "complete")
    world.clock.advance(minutes=31)
    engine.run_once()
    assert len(world.idn.completions(key)) == 1


def test_a_restarted_engine_finds_the_ticket_instead_of_creating_another(world: World) -> None:
    key = world.work_item(world.badge, "Create", "dennis.ritchie", {"badgeLevel": "1"})
    engine = world.engine()
    engine.run_once()
    assert len(world.tickets()) == 1
    # Simulate a crash right after the ticket was created but before TICKETED was written.
    leased = engine.store.lease_due(
        "crash-sim", now=world.clock() + timedelta(hours=1), limit=10, lease_for=timedelta(minutes=1)
    )
    assert [r.plan_key for r in leased] == [key]
    group = leased[0].groups[0]
    back = attrs.evolve(group, state=GroupState.CREATING, ticket=None, ticket_number=None)
    engine.store.update("crash-sim", leased[0].with_group(back), now=world.clock(), detail="test: crash")
    engine.store.release("crash-sim", [key])

    world.clock.advance(hours=2)
    report = engine.run_once()
    assert report.found == 1
    assert report.created == 0
    assert len(world.tickets()) == 1
