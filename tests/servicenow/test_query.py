"""The encoded-query builder: exact rendering, ServiceNow precedence, and refusal of injecting values."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.errors import SimServiceNowError
from sim_servicenow.servicenow import Field, Query, QueryError, RawQuery

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Field("state").eq("1"), "state=1"),
        (Field("state").ne(7), "state!=7"),
        (Field("active").eq(True), "active=true"),
        (Field("active").eq(False), "active=false"),
        (Field("priority").lt(2), "priority<2"),
        (Field("priority").le(2), "priority<=2"),
        (Field("priority").gt(2), "priority>2"),
        (Field("priority").ge(2.5), "priority>=2.5"),
        (Field("short_description").like("SAP"), "short_descriptionLIKESAP"),
        (Field("short_description").not_like("SAP"), "short_descriptionNOT LIKESAP"),
        (Field("short_description").starts_with("SAP"), "short_descriptionSTARTSWITHSAP"),
        (Field("short_description").ends_with("outage"), "short_descriptionENDSWITHoutage"),
        (Field("state").in_(["3", 4, 7]), "stateIN3,4,7"),
        (Field("state").not_in(("3", "4")), "stateNOT IN3,4"),
        (Field("caller_id").is_empty(), "caller_idISEMPTY"),
        (Field("caller_id").is_not_empty(), "caller_idISNOTEMPTY"),
        (Field("impact").between(1, 3), "impactBETWEEN1@3"),
        (Field("request.requested_for.email").eq("ada@example.com"), "request.requested_for.email=ada@example.com"),
        (Field("u_vendor_ticket").eq("V-1"), "u_vendor_ticket=V-1"),
        (Field("short_description").eq("Network storage unavailable"), "short_description=Network storage unavailable"),
    ],
)
def test_each_operator_renders_as_servicenow_documents_it(query: Query, expected: str) -> None:
    assert str(query) == expected


def test_datetimes_are_sent_as_utc_in_servicenow_format() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    assert str(Field("sys_updated_on").gt(dt.datetime(2026, 3, 1, 12, 0, 5, tzinfo=paris))) == (
        "sys_updated_on>2026-03-01 10:00:05"
    )
    low = dt.datetime(2026, 1, 1, tzinfo=UTC)
    high = dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert str(Field("opened_at").between(low, high)) == "opened_atBETWEEN2026-01-01 00:00:00@2026-01-31 23:59:59"
    assert str(Field("due_date").eq(dt.date(2026, 5, 4))) == "due_date=2026-05-04"


def test_numbers_are_plain_decimals() -> None:
    assert str(Field("price").gt(1e20)) == "price>100000000000000000000"
    assert str(Field("price").le(0.1)) == "price<=0.1"
    with pytest.raises(QueryError, match="nan"):
        Field("price").eq(float("nan"))
    with pytest.raises(QueryError, match="inf"):
        Field("price").between(0, float("inf"))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(QueryError, match="no time zone"):
        Field("opened_at").gt(dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda a, b, c, d: a & b, "a=1^b=1"),
        (lambda a, b, c, d: a | b, "a=1^ORb=1"),
        (lambda a, b, c, d: a | b | c, "a=1^ORb=1^ORc=1"),
        (lambda a, b, c, d: (a | b) & c, "a=1^ORb=1^c=1"),
        (lambda a, b, c, d: c & (a | b), "c=1^a=1^ORb=1"),
        (lambda a, b, c, d: (a & b) | c, "a=1^b=1^NQc=1"),
        (lambda a, b, c, d: (a & b) | (c & d), "a=1^b=1^NQc=1^d=1"),
        (lambda a, b, c, d: ((a & b) | c) & d, "a=1^b=1^d=1^NQc=1^d=1"),
        (lambda a, b, c, d: (a | b) & (c | d), "a=1^ORb=1^c=1^ORd=1"),
    ],
)
def test_and_or_follow_servicenow_precedence(build: Any, expected: str) -> None:
    a, b, c, d = (Field(name).eq(1) for name in "abcd")
    assert str(build(a, b, c, d)) == expected


def test_empty_query_is_neutral_and_matches_everything() -> None:
    a = Field("active").eq(True)
    assert str(Query()) == ""
    assert Query() & a == a
    assert a | Query() == a
    built = Query()
    for state in ("1", "2"):
        built = built | Field("state").eq(state)
    assert str(built) == "state=1^ORstate=2"


def test_ordering_is_rendered_last_whatever_the_combination() -> None:
    query = (Field("a").eq(1).order_by("number") | Field("b").eq(1)).order_by_desc("sys_created_on")
    assert str(query) == "a=1^ORb=1^ORDERBYnumber^ORDERBYDESCsys_created_on"
    assert query.ordered_fields() == ("number", "sys_created_on")
    assert query.is_ordered
    assert str(Query().order_by("value")) == "ORDERBYvalue"
    assert not Field("a").eq(1).is_ordered


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("x^NQactive=true", "caret"),
        ("line one\nline two", "newline"),
        ("carriage\rreturn", "carriage return"),
        ("javascript:gs.getUserID()", "script"),
        ("  JavaScript:evil()", "script"),
    ],
)
def test_values_that_would_change_the_query_are_refused(value: str, what: str) -> None:
    with pytest.raises(QueryError, match=what):
        Field("short_description").eq(value)
    with pytest.raises(QueryError, match=what):
        Field("short_description").in_(["ok", value])
    with pytest.raises(QueryError, match=what):
        Field("short_description").between("a", value)


def test_query_errors_are_library_errors_and_value_errors() -> None:
    with pytest.raises(SimServiceNowError):
        Field("state").eq("1^ORstate=2")
    with pytest.raises(ValueError, match="caret"):
        Field("state").eq("1^ORstate=2")


def test_list_and_range_separators_inside_values_are_refused() -> None:
    with pytest.raises(QueryError, match="comma"):
        Field("name").in_(["Smith, John", "Doe"])
    with pytest.raises(QueryError, match="'@'"):
        Field("email").between("a@example.com", "z")
    with pytest.raises(QueryError, match="empty"):
        Field("state").in_([])
    with pytest.raises(QueryError, match="single string"):
        Field("state").in_("123")


@pytest.mark.parametrize("name", ["", "state=1", "active^ORstate", "activeISEMPTY", "Assigned_to", "a..b", "a b", "x."])
def test_field_names_are_identifiers(name: str) -> None:
    with pytest.raises(QueryError, match="invalid field name"):
        Field(name)
    with pytest.raises(QueryError, match="invalid field name"):
        Query().order_by(name)


def test_unsupported_value_types_are_refused() -> None:
    with pytest.raises(QueryError, match="list values"):
        Field("state").eq([1, 2])  # type: ignore[arg-type]


def test_raw_query_is_sent_verbatim_and_its_ordering_is_detected() -> None:
    raw = RawQuery("caller_id=javascript:gs.getUserID()^active=true")
    assert str(raw) == "caller_id=javascript:gs.getUserID()^active=true"
    assert not raw.is_ordered
    ordered = raw.order_by("number").order_by_desc("sys_created_on")
    assert str(ordered) == "caller_id=javascript:gs.getUserID()^active=true^ORDERBYnumber^ORDERBYDESCsys_created_on"
    assert ordered.ordered_fields() == ("number", "sys_created_on")
    assert str(RawQuery("").order_by("sys_id")) == "ORDERBYsys_id"


def test_queries_are_immutable_values() -> None:
    base = Field("active").eq(True)
    ordered = base.order_by("number")
    assert str(base) == "active=true"
    assert base != ordered
    assert hash(base) == hash(Field("active").eq(True))


# -- properties -------------------------------------------------------------------------------------

safe_text = st.text(alphabet=st.characters(exclude_characters="^\n\r", exclude_categories=["Cs"]), max_size=30).filter(
    lambda s: not s.lstrip().lower().startswith("javascript:")
)


@given(value=safe_text)
def test_a_safe_value_reaches_the_query_unchanged(value: str) -> None:
    assert str(Field("short_description").eq(value)) == f"short_description={value}"


@given(prefix=st.text(max_size=10), suffix=st.text(max_size=10), bad=st.sampled_from(["^", "\n", "\r"]))
def test_any_value_holding_a_separator_is_refused(prefix: str, suffix: str, bad: str) -> None:
    with pytest.raises(QueryError):
        Field("short_description").eq(prefix + bad + suffix)


def _servicenow_matches(encoded: str, record: Mapping[str, str]) -> bool:
    """Evaluate ``field=value`` conditions the way ServiceNow reads ^NQ, ^ and ^OR (an independent oracle)."""

    def holds(condition: str) -> bool:
        name, _, value = condition.partition("=")
        return record[name] == value

    for group in encoded.split("^NQ"):
        terms: list[list[str]] = []
        for part in group.split("^"):
            if part.startswith("OR"):
                terms[-1].append(part[2:])
            else:
                terms.append([part])
        if all(any(holds(c) for c in term) for term in terms):
            return True
    return False


FIELDS = ("f0", "f1", "f2")


def _expressions() -> st.SearchStrategy[tuple[Query, Any]]:
    leaf = st.tuples(st.sampled_from(FIELDS), st.sampled_from(["0", "1"])).map(
        lambda fv: (Field(fv[0]).eq(fv[1]), lambda r, fv=fv: r[fv[0]] == fv[1])
    )

    def combine(children: st.SearchStrategy[tuple[Query, Any]]) -> st.SearchStrategy[tuple[Query, Any]]:
        def both(op: str, left: tuple[Query, Any], right: tuple[Query, Any]) -> tuple[Query, Any]:
            if op == "&":
                return (left[0] & right[0], lambda r: left[1](r) and right[1](r))
            return (left[0] | right[0], lambda r: left[1](r) or right[1](r))

        return st.builds(both, st.sampled_from(["&", "|"]), children, children)

    return st.recursive(leaf, combine, max_leaves=6)


@given(expression=_expressions())
def test_any_and_or_combination_means_what_python_says(expression: tuple[Query, Any]) -> None:
    query, predicate = expression
    encoded = str(query)
    for values in itertools.product("01", repeat=len(FIELDS)):
        record = dict(zip(FIELDS, values, strict=True))
        assert _servicenow_matches(encoded, record) == predicate(record), (encoded, record)


def test_queries_only_combine_with_queries() -> None:
    with pytest.raises(TypeError):
        Field("a").eq(1) & RawQuery("b=1")  # type: ignore[operator]
    with pytest.raises(TypeError):
        Field("a").eq(1) | "b=1"  # type: ignore[operator]
    query = (Field("a").eq(1) | Field("b").eq(2)) & Field("c").is_empty()
    assert [str(c) for c in query.conditions] == ["a=1", "b=2", "cISEMPTY"]
