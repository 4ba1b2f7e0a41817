"""Build IdentityNow ``filters`` expressions with values quoted safely.

IdentityNow's standard collection syntax is ``<field> <operator> <value>``, combined with ``and``,
``or`` and ``not``; strings are double-quoted with ``\\`` and ``"`` escaped, date-times are bare
ISO-8601, lists are parenthesised. Every function returns a plain ``str`` you pass as ``filters=``::

    from sim_servicenow.identitynow import filters as f

    f.eq("name", 'Badge "HQ"')                      # name eq "Badge \\"HQ\\""
    f.and_(f.in_("type", ["ServiceNowSDIM", "ServiceNow"]), f.sw("name", "Prod"))
    f.gt("created", datetime(2024, 1, 1, tzinfo=timezone.utc))   # created gt 2024-01-01T00:00:00Z

Characters that are special in URLs (``#``, ``%``, ``&``) need no treatment here: the client sends
the expression as a query parameter, which percent-encodes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone

from .._errors import ConfigError, ValidationProblem

__all__ = [
    "and_",
    "ca",
    "co",
    "eq",
    "ge",
    "gt",
    "in_",
    "isnull",
    "le",
    "lt",
    "ne",
    "not_",
    "or_",
    "pr",
    "quote",
    "sw",
]

#: A value a filter can compare with.
FilterValue = str | int | float | bool | datetime

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def quote(value: FilterValue) -> str:
    """``value`` as a filter literal: a quoted string, ``true``/``false``, a number or a bare UTC date-time."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(
        "invalid filter value", [ValidationProblem("value", f"cannot compare with a {type(value).__name__}")]
    )


def _field(name: str) -> str:
    if not _FIELD.match(name):
        raise ConfigError("invalid filter field", [ValidationProblem("field", f"not a field name: {name!r}")])
    return name


def _compare(field: str, operator: str, value: FilterValue) -> str:
    return f"{_field(field)} {operator} {quote(value)}"


def _listed(field: str, operator: str, values: Iterable[FilterValue]) -> str:
    items = list(values)
    if not items:
        raise ConfigError("invalid filter", [ValidationProblem(field, f"'{operator}' needs at least one value")])
    return f"{_field(field)} {operator} ({','.join(quote(v) for v in items)})"


def eq(field: str, value: FilterValue) -> str:
    """``field eq value``."""
    return _compare(field, "eq", value)


def ne(field: str, value: FilterValue) -> str:
    """``field ne value``."""
    return _compare(field, "ne", value)


def gt(field: str, value: FilterValue) -> str:
    """``field gt value``."""
    return _compare(field, "gt", value)


def ge(field: str, value: FilterValue) -> str:
    """``field ge value``."""
    return _compare(field, "ge", value)


def lt(field: str, value: FilterValue) -> str:
    """``field lt value``."""
    return _compare(field, "lt", value)


def le(field: str, value: FilterValue) -> str:
    """``field le value``."""
    return _compare(field, "le", value)


def co(field: str, value: str) -> str:
    """``field co value``: the string field contains ``value``."""
    return _compare(field, "co", value)


def sw(field: str, value: str) -> str:
    """``field sw value``: the string field starts with ``value``."""
    return _compare(field, "sw", value)


def in_(field: str, values: Iterable[FilterValue]) -> str:
    """``field in (v1,v2,...)``."""
    return _listed(field, "in", values)


def ca(field: str, values: Iterable[FilterValue]) -> str:
    """``field ca (v1,v2,...)``: the collection field contains all the values."""
    return _listed(field, "ca", values)


def isnull(field: str) -> str:
    """``field isnull``."""
    return f"{_field(field)} isnull"


def pr(field: str) -> str:
    """``pr field``: the field is present (not null)."""
    return f"pr {_field(field)}"


def _join(operator: str, expressions: tuple[str, ...]) -> str:
    parts = [e for e in expressions if e]
    if not parts:
        raise ConfigError("invalid filter", [ValidationProblem(operator, "needs at least one expression")])
    if len(parts) == 1:
        return parts[0]
    return f" {operator} ".join(f"({p})" for p in parts)


def and_(*expressions: str) -> str:
    """All of ``expressions`` (each parenthesised, so precedence never surprises)."""
    return _join("and", expressions)


def or_(*expressions: str) -> str:
    """Any of ``expressions``."""
    return _join("or", expressions)


def not_(expression: str) -> str:
    """The negation of ``expression``."""
    return f"not ({expression})"
