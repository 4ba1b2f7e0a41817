"""The Velocity engine: Velocity semantics, data-only evaluation, bounds, and errors with positions."""

from __future__ import annotations

import time
from typing import Any

import airspeed
import pytest

from sim_servicenow.errors import ConfigError, TemplateError
from sim_servicenow.mapping import RenderLimits
from sim_servicenow.mapping._velocity import VelocityTemplate

CONTEXT: dict[str, Any] = {
    "plan": {
        "key": "p1",
        "arguments": {"identityRequestId": "0000001234", "flag": True, "count": 3},
        "requests": [
            {"operation": "Modify", "resource": "AD", "items": [{"name": "groups", "value": ["a", "b"]}]},
            {"operation": "Disable", "resource": "HR", "items": []},
        ],
    },
    "newline": "\n",
}


def render(source: str, context: dict[str, Any] | None = None, **options: Any) -> str:
    strict = options.pop("strict", False)
    template = VelocityTemplate(source, field="f", limits=RenderLimits(**options) if options else None)
    return template.render(CONTEXT if context is None else context, strict=strict)


# --- Velocity semantics ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("SailPoint Access Request $!plan.arguments.identityRequestId", "SailPoint Access Request 0000001234"),
        ("$plan.arguments.identityRequestId", "0000001234"),
        ("${plan.key}", "p1"),
        ("[$!plan.arguments.missing]", "[]"),
        ("[$plan.arguments.missing]", "[$plan.arguments.missing]"),
        ("${plan.arguments.missing|'fallback'}", "fallback"),
        (
            "#foreach($r in $plan.requests)$velocityCount:$r.operation#if($foreach.hasNext),#end#end",
            "1:Modify,2:Disable",
        ),
        ("$plan.requests.size() $plan.requests.get(1).resource $plan.requests.isEmpty()", "2 HR false"),
        ("$plan.getArguments().get('identityRequestId')", "0000001234"),
        ("$plan.arguments.containsKey('flag') $plan.arguments.containsKey('nope')", "true false"),
        ("$plan.requests.get(0).items.get(0).value", "[a, b]"),
        ("$plan.arguments.flag $plan.arguments.count", "true 3"),
        ("#set($m = {'k': 'v'})$m", "{k=v}"),
        ("$plan.key.toUpperCase() $plan.key.length() $plan.key.startsWith('p')", "P1 2 true"),
        ("$plan.arguments.identityRequestId.substring(7)", "234"),
        ("$plan.arguments.identityRequestId.replace('0', '')", "1234"),
        ("#set($x = 'a' + 1)$x", "a1"),
        ("#set($x = 7 / 2)$x #set($y = -7 / 2)$y #set($z = 7 % 3)$z", "3 -3 1"),
        ("#set($x = 1 / 0)[$!x]", "[]"),
        ("#if($plan.arguments.count == '3')same#end", "same"),
        ("#foreach($v in $plan.arguments)[$v]#end", "[0000001234][true][3]"),
        ("#foreach($v in 'text')x#end#foreach($v in $nothing)y#end", ""),
        ("#macro(greet $who)Hello $who#end#greet('Ann')", "Hello Ann"),
        ("#define($block)B#end$block$block", "BB"),
        ("a$newline b", "a\n b"),
        ("#set($l = [])#set($ok = $l.add('x'))$ok $l", "true [x]"),
        ("$plan.requests[1].resource", "HR"),
        ("#stop after", ""),
    ],
)
def test_velocity_behaviour(source: str, expected: str) -> None:
    assert render(source) == expected


def test_rendering_does_not_change_the_callers_data() -> None:
    context = {"items": ["a"], "map": {"k": "v"}}
    render("#set($x = $items.add('b'))#set($y = $map.put('k', 'changed'))#set($map.z = 1)", context)
    assert context == {"items": ["a"], "map": {"k": "v"}}


def test_a_template_can_be_rendered_again_and_defines_its_macros_each_time() -> None:
    template = VelocityTemplate("#macro(m)M#end#m()", field="f")
    assert template.render({}) == "M"
    assert template.render({}) == "M"


# --- hostile templates: Python internals are unreachable ---------------------------------------------------------

