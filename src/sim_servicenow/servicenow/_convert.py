"""The one cattrs converter for ServiceNow's wire format; the models know nothing about it.

Every Table API value is a string (``"true"``, ``"3"``, ``"2016-01-19 04:52:04"``), reference fields may be
objects (``{"link", "value"}``, ``{"display_value", "value"}``), and ``""`` means empty. The Service
Catalog API mixes in native JSON booleans and numbers. The hooks here accept all of these. Wire names
that differ from the models' field names are listed in `_RENAMES`; ``u_*`` custom fields are
collected into ``custom_fields``; unknown keys are ignored.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from .._errors import DecodeError
from ._models import Cart, CartItem, CatalogOrder, CatalogVariable, JournalEntry, RequestItem
from ._values import actual_value, parse_bool, parse_datetime, parse_int

__all__ = ["make_converter", "structure"]

T = TypeVar("T")

#: Model field name -> wire key, where they differ.
_RENAMES: dict[type, dict[str, str]] = {
    JournalEntry: {
        "table": "name",
        "record_sys_id": "element_id",
        "field": "element",
        "text": "value",
        "created_on": "sys_created_on",
        "created_by": "sys_created_by",
    },
    CatalogVariable: {"sys_id": "id", "display_value": "displayvalue"},
}


def _custom_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in raw.items() if key.startswith("u_")}


def _dotted_variables(raw: Mapping[str, Any]) -> dict[str, str]:
    prefix = "variables."
    return {key[len(prefix) :]: _to_str(value) for key, value in raw.items() if key.startswith(prefix)}


#: Model fields filled from several wire keys rather than one.
_COLLECTED: dict[str, Callable[[Mapping[str, Any]], Any]] = {"custom_fields": _custom_fields}
_COLLECTED_BY_CLASS: dict[type, dict[str, Callable[[Mapping[str, Any]], Any]]] = {
    RequestItem: {"variables": _dotted_variables}
}


def _to_str(value: Any) -> str:
    value = actual_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _is_empty(value: Any) -> bool:
    return value is None or actual_value(value) in (None, "")


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None`` (one non-None member), else ``None``."""
    if get_origin(tp) not in (Union, types.UnionType):
        return None
    members = [m for m in get_args(tp) if m is not type(None)]
    if len(members) != 1 or len(members) == len(get_args(tp)):
        return None
    return members[0]


def _structure_order(raw: Mapping[str, Any], _: type) -> CatalogOrder:
    # order_now answers {sys_id, number, request_id, request_number, table}; submit_order only the request_* pair.
    request_sys_id = _to_str(raw.get("request_id") or raw.get("sys_id"))
    request_number = _to_str(raw.get("request_number") or raw.get("number"))
    if not request_sys_id:
        raise ValueError("the order response names no request (no request_id or sys_id)")
    return CatalogOrder(
        request_sys_id=request_sys_id,
        request_number=request_number,
        table=_to_str(raw.get("table")) or "sc_request",
        parent_id=_to_str(raw.get("parent_id")) or None,
        parent_table=_to_str(raw.get("parent_table")) or None,
    )


def _cart_lines(raw: Mapping[str, Any]) -> list[Any]:
    # add_to_cart lists the lines in "items"; GET cart groups them by recurring frequency
    # ({"none": {"items": [...]}, "monthly": {...}}).
    if isinstance(raw.get("items"), list):
        return list(raw["items"])
    lines: list[Any] = []
    for section in raw.values():
        if isinstance(section, Mapping) and isinstance(section.get("items"), list):
            lines.extend(section["items"])
    return lines


def make_converter() -> cattrs.Converter:
    """A converter that reads the models from ServiceNow responses (lenient: unknown keys ignored)."""
    converter = cattrs.Converter(forbid_extra_keys=False)
    # Simple types first: the class hooks generated below look these up.
    converter.register_structure_hook(str, lambda value, _: _to_str(value))
    converter.register_structure_hook(bool, lambda value, _: parse_bool(actual_value(value)))
    converter.register_structure_hook(int, lambda value, _: parse_int(actual_value(value)))
    converter.register_structure_hook(dt.datetime, lambda value, _: _datetime(value))

    def structure_optional(value: Any, tp: Any) -> Any:
        return None if _is_empty(value) else converter.structure(value, _optional_inner(tp))

    converter.register_structure_hook_func(lambda tp: _optional_inner(tp) is not None, structure_optional)
    converter.register_structure_hook(CatalogOrder, _structure_order)

    def structure_cart(raw: Mapping[str, Any], _: type) -> Cart:
        return Cart(
            cart_id=_to_str(raw.get("cart_id")),
            subtotal=_to_str(raw.get("subtotal", raw.get("subtotal_price"))),
            items=tuple(converter.structure(line, CartItem) for line in _cart_lines(raw)),
        )

    converter.register_structure_hook(Cart, structure_cart)

    def class_hook(cls: type[Any]) -> Callable[[Mapping[str, Any], type], Any]:
        collected = dict(_COLLECTED_BY_CLASS.get(cls, {}))
        names = {a.name for a in attrs.fields(cls)}
        collected.update({name: fn for name, fn in _COLLECTED.items() if name in names})
        overrides = {name: override(rename=wire) for name, wire in _RENAMES.get(cls, {}).items()}
        overrides.update({name: override(omit=True) for name in collected})
        base = make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
        if not collected:
            return base

        def structure_with_collected(raw: Mapping[str, Any], tp: type) -> Any:
            return attrs.evolve(base(raw, tp), **{name: fn(raw) for name, fn in collected.items()})

        return structure_with_collected

    converter.register_structure_hook_factory(attrs.has, class_hook)
    return converter


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return parse_datetime(actual_value(value))


_CONVERTER = make_converter()


def structure(raw: Any, model: type[T], *, where: str) -> T:
    """``raw`` (a decoded response object) as ``model``.

    Raises:
        DecodeError: ``raw`` does not have the shape or values ``model`` needs; the message lists each
            problem with its path.
    """
    try:
        return _CONVERTER.structure(raw, model)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            detail = "; ".join(cattrs.transform_error(exc))
        else:
            detail = str(exc) or type(exc).__name__
        raise DecodeError(f"{where}: cannot read as {model.__name__}: {detail}") from exc
