"""``sim-servicenow check``: is this integration ready to run? Configuration, both services, the state store."""

from __future__ import annotations

import argparse
import enum
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import attrs

from .._errors import ApiError, BadRequestError, ConfigError, NotFoundError, SimServiceNowError, ValidationProblem
from ..engine import PlanState, StoreError, mask_store_url, open_store
from ..engine._auth import identitynow_auth, jira_auth, servicenow_auth
from ..http import RetryPolicy, Timeout
from ..identitynow import IdentityNowClient
from ..mapping import ITEM_PREFIX, REQUEST_PREFIX, IntegrationConfig, StatusCheck, TicketingSystemKind, TicketType
from ..servicenow import ServiceNowClient
from ._exit import ExitCode, exit_code_for
from ._load import load_config
from ._output import rich_console

__all__ = ["Finding", "Verdict", "run_check"]

#: Checks should answer quickly: one retry, short timeouts.
_RETRY = RetryPolicy(max_attempts=2, max_backoff=2.0, deadline=20.0)
_TIMEOUT = Timeout(connect=5.0, read=30.0)


class Verdict(enum.Enum):
    """The verdict of one check."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


class Area(enum.Enum):
    """What a check is about; a failure's area decides the exit code."""

    CONFIGURATION = "configuration"
    SERVICENOW = "ServiceNow"
    JIRA = "Jira"
    IDENTITYNOW = "IdentityNow"
    STORE = "state store"


@attrs.frozen
class Finding:
    """One line of the report.

    Attributes:
        verdict: pass, warn, fail or skip.
        area: what was checked.
        message: what was found, in one line.
        unreachable: the service could not be reached or refused the credentials.
    """

    verdict: Verdict
    area: Area
    message: str
    unreachable: bool = False


_STYLES = {Verdict.PASS: "green", Verdict.WARN: "yellow", Verdict.FAIL: "bold red", Verdict.SKIP: "dim"}


