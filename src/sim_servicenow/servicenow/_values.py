"""ServiceNow's string wire format: every value is a string, references and display values are objects.

Reading: ``"true"``/``"false"`` booleans, decimal integers, ``YYYY-MM-DD HH:MM:SS`` UTC date-times, and
reference fields in every shape the Table API sends (a plain sys_id, ``{"link", "value"}``,
``{"display_value", "link"}``, ``{"display_value", "value"[, "link"]}``).
Writing: Python values become the same strings, so what we send reads back unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs
from dateutil.parser import isoparse

from ._errors import InvalidInputError

__all__ = [
    "DisplayValue",
    "Reference",
    "actual_value",
    "display_value_of",
    "display_value_param",
    "format_datetime",
    "format_number",
    "parse_bool",
    "parse_datetime",
    "parse_int",
    "to_wire",
]

#: How values come back: ``False`` database values (default), ``True`` display values, ``"all"`` both.
DisplayValue = bool | Literal["all"]

_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_LINK_PATH = re.compile(r"/api/now/(?:v\d+/)?table/(?P<table>[^/?#]+)/(?P<sys_id>[^/?#]+)")


def display_value_param(display_value: DisplayValue) -> str:
    """The ``sysparm_display_value`` string for ``display_value``."""
    if display_value == "all":
        return "all"
    if display_value is True:
        return "true"
    if display_value is False:
        return "false"
    raise InvalidInputError(f"display_value must be False, True or 'all', got {display_value!r}")


def format_datetime(value: dt.datetime) -> str:
    """``value`` as ServiceNow stores it: UTC, ``YYYY-MM-DD HH:MM:SS``. Naive datetimes are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"datetime {value.isoformat()} has no time zone; ServiceNow values are UTC, "
            "pass an aware datetime (e.g. datetime.now(timezone.utc))"
        )
    return value.astimezone(dt.timezone.utc).strftime(_DATETIME_FORMAT)


def parse_datetime(text: str) -> dt.datetime:
    """A ServiceNow date-time string as an aware UTC datetime; naive values are UTC (ServiceNow's storage).

    Raises:
        ValueError: ``text`` is not a date-time.
    """
    try:
        return dt.datetime.strptime(text, _DATETIME_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        parsed = isoparse(text)  # ISO forms and date-only values; raises ValueError itself
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def format_number(value: int | float) -> str:
    """A number as a plain decimal string (no exponent: ``1e+20`` becomes ``100000000000000000000``).

    Raises:
        InvalidInputError: ``nan`` or an infinity, which no ServiceNow field holds.
    """
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise InvalidInputError(f"{value!r} is not a number ServiceNow can store")
    return format(Decimal(repr(value)), "f")


def parse_bool(text: str | bool) -> bool:
    """``"true"``/``"false"`` (any case) as a bool.

    Raises:
        ValueError: any other value.
    """
    if isinstance(text, bool):
        return text
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"expected 'true' or 'false', got {text!r}")


def parse_int(text: str | int) -> int:
    """A decimal integer string as an int (``bool`` is refused).

    Raises:
        ValueError: not an integer.
    """
    if isinstance(text, bool):
        raise ValueError(f"expected an integer, got {text!r}")
    if isinstance(text, int):
        return text
    return int(text.strip())


def actual_value(raw: Any) -> Any:
    """The value inside one raw field value: the ``value`` member of the object shapes, else the display value.

    With ``display_value=True`` ServiceNow sends only display values, so that is what this returns then.
    """
    if isinstance(raw, Mapping):
        return raw["value"] if "value" in raw else raw.get("display_value")
    return raw


def display_value_of(raw: Any) -> str | None:
    """The display value inside one raw field value, or ``None`` when the shape carries none."""
    if isinstance(raw, Mapping):
        shown = raw.get("display_value")
        return None if shown is None else str(shown)
    return None


@attrs.frozen
class Reference:
    """A reference field's value: the referenced record's sys_id, and what else ServiceNow sent.

    Attributes:
        value: the sys_id of the referenced record; ``None`` when the response carried only a display
            value (``display_value=True`` with reference links excluded).
        display_value: the referenced record's display value, when asked for (``display_value=True``
            or ``"all"``).
        link: the Table API URL of the referenced record, unless links were excluded.
    """

    value: str | None
    display_value: str | None = None
    link: str | None = None

    @property
    def table(self) -> str | None:
        """The referenced table, read from `link`; ``None`` without a link."""
        if self.link is None:
            return None
        match = _LINK_PATH.search(self.link)
        return match.group("table") if match else None

    @classmethod
    def from_wire(cls, raw: Any, *, display_only: bool = False) -> Reference | None:
        """Build from any shape the Table API uses; ``None`` for an empty reference.

        ``display_only`` says a plain string is a display value (the record was read with
        ``display_value=True`` and links excluded), not a sys_id.
        """
        if raw is None or raw == "":
            return None
        if isinstance(raw, Mapping):
            link = raw.get("link")
            shown = display_value_of(raw)
            value: str | None = None
            if "value" in raw:
                value = str(raw["value"]) if raw["value"] not in (None, "") else None
            elif isinstance(link, str):
                match = _LINK_PATH.search(link)
                value = match.group("sys_id") if match else None
            if value is None and not shown:
                return None
            return cls(value=value, display_value=shown, link=str(link) if link else None)
        if isinstance(raw, str):
            return cls(value=None, display_value=raw) if display_only else cls(value=raw)
        raise ValueError(f"expected a reference (a sys_id or a reference object), got {type(raw).__name__}")


def to_wire(value: Any, *, where: str = "value") -> Any:
    """A Python value as ServiceNow's wire format, for create and update bodies.

    ``str`` as is; ``bool`` as ``"true"``/``"false"``; ``int``/``float`` as decimal strings; aware
    ``datetime`` as UTC ``YYYY-MM-DD HH:MM:SS``; ``date`` as ``YYYY-MM-DD``; ``None`` as ``""``
    (ServiceNow's way to clear a field); a `Reference` as its sys_id. Lists and mappings are
    passed through (catalog variables may hold them).

    Raises:
        InvalidInputError: a naive datetime, or a type with no ServiceNow representation.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, dt.datetime)):
        try:
            return format_datetime(value) if isinstance(value, dt.datetime) else format_number(value)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {exc}") from exc
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Reference):
        return value.value or ""
    if isinstance(value, Mapping):
        return {str(k): to_wire(v, where=f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v, where=f"{where}[{i}]") for i, v in enumerate(value)]
    raise InvalidInputError(f"{where}: {type(value).__name__} has no ServiceNow representation")
