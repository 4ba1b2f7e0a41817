"""A bounded, data-only Velocity engine built on airspeed.

airspeed evaluates ``$a.b`` by trying ``a["b"]`` and then ``getattr(a, "b")``, and calls whatever it finds: a
template can reach ``$plan.__class__.__mro__``, call ``$s.format(...)``, mutate the context, or run for ever
(``#foreach($i in [1..999999999])``, strings doubled in a loop, recursive macros). SailPoint's templates are
configuration that people paste from wikis, so rendering must be safe by construction.

We load a *private copy* of airspeed's module (its own code object, executed into a fresh module that is not
registered in ``sys.modules``) and replace, in that copy only, the handful of evaluation methods that matter:

* references read mapping keys only, never Python attributes; method calls are limited to a table of
  Java-style methods Velocity users know (``size()``, ``get()``, ``contains()``, ``toUpperCase()``, ...);
* every element evaluation, loop iteration and macro call counts against a step budget and a deadline;
  macro and ``#define`` nesting is limited; strings, lists and integers cannot grow past fixed bounds;
* ``#evaluate``, ``#include`` and ``#parse`` are refused when the template is compiled;
* values are written the way Java Velocity writes them (``true``, ``[a, b]``, ``{k=v}``), never as Python reprs.

The global ``airspeed`` module, and anyone else using it in the process, is left untouched.
"""

from __future__ import annotations

import contextvars
import datetime
import enum
import importlib.util
import io
import math
import time
import types
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._errors import ConfigError, TemplateError, ValidationProblem

__all__ = ["RenderLimits", "VelocityTemplate"]


@attrs.frozen
class RenderLimits:
    """Bounds that keep one template rendering cheap, whatever the template or the plan.

    Raises:
        ConfigError: a limit is not positive.

    Attributes:
        max_template_chars: longest template source accepted.
        max_output_chars: longest rendered value. Beyond it, lenient rendering truncates the value (ServiceNow
            truncates long strings too) and strict rendering raises `TemplateError`.
        max_value_chars: longest string a template may build while it runs (``#set``, ``+``, interpolation).
        max_collection_items: most items a template may put in one list or map.
        max_steps: most evaluation steps (elements, loop iterations, macro calls) one rendering may take.
        max_depth: deepest nesting of macro and ``#define`` calls.
        max_seconds: wall-clock budget of one rendering.
    """

    max_template_chars: int = 20_000
    max_output_chars: int = 32_768
    max_value_chars: int = 131_072
    max_collection_items: int = 10_000
    max_steps: int = 200_000
    max_depth: int = 32
    max_seconds: float = 2.0

    def __attrs_post_init__(self) -> None:
        problems = [
            ValidationProblem(field.name, f"must be positive, got {getattr(self, field.name)!r}")
            for field in attrs.fields(RenderLimits)
            if not getattr(self, field.name) > 0
        ]
        if problems:
            raise ConfigError("invalid render limits", problems)


# Java's long: Velocity integer arithmetic never produces anything bigger.
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_FORMAT_DEPTH = 16
_TRUNCATION_MARK = " [truncated]"


class _Refused(Exception):
    """A rendering was stopped on purpose (limit, forbidden construct, strict-mode miss); the text says why."""


class _OutputFull(Exception):
    """The rendered output reached ``max_output_chars``."""


class _Budget:
    __slots__ = ("deadline", "depth", "limits", "steps", "strict")

    def __init__(self, limits: RenderLimits, *, strict: bool) -> None:
        self.limits = limits
        self.strict = strict
        self.steps = 0
        self.depth = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise _Refused(f"rendering took more than {self.limits.max_steps} steps (max_steps)")
        if time.monotonic() > self.deadline:
            raise _Refused(f"rendering took longer than {self.limits.max_seconds:g} s (max_seconds)")


_ACTIVE: contextvars.ContextVar[_Budget] = contextvars.ContextVar("sim_servicenow_velocity_budget")


def _budget() -> _Budget:
    try:
        return _ACTIVE.get()
    except LookupError:  # pragma: no cover - only our render() evaluates templates of the private engine
        raise _Refused("template evaluated outside a rendering") from None


# ---------------------------------------------------------------------------------------------------------------
# Values: bounds and Java-style text
# ---------------------------------------------------------------------------------------------------------------


