"""SailPoint integration definitions (legacy SIM, v3 SDIM) translated into this library's configuration format."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cattrs.errors import ClassValidationError, IterableValidationError

from .._errors import ConfigError, DecodeError, ValidationProblem
from ._config import IntegrationConfig, ServiceNowAuthType, kind_of
from ._config_file import read_config
from ._wire import ServiceDeskIntegrationWire, SimIntegrationWire, structure, structure_problems

__all__ = ["SDIM_TYPES", "SIM_TYPES", "config_from_sailpoint"]

#: The SailPoint ``type`` strings of ServiceNow integrations (legacy SIM and current SDIM).
SIM_TYPES = ("ServiceNow Service Desk",)
SDIM_TYPES = ("ServiceNowSDIM", "ServiceNow")


# ---------------------------------------------------------------------------------------------------------------
# SailPoint definitions → our format
# ---------------------------------------------------------------------------------------------------------------


class _PathTranslator:
    """Maps paths of our format back to the SailPoint definition's paths, except where overrides supplied them."""

    def __init__(self, prefixes: Mapping[str, str], overridden: Iterable[str]) -> None:
        self.prefixes = dict(prefixes)
        self.overridden = tuple(overridden)

    def __call__(self, path: str) -> str:
        if any(path == o or path.startswith(f"{o}.") for o in self.overridden):
            return path
        best = max((p for p in self.prefixes if path == p or path.startswith(f"{p}.")), key=len, default=None)
        if best is None:
            return path
        return self.prefixes[best] + path[len(best) :]


