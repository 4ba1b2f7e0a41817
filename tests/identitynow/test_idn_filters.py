"""The filter helper: literals quoted safely, expressions composed, and the fake agreeing on what they mean."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.errors import ConfigError
from sim_servicenow.identitynow import filters as f


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("John Doe", '"John Doe"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ('\\"', r'"\\\""'),
        ("#Employees & 100%", '"#Employees & 100%"'),
        ("", '""'),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (-2.5, "-2.5"),
        (datetime(2018, 12, 18, 23, 5, 55, tzinfo=timezone.utc), "2018-12-18T23:05:55Z"),
        (datetime(2018, 12, 19, 1, 5, 55, tzinfo=timezone(timedelta(hours=2))), "2018-12-18T23:05:55Z"),
        (datetime(2018, 12, 18, 23, 5, 55), "2018-12-18T23:05:55Z"),
    ],
)
def test_quote(value: Any, literal: str) -> None:
    assert f.quote(value) == literal


def test_expressions() -> None:
    assert f.eq("name", "x") == 'name eq "x"'
    assert f.ne("type", "ROLE") == 'type ne "ROLE"'
    assert f.gt("daysUntilEscalation", 7) == "daysUntilEscalation gt 7"
    assert f.ge("a", 1) == "a ge 1"
    assert f.lt("a", 1) == "a lt 1"
    assert f.le("a", 1) == "a le 1"
    assert f.co("name", "Raj") == 'name co "Raj"'
    assert f.sw("owner.id", "2c9") == 'owner.id sw "2c9"'
    assert f.in_("id", ["a", "b"]) == 'id in ("a","b")'
    assert f.ca("groups", ("Venezia", "Firenze")) == 'groups ca ("Venezia","Firenze")'
    assert f.isnull("lastUsed") == "lastUsed isnull"
    assert f.pr("accountRequestInfo") == "pr accountRequestInfo"
    assert f.and_(f.eq("a", 1)) == "a eq 1"
    assert f.and_(f.eq("a", 1), f.or_(f.eq("b", 2), f.eq("c", 3))) == "(a eq 1) and ((b eq 2) or (c eq 3))"
    assert f.not_(f.ca("groups", ["x"])) == 'not (groups ca ("x"))'


@pytest.mark.parametrize(
    "build",
    [
        lambda: f.eq("name eq", "x"),
        lambda: f.eq('name") or (id', "x"),
        lambda: f.eq("", "x"),
        lambda: f.in_("id", []),
        f.and_,
        lambda: f.eq("name", None),  # type: ignore[arg-type]
        lambda: f.eq("name", ["x"]),  # type: ignore[arg-type]
    ],
)
def test_malformed_expressions_are_refused(build: Any) -> None:
    with pytest.raises(ConfigError):
        build()


_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s.strip() != ""
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_names, min_size=1, max_size=4, unique_by=str.casefold))
def test_the_fake_finds_exactly_the_quoted_name(mounted: Any, names: list[str]) -> None:
    mounted.fake.reset()
    created = {name: mounted.fake.add_source(name)["id"] for name in names}
    for name, source_id in created.items():
        found = mounted.client.sources.find_by_name(name)
        assert found is not None
        assert found.id == source_id
    listed = mounted.client.sources.list(filters=f.in_("name", names))
    assert {s.id for s in listed.items} == set(created.values())
