"""ServiceNow encoded queries (``sysparm_query``) for FakeServiceNow: parsing and value comparison.

Syntax (ServiceNow's "Encoded query strings" and "Operators available for filters and queries" pages):
``<field><operator><value>`` conditions joined by ``^`` (AND), ``^OR`` (OR with the condition before it)
and ``^NQ`` (OR between whole queries), plus ``ORDERBY<field>`` / ``ORDERBYDESC<field>``. There is no
escaping: a ``^`` inside a value splits the query, as on a real instance. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Condition", "EncodedQuery", "compare", "parse_query", "sort_key"]

# Longest operators first so ``NOT LIKE`` wins over ``LIKE`` and ``<=`` over ``<``.
_OPERATORS = (
    "ISNOTEMPTY",
    "ISEMPTY",
    "EMPTYSTRING",
    "ANYTHING",
    "NOT LIKE",
    "NOT IN",
    "STARTSWITH",
    "ENDSWITH",
    "INSTANCEOF",
    "NSAMEAS",
    "SAMEAS",
    "BETWEEN",
    "LIKE",
    "IN",
    "!=",
    "<=",
    ">=",
    "=",
    "<",
    ">",
)
# Field names are lower case (custom ``u_`` fields too); an upper-case letter starts the operator.
_CONDITION = re.compile(r"^([a-z0-9_.]+)(" + "|".join(re.escape(op) for op in _OPERATORS) + r")(.*)$", re.DOTALL)
_NO_VALUE = frozenset({"ISNOTEMPTY", "ISEMPTY", "EMPTYSTRING", "ANYTHING"})
_DATE_GENERATE = re.compile(r"""^javascript:gs\.dateGenerate\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)$""")


@dataclass(frozen=True)
class Condition:
    """One ``<field><operator><value>`` condition.

    Attributes:
        field: the field, possibly dot-walked (``request.number``).
        operator: the operator as written (``=``, ``NOT IN`` ...).
        value: the value as written, ``javascript:`` values not yet resolved.
    """

    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class EncodedQuery:
    """A parsed encoded query.

    Attributes:
        groups: the ``^NQ`` groups (any may match); each is a tuple of AND terms, each term a tuple of
            conditions joined by ``^OR``.
        order_by: ``(field, descending)`` sort keys, in order.
        unparsed: parts the fake did not understand (related-list and join queries, unknown syntax);
            they are ignored, as a real instance ignores invalid parts.
    """

    groups: tuple[tuple[tuple[Condition, ...], ...], ...]
    order_by: tuple[tuple[str, bool], ...]
    unparsed: tuple[str, ...]


def parse_condition(text: str) -> Condition | None:
    """``text`` as a condition, or ``None`` if it is not one."""
    match = _CONDITION.match(text)
    if match is None:
        return None
    field, operator, value = match.groups()
    if operator in _NO_VALUE and value:
        return None
    return Condition(field, operator, value)


def parse_query(text: str) -> EncodedQuery:
    """Parse an encoded query; unknown parts end up in `EncodedQuery.unparsed`."""
    groups: list[tuple[tuple[Condition, ...], ...]] = []
    order_by: list[tuple[str, bool]] = []
    unparsed: list[str] = []
    for group_text in text.split("^NQ"):
        terms: list[list[Condition]] = []
        in_related_list = False
        for part in group_text.split("^"):
            if in_related_list:
                unparsed.append(part)
                in_related_list = part != "ENDRLQUERY"
                continue
            if part in ("", "EQ"):
                continue
            if part.startswith("ORDERBYDESC"):
                order_by.append((part[len("ORDERBYDESC") :], True))
                continue
            if part.startswith("ORDERBY"):
                order_by.append((part[len("ORDERBY") :], False))
                continue
            if part.startswith("RLQUERY"):
                unparsed.append(part)
                in_related_list = True
                continue
            if part.startswith("OR") and terms:
                condition = parse_condition(part[2:])
                if condition is None:
                    unparsed.append(part)
                else:
                    terms[-1].append(condition)
                continue
            condition = parse_condition(part)
            if condition is None:
                unparsed.append(part)
            else:
                terms.append([condition])
        groups.append(tuple(tuple(term) for term in terms))
    return EncodedQuery(tuple(groups), tuple(order_by), tuple(unparsed))


def resolve_script(value: str, *, user_sys_id: str, user_name: str) -> str:
    """The value of the few ``javascript:`` expressions the fake evaluates; others stay as written."""
    if not value.startswith("javascript:"):
        return value
    expression = value.strip()
    if expression in ("javascript:gs.getUserID()", "javascript:gs.getUserID();"):
        return user_sys_id
    if expression in ("javascript:gs.getUserName()", "javascript:gs.getUserName();"):
        return user_name
    match = _DATE_GENERATE.match(expression)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _ordered(left: str, right: str, numeric: bool) -> int:
    """-1, 0 or 1 comparing two non-empty values, numerically when the field is numeric."""
    if numeric:
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return (a > b) - (a < b)
    return (left > right) - (left < right)


def compare(operator: str, actual: str, expected: str, *, numeric: bool = False, other: str = "") -> bool:
    """Whether a field value ``actual`` satisfies ``<operator><expected>``.

    ``other`` is the value of the second field for ``SAMEAS`` / ``NSAMEAS``. Text matches of the
    ``LIKE`` family ignore case, as they do on instances (whose database collation is case-insensitive);
    ``=`` is exact.
    """
    if operator == "=":
        return actual == expected
    if operator == "!=":
        return actual != expected
    if operator in ("ISEMPTY", "EMPTYSTRING"):
        return actual == ""
    if operator == "ISNOTEMPTY":
        return actual != ""
    if operator == "ANYTHING":
        return True
    if operator == "IN":
        return actual in expected.split(",")
    if operator == "NOT IN":
        return actual not in expected.split(",")
    if operator == "LIKE":
        return expected.lower() in actual.lower()
    if operator == "NOT LIKE":
        return expected.lower() not in actual.lower()
    if operator == "STARTSWITH":
        return actual.lower().startswith(expected.lower())
    if operator == "ENDSWITH":
        return actual.lower().endswith(expected.lower())
    if operator == "SAMEAS":
        return actual == other
    if operator == "NSAMEAS":
        return actual != other
    if actual == "":
        # Empty values never satisfy an ordering comparison (SQL NULL semantics).
        return False
    if operator == "BETWEEN":
        low, _, high = expected.partition("@")
        return _ordered(actual, low, numeric) >= 0 and _ordered(actual, high, numeric) <= 0
    if operator in ("<", "<=", ">", ">="):
        order = _ordered(actual, expected, numeric)
        return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[operator]
    return False


def sort_key(value: str, numeric: bool) -> tuple[int, float, str]:
    """A key sorting empty values first, then numbers numerically (numeric fields), then text."""
    if value == "":
        return (0, 0.0, "")
    if numeric:
        number = _number(value)
        if number is not None:
            return (1, number, "")
    return (2, 0.0, value)
