"""``sim-servicenow pull``: an existing SailPoint SIM (or SDIM) definition, as a configuration file."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._errors import ConfigError, NotFoundError, ValidationProblem
from ..auth import OAuth2ClientCredentials
from ..identitynow import (
    IdentityNowClient,
    ServiceDeskIntegration,
    SimIntegration,
    StatusCheckConfiguration,
    make_converter,
)
from ..mapping import IntegrationConfig
from ._exit import ExitCode
from ._output import print_table
from ._toml import dumps

__all__ = ["SECRET_VARIABLES", "configuration_data", "run_pull"]

#: The environment variable each ServiceNow secret of a pulled configuration is read from.
SECRET_VARIABLES: Mapping[str, str] = {
    "password": "SN_PASSWORD",
    "client_secret": "SN_CLIENT_SECRET",
    "refresh_token": "SN_REFRESH_TOKEN",
}


#: Sections of our own format with no SailPoint counterpart.
_OWN_SECTIONS = frozenset({"render", "filters"})


def _fetch(client: IdentityNowClient, integration_id: str, kind: str) -> tuple[str, dict[str, Any]]:
    """``("sim" | "sdim", definition as IdentityNow returns it)``."""
    converter = make_converter()
    if kind in ("auto", "sim"):
        try:
            sim: SimIntegration = client.sim_integrations.get(integration_id)
            return "sim", converter.unstructure(sim)
        except NotFoundError:
            if kind == "sim":
                raise
    sdim: ServiceDeskIntegration = client.service_desk_integrations.get(integration_id)
    return "sdim", converter.unstructure(sdim)


def configuration_data(
    config: IntegrationConfig,
    *,
    tenant: str,
    client_id: str,
    client_secret_env: str,
    status_check: StatusCheckConfiguration | None = None,
) -> dict[str, Any]:
    """``config`` as configuration data with every secret an environment-variable reference.

    The SailPoint definition holds no IdentityNow connection (it lives in the tenant); the one used to pull it is
    added, its secret read from ``client_secret_env``.
    """
    written = config.to_dict()
    defaults = IntegrationConfig().to_dict()
    data: dict[str, Any] = {}
    for key, value in written.items():
        # Our own settings SailPoint has no place for are left out while they are the defaults, so they follow
        # the library's defaults rather than pin today's.
        if key in _OWN_SECTIONS and value == defaults.get(key):
            continue
        data[key] = value
        if key == "servicenow":
            data["identitynow"] = {"url": tenant, "client_id": client_id, "client_secret": {"env": client_secret_env}}
    servicenow = data.get("servicenow", {})
    for key, variable in SECRET_VARIABLES.items():
        if key in servicenow:
            servicenow[key] = {"env": variable}
    data.setdefault("identitynow", {"url": tenant, "client_id": client_id, "client_secret": {"env": client_secret_env}})
    if status_check is not None:
        data.setdefault("status", {}).update(
            check_interval_minutes=status_check.provisioning_status_check_interval_minutes,
            max_check_days=status_check.provisioning_max_status_check_days,
        )
    return data


def _list_integrations(client: IdentityNowClient) -> None:
    """The tenant's ServiceNow integrations, to pick one for ``--integration``."""
    rows = [("SIM", sim.id or "-", sim.type, sim.name, str(len(sim.sources))) for sim in client.sim_integrations.list()]
    rows += [
        ("SDIM", sdim.id or "-", sdim.type, sdim.name, str(len(sdim.managed_source_ids)))
        for sdim in client.service_desk_integrations.iter()
    ]
    print_table(("Kind", "Id", "Type", "Name", "Sources"), rows, wrap=(3,))
    print(f"\n{len(rows)} integration(s); pull one with --integration ID")


def _required_variables(data: Mapping[str, Any]) -> list[str]:
    found = []
    for section in ("servicenow", "identitynow"):
        for value in data.get(section, {}).values():
            if isinstance(value, Mapping) and "env" in value:
                found.append(str(value["env"]))
    return found


def run_pull(args: argparse.Namespace) -> ExitCode:
    """Read the integration from the tenant and write it as TOML."""
    problems = []
    if not args.tenant:
        problems.append(ValidationProblem("--tenant", "give the tenant's API URL (or set SAIL_BASE_URL)"))
    if not args.client_id:
        problems.append(ValidationProblem("--client-id", "give the client id (or set SAIL_CLIENT_ID)"))
    secret = os.environ.get(args.client_secret_env)
    if not secret:
        problems.append(ValidationProblem(args.client_secret_env, "set this environment variable to the client secret"))
    output = Path(args.output) if args.output and args.output != "-" else None
    if output is not None and output.exists() and not args.force:
        problems.append(ValidationProblem("--output", f"{output} exists; pass --force to overwrite it"))
    if problems:
        raise ConfigError("cannot pull", problems)
    assert secret is not None
    verify: bool | str = args.ca_bundle or True
    tenant = args.tenant.rstrip("/")
    auth = OAuth2ClientCredentials.for_identitynow(tenant, args.client_id, secret, verify=verify)
    with IdentityNowClient(tenant, auth, verify=verify) as client:
        if not args.integration:
            _list_integrations(client)
            return ExitCode.OK
        try:
            kind, definition = _fetch(client, args.integration, args.type)
        except NotFoundError as error:
            what = {"sim": "SIM integration", "sdim": "Service Desk integration"}.get(
                args.type, "SIM or Service Desk integration"
            )
            print(
                f"error: {tenant} has no {what} with id {args.integration!r} ({error.method} {error.url} -> 404)",
                file=sys.stderr,
            )
            return ExitCode.FAILED
        status_check = client.service_desk_integrations.status_check_configuration()
    build = (
        IntegrationConfig.from_service_desk_integration if kind == "sdim" else IntegrationConfig.from_sim_integration
    )
    # Secrets the definition holds inline are not written: configuration_data references variables instead.
    config = build(definition)
    data = configuration_data(
        config,
        tenant=tenant,
        client_id=args.client_id,
        client_secret_env=args.client_secret_env,
        status_check=status_check,
    )
    label = "SIM" if kind == "sim" else "Service Desk"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    variables = _required_variables(data)
    header = (
        f"Pulled by sim-servicenow from the {label} integration {config.name!r} ({args.integration})\n"
        f"of {tenant} on {stamp}.\n"
        f"Secrets are read from environment variables: {', '.join(variables)}.\n"
        "Settings: https://sim-servicenow.readthedocs.io/en/latest/configuration/"
    )
    text = dumps(data, header=header)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}: {label} integration {config.name!r}, {len(config.sources)} managed source(s)")
        print(f"next: set {', '.join(variables)}, then `sim-servicenow check --config {output}`")
    return ExitCode.OK
