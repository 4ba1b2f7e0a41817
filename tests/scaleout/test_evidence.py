"""The overlap checks of ``_evidence.py`` find what they claim to find (and only that)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.testing import LoggedRequest

from ._evidence import Action, LeaseRow, idn_actions, lease_violations, sn_actions

LEASE = 2.0
ORDER = "/api/sn_sc/servicecatalog/items/x/order_now"


def _rows(*changes: tuple[str | None, float | None]) -> dict[str, list[LeaseRow]]:
    return {"p": [LeaseRow("p", owner, until) for owner, until in changes]}


def _act(owner: str, at: float) -> Action:
    return Action("p", owner, at, "moved")


def test_a_handover_after_a_release_is_clean() -> None:
    history = _rows(("a", 2.0), (None, None), ("b", 3.0))  # a: [0, 2], released; b: [1, 3]
    assert lease_violations(history, [_act("a", 0.5), _act("b", 1.5), _act("b", 3.0)], lease_for=LEASE) == []


def test_acting_after_another_worker_took_over_is_found() -> None:
    history = _rows(("a", 2.0), ("b", 4.5))  # a: [0, 2]; b takes over at 2.5
    (problem,) = lease_violations(history, [_act("a", 2.7)], lease_for=LEASE)
    assert problem.startswith("p: a moved at 2.700000 without a live lease")


def test_acting_on_a_lease_that_ran_out_is_found_even_without_a_takeover() -> None:
    assert lease_violations(_rows(("a", 2.0)), [_act("a", 3.0)], lease_for=LEASE) != []


def test_acting_after_releasing_to_a_worker_who_took_it_is_found() -> None:
    history = _rows(("a", 2.0), (None, None), ("b", 3.0))  # b took it at 1.0, within a's nominal lease
    assert lease_violations(history, [_act("a", 1.5)], lease_for=LEASE) != []


def test_a_worker_that_never_held_the_plan_is_found() -> None:
    assert lease_violations(_rows(("a", 2.0)), [_act("c", 1.0)], lease_for=LEASE) != []


def test_renewals_extend_the_lease() -> None:
    history = _rows(("a", 2.0), ("a", 3.5), ("a", 5.0))  # renewed at 1.5 and 3.0
    assert lease_violations(history, [_act("a", 4.9)], lease_for=LEASE) == []


def test_a_takeover_before_the_lease_ended_is_found() -> None:
    (problem,) = lease_violations(_rows(("a", 2.0), ("b", 3.0)), [], lease_for=LEASE)
    assert "b took the lease at 1.000000, before a's ended at 2.000000" in problem


# A lease history the store's rules allow, with actions at random moments inside each tenure.
_tenures = st.lists(
    st.tuples(
        st.sampled_from("abc"),  # owner
        st.floats(0.0, 1.0),  # wait before taking the lease (after the previous tenure ended)
        st.integers(0, 3),  # renewals, each a third of a lease after the previous (re)newal
        st.booleans(),  # released half-way through its last lease (else left to expire)
        st.lists(st.floats(0.05, 0.95), max_size=4),  # actions, as fractions of the tenure
    ),
    min_size=1,
    max_size=8,
)
Tenure = tuple[str, float, int, bool, list[float]]


def _simulate(tenures: list[Tenure]) -> tuple[list[LeaseRow], list[Action]]:
    rows: list[LeaseRow] = []
    actions: list[Action] = []
    free_at = 0.0
    for owner, wait, renewals, released, moments in tenures:
        start = free_at + wait
        until = start + LEASE
        rows.append(LeaseRow("p", owner, until))
        for _ in range(renewals):
            until += LEASE / 3
            rows.append(LeaseRow("p", owner, until))
        end = until - LEASE / 2 if released else until
        if released:
            rows.append(LeaseRow("p", None, None))
        actions += [Action("p", owner, start + m * (end - start), "moved") for m in moments]
        free_at = end
    return rows, actions


@given(_tenures)
def test_actions_within_the_tenures_the_store_allows_are_never_flagged(tenures: list[Tenure]) -> None:
    rows, actions = _simulate(tenures)
    assert lease_violations({"p": rows}, actions, lease_for=LEASE) == []


@given(_tenures)
def test_the_same_action_by_any_other_worker_is_always_flagged(tenures: list[Tenure]) -> None:
    rows, actions = _simulate(tenures)
    for action in actions:
        for other in {"a", "b", "c", "x"} - {action.owner}:
            moved = Action(action.plan_key, other, action.at, action.what)
            assert lease_violations({"p": rows}, [moved], lease_for=LEASE) != [], moved


def _request(method: str, path: str, body: object = None, worker: str | None = "w1", at: float = 5.0) -> LoggedRequest:
    headers = {"x-sim-worker": worker} if worker else {}
    raw = b"" if body is None else json.dumps(body).encode()
    return LoggedRequest(method=method, path=path, query={}, headers=headers, body=raw, status=200, at=at)


def test_orders_and_correlation_ids_are_attributed_to_the_plan_and_worker() -> None:
    keys = {"wi-1/src": "wi-1"}
    requests = [
        _request("POST", ORDER, {"variables": {"sim_correlation_id": "wi-1/src"}}),
        _request("PATCH", "/api/now/table/sc_request/abc", {"correlation_id": "wi-1/src"}, worker="w2", at=6.0),
        _request("GET", "/api/now/table/sc_request", None),
        _request("PATCH", "/api/now/table/sc_req_item/def", {"short_description": "x"}),
        _request("POST", ORDER, {"variables": {"sim_correlation_id": "wi-1/src"}}, worker=None),
    ]
    actions = sn_actions(requests, keys, header="X-Sim-Worker", variable="sim_correlation_id")
    assert actions == [
        Action("wi-1", "w1", 5.0, "ordered a ticket (wi-1/src)"),
        Action("wi-1", "w2", 6.0, "set the REQ's correlation id (wi-1/src)"),
    ]


def test_an_order_for_a_key_no_plan_had_is_an_error() -> None:
    order = _request("POST", ORDER, {"variables": {"sim_correlation_id": "stray"}})
    with pytest.raises(AssertionError, match="unknown key 'stray'"):
        sn_actions([order], {}, header="X-Sim-Worker", variable="sim_correlation_id")


def test_work_item_completions_and_forwards_are_attributed() -> None:
    requests = [
        _request("POST", "/v3/work-items/wi-1", {"comment": "done"}),
        _request("POST", "/v3/work-items/wi-2/forward", {"targetOwnerId": "x"}, worker="w3"),
        _request("GET", "/v3/work-items/wi-1"),
        _request("POST", "/oauth/token"),
    ]
    assert idn_actions(requests, header="X-Sim-Worker") == [
        Action("wi-1", "w1", 5.0, "completed the work item"),
        Action("wi-2", "w3", 5.0, "forwarded the work item"),
    ]