def _decode_object_text(value: Any) -> Any:
    """JSON text or Java ``{k=v, k2=v2}`` text (SDK sample artefacts) as a mapping; anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    inner = text[1:-1].strip()
    if not inner:
        return {}
    pairs = [part.split("=", 1) for part in inner.split(", ")]
    if all(len(pair) == 2 for pair in pairs):
        return {key.strip(): val for key, val in pairs}
    return value


def _auth_type(auth: Any, grant: Any, problems: list[ValidationProblem]) -> str | None:
    if auth is None and grant is None:
        return None
    auth_text = str(auth or "OAuth2").strip().casefold().replace(" ", "")
    if auth_text in ("basic", ""):
        return ServiceNowAuthType.BASIC.value
    if auth_text not in ("oauth2", "oauth"):
        problems.append(ValidationProblem("attributes.authType", f"{auth!r} is not one of Basic, OAuth2"))
        return None
    grant_text = str(grant or "PASSWORD").strip().casefold().replace("-", "_")
    grants = {
        "password": ServiceNowAuthType.OAUTH2_PASSWORD,
        "refresh_token": ServiceNowAuthType.OAUTH2_REFRESH_TOKEN,
        "client_credentials": ServiceNowAuthType.OAUTH2_CLIENT_CREDENTIALS,
    }
    if grant_text not in grants:
        problems.append(
            ValidationProblem(
                "attributes.grantType", f"{grant!r} is not one of PASSWORD, REFRESH_TOKEN, CLIENT_CREDENTIALS"
            )
        )
        return None
    return grants[grant_text].value


_TICKET_TYPES = {
    "servicerequest": {"type": "catalog"},
    "catalog": {"type": "catalog"},
    "incident": {"type": "table", "table": "incident"},
    "changerequest": {"type": "table", "table": "change_request"},
}


def _first(attributes: Mapping[str, Any], *keys: str) -> tuple[Any, str]:
    for key in keys:
        if attributes.get(key) is not None:
            return attributes[key], key
    return None, keys[0]


def config_from_sailpoint(
    definition: Mapping[str, Any],
    *,
    sdim: bool,
    overrides: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
) -> IntegrationConfig:
    problems: list[ValidationProblem] = []
    if not isinstance(definition, Mapping):
        raise ConfigError(
            "invalid integration definition", [ValidationProblem("", f"expected an object, got {kind_of(definition)}")]
        )
    wire_type = ServiceDeskIntegrationWire if sdim else SimIntegrationWire
    try:
        wire = structure(definition, wire_type, what="an integration definition")
    except DecodeError as error:  # a scalar field of the wrong type
        cause = error.__cause__
        found = structure_problems(cause) if isinstance(cause, (ClassValidationError, IterableValidationError)) else []
        raise ConfigError("invalid integration definition", found or [ValidationProblem("", str(error))]) from error

    raw: dict[str, Any] = {}
    prefixes: dict[str, str] = {}

    def put(our_path: str, value: Any, their_path: str) -> None:
        if value is None:
            return
        *parents, last = our_path.split(".")
        target = raw
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
        prefixes[our_path] = their_path

    accepted = SDIM_TYPES + SIM_TYPES
    if wire.type is not None and wire.type.casefold() not in {t.casefold() for t in accepted}:
        problems.append(
            ValidationProblem("type", f"{wire.type!r} is not a ServiceNow integration ({', '.join(accepted)})")
        )
    put("name", wire.name, "name")
    put("description", wire.description, "description")
    put("sailpoint.integration_id", wire.id, "id")
    put("sailpoint.before_provisioning_rule", _rule_label(wire.before_provisioning_rule), "beforeProvisioningRule")
    cluster_ref = _decode_object_text(wire.cluster_ref)
    cluster = (
        wire.cluster
        if wire.cluster is not None
        else (cluster_ref or {}).get("id")
        if isinstance(cluster_ref, Mapping)
        else None
    )
    put("sailpoint.cluster", cluster, "cluster" if wire.cluster is not None else "clusterRef.id")

    attributes = _decode_object_text(wire.attributes)
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping):
        problems.append(ValidationProblem("attributes", f"expected an object, got {kind_of(attributes)}"))
        attributes = {}
    _translate_attributes(attributes, put, problems)

    status_map = _decode_object_text(wire.status_map if not sdim else attributes.get("statusMap"))
    status_path = "attributes.statusMap" if sdim else "statusMap"
    put("status.map", status_map, status_path)
    request = _decode_object_text(wire.request if not sdim else attributes.get("request"))
    put("request", request, "attributes.request" if sdim else "request")

    _translate_sources(wire, attributes, put, prefixes, problems)

    if problems:
        raise ConfigError("invalid integration definition", problems)
    overridden = _leaf_paths(overrides or {})
    merged = _deep_merge(raw, overrides or {})
    return read_config(merged, environ=environ, translate=_PathTranslator(prefixes, overridden))


def _rule_label(rule: Any) -> str | None:
    rule = _decode_object_text(rule)
    if isinstance(rule, Mapping):
        label = rule.get("name") or rule.get("id")
        return str(label) if label else None
    return rule if isinstance(rule, str) and rule else None


def _translate_attributes(attributes: Mapping[str, Any], put: Any, problems: list[ValidationProblem]) -> None:
    put("servicenow.url", attributes.get("url"), "attributes.url")
    auth, auth_key = _first(attributes, "authType", "authenticationType")
    grant, _ = _first(attributes, "grantType", "oauthGrantType")
    put("servicenow.auth", _auth_type(auth, grant, problems), f"attributes.{auth_key}")
    for ours, theirs in (
        ("username", "username"),
        ("password", "password"),
        ("client_id", "clientId"),
        ("client_secret", "clientSecret"),
        ("refresh_token", "refreshToken"),
        ("token_url", "tokenUrl"),
    ):
        put(f"servicenow.{ours}", attributes.get(theirs), f"attributes.{theirs}")
    ticket_type = attributes.get("ticketType")
    if ticket_type is not None:
        mapped = _TICKET_TYPES.get(str(ticket_type).casefold().replace("_", "").replace(" ", ""))
        if mapped is None:
            problems.append(
                ValidationProblem(
                    "attributes.ticketType", f"{ticket_type!r} is not one of serviceRequest, incident, changeRequest"
                )
            )
        else:
            for key, value in mapped.items():
                put(f"ticket.{key}", value, "attributes.ticketType")


def _translate_sources(
    wire: Any, attributes: Mapping[str, Any], put: Any, prefixes: dict[str, str], problems: list[ValidationProblem]
) -> None:
    entries: dict[str, dict[str, Any]] = {}
    paths: dict[str, str] = {}

    def add(source_id: Any, name: Any, path: str) -> None:
        if not isinstance(source_id, str) or not source_id:
            problems.append(ValidationProblem(path, f"expected a source id, got {kind_of(source_id)}"))
            return
        entry = entries.setdefault(source_id, {})
        if isinstance(name, str) and name:
            entry["name"] = name
        paths.setdefault(source_id, path)

    for field, path in (("sources", "sources"), ("managed_sources", "managedSources")):
        listed = getattr(wire, field, None)
        if listed is None:
            continue
        if not isinstance(listed, (list, tuple)):
            problems.append(ValidationProblem(path, f"expected a list of source ids, got {kind_of(listed)}"))
            continue
        for index, source_id in enumerate(listed):
            add(source_id, None, f"{path}[{index}]")
    config = _decode_object_text(getattr(wire, "provisioning_config", None))
    if isinstance(config, Mapping):
        if config.get("universalManager") is True:
            problems.append(
                ValidationProblem(
                    "provisioningConfig.universalManager", "managing every source is not supported; list the sources"
                )
            )
        refs = config.get("managedResourceRefs")
        if isinstance(refs, (list, tuple)):
            for index, ref in enumerate(refs):
                path = f"provisioningConfig.managedResourceRefs[{index}]"
                if isinstance(ref, Mapping):
                    add(ref.get("id"), ref.get("name"), f"{path}.id")
                else:
                    problems.append(ValidationProblem(path, f"expected a source reference, got {kind_of(ref)}"))
        elif refs is not None:
            problems.append(
                ValidationProblem("provisioningConfig.managedResourceRefs", f"expected a list, got {kind_of(refs)}")
            )
    elif config is not None:
        problems.append(ValidationProblem("provisioningConfig", f"expected an object, got {kind_of(config)}"))

    catalog = _decode_object_text(attributes.get("catalogItem"))
    if isinstance(catalog, Mapping):
        for source_id, item in catalog.items():
            if str(source_id) not in entries:
                continue  # a leftover for a source no longer managed: harmless
            entries[str(source_id)]["catalog_item"] = item
            prefixes[f"sources.{source_id}.catalog_item"] = f"attributes.catalogItem.{source_id}"
    elif catalog is not None:
        problems.append(
            ValidationProblem(
                "attributes.catalogItem", f"expected an object of source id → catalog item, got {kind_of(catalog)}"
            )
        )
    if entries:
        put("sources", entries, "sources")
        for source_id, path in paths.items():
            prefixes[f"sources.{source_id}"] = path


def _leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            paths += _leaf_paths(value, path)
        else:
            paths.append(path)
    return paths


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
