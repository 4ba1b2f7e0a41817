"""Reading what the commands are given: configuration files, SailPoint definitions, provisioning plans."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._errors import ConfigError, DecodeError, ValidationProblem
from ..mapping import IntegrationConfig, ProvisioningPlan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["is_service_desk_integration", "load_config", "load_plans", "read_text"]

#: ``type`` values of current Service Desk Integrations (SDIM) for ServiceNow; others are read as legacy SIM.
_SDIM_TYPES = frozenset({"servicenowsdim", "servicenow"})
#: Keys only a Service Desk Integration definition has.
_SDIM_KEYS = frozenset({"provisioningConfig", "managedSources", "clusterRef", "ownerRef"})


def read_text(path: str | Path, what: str) -> str:
    """The text of a file, or a `ConfigError` naming the file and why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(f"cannot read {what} {path}", [ValidationProblem("", reason)]) from error


def _read_json(path: str | Path, what: str) -> Any:
    text = read_text(path, what)
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{what} {path} is not JSON", [ValidationProblem("", str(error))]) from error


def _read_toml(path: str | Path) -> dict[str, Any]:
    text = read_text(path, "configuration file")
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problem = ValidationProblem("", str(error))
        raise ConfigError(f"configuration file {path} is not valid TOML", [problem]) from error
    return data


def is_service_desk_integration(definition: Mapping[str, Any]) -> bool:
    """Whether a SailPoint definition is a Service Desk Integration (SDIM) rather than a legacy SIM."""
    kind = str(definition.get("type") or "").replace(" ", "").casefold()
    return kind in _SDIM_TYPES or any(key in definition for key in _SDIM_KEYS)


def _from_definition(
    definition: Any, path: str | Path, overrides: Mapping[str, Any] | None, environ: Mapping[str, str] | None
) -> IntegrationConfig:
    if not isinstance(definition, Mapping):
        raise ConfigError(f"{path} is not a SailPoint integration definition", [ValidationProblem("", "not an object")])
    build = (
        IntegrationConfig.from_service_desk_integration
        if is_service_desk_integration(definition)
        else IntegrationConfig.from_sim_integration
    )
    return build(definition, overrides=overrides, environ=environ)


def load_config(
    config: str | Path | None,
    *,
    sim_definition: str | Path | None = None,
    store: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> IntegrationConfig:
    """The integration a command is pointed at.

    Args:
        config: a TOML file in this library's format, or a SailPoint SIM / SDIM definition (JSON, recognised by
            its content). With ``sim_definition``, the TOML file's settings apply on top of the definition.
        sim_definition: a SailPoint definition as ``GET /beta/sim-integrations/{id}`` (or
            ``/v3/service-desk-integrations/{id}``) returns it, run unchanged.
        store: a state-store URL that replaces the configuration's ``store_url``.
        environ: where ``{env = "NAME"}`` secrets are read (``os.environ`` by default).

    Raises:
        ConfigError: a file cannot be read or parsed, or the configuration is invalid (every problem listed).
    """
    if sim_definition is not None:
        overrides = _read_toml(config) if config is not None else None
        definition = _read_json(sim_definition, "SailPoint definition")
        result = _from_definition(definition, sim_definition, overrides, environ)
    elif config is not None:
        text = read_text(config, "configuration file")
        if text.lstrip().startswith("{"):
            result = _from_definition(_read_json(config, "SailPoint definition"), config, None, environ)
        else:
            result = IntegrationConfig.from_toml(text, environ=environ)
    else:
        raise ConfigError("no configuration", [ValidationProblem("--config", "give a configuration file")])
    return attrs.evolve(result, store_url=store) if store is not None else result


def load_plans(path: str | Path, config: IntegrationConfig) -> list[ProvisioningPlan]:
    """The plans in a JSON file: one plan or a list of plans.

    Each is a plan as `ProvisioningPlan.to_json` writes it (SailPoint-style plan JSON is accepted too) or
    an IdentityNow manual work item (``GET /v3/work-items/{id}``); work items name their sources, which are
    matched to the configuration's managed sources by name.

    Raises:
        ConfigError: the file cannot be read, or an entry is not a plan (its position and the problem).
    """
    data = _read_json(path, "plan file")
    entries = data if isinstance(data, list) else [data]
    source_ids = {source.name: source.id for source in config.sources if source.name}
    plans: list[ProvisioningPlan] = []
    problems: list[ValidationProblem] = []
    for index, entry in enumerate(entries):
        where = f"[{index}]" if isinstance(data, list) else ""
        if not isinstance(entry, Mapping):
            problems.append(ValidationProblem(where, "expected a plan (a JSON object)"))
            continue
        try:
            if "approvalItems" in entry or "remediationItems" in entry:
                plans.append(ProvisioningPlan.from_work_item(entry, source_ids=source_ids))
            else:
                plans.append(ProvisioningPlan.from_json(entry))
        except DecodeError as error:
            problems.append(ValidationProblem(where, str(error)))
    if problems:
        raise ConfigError(f"plan file {path} does not hold provisioning plans", problems)
    return plans
