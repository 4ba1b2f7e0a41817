"""Status maps: defaults, SailPoint's validation, unknown values, close codes, combining."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.errors import StatusMappingError, ValidationProblem
from sim_servicenow.mapping import ProvisioningStatus, StatusMap, StatusResult, combine_statuses, worst_status

Q, C, F, R = (
    ProvisioningStatus.QUEUED,
    ProvisioningStatus.COMMITTED,
    ProvisioningStatus.FAILED,
    ProvisioningStatus.RETRY,
)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("requested", Q),
        ("in_process", Q),
        ("closed_complete", C),
        ("closed_incomplete", F),
        ("closed_cancelled", F),
        ("closed_rejected", F),
        ("closed_skipped", F),
    ],
)
def test_sc_request_default_is_sailpoints_sim_default(value: str, status: ProvisioningStatus) -> None:
    assert StatusMap.sc_request().lookup(value) == StatusResult(status)
    assert StatusMap.sc_request().field == "request_state"


@pytest.mark.parametrize(("value", "status"), [(-5, Q), ("1", Q), (2, Q), ("3", C), (4, F), ("7", F)])
def test_task_default_covers_ritm_and_task_states(value: Any, status: ProvisioningStatus) -> None:
    assert StatusMap.task().lookup(value).status is status


@pytest.mark.parametrize(("value", "status"), [(1, Q), (2, Q), (3, Q), (6, C), (7, C), (8, F)])
def test_incident_default(value: int, status: ProvisioningStatus) -> None:
    assert StatusMap.incident().lookup(value).status is status


def test_incident_close_codes_can_turn_a_resolution_into_a_failure() -> None:
    incident = StatusMap.incident({"Not Solved (Not Reproducible)": F})
    assert incident.lookup("6", close_code="Not Solved (Not Reproducible)").status is F
    assert incident.lookup("6", close_code="not solved (not reproducible)").status is F
    assert incident.lookup("7", close_code="Solution provided").status is C
    assert incident.lookup("6").status is C
    # An open incident that carries a close code (reopened) is still open.
    assert incident.lookup("2", close_code="Not Solved (Not Reproducible)").status is Q


@pytest.mark.parametrize(
    ("state", "close_code", "status"),
    [(-5, None, Q), (-1, None, Q), (0, None, Q), (3, "successful", C), (3, "unsuccessful", F), (4, None, F)],
)
def test_change_request_default(state: int, close_code: str | None, status: ProvisioningStatus) -> None:
    assert StatusMap.change_request().lookup(state, close_code=close_code).status is status


@pytest.mark.parametrize(
    ("category", "resolution", "status"),
    [
        ("new", None, Q),
        ("indeterminate", None, Q),
        ("indeterminate", "Declined", Q),  # a reopened request keeps its old resolution: not final
        ("done", None, C),
        ("done", "Done", C),
        ("done", "Fixed", C),
        ("done", "won't do", F),
        ("done", "Declined", F),
        ("done", "Duplicate", F),
        ("done", "Cannot Reproduce", F),
        ("done", "Cancelled", F),
    ],
)
def test_jira_default_reads_the_status_category_and_the_resolution(
    category: str, resolution: str | None, status: ProvisioningStatus
) -> None:
    status_map = StatusMap.jira()
    assert status_map.field == "statusCategory"
    assert status_map.lookup(category, close_code=resolution).status is status


def test_jira_default_flags_an_unknown_category() -> None:
    assert StatusMap.jira().lookup("undefined").unknown_values == ("undefined",)


@pytest.mark.parametrize(
    ("table", "field", "committed"),
    [
        ("sc_request", "request_state", "closed_complete"),
        ("incident", "state", "6"),
        ("change_request", "state", "3"),
        ("sc_req_item", "state", "3"),
        ("u_custom", "state", "3"),
    ],
)
def test_default_for_table(table: str, field: str, committed: str) -> None:
    status_map = StatusMap.default_for_table(table)
    assert status_map.field == field
    assert status_map.lookup(committed).status is C


def test_unknown_values_are_queued_and_flagged_never_success() -> None:
    result = StatusMap.sc_request().lookup("closed_by_magic")
    assert result == StatusResult(Q, ("closed_by_magic",))
    assert not result.known
    assert StatusMap.sc_request().lookup(None).unknown_values == ("",)
    assert StatusMap.task().lookup("").status is Q


def test_targets_are_accepted_in_any_case_and_keys_match_ignoring_case() -> None:
    status_map = StatusMap({"closed_complete": "committed", "Requested": "QUEUED", "x": "fAiLeD", "r": "retry"})
    assert status_map.lookup("CLOSED_COMPLETE").status is C
    assert status_map.lookup("requested").status is Q
    assert status_map.lookup("x").status is F
    assert status_map.lookup("r").status is R
    assert status_map.to_mapping() == {
        "closed_complete": "Committed",
        "Requested": "Queued",
        "x": "Failed",
        "r": "Retry",
    }


def test_exact_keys_win_over_case_insensitive_ones() -> None:
    status_map = StatusMap({"Done": "Committed", "done": "Failed"})
    assert status_map.lookup("done").status is F
    assert status_map.lookup("Done").status is C


def test_numbers_and_text_are_the_same_key() -> None:
    assert StatusMap({3: "Committed"}).lookup("3").status is C
    assert StatusMap({"3": "Committed"}).lookup(3).status is C


def test_validation_reports_every_problem_naming_the_key() -> None:
    with pytest.raises(StatusMappingError) as caught:
        StatusMap({"closed_complete": "Done", "in_process": 3, "": "Queued"})  # type: ignore[dict-item]
    assert caught.value.problems == (
        ValidationProblem("closed_complete", "'Done' is not one of Queued, Committed, Failed, Retry"),
        ValidationProblem("in_process", "expected one of Queued, Committed, Failed, Retry, got int"),
        ValidationProblem("", "a status value must not be empty"),
        ValidationProblem("", "at least one status value must map to Committed"),
    )
    assert "closed_complete: 'Done' is not one of" in str(caught.value)


def test_at_least_one_value_must_map_to_committed() -> None:
    with pytest.raises(StatusMappingError, match="at least one status value must map to Committed"):
        StatusMap({"requested": "Queued", "closed_incomplete": "Failed"})
    with pytest.raises(StatusMappingError, match="the status map is empty"):
        StatusMap({})


def test_close_code_problems_are_reported_with_their_path() -> None:
    with pytest.raises(StatusMappingError) as caught:
        StatusMap({"6": "Committed"}, close_codes={"Bad": "nope"})
    assert caught.value.problems == (
        ValidationProblem("close_codes.Bad", "'nope' is not one of Queued, Committed, Failed, Retry"),
    )


def test_status_parse() -> None:
    assert ProvisioningStatus.parse(" committed ") is C
    with pytest.raises(ValueError, match="'Done' is not one of"):
        ProvisioningStatus.parse("Done")
    assert [status.is_final for status in (Q, C, F, R)] == [False, True, True, False]


# --- combining -----------------------------------------------------------------------------------------------------


def test_a_complete_req_with_an_incomplete_ritm_is_failed() -> None:
    req = StatusMap.sc_request().lookup("closed_complete")
    ritms = [StatusMap.task().lookup("3"), StatusMap.task().lookup("4")]
    assert combine_statuses([req, *ritms]).status is F


def test_a_req_in_progress_with_complete_ritms_is_still_queued() -> None:
    req = StatusMap.sc_request().lookup("in_process")
    assert combine_statuses([req, StatusMap.task().lookup(3)]).status is Q


def test_committed_only_when_every_part_is_committed() -> None:
    parts = [StatusMap.sc_request().lookup("closed_complete"), StatusMap.task().lookup(3), StatusMap.task().lookup(3)]
    assert combine_statuses(parts) == StatusResult(C)


def test_combining_keeps_every_unknown_value_once() -> None:
    parts = [StatusResult(C), StatusResult(Q, ("weird",)), StatusResult(Q, ("weird", "odd"))]
    assert combine_statuses(parts) == StatusResult(Q, ("weird", "odd"))


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([C, Q], Q), ([C, R], R), ([Q, R], R), ([R, F], F), ([C, F, Q], F), ([C, C], C), ([], Q)],
)
def test_worst_status_order(statuses: list[ProvisioningStatus], expected: ProvisioningStatus) -> None:
    assert worst_status(statuses) is expected


# --- properties ------------------------------------------------------------------------------------------------------

status_names = st.sampled_from(["Queued", "Committed", "Failed", "Retry", "queued", "COMMITTED", "failed", "retry"])
keys = st.text(min_size=1, max_size=20).filter(lambda text: text.strip() != "")
valid_maps = st.dictionaries(keys, status_names, min_size=1, max_size=10).map(
    lambda entries: {**entries, "__committed__": "Committed"}
)
any_value = st.one_of(st.none(), st.text(max_size=30), st.integers(), st.booleans(), st.floats(allow_nan=True))


@given(valid_maps, any_value, st.one_of(st.none(), st.text(max_size=10)))
def test_every_lookup_returns_a_status(entries: dict[str, str], value: Any, close_code: str | None) -> None:
    result = StatusMap(entries).lookup(value, close_code=close_code)
    assert isinstance(result.status, ProvisioningStatus)
    if not result.known:
        assert result.status is Q


@given(valid_maps)
def test_every_key_of_a_map_is_known_and_maps_to_its_target(entries: dict[str, str]) -> None:
    status_map = StatusMap(entries)
    for key in status_map.entries:
        result = status_map.lookup(key)
        assert result.known
        assert result.status is status_map.entries[key]


@given(st.lists(st.sampled_from(list(ProvisioningStatus))))
def test_combined_status_is_never_better_than_any_part(statuses: list[ProvisioningStatus]) -> None:
    order = [F, R, Q, C]
    combined = combine_statuses(StatusResult(s) for s in statuses).status
    assert all(order.index(combined) <= order.index(s) for s in statuses)
    assert (combined is C) == (bool(statuses) and all(s is C for s in statuses))
