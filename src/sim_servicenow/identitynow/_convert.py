"""The one cattrs converter of the IdentityNow client: camelCase wire format <-> frozen snake_case models.

Rules, in one place:

- Field ``snake_case`` <-> key ``camelCase`` (a trailing ``_`` is dropped: ``from_`` <-> ``from``).
- Unknown keys are ignored (``strict=True``, for contract tests, rejects them instead).
- ``null`` for a field that has a non-``None`` default (collections, flags) means "absent": the default.
- Datetimes are read as ISO-8601 into timezone-aware UTC and written as ``2024-01-17T18:45:25.994Z``.
- Request bodies leave out ``None`` fields and the read-only ones (``created``, ``modified``,
  ``universalManager``).
- Deprecated mirror fields are folded into the current field when read and written back as mirrors
  (see `ServiceDeskIntegration` and
  `SimIntegration`).
- ``QueuedCheckConfigDetails`` carries integers as strings on the wire.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter as _make_json_converter
from dateutil.parser import isoparse

from .._errors import DecodeError
from . import _models as m

__all__ = ["make_converter", "structure", "to_wire_name", "unstructure"]

T = TypeVar("T")

_READ_ONLY_KEYS = frozenset({"created", "modified"})


def to_wire_name(name: str) -> str:
    """``managed_resource_refs`` -> ``managedResourceRefs``; ``from_`` -> ``from``."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = isoparse(value)
    else:
        raise TypeError(f"expected an ISO-8601 date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _unstructure_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _structure_str(value: Any, _: type) -> str:
    # Numbers become strings (the private API sends numeric ids); anything else is a shape error,
    # never the text "None" or "{...}".
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise TypeError(f"expected an integer, got {value!r}")


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError(f"expected a boolean, got {value!r}")


def _structure_any(value: Any, _: type) -> Any:
    return value


def _object_or_json_string(value: Any) -> Any:
    """A JSON object given as a string (an artefact of some SailPoint examples) decoded; else unchanged."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- per-model wire adjustments -------------------------------------------------------------------------


def _read_provisioning_config(data: dict[str, Any]) -> dict[str, Any]:
    script = data.get("planInitializerScript")
    if isinstance(script, Mapping):
        data["planInitializerScript"] = script.get("source")
    return data


def _write_provisioning_config(data: dict[str, Any], _: Any) -> dict[str, Any]:
    data.pop("universalManager", None)
    if "planInitializerScript" in data:
        data["planInitializerScript"] = {"source": data["planInitializerScript"]}
    return data


def _read_service_desk_integration(data: dict[str, Any]) -> dict[str, Any]:
    # The current fields win over their deprecated mirrors; a mirror only fills a gap.
    cluster = data.pop("cluster", None)
    if cluster and not data.get("clusterRef"):
        data["clusterRef"] = {"type": "CLUSTER", "id": cluster}
    managed = data.pop("managedSources", None)
    if managed:
        config = dict(data.get("provisioningConfig") or {})
        if not config.get("managedResourceRefs"):
            config["managedResourceRefs"] = [{"type": "SOURCE", "id": source_id} for source_id in managed]
            data["provisioningConfig"] = config
    return data


def _write_service_desk_integration(data: dict[str, Any], _: Any) -> dict[str, Any]:
    cluster_ref = data.get("clusterRef")
    if isinstance(cluster_ref, Mapping) and cluster_ref.get("id"):
        data["cluster"] = cluster_ref["id"]
    config = data.get("provisioningConfig")
    if isinstance(config, Mapping):
        data["managedSources"] = [ref["id"] for ref in config.get("managedResourceRefs", ()) if ref.get("id")]
    return data


def _read_sim_integration(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("attributes", "statusMap", "request"):
        if key in data:
            data[key] = _object_or_json_string(data[key])
    cluster_ref = data.pop("clusterRef", None)
    if not data.get("cluster") and isinstance(cluster_ref, Mapping) and cluster_ref.get("id"):
        data["cluster"] = cluster_ref["id"]
    managed = data.pop("managedSources", None)
    config = data.pop("provisioningConfig", None)
    if not data.get("sources"):
        if managed:
            data["sources"] = managed
        elif isinstance(config, Mapping) and config.get("managedResourceRefs"):
            data["sources"] = [ref.get("id") for ref in config["managedResourceRefs"] if ref.get("id")]
    return data


def _write_status_check_configuration(data: dict[str, Any], _: Any) -> dict[str, Any]:
    return {key: str(value) for key, value in data.items()}


def _write_patch_operation(data: dict[str, Any], operation: m.PatchOperation) -> dict[str, Any]:
    # ``value`` belongs to add / replace / test even when it is null (replace with null).
    if operation.op in ("add", "replace", "test"):
        data["value"] = _CONVERTER.unstructure(operation.value)
    else:
        data.pop("value", None)
    return data


_READERS: dict[type, Callable[[dict[str, Any]], dict[str, Any]]] = {
    m.ProvisioningConfig: _read_provisioning_config,
    m.ServiceDeskIntegration: _read_service_desk_integration,
    m.SimIntegration: _read_sim_integration,
}
_WRITERS: dict[type, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    m.PatchOperation: _write_patch_operation,
    m.ProvisioningConfig: _write_provisioning_config,
    m.ServiceDeskIntegration: _write_service_desk_integration,
    m.StatusCheckConfiguration: _write_status_check_configuration,
}


def _is_optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp) or tp is Any


def make_converter(*, strict: bool = False) -> cattrs.Converter:
    """Build the IdentityNow converter; ``strict=True`` rejects unknown keys (for contract tests)."""
    converter = _make_json_converter(forbid_extra_keys=strict)
    # Simple types first: the attrs hook factories below compose them.
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    # typing.Any is not a class: on Python 3.10 it must be matched by a predicate.
    converter.register_structure_hook_func(lambda cls: cls is Any, _structure_any)
    converter.register_unstructure_hook(types.MappingProxyType, lambda proxy: converter.unstructure(dict(proxy)))

    def structure_factory(cls: type) -> Callable[[Any, type], Any]:
        fields = attrs.fields(attrs.resolve_types(cls))
        renames = {f.name: override(rename=to_wire_name(f.name)) for f in fields}
        # cattrs types the per-field overrides of **kwargs as its own keyword options; they are overrides.
        base: Callable[[Any, type], Any] = make_dict_structure_fn(
            cls,
            converter,
            _cattrs_forbid_extra_keys=strict,
            **renames,  # type: ignore[arg-type]
        )
        null_means_default = frozenset(
            to_wire_name(f.name) for f in fields if f.default is not attrs.NOTHING and not _is_optional(f.type)
        )
        reader = _READERS.get(cls)

        def structure_model(data: Any, _: type) -> Any:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            wire = {k: v for k, v in data.items() if not (v is None and k in null_means_default)}
            if reader is not None:
                wire = reader(wire)
            return base(wire, cls)

        return structure_model

    def unstructure_factory(cls: type) -> Callable[[Any], Any]:
        fields = attrs.fields(attrs.resolve_types(cls))
        renames = {f.name: override(rename=to_wire_name(f.name)) for f in fields}
        base: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, converter, **renames)  # type: ignore[arg-type]
        writer = _WRITERS.get(cls)

        def unstructure_model(obj: Any) -> dict[str, Any]:
            wire = {k: v for k, v in base(obj).items() if v is not None and k not in _READ_ONLY_KEYS}
            return writer(wire, obj) if writer is not None else wire

        return unstructure_model

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter


_CONVERTER = make_converter()


def structure(data: Any, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """Read ``data`` (decoded JSON) as ``cls``; a `DecodeError` on a shape mismatch."""
    try:
        return (converter or _CONVERTER).structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems = "; ".join(cattrs.transform_error(exc, path="$"))
        raise DecodeError(f"cannot read {_type_name(cls)}: {problems}") from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DecodeError(f"cannot read {_type_name(cls)}: {exc}") from exc


def unstructure(obj: Any, *, converter: cattrs.Converter | None = None) -> Any:
    """``obj`` as JSON-ready data in the wire format."""
    return (converter or _CONVERTER).unstructure(obj)


def _type_name(cls: Any) -> str:
    args = typing.get_args(cls)
    if args:
        return f"a list of {_type_name(args[0])}"
    return getattr(cls, "__name__", str(cls))