HOSTILE_REFERENCES = [
    "$plan.__class__",
    "$plan.__class__.__mro__",
    "$plan.__dict__",
    "$plan.keys()",
    "$plan.items()",
    "$plan.clear()",
    "$plan.arguments.__init__.__globals__",
    "$x.getClass()",
    "$plan.getClass().forName('java.lang.Runtime')",
    "$plan.key.__class__.__base__.__subclasses__()",
    "$plan.key.format('{0.__class__}')",
    "$plan.key.join(['a'])",
    "$plan.key.encode()",
    "$plan.requests.pop()",
    "$plan.requests.__len__()",
    "$plan.requests.copy()",
    "$newline.__doc__",
    "$plan.arguments.count.__class__",
    "$plan.arguments.count.bit_length()",
    "$plan.key.replaceAll('.*', 'x')",
]


@pytest.mark.parametrize("reference", HOSTILE_REFERENCES)
def test_python_attributes_and_methods_are_unreachable(reference: str) -> None:
    quiet = "$!" + reference[1:]
    assert render(reference) == reference  # unresolved: written as it was, like any missing reference
    assert render(quiet) == ""


def test_hostile_template_output_never_shows_python_objects() -> None:
    source = (
        "#set($s = '')"
        + " ".join(HOSTILE_REFERENCES)
        + " $s.__class__.__mro__ #foreach($c in $s.__class__.__mro__)$c#end"
    )
    output = render(source)
    for marker in ("<class", "<built-in", "<function", "dict_keys", "object at 0x", "__main__", "module"):
        assert marker not in output


def test_hostile_references_are_errors_in_strict_mode() -> None:
    with pytest.raises(TemplateError, match=r"\$plan.__class__ has no value"):
        render("$plan.__class__", strict=True)


def test_a_template_cannot_mutate_the_context_through_python_methods() -> None:
    context = {"plan": {"key": "k", "items": [1, 2]}}
    render("$plan.clear() $plan.items.clear() $plan.items.pop() $plan.update({'key': 'x'})", context)
    assert context == {"plan": {"key": "k", "items": [1, 2]}}


@pytest.mark.parametrize("directive", ["#evaluate('$plan')", "#include('/etc/passwd')", "#parse('x.vm')"])
def test_evaluate_include_and_parse_are_refused_at_compile_time(directive: str) -> None:
    with pytest.raises(TemplateError, match=r"disabled in ticket templates") as caught:
        VelocityTemplate(f"ok\n  {directive}", field="description")
    assert (caught.value.field, caught.value.line, caught.value.column) == ("description", 2, 3)


def test_the_global_airspeed_module_is_left_untouched() -> None:
    assert airspeed.Template("$d.keys()").merge({"d": {"a": 1}}) == "dict_keys(['a'])"


# --- bounds -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("#foreach($i in [1..100000000])#end", "max_steps"),
        ("#set($s = 'x')#foreach($i in [1..40])#set($s = \"$s$s\")#end", "max_value_chars"),
        ("#set($s = 'x')#foreach($i in [1..40])#set($s = $s + $s)#end", "max_value_chars"),
        ("#set($s = 'x' * 1000000000)", "cannot apply \\*"),
        ("#set($l = [1] * 1000000000)", "cannot apply \\*"),
        ("#set($n = 2)#foreach($i in [1..100])#set($n = $n * $n)#end", "64-bit range"),
        ("#macro(f)#f()#end#f()", "max_depth"),
        ("#define($b)$b#end$b", "max_depth"),
        ("#set($l = [])#foreach($i in [1..20000])#set($x = $l.add($i))#end", "max_collection_items"),
        ("#set($m = {})#foreach($i in [1..20000])#set($x = $m.put($i, $i))#end", "max_collection_items"),
        ("#set($l = [1])#foreach($i in $l)#set($x = $l.add($i))#end done", None),
        ("#set($s = 'ab')#foreach($i in [1..30])#set($s = $s.replace('a', 'aa'))#end", "max_value_chars"),
    ],
)
def test_runaway_templates_stop_quickly(source: str, message: str | None) -> None:
    started = time.monotonic()
    if message is None:
        assert render(source) == " done"
    else:
        with pytest.raises(TemplateError, match=message):
            render(source)
    assert time.monotonic() - started < 2.5


