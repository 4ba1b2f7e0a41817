"""One Table API record: the raw mapping ServiceNow sent, with typed reads on top."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, overload

import attrs

from .._errors import DecodeError
from ._values import DisplayValue, Reference, actual_value, display_value_of, parse_bool, parse_datetime, parse_int

__all__ = ["Record"]

T = TypeVar("T")


def _read_only(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    return raw if isinstance(raw, MappingProxyType) else MappingProxyType(dict(raw))


@attrs.frozen(repr=False)
class Record:
    """A record as the Table API returned it, every field kept (custom ``u_*`` fields included).

    ServiceNow sends every value as a string. The ``get_*`` methods read a field as a type and return
    ``None`` when the field is empty (``""``) or absent (not requested, or hidden by an ACL); ``record[name]``
    gives the raw value and raises `KeyError` when the field is absent.

    Reads follow the ``display_value`` the record was fetched with: with ``False`` (the default) values
    are database values (UTC date-times, sys_ids, choice values); with ``True`` they are display values
    (labels, the user's time zone); with ``"all"`` both are there and `get_str` reads the database
    value while `get_display` reads the display value.

    Attributes:
        table: the table the record was read from.
        raw: the record's fields exactly as decoded from JSON (read-only).
        display_value: the ``sysparm_display_value`` the record was read with.
    """

    table: str
    raw: Mapping[str, Any] = attrs.field(converter=_read_only, repr=False, hash=False)
    display_value: DisplayValue = False

    @property
    def sys_id(self) -> str:
        """The record's sys_id (``""`` if the response did not include it)."""
        value = actual_value(self.raw.get("sys_id", ""))
        return "" if value is None else str(value)

    def __repr__(self) -> str:
        return f"Record(table={self.table!r}, sys_id={self.sys_id!r}, fields={len(self.raw)})"

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    def __contains__(self, name: object) -> bool:
        return name in self.raw

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    @property
    def custom_fields(self) -> Mapping[str, Any]:
        """The instance's custom fields (``u_*``), raw."""
        return {k: v for k, v in self.raw.items() if k.startswith("u_")}

    @overload
    def get_str(self, name: str) -> str | None: ...

    @overload
    def get_str(self, name: str, default: str) -> str: ...

    def get_str(self, name: str, default: str | None = None) -> str | None:
        """The field's value as a string; ``default`` when it is empty or absent."""
        value = actual_value(self.raw.get(name))
        if value is None or value == "":
            return default
        return value if isinstance(value, str) else str(value)

    def get_display(self, name: str) -> str | None:
        """The field's display value when the record carries one (``display_value=True`` or ``"all"``)."""
        if name not in self.raw or self.display_value is False:
            return None
        raw = self.raw[name]
        if self.display_value is True and not isinstance(raw, Mapping):
            return None if raw is None else str(raw)
        return display_value_of(raw)

    def get_bool(self, name: str) -> bool | None:
        """The field as a bool (``"true"``/``"false"``)."""
        return self._typed(name, "a boolean ('true' or 'false')", parse_bool)

    def get_int(self, name: str) -> int | None:
        """The field as an int."""
        return self._typed(name, "an integer", parse_int)

    def get_datetime(self, name: str) -> dt.datetime | None:
        """The field as a timezone-aware UTC datetime (ServiceNow stores ``YYYY-MM-DD HH:MM:SS`` in UTC)."""
        return self._typed(name, "a date-time 'YYYY-MM-DD HH:MM:SS'", parse_datetime)

    def get_reference(self, name: str) -> Reference | None:
        """The reference field as a `Reference` (sys_id, and display value and link when sent)."""
        raw = self.raw.get(name)
        try:
            return Reference.from_wire(raw, display_only=self.display_value is True)
        except ValueError as exc:
            raise self._decode_error(name, "a reference", raw) from exc

    def to_model(self, model: type[T]) -> T:
        """The record as one of the typed models (`Request`, `RequestItem`, `Incident`, ...).

        Raises:
            DecodeError: a field does not hold what the model needs.
        """
        from ._convert import structure

        return structure(self.raw, model, where=f"{self.table} {self.sys_id}")

    def _typed(self, name: str, expected: str, parse: Callable[[Any], T]) -> T | None:
        value = actual_value(self.raw.get(name))
        if value is None or value == "":
            return None
        try:
            return parse(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise self._decode_error(name, expected, value) from exc

    def _decode_error(self, name: str, expected: str, value: Any) -> DecodeError:
        hint = ""
        if self.display_value is True:
            hint = " (the record holds display values; read it with display_value=False or 'all')"
        where = f"{self.table} {self.sys_id or '?'} field {name!r}"
        return DecodeError(f"{where}: expected {expected}, got {value!r}{hint}")