class _Report:
    """Prints findings as they come, then the verdict."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.console = rich_console(stream)
        self.findings: list[Finding] = []

    def add(self, verdict: Verdict, area: Area, message: str, *, unreachable: bool = False) -> None:
        finding = Finding(verdict, area, message, unreachable)
        self.findings.append(finding)
        if self.console is None:
            print(f"{verdict.value}  {area.value:<13}  {message}", file=self.stream, flush=True)
        else:
            from rich.text import Text

            line = Text.assemble((f"{verdict.value}", _STYLES[verdict]), f"  {area.value:<13}  ", message)
            self.console.print(line)

    def problems(self, area: Area, problems: Iterable[ValidationProblem]) -> None:
        for problem in problems:
            self.add(Verdict.FAIL, area, str(problem))

    def error(self, area: Area, doing: str, error: SimServiceNowError) -> None:
        unreachable = exit_code_for(error) is ExitCode.UNREACHABLE
        self.add(Verdict.FAIL, area, f"{doing}: {_reason(error)}", unreachable=unreachable)

    def failed(self, area: Area) -> bool:
        return any(f.verdict is Verdict.FAIL and f.area is area for f in self.findings)

    def exit_code(self) -> ExitCode:
        failures = [f for f in self.findings if f.verdict is Verdict.FAIL]
        if any(f.area is Area.CONFIGURATION for f in failures):
            return ExitCode.USAGE
        if any(f.unreachable for f in failures):
            return ExitCode.UNREACHABLE
        return ExitCode.FAILED if failures else ExitCode.OK

    def summary(self) -> str:
        failures = sum(f.verdict is Verdict.FAIL for f in self.findings)
        warnings = sum(f.verdict is Verdict.WARN for f in self.findings)
        counts = f"{_plural(failures, 'failure')}, {_plural(warnings, 'warning')}"
        return f"{'ready to run' if not failures else 'NOT ready to run'} ({counts})"


def _reason(error: SimServiceNowError) -> str:
    """What went wrong, short: the request's URL is in the finding's context already."""
    if isinstance(error, ApiError):
        return f"{error.status} {error.message or type(error).__name__}" + (
            f" ({error.detail})" if error.detail else ""
        )
    return str(error)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _describe(config: IntegrationConfig) -> str:
    sources = _plural(len(config.sources), "managed source")
    if config.ticketing is TicketingSystemKind.JIRA:
        kind = "Jira Service Management requests"
    elif config.ticket_type is TicketType.CATALOG:
        kind = "ServiceNow catalog orders"
    else:
        kind = f"ServiceNow {config.table} records"
    status = config.status_check
    every = _schedule(status.interval.total_seconds() / 60, status.max_days)
    return f"{config.name!r}: {sources}; tickets are {kind}, one per {config.grouping.value}, checked {every}"


def _schedule(minutes: float, days: int) -> str:
    return f"every {minutes:g} min for up to {_plural(days, 'day')}"


def run_check(args: argparse.Namespace, stream: IO[str] | None = None) -> ExitCode:
    """Check the configuration, both services and the state store; print a report."""
    report = _Report(stream or sys.stdout)
    source = args.sim_definition or args.config
    print(f"Checking {source}", file=report.stream, flush=True)
    try:
        config = load_config(args.config, sim_definition=args.sim_definition, store=args.store)
    except ConfigError as error:
        summary = str(error).partition(": ")[0] if error.problems else str(error)
        report.add(Verdict.FAIL, Area.CONFIGURATION, f"{source}: {summary}")
        report.problems(Area.CONFIGURATION, error.problems)
        print(f"Result: {report.summary()}", file=report.stream)
        return report.exit_code()
    report.add(Verdict.PASS, Area.CONFIGURATION, _describe(config))
    problems = list(config.ready_problems())
    if config.identitynow is None:
        problems.append(ValidationProblem("identitynow.url", "required to run (work items are read from it)"))
    report.problems(Area.CONFIGURATION, problems)
    incomplete = {problem.path.partition(".")[0] for problem in problems}
    verify: bool | str = args.ca_bundle or True

    if config.ticketing is TicketingSystemKind.JIRA:
        if config.jira is None or "jira" in incomplete:
            report.add(Verdict.SKIP, Area.JIRA, "not checked: its settings are incomplete")
        else:
            _check_jira(report, config, verify)
    elif config.servicenow is None or "servicenow" in incomplete:
        report.add(Verdict.SKIP, Area.SERVICENOW, "not checked: its settings are incomplete")
    else:
        _check_servicenow(report, config, verify)
    if config.identitynow is None or "identitynow" in incomplete:
        report.add(Verdict.SKIP, Area.IDENTITYNOW, "not checked: its settings are incomplete")
    else:
        _check_identitynow(report, config, verify)
    _check_store(report, config.store_url)
    print(f"Result: {report.summary()}", file=report.stream)
    return report.exit_code()


# ---------------------------------------------------------------------------------------------------- ServiceNow


def _check_servicenow(report: _Report, config: IntegrationConfig, verify: bool | str) -> None:
    settings = config.servicenow
    assert settings is not None
    area = Area.SERVICENOW
    table = config.table if config.ticket_type is TicketType.TABLE and config.table else "sc_request"
    who = f"as {settings.username}" if settings.username else f"as OAuth client {settings.client_id}"
    try:
        client = ServiceNowClient(
            settings.url, servicenow_auth(settings, verify=verify), verify=verify, retry=_RETRY, timeout=_TIMEOUT
        )
    except ConfigError as error:
        report.error(area, "cannot connect", error)
        return
    with client:
        try:
            client.table(table).first(fields=["sys_id"])
        except SimServiceNowError as error:
            report.error(area, f"sign-in {who} and read of {table}", error)
            return
        signed_in = f"signed in to {client.instance_url} {who} ({settings.auth.value}); {table} readable"
        report.add(Verdict.PASS, area, signed_in)
        if config.ticket_type is TicketType.CATALOG:
            _check_catalog_items(report, config, client)


def _ticket_variables(config: IntegrationConfig) -> set[str]:
    """Template keys that become catalog variables of the ordered item (neither ``req_`` nor ``ritm_``)."""
    return {field for field in config.request_template.fields if not field.startswith((REQUEST_PREFIX, ITEM_PREFIX))}


def _check_catalog_items(report: _Report, config: IntegrationConfig, client: ServiceNowClient) -> None:
    area = Area.SERVICENOW
    wanted = _ticket_variables(config)
    for source in config.sources:
        if not source.catalog_item:
            continue
        label = source.name or source.id
        try:
            item = client.catalog.get_item(source.catalog_item)
        except (BadRequestError, NotFoundError) as error:
            # The catalog answers 400 for an item that does not exist or the user may not see.
            report.add(
                Verdict.FAIL,
                area,
                f"catalog item {source.catalog_item} for source {label} does not exist or cannot be seen "
                f"({error.status})",
            )
            continue
        except SimServiceNowError as error:
            report.error(area, f"catalog item for source {label}", error)
            continue
        report.add(Verdict.PASS, area, f"catalog item {item.name!r} ({item.sys_id}) for source {label}")
        names = {variable.name for variable in item.all_variables()}
        if config.correlation_variable not in names:
            report.add(
                Verdict.WARN,
                area,
                f"catalog item {item.name!r} has no variable {config.correlation_variable!r}: an order interrupted "
                "before its request got its correlation id cannot be found again (add the variable)",
            )
        missing = sorted(wanted - names)
        if missing:
            report.add(
                Verdict.WARN,
                area,
                f"catalog item {item.name!r} has no variable(s) {', '.join(missing)}: ServiceNow drops those "
                "template fields",
            )


# ---------------------------------------------------------------------------------------------------- Jira


def _check_jira(report: _Report, config: IntegrationConfig, verify: bool | str) -> None:
    from ..adapters import JiraServiceManagementTicketing

    settings = config.jira
    assert settings is not None
    area = Area.JIRA
    try:
        ticketing = JiraServiceManagementTicketing.from_config(
            config, jira_auth(settings), verify=verify, retry=_RETRY, timeout=_TIMEOUT
        )
    except ConfigError as error:
        report.error(area, "cannot connect", error)
        return
    with ticketing:
        try:
            ticketing.check()
        except ConfigError as error:
            # The settings are well formed but do not match the site: the check fails, the file is not wrong.
            for problem in error.problems:
                report.add(Verdict.FAIL, area, f"jira.{problem}")
            return
        except SimServiceNowError as error:
            report.error(area, f"sign-in to {ticketing.base_url}", error)
            return
    report.add(
        Verdict.PASS,
        area,
        f"signed in to {ticketing.base_url}; service desk {settings.service_desk_id}, request type "
        f"{settings.request_type_id} and its fields are there",
    )


# ---------------------------------------------------------------------------------------------------- IdentityNow


def _check_identitynow(report: _Report, config: IntegrationConfig, verify: bool | str) -> None:
    settings = config.identitynow
    assert settings is not None
    area = Area.IDENTITYNOW
    try:
        client = IdentityNowClient(
            settings.url, identitynow_auth(settings, verify=verify), verify=verify, retry=_RETRY, timeout=_TIMEOUT
        )
    except ConfigError as error:
        report.error(area, "cannot connect", error)
        return
    with client:
        who = f"as client {settings.client_id}"
        try:
            tenant = client.service_desk_integrations.status_check_configuration()
        except SimServiceNowError as error:
            report.error(area, f"sign-in {who} and read of the status-check configuration", error)
            return
        report.add(Verdict.PASS, area, f"signed in to {client.base_url.rstrip('/')} {who}")
        minutes = tenant.check_interval.total_seconds() / 60
        _compare_status_check(report, config.status_check, minutes, tenant.provisioning_max_status_check_days)
        for source in config.sources:
            try:
                found = client.sources.get(source.id)
            except NotFoundError:
                report.add(Verdict.FAIL, area, f"source {source.id} ({source.name or 'no name'}) does not exist")
                continue
            except SimServiceNowError as error:
                report.error(area, f"read of source {source.id}", error)
                continue
            report.add(Verdict.PASS, area, f"managed source {found.name!r} ({found.id}) exists")


def _compare_status_check(report: _Report, ours: StatusCheck, tenant_minutes: float, tenant_days: int) -> None:
    theirs = _schedule(tenant_minutes, tenant_days)
    mine = _schedule(ours.interval.total_seconds() / 60, ours.max_days)
    if (ours.interval.total_seconds() / 60, ours.max_days) == (tenant_minutes, tenant_days):
        report.add(Verdict.PASS, Area.IDENTITYNOW, f"status-check configuration: {theirs}, as configured")
    else:
        report.add(
            Verdict.WARN,
            Area.IDENTITYNOW,
            f"status-check configuration: the tenant says {theirs}; this configuration says {mine}, "
            "which the engine follows (set status.check_interval_minutes / status.max_check_days to match)",
        )


# ---------------------------------------------------------------------------------------------------- store


def _check_store(report: _Report, url: str) -> None:
    area = Area.STORE
    shown = mask_store_url(url)
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        report.add(Verdict.WARN, area, f"{shown}: plans are forgotten when the process ends (use sqlite:///PATH)")
        return
    if scheme == "sqlite":
        path = Path(unquote(urlsplit(url).path)[1:])
        if not path.exists():
            directory = path.absolute().parent
            if directory.is_dir() and os.access(directory, os.W_OK):
                report.add(Verdict.PASS, area, f"{path} does not exist yet; it will be created")
            else:
                report.add(Verdict.FAIL, area, f"{path} cannot be created: {directory} is not a writable directory")
            return
    try:
        store = open_store(url)
    except (StoreError, ConfigError) as error:
        report.add(Verdict.FAIL, area, f"{shown}: {error}")
        return
    try:
        counts = store.counts()
    except StoreError as error:
        report.add(Verdict.FAIL, area, f"{shown}: {error}")
        return
    finally:
        store.close()
    active = counts.total_plans - counts.plans[PlanState.DONE]
    report.add(Verdict.PASS, area, f"{shown}: {counts.total_plans} plan(s), {active} not yet done")
