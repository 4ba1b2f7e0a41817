"""Hostile Velocity templates, composed at random: bounded time and memory, no access beyond the data given,
a :class:`TemplateError` where rendering fails — and in the engine, a failed plan rather than a stuck cycle.

``tests/mapping/test_velocity.py`` pins each bound with one template. Here Hypothesis composes the constructs
(runaway loops inside macros inside conditions, Python attribute walks inside string interpolation, ...), and
each composition must still stop within its budget and reveal nothing but the plan's own data.
"""

from __future__ import annotations

import copy
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.engine import IntegrationEngine, MemoryStore, PlanOutcome, PlanState
from sim_servicenow.errors import TemplateError
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeRequest,
    Identity,
    ProvisioningPlan,
    RenderLimits,
    RequestTemplate,
    template_context,
)

from .conftest import Fakes

LIMITS = RenderLimits(max_seconds=0.5)
PLAN = ProvisioningPlan(
    "plan-1",
    identity=Identity("id-1", "ada.lovelace", "Ada Lovelace", {"email": "ada@example.com", "groups": ["a", "b"]}),
    arguments={"identityRequestId": "0000042", "flow": "AccessRequest", "nested": {"k": ["v"]}},
    account_requests=(
        AccountRequest(
            AccountOperation.MODIFY,
            "a" * 32,
            "Badge System",
            "ada",
            attribute_requests=(AttributeRequest("groups", value=("x", "y")), AttributeRequest("level", value="3")),
        ),
    ),
)

#: References that reach for Python or Java internals, or mutate the data.
ESCAPES = [
    "$plan.__class__",
    "$plan.__class__.__mro__",
    "$plan.__dict__",
    "$plan.key.__class__.__base__.__subclasses__()",
    "$plan.getClass()",
    "$plan.getClass().forName('java.lang.Runtime')",
    "$plan.key.getClass()",
    "$plan.arguments.__len__()",
    "$plan.arguments.clear()",
    "$plan.arguments.pop('flow')",
    "$plan.arguments.update({'flow': 'hacked'})",
    "$plan.requests.append(1)",
    "$plan.requests.get(0).items.clear()",
    "$identity.attributes.setdefault('x', 'y')",
    "$plan.key.format(0)",
    "$plan.key.join(['a', 'b'])",
    "$plan.key.encode()",
    "$plan.key.__add__('x')",
    "$plan.requests.get(0).__init__",
    "$newline.__class__.__name__",
    "${plan.__class__}",
    "$!plan.__globals__",
    "$plan.items()",
    "$plan.keys()",
    "$plan.values()",
]
#: Expensive constructs; {body} is where a nested construct goes.
RUNAWAYS = [
    "#foreach($i in [1..100000000]){body}#end",
    "#foreach($i in [1..3000])#foreach($j in [1..3000]){body}#end#end",
    "#set($s = 'xy')#foreach($i in [1..64])#set($s = \"$s$s\"){body}#end",
    "#set($s = 'x')#foreach($i in [1..64])#set($s = $s + $s){body}#end",
    "#macro(r $n)#r($n){body}#end#r(1)",
    "#macro(t $d)#if($d.size() < 40)#foreach($i in [1..8])#t($d + [1])#end#end{body}#end#t([])",
    "#set($l = [])#foreach($i in [1..1000000])#set($x = $l.add($i)){body}#end",
    "#set($m = {})#foreach($i in [1..1000000])#set($x = $m.put($i, $plan)){body}#end",
    "#define($b)$b{body}#end$b",
    "#set($n = 2)#foreach($i in [1..80])#set($n = $n * $n){body}#end",
    "#set($l = [1])#foreach($i in $l)#set($x = $l.add($i)){body}#end",
    "#set($s = 'ab')#foreach($i in [1..40])#set($s = $s.replace('a', 'aaa')){body}#end",
]
#: Harmless wrappers, so the hostile part hides at varied depths.
WRAPPERS = [
    "#if($plan.key){body}#end",
    "#if(!$nothing){body}#else no#end",
    "#foreach($r in $plan.requests){body}#end",
    '#set($t = "{body}")$t',
    "[{body}]",
    "$plan.key {body} $identity.label",
]
DATA_REFERENCES = ["$plan.key", "$identity.label", "$plan.arguments.flow", "$plan.requests.size()", "$newline"]

