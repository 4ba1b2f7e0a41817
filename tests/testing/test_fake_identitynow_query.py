"""Properties of FakeIdentityNow's collection parameters (filters, sorters, paging) and JSON Patch.

The filter engine and JSON Patch are pure functions; paging is checked end to end over a mounted adapter.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.testing import FakeIdentityNow, mount
from sim_servicenow.testing._idn_data import SOURCE_COLLECTION, PatchError, apply_json_patch
from sim_servicenow.testing._idn_query import QueryError, apply_sorters, compile_filter

NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
FEATURES = st.lists(st.sampled_from(["PROVISIONING", "ENABLE", "UNLOCK", "NO_RANDOM_ACCESS"]), unique=True)

RECORDS = st.lists(
    st.fixed_dictionaries(
        {
            "name": NAMES,
            "type": st.sampled_from(["DelimitedFile", "Active Directory - Direct", "ServiceNow"]),
            "authoritative": st.booleans(),
            "features": FEATURES,
            "description": st.one_of(st.none(), NAMES),
        }
    ),
    max_size=12,
)


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


LEAVES = st.one_of(
    NAMES.map(lambda n: f"name eq {quoted(n)}"),
    NAMES.map(lambda n: f"name sw {quoted(n[:2])}"),
    NAMES.map(lambda n: f"name co {quoted(n[-2:])}"),
    st.booleans().map(lambda b: f"authoritative eq {str(b).lower()}"),
    st.sampled_from(["PROVISIONING", "ENABLE"]).map(lambda f: f"features co {quoted(f)}"),
    st.lists(st.sampled_from(["DelimitedFile", "ServiceNow"]), min_size=1, max_size=2).map(
        lambda ts: "type in (" + ",".join(quoted(t) for t in ts) + ")"
    ),
)


def selected(expression: str, records: list[dict[str, Any]]) -> list[int]:
    predicate = compile_filter(expression, SOURCE_COLLECTION)
    return [index for index, record in enumerate(records) if predicate(record)]


@given(RECORDS, LEAVES, LEAVES)
def test_composite_operators_are_set_algebra(records: list[dict[str, Any]], a: str, b: str) -> None:
    everything = set(range(len(records)))
    left, right = set(selected(a, records)), set(selected(b, records))
    assert set(selected(f"not ({a})", records)) == everything - left
    assert set(selected(f"{a} and {b}", records)) == left & right
    assert set(selected(f"{a} or {b}", records)) == left | right


@given(RECORDS, LEAVES, LEAVES, LEAVES)
def test_precedence_is_not_then_and_then_or(records: list[dict[str, Any]], a: str, b: str, c: str) -> None:
    assert selected(f"{a} or {b} and {c}", records) == selected(f"{a} or ({b} and {c})", records)
    assert selected(f"not {a} and {b}", records) == selected(f"(not {a}) and {b}", records)


@given(NAMES)
def test_quoted_values_round_trip_and_compare_case_insensitively(name: str) -> None:
    records = [{"name": name}, {"name": name + "x"}]
    assert selected(f"name eq {quoted(name.swapcase())}", records) == (
        [0] if name.swapcase().casefold() == name.casefold() else []
    )
    assert selected(f"name eq {quoted(name)}", records) == [0]
    assert selected(f"name sw {quoted(name)}", records) == [0, 1]


@given(RECORDS, st.sampled_from(["name", "-name", "type,-name", "-authoritative,name"]))
def test_sorters_order_case_insensitively_and_keep_every_record(records: list[dict[str, Any]], sorters: str) -> None:
    ordered = apply_sorters(copy.deepcopy(records), sorters, SOURCE_COLLECTION)
    assert sorted(map(json.dumps, ordered)) == sorted(map(json.dumps, records))
    primary = sorters.split(",", maxsplit=1)[0]
    key = primary.lstrip("-")
    values = [r[key].casefold() if isinstance(r[key], str) else r[key] for r in ordered]
    assert values == sorted(values, reverse=primary.startswith("-"))


@given(st.text(max_size=40))
def test_any_expression_either_compiles_or_is_a_query_error(expression: str) -> None:
    try:
        predicate = compile_filter(expression, SOURCE_COLLECTION)
    except QueryError:
        return
    assert predicate({"name": "x", "features": []}) in (True, False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=30), st.integers(min_value=1, max_value=9))
def test_offset_paging_returns_every_source_once_in_order(total: int, page_size: int) -> None:
    fake = FakeIdentityNow(seed=total)
    ids = [fake.add_source(f"source-{n:02d}")["id"] for n in range(total)]
    base = "https://paging.test"
    session = mount(requests.Session(), base, fake)
    session.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    seen: list[str] = []
    offset = 0
    while True:
        response = session.get(
            f"{base}/v3/sources", params={"offset": str(offset), "limit": str(page_size), "count": "true"}, timeout=5
        )
        assert response.headers["X-Total-Count"] == str(total)
        page = response.json()
        seen.extend(source["id"] for source in page)
        offset += page_size
        if len(page) < page_size:
            break
    assert seen == ids


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(min_size=1, max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
DOCUMENTS = st.dictionaries(st.text(min_size=1, max_size=4), JSON_VALUES, min_size=1, max_size=4)


def pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


@given(DOCUMENTS, JSON_VALUES, st.data())
def test_replace_sets_exactly_the_member(document: dict[str, Any], value: Any, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    patched = apply_json_patch(document, [{"op": "replace", "path": pointer(key), "value": value}])
    assert patched == {**document, key: value}


@given(DOCUMENTS, JSON_VALUES)
def test_a_failing_patch_changes_nothing(document: dict[str, Any], value: Any) -> None:
    original = copy.deepcopy(document)
    operations = [
        {"op": "add", "path": "/added", "value": value},
        {"op": "remove", "path": "/definitely/missing"},
    ]
    with pytest.raises(PatchError):
        apply_json_patch(document, operations)
    assert document == original


@given(DOCUMENTS, st.data())
def test_move_then_move_back_is_identity(document: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    target = "~moved~"
    if target in document:
        return
    there = apply_json_patch(document, [{"op": "move", "from": pointer(key), "path": pointer(target)}])
    back = apply_json_patch(there, [{"op": "move", "from": pointer(target), "path": pointer(key)}])
    assert back == document


def test_array_indexes_and_append() -> None:
    document = {"items": [1, 2, 3]}
    patched = apply_json_patch(
        document,
        [
            {"op": "add", "path": "/items/-", "value": 4},
            {"op": "add", "path": "/items/0", "value": 0},
            {"op": "remove", "path": "/items/2"},
            {"op": "replace", "path": "/items/1", "value": 10},
            {"op": "copy", "from": "/items/0", "path": "/first"},
        ],
    )
    assert patched == {"items": [0, 10, 3, 4], "first": 0}
    for bad in ("/items/9", "/items/01", "/items/x"):
        with pytest.raises(PatchError):
            apply_json_patch(document, [{"op": "remove", "path": bad}])
    with pytest.raises(PatchError, match="into itself"):
        apply_json_patch({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/c"}])