def test_membership_in_a_huge_range_does_not_scan_it() -> None:
    started = time.monotonic()
    assert (
        render("#set($r = [1..1000000000000])$r.contains(999999999999) $r.indexOf(5) $r.size()")
        == "true 4 1000000000000"
    )
    assert time.monotonic() - started < 1


def test_airspeed_runtime_messages_read_cleanly() -> None:
    with pytest.raises(TemplateError, match=r"column 1: no such macro: nothing$"):
        render("#nothing()")


def test_exponential_macro_recursion_hits_the_step_budget() -> None:
    # Ten calls per level, thirty levels deep: 10**30 calls if nothing stopped it.
    source = "#macro(f $d)#if($d.size() < 30)#foreach($i in [1..10])#set($e = $d + [1])#f($e)#end#end#end#f([])"
    with pytest.raises(TemplateError, match="max_steps"):
        render(source, max_steps=20_000)


def test_the_wall_clock_budget_stops_a_slow_rendering() -> None:
    with pytest.raises(TemplateError, match="max_seconds"):
        render("#foreach($i in [1..100000000])#end", max_steps=10**12, max_seconds=0.05)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(TemplateError, match="nests too deeply"):
        VelocityTemplate("#if(true)" * 1500 + "x" + "#end" * 1500, field="f")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError) as caught:
        RenderLimits(max_steps=0, max_seconds=-1)
    assert [p.path for p in caught.value.problems] == ["max_steps", "max_seconds"]


def test_template_size_is_bounded() -> None:
    with pytest.raises(TemplateError, match="max_template_chars"):
        VelocityTemplate("x" * 21, field="f", limits=RenderLimits(max_template_chars=20))


def test_long_output_is_truncated_in_lenient_mode_and_an_error_in_strict_mode() -> None:
    source = "#foreach($i in [1..1000])0123456789#end"
    lenient = render(source, max_output_chars=100)
    assert len(lenient) == 100
    assert lenient.endswith(" [truncated]")
    assert lenient.startswith("0123456789")
    with pytest.raises(TemplateError, match="max_output_chars"):
        render(source, max_output_chars=100, strict=True)


def test_self_referencing_collections_render_bounded() -> None:
    assert render("#set($l = [1])#set($x = $l.add($l))$l").endswith("...]]]]]]]]]]]]]]]]")


# --- errors name the field and position --------------------------------------------------------------------------


def test_syntax_errors_name_field_line_and_column() -> None:
    with pytest.raises(TemplateError) as caught:
        VelocityTemplate("first line\nsecond #if($a", field="short_description")
    error = caught.value
    assert (error.field, error.line) == ("short_description", 2)
    assert error.column is not None
    assert str(error).startswith("field 'short_description', line 2, column ")


def test_render_errors_name_field_line_and_column() -> None:
    with pytest.raises(TemplateError) as caught:
        render("line one\n  line two #if($plan.arguments.count > 'x')y#end")
    assert (caught.value.field, caught.value.line, caught.value.column) == ("f", 2, 12)
    assert "cannot compare a number > text" in str(caught.value)


def test_errors_inside_interpolated_strings_point_at_the_enclosing_directive() -> None:
    with pytest.raises(TemplateError) as caught:
        render('ab\n#set($x = "$plan.key.substring(1, 2, 3)")')
    assert (caught.value.line, caught.value.column) == (2, 1)
    assert "substring() takes 1 or 2 argument(s), got 3" in str(caught.value)


def test_strict_mode_rejects_missing_references_but_allows_quiet_ones_and_conditions() -> None:
    assert render("$!missing#if($missing)x#end${missing|'d'}", strict=True) == "d"
    with pytest.raises(TemplateError, match=r"line 1, column 4: \$plan.arguments.nothing has no value"):
        render("ok $plan.arguments.nothing", strict=True)


def test_error_messages_are_one_line() -> None:
    with pytest.raises(TemplateError) as caught:
        VelocityTemplate("#set($a = 1\n\nmore", field="f")
    assert "\n" not in str(caught.value)


def test_context_must_be_plain_data() -> None:
    with pytest.raises(TemplateError, match=r"plan.thing is object, not plain data"):
        VelocityTemplate("x", field="f").render({"plan": {"thing": object()}})
