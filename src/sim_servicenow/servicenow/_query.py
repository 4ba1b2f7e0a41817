"""An immutable, chainable builder of ServiceNow encoded queries (``sysparm_query``), safe by construction.

ServiceNow cannot escape anything inside an encoded query: a ``^`` in a value starts a new condition
(``^NQ`` even a new OR-group), a comma splits an ``IN`` list, an ``@`` splits a ``BETWEEN`` range, and a
value starting with ``javascript:`` is run on the server. The builder therefore refuses such values with
a `QueryError` instead of sending a query that means something else. `RawQuery` is the
explicit escape hatch for hand-written queries.

Precedence follows ServiceNow: ``^OR`` binds tighter than ``^`` (AND), and ``^NQ`` separates OR-ed
groups. ``a | b`` of two single conditions becomes ``a^ORb``; ``(a & b) | c`` becomes ``a^b^NQc``;
``(a | b) & c`` becomes ``a^ORb^c``. AND over ``^NQ`` groups is distributed, so every combination of
``&`` and ``|`` means what it says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import attrs

from ._errors import InvalidInputError, QueryError
from ._values import format_datetime, format_number

__all__ = ["Condition", "Field", "Query", "QueryValue", "RawQuery"]

#: A value a condition compares with. Date-times must be timezone-aware; they are sent as UTC.
QueryValue = str | int | float | bool | dt.datetime | dt.date

# Column names are lower case; ServiceNow reads an upper-case letter as the start of the operator
# (``stateIN...``), so a name like ``activeISEMPTY`` would smuggle one in. Dot-walking joins names with ".".
_FIELD_NAME = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*\Z")
_FORBIDDEN = {"^": "a caret (^)", "\n": "a newline", "\r": "a carriage return"}

Clause = tuple["Condition", ...]  # conditions joined by ^OR
Group = tuple[Clause, ...]  # clauses joined by ^ (AND)


def _check_field(name: object) -> str:
    if not isinstance(name, str) or not _FIELD_NAME.match(name):
        raise QueryError(
            f"invalid field name {name!r}: expected lower-case letters, digits and underscores, dot-walked with '.'"
        )
    return name


def encode_value(value: QueryValue, *, field: str, operator: str) -> str:
    """``value`` as it appears in an encoded query; refuses what would change the query's meaning."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, dt.datetime)):
        try:
            return format_datetime(value) if isinstance(value, dt.datetime) else format_number(value)
        except InvalidInputError as exc:
            raise QueryError(f"{field}{operator}: {exc}") from exc
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise QueryError(f"{field}{operator}: {type(value).__name__} values cannot be put in an encoded query")
    for char, what in _FORBIDDEN.items():
        if char in value:
            raise QueryError(
                f"{field}{operator}: value {value!r} contains {what}, which ServiceNow cannot escape and would "
                "read as the start of another condition; use RawQuery only for queries you wrote yourself"
            )
    if value.lstrip().lower().startswith("javascript:"):
        raise QueryError(
            f"{field}{operator}: value {value!r} would be run as a script on the instance; "
            "use RawQuery for deliberate javascript: values"
        )
    return value


@attrs.frozen
class Condition:
    """One ``<field><operator><value>`` condition, already checked and encoded.

    Attributes:
        field: the (possibly dot-walked) column name.
        operator: the encoded-query operator, e.g. ``=``, ``IN``, ``ISEMPTY``.
        value: the encoded value (empty for operators without one).
    """

    field: str
    operator: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{self.value}"


def _single(condition: Condition) -> Query:
    return Query(groups=(((condition,),),))


