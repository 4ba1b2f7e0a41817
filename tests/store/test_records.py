"""The store's records on their own: validation, UTC normalisation, helpers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow import SimServiceNowError
from sim_servicenow.engine import (
    AuditEntry,
    GroupState,
    LeaseLostError,
    NewPlan,
    PlanOutcome,
    PlanRecord,
    PlanState,
    StaleRecordError,
    StoreCounts,
    StoreError,
    StoreFormatError,
    StoreVersionError,
    TicketGroupRecord,
)

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _group(group_id: str = "g1", **changes: object) -> TicketGroupRecord:
    fields: dict[str, object] = {"group_id": group_id, "correlation_key": f"p1/{group_id}", "state": "received"}
    fields["created_at"] = T0
    fields.update(changes)
    return TicketGroupRecord(**fields)  # type: ignore[arg-type]


def _plan(**changes: object) -> PlanRecord:
    fields: dict[str, object] = {"plan_key": "p1", "plan": {}, "state": "received", "received_at": T0}
    fields.update(changes)
    return PlanRecord(**fields)  # type: ignore[arg-type]


@given(
    instant=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30)),
    offset=st.integers(min_value=-23 * 60, max_value=23 * 60),
)
def test_every_time_is_stored_as_the_same_instant_in_utc(instant: datetime, offset: int) -> None:
    local = instant.replace(tzinfo=timezone(timedelta(minutes=offset)))

    record = _plan(received_at=local, due_at=local, lease_until=local, finished_at=local)
    group = _group(created_at=local, next_check_at=local, expires_at=local)

    for value in (record.received_at, record.due_at, record.lease_until, record.finished_at, group.created_at):
        assert value == local
        assert value is not None
        assert value.tzinfo is timezone.utc
    assert group.next_check_at == group.expires_at == local


@pytest.mark.parametrize("field", ["received_at", "due_at", "finished_at", "lease_until"])
def test_naive_times_are_refused_in_plans(field: str) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        _plan(**{field: datetime(2030, 1, 1)})


def test_naive_times_are_refused_in_groups_new_plans_and_audit_entries() -> None:
    naive = datetime(2030, 1, 1)
    with pytest.raises(ValueError, match="naive datetime"):
        _group(next_check_at=naive)
    with pytest.raises(ValueError, match="naive datetime"):
        NewPlan(plan_key="p1", plan={}, due_at=naive)
    with pytest.raises(ValueError, match="naive datetime"):
        AuditEntry(
            plan_key="p1", group_id=None, correlation_key=None, from_state=None, to_state=PlanState.DONE, at=naive
        )


def test_states_and_outcomes_accept_their_values() -> None:
    record = _plan(state="done", outcome="committed", groups=[_group(state="ticketed")])

    assert record.state is PlanState.DONE
    assert record.outcome is PlanOutcome.COMMITTED
    assert record.groups == (_group(state=GroupState.TICKETED),)
    with pytest.raises(ValueError, match="'finished' is not a valid PlanState"):
        _plan(state="finished")


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([_group("a"), _group("a", correlation_key="other")], "duplicate group id 'a'"),
        ([_group("a", correlation_key="k"), _group("b", correlation_key="k")], "duplicate correlation key 'k'"),
    ],
)
def test_a_plan_cannot_hold_two_groups_with_one_id_or_key(groups: list[TicketGroupRecord], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _plan(groups=groups)


def test_empty_keys_and_bad_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="plan_key must not be empty"):
        _plan(plan_key="")
    with pytest.raises(ValueError, match="correlation_key must not be empty"):
        _group(correlation_key="")
    with pytest.raises(ValueError, match="attempt"):
        _group(attempt=0)
    with pytest.raises(ValueError, match="version"):
        _plan(version=0)


def test_with_group_replaces_by_id_or_appends_and_group_looks_up() -> None:
    record = _plan(groups=[_group("a"), _group("b")])

    replaced = record.with_group(_group("a", state=GroupState.CREATING))
    appended = record.with_group(_group("c"))

    assert [(g.group_id, g.state) for g in replaced.groups] == [("a", GroupState.CREATING), ("b", GroupState.RECEIVED)]
    assert [g.group_id for g in appended.groups] == ["a", "b", "c"]
    assert replaced.group("a").state is GroupState.CREATING
    with pytest.raises(KeyError, match="no group 'z'"):
        record.group("z")
    assert record.groups == (_group("a"), _group("b"))  # records are values: nothing changed in place
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.state = PlanState.DONE  # type: ignore[misc]


def test_final_group_states() -> None:
    assert {s for s in GroupState if s.is_final} == {GroupState.COMMITTED, GroupState.FAILED, GroupState.EXPIRED}


def test_counts_fill_in_every_state() -> None:
    counts = StoreCounts.from_rows([("done", 3), ("active", 2)], [(None, 2), ("failed", 3)], [("ticketed", 4)])

    assert counts.total_plans == 5
    assert counts.plans == {PlanState.RECEIVED: 0, PlanState.ACTIVE: 2, PlanState.REPORTING: 0, PlanState.DONE: 3}
    assert counts.outcomes[PlanOutcome.FAILED] == 3
    assert sum(counts.outcomes.values()) == 3
    assert counts.groups[GroupState.TICKETED] == 4


def test_store_errors_belong_to_the_one_tree_and_explain_themselves() -> None:
    lost = LeaseLostError(plan_key="p1", owner="w1", holder="w2", location="/var/state.db")
    stale = StaleRecordError(plan_key="p1", expected=3, found=4)
    newer = StoreVersionError(found=9, supported=1, location="/var/state.db")

    for error in (lost, stale, newer, StoreFormatError("x")):
        assert isinstance(error, StoreError)
        assert isinstance(error, SimServiceNowError)
    assert str(lost) == "/var/state.db: plan 'p1' is not leased by 'w1' (lease held by 'w2')"
    assert str(stale) == "plan 'p1' changed since it was read (version 3, store has 4)"
    assert str(newer) == (
        "/var/state.db: schema version 9 is newer than the newest this sim-servicenow knows (1); upgrade sim-servicenow"
    )
