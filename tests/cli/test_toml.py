"""The TOML writer ``pull`` and ``demo --serve`` use: whatever it writes, TOML readers read back unchanged."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.cli._toml import dumps
from sim_servicenow.mapping import IntegrationConfig, ManagedSource, RequestTemplate, Secret, ServiceNowSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

keys = st.text(min_size=0, max_size=12)
scalars = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
)
values = st.recursive(
    scalars | st.lists(scalars, max_size=4),
    lambda inner: st.dictionaries(keys, inner, max_size=4) | st.lists(st.dictionaries(keys, inner, max_size=3)),
    max_leaves=20,
)
documents = st.dictionaries(keys, values, max_size=6)


@given(documents)
def test_whatever_is_written_reads_back_equal(document: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(document)) == document


@given(st.text(max_size=60))
def test_text_with_quotes_and_line_breaks_survives(text: str) -> None:
    document = {"request": {"description": text + "\n" + text}}

    assert tomllib.loads(dumps(document)) == document


def test_a_configuration_round_trips_and_keeps_templates_readable() -> None:
    template = RequestTemplate({"description": 'Line one\n#set($x = "two")$x\n"""quoted"""'})
    config = IntegrationConfig(
        servicenow=ServiceNowSettings("https://dev1.service-now.com", username="sim", password=Secret.from_env("P")),
        sources=(ManagedSource("a" * 32, "Badges", "b" * 32),),
        request_template=template,
    )

    text = dumps(config.to_dict(), header="first line\nsecond line")

    assert text.startswith("# first line\n# second line\n")
    assert 'password = { env = "P" }' in text
    assert '#set($x = "two")$x' in text  # quotes stay as written inside multi-line strings
    assert IntegrationConfig.from_toml(text, environ={}) == config


def test_none_is_left_out_and_other_types_are_refused() -> None:
    assert tomllib.loads(dumps({"a": None, "b": {"c": None, "d": 1}})) == {"b": {"d": 1}}
    with pytest.raises(TypeError, match="cannot write object as TOML"):
        dumps({"a": object()})
