"""The fake's JQL subset: parsing, quoting, precedence, and evaluation against plain set logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.testing._jira_jql import And, Clause, JqlError, Matcher, Not, Or, OrderBy, parse_jql

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class Issue:
    id: int
    labels: tuple[str, ...] = ()
    key: str = ""
    project_key: str = "SIM"
    summary: str = ""
    description: str | None = None
    created: datetime = NOW
    updated: datetime = NOW
    reporter: str = "bot"
    resolution: str | None = None
    status_name: str = "Open"
    status_id: str = "1"
    status_category: str = "new"

    def __post_init__(self) -> None:
        self.key = self.key or f"SIM-{self.id}"


class Catalog:
    def __init__(self, issues: list[Issue]) -> None:
        self.keys = {i.key.upper(): i.id for i in issues}

    def issue_id_for_key(self, key: str) -> int | None:
        return self.keys.get(key.upper())

    def status_ids(self, value: str) -> frozenset[str] | None:
        return frozenset({"1"}) if value.lower() == "open" else None

    def resolution_names(self, value: str) -> frozenset[str] | None:
        return frozenset({"Done"}) if value.lower() == "done" else None

    def project_keys(self, value: str) -> frozenset[str] | None:
        return frozenset({"SIM"}) if value.upper() == "SIM" else None

    def now(self) -> datetime:
        return NOW


def quote(value: str) -> str:
    """How a client must quote a JQL string value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_precedence_and_structure() -> None:
    query = parse_jql("labels = a OR status = b AND NOT resolution = c ORDER BY key DESC, created")
    assert query.where == Or(
        (
            Clause("labels", "=", ("a",), 1),
            And((Clause("status", "=", ("b",), 15), Not(Clause("resolution", "=", ("c",), 34)))),
        )
    )
    assert query.order_by == (OrderBy("key", True), OrderBy("created", False))


def test_field_names_are_checked_after_parsing() -> None:
    with pytest.raises(JqlError) as raised:
        parse_jql("a = 1 OR b = 2")
    assert raised.value.messages == (
        "Field 'a' does not exist or you do not have permission to view it.",
        "Field 'b' does not exist or you do not have permission to view it.",
    )


def test_unicode_escapes_and_single_quotes() -> None:
    query = parse_jql("labels in ('x y', \"a\\u002fb\")")
    assert isinstance(query.where, Clause)
    assert query.where.values == ("x y", "a/b")


@given(st.text(min_size=1, max_size=40))
def test_any_quoted_value_survives(value: str) -> None:
    query = parse_jql(f"labels = {quote(value)}")
    assert isinstance(query.where, Clause)
    assert query.where.values == (value,)


label_sets = st.lists(st.frozensets(st.sampled_from("abcde"), max_size=3), min_size=1, max_size=8)


@given(label_sets, st.frozensets(st.sampled_from("abcdef"), min_size=1, max_size=4))
def test_labels_in_and_not_in_match_set_logic(labels: list[frozenset[str]], wanted: frozenset[str]) -> None:
    issues = [Issue(id=n + 1, labels=tuple(sorted(s))) for n, s in enumerate(labels)]
    listed = ", ".join(sorted(wanted))
    included = Matcher(parse_jql(f"labels in ({listed})"), Catalog(issues))
    excluded = Matcher(parse_jql(f"labels not in ({listed})"), Catalog(issues))
    for issue in issues:
        assert included.matches(issue) is bool(set(issue.labels) & wanted)
        assert excluded.matches(issue) is (bool(issue.labels) and not set(issue.labels) & wanted)


@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=10, unique=True))
def test_key_order_is_numeric_not_textual(ids: list[int]) -> None:
    issues = [Issue(id=n) for n in ids]
    matcher = Matcher(parse_jql("project = SIM ORDER BY key"), Catalog(issues))
    assert [i.id for i in matcher.sort(issues)] == sorted(ids)


def test_validation_modes_for_missing_keys() -> None:
    issues = [Issue(id=1)]
    query = parse_jql("key in (SIM-1, SIM-2)")
    strict = Matcher(query, Catalog(issues))
    assert strict.evaluation.errors == ["An issue with key 'SIM-2' does not exist for field 'key'."]
    warn = Matcher(query, Catalog(issues), validation="warn")
    assert (warn.evaluation.errors, len(warn.evaluation.warnings)) == ([], 1)
    assert warn.matches(issues[0]) is True
    none = Matcher(query, Catalog(issues), validation="none")
    assert (none.evaluation.errors, none.evaluation.warnings) == ([], [])


def test_dates_absolute_and_relative() -> None:
    old = Issue(id=1, created=datetime(2024, 4, 1, tzinfo=timezone.utc))
    new = Issue(id=2)
    catalog = Catalog([old, new])
    for jql in ('created >= "2024-04-15"', "created > -2w", 'created >= "2024/05/01 11:59"'):
        matcher = Matcher(parse_jql(jql), catalog)
        assert [matcher.matches(old), matcher.matches(new)] == [False, True], jql
    assert Matcher(parse_jql('created > "yesterday"'), catalog).evaluation.errors