templates = st.recursive(
    st.sampled_from(ESCAPES + DATA_REFERENCES),
    lambda inner: st.builds(
        lambda shape, body: shape.replace("{body}", body), st.sampled_from(RUNAWAYS + WRAPPERS), inner
    ),
    max_leaves=4,
)

#: What Python objects look like when printed: none of it may ever reach a ticket.
LEAKS = (
    "<class",
    "<function",
    "<built-in",
    "<bound",
    "object at 0x",
    "<module",
    "mappingproxy",
    "Traceback",
    "dict_keys(",
    "dict_items(",
)
#: Rendered after the hostile field, from the same data: what it shows proves the data was not changed.
PROBE = "$plan.arguments.flow|$plan.requests.size()|$plan.requests.get(0).items.size()|$identity.attributes.size()"
PROBE_EXPECTED = "AccessRequest|1|2|2"


def _render(source: str) -> str | TemplateError:
    try:
        template = RequestTemplate({"description": source}, limits=LIMITS)
        return template.render(PLAN)["description"]
    except TemplateError as error:
        return error


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=templates, strict=st.booleans())
def test_hostile_templates_stop_in_bounded_time_and_memory_and_reveal_nothing(source: str, strict: bool) -> None:
    context_before = copy.deepcopy(template_context(PLAN))
    tracemalloc.start()
    started = time.monotonic()
    probe: str | None = None
    try:
        template = RequestTemplate({"description": source, "probe": PROBE}, limits=LIMITS, strict=strict)
        rendered = template.render(PLAN)
        result: str | TemplateError = rendered["description"]
        probe = rendered["probe"]
    except TemplateError as error:
        result = error
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    assert elapsed < LIMITS.max_seconds + 1.0, f"{elapsed:.2f} s for {source!r}"
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB for {source!r}"
    if isinstance(result, TemplateError):
        assert "\n" not in str(result)
        assert result.field == "description"
        text = str(result)
    else:
        assert len(result) <= LIMITS.max_output_chars
        text = result
    assert not any(leak in text for leak in LEAKS), (source, text[:300])
    # The plan's data is exactly what it was: no template can change what the next field or the next plan sees.
    assert probe in (None, PROBE_EXPECTED)
    assert template_context(PLAN) == context_before


@pytest.mark.parametrize("escape", ESCAPES)
def test_each_escape_renders_as_written_or_fails_and_never_reaches_python(escape: str) -> None:
    result = _render(f"before {escape} after{PROBE}")
    text = str(result)
    assert not any(leak in text for leak in LEAKS), text
    if isinstance(result, str):
        # Velocity prints a reference it cannot resolve as written (quiet references as nothing); nothing changed.
        assert result.startswith("before ")
        assert result.endswith(f" after{PROBE_EXPECTED}")


def test_a_runaway_template_in_the_engine_fails_its_plans_quickly_and_the_cycle_goes_on(fakes: Fakes) -> None:
    # The integration's own template is the hostile input here: every plan fails, none hangs the cycle.
    fields = {"req_description": "#foreach($i in [1..100000000])#end", "ritm_short_description": "$plan.key"}
    config = fakes.config(request_template=RequestTemplate(fields, limits=RenderLimits(max_seconds=0.5)))
    engine: IntegrationEngine = fakes.engine(config, store=MemoryStore())
    keys = [fakes.work_item(fakes.badge, f"user{n}", {"level": "1"}) for n in range(6)]
    started = time.monotonic()
    report = engine.run_once()
    elapsed = time.monotonic() - started

    assert elapsed < 6 * 0.5 + 3
    assert report.created == 0
    assert {e.plan_key for e in report.errors} == set(keys)
    for error in report.errors:
        assert error.permanent, error
        assert "max_steps" in error.message or "max_seconds" in error.message, error
    assert fakes.sn.records("sc_request") == []
    for key in keys:
        record: Any = engine.store.get(key)
        assert (record.state, record.outcome) == (PlanState.DONE, PlanOutcome.FAILED)
        assert len(fakes.idn.forwards(key)) == 1