def _checked(value: Any) -> Any:
    limits = _budget().limits
    if isinstance(value, str):
        if len(value) > limits.max_value_chars:
            raise _Refused(f"a value grew beyond {limits.max_value_chars} characters (max_value_chars)")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise _Refused("integer overflow: a number left the 64-bit range")
    elif isinstance(value, (list, dict)) and len(value) > limits.max_collection_items:
        raise _Refused(f"a list or map grew beyond {limits.max_collection_items} items (max_collection_items)")
    return value


def to_text(value: Any) -> str:
    """``value`` as Java Velocity would write it, bounded by the active budget."""
    limit = _budget().limits.max_value_chars
    parts: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        size += len(text)
        if size > limit:
            raise _Refused(f"a value grew beyond {limit} characters (max_value_chars)")
        parts.append(text)

    def walk(item: Any, depth: int) -> None:
        if item is None:
            emit("null" if depth else "")
        elif isinstance(item, str):
            emit(item)
        elif isinstance(item, bool):
            emit("true" if item else "false")
        elif isinstance(item, int):
            emit(str(item))
        elif isinstance(item, float):
            emit(_float_text(item))
        elif depth >= _FORMAT_DEPTH:
            emit("...")
        elif isinstance(item, Mapping):
            emit("{")
            for index, (key, val) in enumerate(item.items()):
                if index:
                    emit(", ")
                walk(key, depth + 1)
                emit("=")
                walk(val, depth + 1)
            emit("}")
        elif isinstance(item, (list, tuple, range)):
            emit("[")
            for index, val in enumerate(item):
                if index:
                    emit(", ")
                walk(val, depth + 1)
            emit("]")
        # Anything else (an airspeed #define block, say) has no data to show.

    walk(value, 0)
    return "".join(parts)


def _float_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------------------------


def _op_add(left: Any, right: Any) -> Any:
    if isinstance(left, str) or isinstance(right, str):
        return _checked(to_text(left) + to_text(right))  # Velocity concatenates when either side is text
    if _is_number(left) and _is_number(right):
        return _checked(left + right)
    if isinstance(left, list) and isinstance(right, list):
        return _checked(left + right)
    raise _Refused(f"cannot add {_kind(left)} and {_kind(right)}")


def _numeric(name: str, operation: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        if not (_is_number(left) and _is_number(right)):
            raise _Refused(f"cannot apply {name} to {_kind(left)} and {_kind(right)}")
        return _checked(operation(left, right))

    return apply


def _divide(left: Any, right: Any) -> Any:
    if right == 0:
        return None  # Velocity yields null on division by zero
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)  # Java truncates towards zero
        return quotient if (left >= 0) == (right >= 0) else -quotient
    return left / right


def _modulo(left: Any, right: Any) -> Any:
    if right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        return int(math.fmod(left, right))
    return math.fmod(left, right)


def _equals(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is type(right):
        return bool(left == right)
    return to_text(left) == to_text(right)  # Velocity compares toString() across classes


def _ordering(name: str, operation: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        comparable = (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))
        if not comparable:
            raise _Refused(f"cannot compare {_kind(left)} {name} {_kind(right)}")
        return operation(left, right)

    return apply


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, (list, tuple, range)):
        return "a list"
    return "a value"


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _op_add,
    "-": _numeric("-", lambda a, b: a - b),
    "*": _numeric("*", lambda a, b: a * b),
    "/": _numeric("/", _divide),
    "%": _numeric("%", _modulo),
    "==": _equals,
    "eq": _equals,
    "!=": lambda a, b: not _equals(a, b),
    "ne": lambda a, b: not _equals(a, b),
    ">": _ordering(">", lambda a, b: a > b),
    "gt": _ordering(">", lambda a, b: a > b),
    ">=": _ordering(">=", lambda a, b: a >= b),
    "ge": _ordering(">=", lambda a, b: a >= b),
    "<": _ordering("<", lambda a, b: a < b),
    "lt": _ordering("<", lambda a, b: a < b),
    "<=": _ordering("<=", lambda a, b: a <= b),
    "le": _ordering("<=", lambda a, b: a <= b),
    "&&": lambda a, b: bool(a) and bool(b),
    "and": lambda a, b: bool(a) and bool(b),
    "||": lambda a, b: bool(a) or bool(b),
    "or": lambda a, b: bool(a) or bool(b),
}


# ---------------------------------------------------------------------------------------------------------------
# Methods templates may call: a fixed, Java-flavoured table. Nothing else is reachable.
# ---------------------------------------------------------------------------------------------------------------

_Method = tuple[frozenset[int], Callable[..., Any]]


def _method(function: Callable[..., Any], *arities: int) -> _Method:
    return frozenset(arities), function