@attrs.frozen
class Field:
    """A column to put a condition on; dot-walking (``request.requested_for.email``) is allowed.

    Every method returns a one-condition `Query`, to be combined with ``&`` and ``|``::

        Field("active").eq(True) & Field("state").in_([1, 2])   # active=true^stateIN1,2

    Attributes:
        name: the column name, checked to be an identifier path.
    """

    name: str = attrs.field(validator=lambda _instance, _attribute, value: _check_field(value))

    def _compare(self, operator: str, value: QueryValue) -> Query:
        return _single(Condition(self.name, operator, encode_value(value, field=self.name, operator=operator)))

    def eq(self, value: QueryValue) -> Query:
        """``field=value`` (choice fields compare by value, not label; references by sys_id)."""
        return self._compare("=", value)

    def ne(self, value: QueryValue) -> Query:
        """``field!=value``."""
        return self._compare("!=", value)

    def lt(self, value: QueryValue) -> Query:
        """``field<value``."""
        return self._compare("<", value)

    def le(self, value: QueryValue) -> Query:
        """``field<=value``."""
        return self._compare("<=", value)

    def gt(self, value: QueryValue) -> Query:
        """``field>value``."""
        return self._compare(">", value)

    def ge(self, value: QueryValue) -> Query:
        """``field>=value``."""
        return self._compare(">=", value)

    def like(self, value: str) -> Query:
        """``fieldLIKEvalue``: contains."""
        return self._compare("LIKE", value)

    def not_like(self, value: str) -> Query:
        """``fieldNOT LIKEvalue``: does not contain."""
        return self._compare("NOT LIKE", value)

    def starts_with(self, value: str) -> Query:
        """``fieldSTARTSWITHvalue``."""
        return self._compare("STARTSWITH", value)

    def ends_with(self, value: str) -> Query:
        """``fieldENDSWITHvalue``."""
        return self._compare("ENDSWITH", value)

    def in_(self, values: Iterable[QueryValue]) -> Query:
        """``fieldINa,b,c``: one of ``values`` (none may contain a comma; at least one is required)."""
        return _single(Condition(self.name, "IN", self._list("IN", values)))

    def not_in(self, values: Iterable[QueryValue]) -> Query:
        """``fieldNOT INa,b,c``: none of ``values``."""
        return _single(Condition(self.name, "NOT IN", self._list("NOT IN", values)))

    def is_empty(self) -> Query:
        """``fieldISEMPTY``."""
        return _single(Condition(self.name, "ISEMPTY"))

    def is_not_empty(self) -> Query:
        """``fieldISNOTEMPTY``."""
        return _single(Condition(self.name, "ISNOTEMPTY"))

    def between(self, low: QueryValue, high: QueryValue) -> Query:
        """``fieldBETWEENlow@high`` (inclusive). Date-times are sent as UTC ``YYYY-MM-DD HH:MM:SS``."""
        ends = []
        for end in (low, high):
            encoded = encode_value(end, field=self.name, operator="BETWEEN")
            if "@" in encoded:
                raise QueryError(f"{self.name}BETWEEN: value {encoded!r} contains '@', which separates the range")
            ends.append(encoded)
        return _single(Condition(self.name, "BETWEEN", "@".join(ends)))

    def _list(self, operator: str, values: Iterable[QueryValue]) -> str:
        if isinstance(values, (str, bytes)):
            raise QueryError(f"{self.name}{operator}: expected a collection of values, got a single string")
        encoded = [encode_value(v, field=self.name, operator=operator) for v in values]
        if not encoded:
            raise QueryError(f"{self.name}{operator}: the list of values is empty")
        for item in encoded:
            if "," in item:
                raise QueryError(
                    f"{self.name}{operator}: value {item!r} contains a comma, "
                    "which ServiceNow reads as a list separator"
                )
        return ",".join(encoded)


def _ordering_clause(name: str, descending: bool) -> str:
    return f"ORDERBYDESC{name}" if descending else f"ORDERBY{name}"


