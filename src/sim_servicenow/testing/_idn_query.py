"""IdentityNow's standard collection parameters, as the fake serves them: paging, ``filters`` and ``sorters``.

The grammar follows SailPoint's "Standard Collection Parameters" page: primitive operators ``ca co eq ge gt in
le lt ne pr isnull sw``, composite ``not`` > ``and`` > ``or`` (in that precedence) with parentheses, lower-case
operators only, double-quoted strings with backslash escapes, bare numbers, ``true``/``false``/``null`` and bare
ISO-8601 date-times. String comparisons are case-insensitive ("most comparisons are not case sensitive").
Each collection declares which fields and operators it supports; anything else is a 400, as documented.

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "MAX_LIMIT",
    "CollectionSpec",
    "Field",
    "Paging",
    "QueryError",
    "apply_sorters",
    "compile_filter",
    "parse_paging",
]

#: The largest ``limit`` a list endpoint accepts.
MAX_LIMIT = 250

Predicate = Callable[[Mapping[str, Any]], bool]


class QueryError(ValueError):
    """A collection parameter IdentityNow refuses with ``400 Bad Request``."""


@dataclass(frozen=True)
class Field:
    """A field a collection can be filtered on: the operators it supports and how its values compare.

    Attributes:
        ops: the operators the endpoint documents for this field.
        kind: ``"string"``, ``"datetime"``, ``"boolean"``, ``"number"`` or ``"list"`` (a list of strings).
    """

    ops: frozenset[str]
    kind: str = "string"


def fields(kind: str = "string", *ops: str) -> Field:
    """Shorthand for `Field` (``fields("datetime", "eq", "gt")``)."""
    return Field(frozenset(ops), kind)


@dataclass(frozen=True)
class CollectionSpec:
    """What one list endpoint documents: its filterable fields and its sortable fields.

    Attributes:
        filters: field path (dotted) to `Field`.
        sorters: sortable field paths, each mapped to its kind.
    """

    filters: Mapping[str, Field]
    sorters: Mapping[str, str]


@dataclass(frozen=True)
class Paging:
    """The validated ``offset``, ``limit`` and ``count`` of a list request.

    Attributes:
        offset: index of the first record to return.
        limit: the most records to return.
        count: whether to send ``X-Total-Count``.
    """

    offset: int = 0
    limit: int = MAX_LIMIT
    count: bool = False

    def page(self, records: Sequence[Any]) -> list[Any]:
        """The slice of ``records`` this paging selects."""
        return list(records[self.offset : self.offset + self.limit])


def _single(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    return values[-1]


def parse_paging(query: Mapping[str, Sequence[str]], *, max_limit: int = MAX_LIMIT) -> Paging:
    """Validate ``offset``, ``limit`` (0 to ``max_limit``) and ``count`` as the list endpoints do."""
    offset = _integer(_single(query, "offset"), "offset", default=0, maximum=None)
    limit = _integer(_single(query, "limit"), "limit", default=max_limit, maximum=max_limit)
    raw_count = _single(query, "count")
    if raw_count is None or raw_count == "":
        count = False
    elif raw_count.lower() in ("true", "false"):
        count = raw_count.lower() == "true"
    else:
        raise QueryError(f"count must be true or false, got {raw_count!r}")
    return Paging(offset=offset, limit=limit, count=count)


def _integer(raw: str | None, name: str, *, default: int, maximum: int | None) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise QueryError(f"{name} must not be negative, got {value}")
    if maximum is not None and value > maximum:
        raise QueryError(f"{name} must be between 0 and {maximum}, got {value}")
    return value


# --------------------------------------------------------------------------------------------------- filters

_TOKEN = re.compile(
    r"""
    \s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<punct>[(),])
      | (?P<word>[^\s(),"]+)
    )""",
    re.VERBOSE,
)

_BINARY_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "sw", "co"})
_LIST_OPS = frozenset({"in", "ca"})
_ALL_OPS = _BINARY_OPS | _LIST_OPS | {"pr", "isnull"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "punct", "word", "end"
    text: str
    position: int


@dataclass(frozen=True)
class _Literal:
    value: Any
    quoted: bool


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    stripped_end = len(expression.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise QueryError(f"filters: cannot read {expression[position:]!r} at position {position}")
        kind = match.lastgroup or "word"
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    tokens.append(_Token("end", "", len(expression)))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


class _Parser:
    def __init__(self, expression: str, spec: CollectionSpec) -> None:
        self.tokens = _tokenize(expression)
        self.index = 0
        self.spec = spec

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_word(self, word: str) -> bool:
        return self.current.kind == "word" and self.current.text == word

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("punct", "word"):
            found = token.text or "the end"
            raise QueryError(f"filters: expected {text!r} at position {token.position}, found {found!r}")

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.current.kind != "end":
            raise QueryError(f"filters: unexpected {self.current.text!r} at position {self.current.position}")
        return predicate

    def parse_or(self) -> Predicate:
        terms = [self.parse_and()]
        while self.at_word("or"):
            self.take()
            terms.append(self.parse_and())
        if len(terms) == 1:
            return terms[0]
        return lambda record: any(term(record) for term in terms)

    def parse_and(self) -> Predicate:
        terms = [self.parse_not()]
        while self.at_word("and"):
            self.take()
            terms.append(self.parse_not())
        if len(terms) == 1:
            return terms[0]
        return lambda record: all(term(record) for term in terms)

    def parse_not(self) -> Predicate:
        if self.at_word("not"):
            self.take()
            inner = self.parse_not()
            return lambda record: not inner(record)
        return self.parse_primary()

    def parse_primary(self) -> Predicate:
        token = self.current
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self.parse_or()
            self.expect(")")
            return inner
        if self.at_word("pr"):
            self.take()
            path, _field = self.field_for(self.take(), "pr")
            return lambda record: _lookup(record, path) is not None
        name_token = self.take()
        if name_token.kind != "word":
            found = name_token.text or "the end"
            raise QueryError(f"filters: expected a field name at position {name_token.position}, found {found!r}")
        op_token = self.take()
        op = op_token.text
        if op_token.kind != "word" or op not in _ALL_OPS:
            if op_token.kind == "word" and op.lower() in _ALL_OPS:
                raise QueryError(f"filters: operators are lower case, got {op!r} at position {op_token.position}")
            found = op or "the end"
            raise QueryError(f"filters: expected an operator after {name_token.text!r}, found {found!r}")
        path, field = self.field_for(name_token, op)
        if op == "isnull":
            return lambda record: _lookup(record, path) is None
        if op in _LIST_OPS:
            self.expect("(")
            literals = [self.literal()]
            while self.current.kind == "punct" and self.current.text == ",":
                self.take()
                literals.append(self.literal())
            self.expect(")")
            values = [_coerce(literal, field, name_token.text) for literal in literals]
            if op == "in":
                return lambda record: _matches_any(_lookup(record, path), values, field)
            return lambda record: _contains_all(_lookup(record, path), values)
        value = _coerce(self.literal(), field, name_token.text)
        return _comparison(path, op, value, field)

    def field_for(self, token: _Token, op: str) -> tuple[str, Field]:
        if token.kind != "word":
            raise QueryError(f"filters: expected a field name at position {token.position}")
        field = self.spec.filters.get(token.text)
        if field is None:
            supported = ", ".join(sorted(self.spec.filters)) or "none"
            raise QueryError(f"filters: filtering on {token.text!r} is not supported (supported: {supported})")
        if op not in field.ops:
            supported = ", ".join(sorted(field.ops))
            raise QueryError(f"filters: operator {op!r} is not supported for {token.text!r} (supported: {supported})")
        return token.text, field

    def literal(self) -> _Literal:
        token = self.take()
        if token.kind == "string":
            return _Literal(_unquote(token.text), quoted=True)
        if token.kind != "word":
            found = token.text or "the end"
            raise QueryError(f"filters: expected a value at position {token.position}, found {found!r}")
        text = token.text
        if text in ("true", "false"):
            return _Literal(text == "true", quoted=False)
        if text == "null":
            return _Literal(None, quoted=False)
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return _Literal(float(text) if "." in text else int(text), quoted=False)
        if parse_datetime(text) is not None:
            return _Literal(text, quoted=False)
        raise QueryError(f"filters: value {text!r} at position {token.position} must be quoted")


def parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 date-time as an aware UTC datetime (``None`` if it is not one)."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    # Python 3.10's fromisoformat wants exactly 3 or 6 fraction digits.
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)", candidate)
    if match:
        candidate = f"{match.group(1)}.{match.group(2)[:6].ljust(6, '0')}{match.group(3)}"
    try:
        value = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _coerce(literal: _Literal, field: Field, name: str) -> Any:
    value = literal.value
    if value is None:
        return None
    if field.kind == "datetime":
        parsed = parse_datetime(str(value))
        if parsed is None:
            raise QueryError(f"filters: {value!r} is not a date-time (field {name!r})")
        return parsed
    if field.kind == "boolean":
        if not isinstance(value, bool):
            raise QueryError(f"filters: {name!r} takes true or false, got {value!r}")
        return value
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise QueryError(f"filters: {name!r} takes a number, got {value!r}")
        return value
    if not isinstance(value, str):
        raise QueryError(f"filters: {name!r} takes a quoted string, got {value!r}")
    return value


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _normalize(value: Any, field: Field) -> Any:
    """A value made comparable: date-times parsed, strings case-folded."""
    if value is None:
        return None
    if field.kind == "datetime":
        return value if isinstance(value, datetime) else parse_datetime(str(value))
    if isinstance(value, str):
        return value.casefold()
    return value


def _equal(actual: Any, expected: Any, field: Field) -> bool:
    if field.kind == "list":
        items = actual if isinstance(actual, list) else []
        return any(_normalize(item, field) == _normalize(expected, field) for item in items)
    return bool(_normalize(actual, field) == _normalize(expected, field))


def _matches_any(actual: Any, values: Sequence[Any], field: Field) -> bool:
    return any(_equal(actual, value, field) for value in values)


def _contains_all(actual: Any, values: Sequence[Any]) -> bool:
    if not isinstance(actual, list):
        return False
    present = {item.casefold() if isinstance(item, str) else item for item in actual}
    return all((value.casefold() if isinstance(value, str) else value) in present for value in values)


def _comparison(path: str, op: str, expected: Any, field: Field) -> Predicate:
    def predicate(record: Mapping[str, Any]) -> bool:
        actual = _lookup(record, path)
        if op == "eq":
            return _equal(actual, expected, field)
        if op == "ne":
            return not _equal(actual, expected, field)
        if op in ("sw", "co"):
            if field.kind == "list":
                items = actual if isinstance(actual, list) else []
                return any(_text_match(item, expected, op) for item in items)
            return _text_match(actual, expected, op)
        left = _normalize(actual, field)
        right = _normalize(expected, field)
        if left is None or right is None:
            return False
        try:
            if op == "gt":
                return bool(left > right)
            if op == "ge":
                return bool(left >= right)
            if op == "lt":
                return bool(left < right)
            return bool(left <= right)
        except TypeError:
            return False

    return predicate


def _text_match(actual: Any, expected: Any, op: str) -> bool:
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    if op == "sw":
        return bool(actual.casefold().startswith(expected.casefold()))
    return expected.casefold() in actual.casefold()


def compile_filter(expression: str | None, spec: CollectionSpec) -> Predicate:
    """Compile a ``filters`` expression for a collection; a `QueryError` if IdentityNow would refuse it."""
    if expression is None or not expression.strip():
        return lambda _record: True
    return _Parser(expression, spec).parse()


# --------------------------------------------------------------------------------------------------- sorters


def apply_sorters(records: list[dict[str, Any]], sorters: str | None, spec: CollectionSpec) -> list[dict[str, Any]]:
    """Sort ``records`` by a ``sorters`` expression (``"type,-modified"``); nulls last when ascending."""
    if sorters is None or not sorters.strip():
        return records
    keys: list[tuple[str, bool]] = []
    for raw in sorters.split(","):
        name = raw.strip()
        descending = name.startswith("-")
        name = name.lstrip("-+").strip()
        if name not in spec.sorters:
            supported = ", ".join(sorted(spec.sorters)) or "none"
            raise QueryError(f"sorters: sorting on {name!r} is not supported (supported: {supported})")
        keys.append((name, descending))
    ordered = list(records)
    for name, descending in reversed(keys):
        field = Field(frozenset(), spec.sorters[name])

        def sort_key(record: Mapping[str, Any], name: str = name, field: Field = field) -> tuple[bool, Any]:
            value = _normalize(_lookup(record, name), field)
            if value is None:
                return (True, "")
            return (False, value)

        ordered.sort(key=sort_key, reverse=descending)
    return ordered