def _need_text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused(f"expected text, got {_kind(value)}")
    return value


def _need_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Refused(f"expected a whole number, got {_kind(value)}")
    return value


_MISSING: Any = object()


def _map_lookup(mapping: Mapping[Any, Any], key: Any, *, missing: Any = None) -> Any:
    try:
        return mapping[key]
    except (KeyError, TypeError):
        return missing


def _replace(text: str, old: Any, new: Any) -> str:
    old_text, new_text = to_text(old), to_text(new)
    grown = len(text) + text.count(old_text) * (len(new_text) - len(old_text))
    if grown > _budget().limits.max_value_chars:
        raise _Refused(f"a value grew beyond {_budget().limits.max_value_chars} characters (max_value_chars)")
    return text.replace(old_text, new_text)


def _substring(text: str, begin: Any, end: Any = None) -> str | None:
    start = _need_int(begin)
    stop = len(text) if end is None else _need_int(end)
    if not 0 <= start <= stop <= len(text):
        return None  # Java would throw; a missing value is kinder in a ticket template
    return text[start:stop]


def _list_get(items: Any, index: Any) -> Any:
    position = _need_int(index)
    return items[position] if 0 <= position < len(items) else None


def _list_add(items: list[Any], value: Any) -> bool:
    items.append(value)
    _checked(items)
    return True


def _map_put(mapping: dict[Any, Any], key: Any, value: Any) -> Any:
    if not isinstance(key, (str, int, float, bool)):
        raise _Refused(f"a map key must be text or a number, got {_kind(key)}")
    previous = mapping.get(key)
    mapping[key] = value
    _checked(mapping)
    return previous


_STRING_METHODS: dict[str, _Method] = {
    "length": _method(len, 0),
    "isEmpty": _method(lambda s: not s, 0),
    "contains": _method(lambda s, x: to_text(x) in s, 1),
    "startsWith": _method(lambda s, x: s.startswith(_need_text(x)), 1),
    "endsWith": _method(lambda s, x: s.endswith(_need_text(x)), 1),
    "equals": _method(lambda s, x: s == x, 1),
    "equalsIgnoreCase": _method(lambda s, x: isinstance(x, str) and s.casefold() == x.casefold(), 1),
    "indexOf": _method(lambda s, x: s.find(to_text(x)), 1),
    "toUpperCase": _method(str.upper, 0),
    "toLowerCase": _method(str.lower, 0),
    "trim": _method(str.strip, 0),
    "substring": _method(_substring, 1, 2),
    "replace": _method(_replace, 2),
    "concat": _method(lambda s, x: _checked(s + to_text(x)), 1),
    "toString": _method(lambda s: s, 0),
}

_SEQUENCE_METHODS: dict[str, _Method] = {
    "size": _method(len, 0),
    "isEmpty": _method(lambda items: len(items) == 0, 0),
    "get": _method(_list_get, 1),
    "contains": _method(lambda items, x: any(_equals(item, x) for item in items), 1),
    "indexOf": _method(lambda items, x: next((i for i, item in enumerate(items) if _equals(item, x)), -1), 1),
    "toString": _method(to_text, 0),
}

_LIST_METHODS: dict[str, _Method] = {**_SEQUENCE_METHODS, "add": _method(_list_add, 1)}

# [1..n] ranges are lazy and may be huge: answer membership arithmetically instead of by scanning.
_RANGE_METHODS: dict[str, _Method] = {
    **_SEQUENCE_METHODS,
    "contains": _method(lambda numbers, x: _is_number(x) and x in numbers, 1),
    "indexOf": _method(lambda numbers, x: numbers.index(x) if _is_number(x) and x in numbers else -1, 1),
}

_MAP_METHODS: dict[str, _Method] = {
    "size": _method(len, 0),
    "isEmpty": _method(lambda mapping: len(mapping) == 0, 0),
    "get": _method(_map_lookup, 1),
    "containsKey": _method(lambda mapping, key: _map_lookup(mapping, key, missing=_MISSING) is not _MISSING, 1),
    "keySet": _method(lambda mapping: list(mapping.keys()), 0),
    "values": _method(lambda mapping: list(mapping.values()), 0),
    "toString": _method(to_text, 0),
}

_DICT_METHODS: dict[str, _Method] = {**_MAP_METHODS, "put": _method(_map_put, 2)}

_SCALAR_METHODS: dict[str, _Method] = {
    "toString": _method(to_text, 0),
    "equals": _method(_equals, 1),
}