@attrs.frozen
class Query:
    """An encoded query: OR-groups (``^NQ``) of AND-ed clauses (``^``) of OR-ed conditions (``^OR``).

    Build it from `Field` conditions with ``&`` and ``|``; ``str(query)`` is the encoded
    string. ``Query()`` has no condition (it matches every record) and is neutral in ``&`` and ``|``,
    so it is a handy start for building a query in a loop. Ordering is kept apart and always
    rendered last.

    Attributes:
        groups: the ``^NQ``-separated groups, each a tuple of clauses, each a tuple of conditions.
        ordering: ``(field, descending)`` pairs, rendered as ``ORDERBY``/``ORDERBYDESC`` in this order.
    """

    groups: tuple[Group, ...] = ()
    ordering: tuple[tuple[str, bool], ...] = ()

    def __and__(self, other: object) -> Query:
        if not isinstance(other, Query):
            return NotImplemented
        if not self.groups or not other.groups:
            groups = self.groups or other.groups
        else:
            # (g1 OR g2) AND (h1 OR h2) = g1h1 OR g1h2 OR g2h1 OR g2h2: ^NQ has no parentheses.
            groups = tuple(mine + theirs for mine in self.groups for theirs in other.groups)
        return Query(groups=groups, ordering=self.ordering + other.ordering)

    def __or__(self, other: object) -> Query:
        if not isinstance(other, Query):
            return NotImplemented
        if not self.groups or not other.groups:
            groups = self.groups or other.groups
        elif len(self.groups) == 1 == len(other.groups) and len(self.groups[0]) == 1 == len(other.groups[0]):
            groups = ((self.groups[0][0] + other.groups[0][0],),)  # one clause: a^ORb
        else:
            groups = self.groups + other.groups
        return Query(groups=groups, ordering=self.ordering + other.ordering)

    def order_by(self, *fields: str) -> Query:
        """This query, ordered (ascending) by ``fields`` after any ordering it already has."""
        return attrs.evolve(self, ordering=self.ordering + tuple((_check_field(f), False) for f in fields))

    def order_by_desc(self, *fields: str) -> Query:
        """This query, ordered descending by ``fields`` after any ordering it already has."""
        return attrs.evolve(self, ordering=self.ordering + tuple((_check_field(f), True) for f in fields))

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """Every condition, in the order they are rendered."""
        return tuple(c for group in self.groups for clause in group for c in clause)

    @property
    def is_ordered(self) -> bool:
        """Whether an ``ORDERBY`` is part of the query."""
        return bool(self.ordering)

    def ordered_fields(self) -> tuple[str, ...]:
        """The fields the query orders by."""
        return tuple(name for name, _ in self.ordering)

    def __str__(self) -> str:
        parts = ["^NQ".join("^".join("^OR".join(str(c) for c in clause) for clause in group) for group in self.groups)]
        parts.extend(_ordering_clause(name, desc) for name, desc in self.ordering)
        return "^".join(p for p in parts if p)


@attrs.frozen
class RawQuery:
    """A hand-written encoded query, sent exactly as given: the escape hatch for what the builder lacks.

    Nothing in it is checked. Never build one from untrusted input: a ``^`` in a value injects conditions.

    Attributes:
        text: the encoded query string.
    """

    text: str

    def order_by(self, *fields: str) -> RawQuery:
        """This query with ``^ORDERBY<field>`` appended for each of ``fields``."""
        return self._append([_ordering_clause(_check_field(f), False) for f in fields])

    def order_by_desc(self, *fields: str) -> RawQuery:
        """This query with ``^ORDERBYDESC<field>`` appended for each of ``fields``."""
        return self._append([_ordering_clause(_check_field(f), True) for f in fields])

    def _append(self, clauses: list[str]) -> RawQuery:
        return RawQuery("^".join([self.text, *clauses]) if self.text else "^".join(clauses))

    @property
    def is_ordered(self) -> bool:
        """Whether the text has an ``ORDERBY``/``ORDERBYDESC`` clause."""
        return bool(self.ordered_fields())

    def ordered_fields(self) -> tuple[str, ...]:
        """The fields the text orders by."""
        fields = []
        for part in self.text.split("^"):
            if part.startswith("ORDERBYDESC"):
                fields.append(part[len("ORDERBYDESC") :])
            elif part.startswith("ORDERBY"):
                fields.append(part[len("ORDERBY") :])
        return tuple(fields)

    def __str__(self) -> str:
        return self.text