def _methods_for(target: Any) -> dict[str, _Method]:
    if isinstance(target, str):
        return _STRING_METHODS
    if isinstance(target, list):
        return _LIST_METHODS
    if isinstance(target, range):
        return _RANGE_METHODS
    if isinstance(target, tuple):
        return _SEQUENCE_METHODS
    if isinstance(target, dict):
        return _DICT_METHODS
    if isinstance(target, Mapping):
        return _MAP_METHODS
    if isinstance(target, (int, float, bool)):
        return _SCALAR_METHODS
    return {}


def _call_method(target: Any, name: str, arguments: list[Any]) -> Any:
    entry = _methods_for(target).get(name)
    if entry is None:
        if isinstance(target, Mapping) and not arguments:
            return _getter(target, name)
        return None  # unknown method: a missing value, as in Velocity
    arities, function = entry
    if len(arguments) not in arities:
        expected = " or ".join(str(n) for n in sorted(arities))
        raise _Refused(f"{name}() takes {expected} argument(s), got {len(arguments)}")
    return _checked(function(target, *arguments))


def _getter(mapping: Mapping[Any, Any], name: str) -> Any:
    """Java bean getters on maps: ``$plan.getArguments()`` reads key ``arguments``."""
    for prefix in ("get", "is"):
        if name.startswith(prefix) and len(name) > len(prefix) and name[len(prefix)].isupper():
            rest = name[len(prefix) :]
            value = _map_lookup(mapping, rest[0].lower() + rest[1:], missing=_MISSING)
            if value is _MISSING:
                value = _map_lookup(mapping, rest)
            return value
    return None


def _index(target: Any, index: Any) -> Any:
    if isinstance(target, Mapping):
        return _map_lookup(target, index)
    if isinstance(target, (list, tuple, range, str)) and isinstance(index, int) and not isinstance(index, bool):
        return target[index] if -len(target) <= index < len(target) else None
    return None


# ---------------------------------------------------------------------------------------------------------------
# The private engine
# ---------------------------------------------------------------------------------------------------------------


def _load_private_airspeed() -> types.ModuleType:
    spec = importlib.util.find_spec("airspeed")
    loader = getattr(spec, "loader", None)
    get_code = getattr(loader, "get_code", None)
    if spec is None or get_code is None:  # pragma: no cover - airspeed is a declared dependency
        raise ImportError("sim_servicenow.mapping needs the 'airspeed' package (pip install airspeed)")
    module = types.ModuleType(f"{__name__}._airspeed")
    module.__file__ = spec.origin
    # airspeed's own, trusted code object, executed into a module nobody else sees; see the module docstring.
    exec(get_code("airspeed"), module.__dict__)  # noqa: S102
    _harden(module)
    return module


class _BoundedStream(io.StringIO):
    """airspeed's StoppableStream, refusing to grow past ``max_value_chars`` (interpolated strings, #define)."""

    def __init__(self, buf: str = "") -> None:
        super().__init__(buf)
        self.stop = False
        self.size = len(buf)

    def write(self, text: str) -> int:
        if self.stop:
            return 0
        self.size += len(text)
        limit = _budget().limits.max_value_chars
        if self.size > limit:
            raise _Refused(f"a value grew beyond {limit} characters (max_value_chars)")
        return super().write(text)


class _OutputStream(io.StringIO):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.stop = False
        self.limit = limit
        self.size = 0

    def write(self, text: str) -> int:
        if self.stop:
            return 0
        room = self.limit - self.size
        if len(text) > room:
            super().write(text[:room])
            self.size = self.limit
            raise _OutputFull
        self.size += len(text)
        return super().write(text)


def _harden(engine: types.ModuleType) -> None:
    element = engine._Element
    execution_error = engine.TemplateExecutionError
    function_definition = engine._FunctionDefinition
    local_namespace = engine.LocalNamespace
    original_execute_function = function_definition.execute_function

    def evaluate(self: Any, stream: Any, namespace: Any, loader: Any) -> Any:
        _budget().step()
        try:
            return self.evaluate_raw(stream, namespace, loader)
        except execution_error as error:
            if error.element._full_text is self._full_text:
                raise
            # The failing element lives in an interpolated string: report the position of its container.
            raise execution_error(self) from error.__cause__
        except Exception as error:
            raise execution_error(self) from error

    def name_or_call(self: Any, current: Any, loader: Any, top_namespace: Any) -> Any:
        found = _map_lookup(current, self.name) if isinstance(current, Mapping) else None
        arguments = None if self.parameters is None else self.parameters.calculate(top_namespace, loader)
        if isinstance(found, function_definition):
            stream = _BoundedStream()
            found.execute_function(stream, top_namespace, arguments or [], loader)
            return stream.getvalue()
        if arguments is None:
            result = found
        elif isinstance(current, local_namespace):
            result = None  # $name(...) at top level is not a method of anything
        else:
            result = _call_method(current, self.name, arguments)
        if self.index is not None and result is not None:
            result = _index(result, self.index.calculate(top_namespace, loader))
        return result

    def sub_expression(self: Any, current: Any, loader: Any, global_namespace: Any) -> Any:
        if not isinstance(self.expression, engine.ArrayIndex):
            return self.expression.calculate(current, loader, global_namespace)
        result = _index(current, self.expression.calculate(current, loader))
        if self.subexpression is not None and result is not None:
            result = self.subexpression.calculate(result, loader, global_namespace)
        return result

    def formal_reference(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
        value = None if self.expression is None else self.expression.calculate(namespace, loader)
        if value is None:
            if self.alternate is not None:
                value = self.alternate.calculate(namespace, loader)
            elif self.expression is not None and self.silent:
                value = ""
            elif self.expression is not None and _budget().strict:
                raise _Refused(f"{self.my_text()} has no value (strict rendering)")
            else:
                value = self.my_text()  # Velocity writes an unresolved reference as it was written
        stream.write(to_text(value))

    def foreach(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
        iterable = self.value.calculate(namespace, loader)
        if isinstance(iterable, Mapping):
            items: Any = list(iterable.values())  # Velocity iterates a map's values
        elif isinstance(iterable, (list, tuple)):
            items = list(iterable)  # a snapshot: the body may add to the list
        elif isinstance(iterable, range):
            items = iterable
        else:
            return  # null or not a collection: Velocity skips the loop
        budget = _budget()
        length = len(items)
        for counter, item in enumerate(items, start=1):
            budget.step()
            scope = local_namespace(namespace)
            scope["velocityCount"] = counter
            scope["velocityHasNext"] = counter < length
            scope["foreach"] = {
                "count": counter,
                "index": counter - 1,
                "hasNext": counter < length,
                "first": counter == 1,
                "last": counter == length,
            }
            scope[self.loop_var_name] = item
            self.block.evaluate(stream, scope, loader)

    def execute_function(self: Any, stream: Any, namespace: Any, arguments: Any, loader: Any) -> None:
        budget = _budget()
        budget.depth += 1
        try:
            if budget.depth > budget.limits.max_depth:
                raise _Refused(f"macros nest deeper than {budget.limits.max_depth} levels (max_depth)")
            original_execute_function(self, stream, namespace, arguments, loader)
        finally:
            budget.depth -= 1

    def refuse_directive(name: str) -> Callable[[Any], None]:
        def parse(self: Any) -> None:
            if self.START.match(self._full_text, self.end) is None:
                raise engine.NoMatch
            raise self.syntax_error(f"a supported directive (#{name} is disabled in ticket templates)")

        return parse

    def interpolated_string(self: Any, namespace: Any, loader: Any) -> str:
        output = _BoundedStream()
        self.block.evaluate(output, namespace, loader)
        return output.getvalue()

    element.evaluate = evaluate
    engine.NameOrCall.calculate = name_or_call
    engine.SubExpression.calculate = sub_expression
    engine.FormalReference.evaluate_raw = formal_reference
    engine.ForeachDirective.evaluate_raw = foreach
    function_definition.execute_function = execute_function
    engine.InterpolatedStringLiteral.calculate = interpolated_string
    engine.BinaryOperator.OPERATORS = _OPERATORS
    engine.EvaluateDirective.parse = refuse_directive("evaluate")
    engine.IncludeDirective.parse = refuse_directive("include")
    engine.ParseDirective.parse = refuse_directive("parse")
    # Module globals the copied code looks up at call time.
    engine.__dict__.update(StoppableStream=_BoundedStream, __additional_methods__={})


_ENGINE = _load_private_airspeed()


# ---------------------------------------------------------------------------------------------------------------
# Public face
# ---------------------------------------------------------------------------------------------------------------


class VelocityTemplate:
    """One compiled Velocity template for one ticket field.

    Compiling checks the syntax (a `TemplateError` names the field, line and
    column); `render` evaluates it against plain data within `RenderLimits`.
    """

    __slots__ = ("_compiled", "_literal", "field", "limits", "source")

    def __init__(self, source: str, *, field: str, limits: RenderLimits | None = None) -> None:
        self.source = source
        self.field = field
        self.limits = limits or RenderLimits()
        if len(source) > self.limits.max_template_chars:
            raise TemplateError(
                f"template is {len(source)} characters long, more than {self.limits.max_template_chars}"
                " (max_template_chars)",
                field=field,
            )
        compiled = _ENGINE.Template(source, filename=field)
        try:
            compiled.ensure_compiled()
        except _ENGINE.TemplateSyntaxError as error:
            raise TemplateError(
                _one_line(str(error).split(": ", 1)[-1]), field=field, line=error.line, column=error.column
            ) from error
        except RecursionError as error:
            raise TemplateError("template nests too deeply to compile", field=field) from error
        except Exception as error:  # airspeed's parser has a few unchecked paths (e.g. 'not' as a binary operator)
            raise TemplateError(f"template cannot be compiled: {_describe(error)}", field=field) from error
        self._compiled = compiled
        # Text without a reference or a directive renders as itself (most of SailPoint's request maps are such
        # text): no context copy, no evaluation.
        plain = "$" not in source and "#" not in source and len(source) <= self.limits.max_output_chars
        self._literal = source if plain else None

    @property
    def literal(self) -> str | None:
        """The output, when the template is plain text (no reference, no directive) and so needs no context."""
        return self._literal

    def render(self, context: Mapping[str, Any], *, strict: bool = False) -> str:
        """Render against ``context`` (plain dicts, lists, strings, numbers, booleans and None only).

        Args:
            context: the top-level names, e.g. ``{"plan": {...}, "newline": "\\n"}``. It is copied first, so
                a template cannot change the caller's data.
            strict: when true, a reference without a value (``$missing``, not ``$!missing``) is an error and
                output beyond ``max_output_chars`` is an error instead of being truncated.

        Raises:
            TemplateError: the template failed or hit a limit; the message names the field and position.
        """
        namespace = plain_data(context, path="")
        if self._literal is not None:
            return self._literal
        budget = _Budget(self.limits, strict=strict)
        output = _OutputStream(self.limits.max_output_chars)
        token = _ACTIVE.set(budget)
        try:
            self._compiled.merge_to(namespace, output, _ENGINE.NullLoader())
        except _ENGINE.TemplateExecutionError as error:
            cause = error.__cause__
            if isinstance(cause, _OutputFull):
                return self._truncated(output.getvalue(), strict=strict)
            raise self._error(_describe(cause), error.element) from cause
        except _OutputFull:
            return self._truncated(output.getvalue(), strict=strict)
        except RecursionError as error:
            raise TemplateError("template nests too deeply to render", field=self.field) from error
        finally:
            _ACTIVE.reset(token)
        return output.getvalue()

    def _truncated(self, text: str, *, strict: bool) -> str:
        limit = self.limits.max_output_chars
        if strict:
            raise TemplateError(
                f"rendered value is longer than {limit} characters (max_output_chars)", field=self.field
            )
        if limit <= len(_TRUNCATION_MARK):
            return text[:limit]
        return text[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK

    def _error(self, message: str, failed: Any) -> TemplateError:
        if getattr(failed, "_full_text", None) is not self.source:
            return TemplateError(message, field=self.field)
        start = failed.start
        line = self.source.count("\n", 0, start) + 1
        column = start - self.source.rfind("\n", 0, start)
        return TemplateError(message, field=self.field, line=line, column=column)


def _describe(error: BaseException | None) -> str:
    if error is None:  # pragma: no cover - airspeed always chains the cause
        return "template failed"
    if isinstance(error, _Refused):
        return _one_line(str(error))
    if isinstance(error, RecursionError):
        return "template nests too deeply to render"
    text = str(error)
    if type(error) is Exception and text:
        return _one_line(text)  # airspeed's own messages ("no such macro: m")
    return _one_line(f"{type(error).__name__}: {text}" if text else type(error).__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def plain_data(value: Any, *, path: str) -> Any:
    """A deep copy of ``value`` made only of dicts, lists, strings, numbers, booleans and None.

    Tuples become lists; enums become their values; dates become ISO text. Anything else is refused, so no live
    object ever reaches a template.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_data(item, path=f"{path}.{key}" if path else str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(item, path=f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, enum.Enum):
        return plain_data(value.value, path=path)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TemplateError(f"template context value at {path or 'top level'} is {type(value).__name__}, not plain data")
