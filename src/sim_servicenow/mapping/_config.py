"""IntegrationConfig: everything one integration needs, from SailPoint definitions or a TOML file."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
from cattrs.errors import ClassValidationError, IterableValidationError

from .._errors import ConfigError, DecodeError, StatusMappingError, TemplateError, ValidationProblem
from ._plan import AccountOperation, AccountRequest, ProvisioningPlan
from ._secret import Secret
from ._status import StatusMap
from ._template import RequestTemplate, TicketType
from ._velocity import RenderLimits, VelocityTemplate
from ._wire import ServiceDeskIntegrationWire, SimIntegrationWire, structure, structure_problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "ExpiryAction",
    "Grouping",
    "IdentityNowSettings",
    "IntegrationConfig",
    "ManagedSource",
    "ServiceNowAuthType",
    "ServiceNowSettings",
    "StatusCheck",
    "TicketFilter",
]

#: The SailPoint ``type`` strings of ServiceNow integrations (legacy SIM and current SDIM).
SIM_TYPES = ("ServiceNow Service Desk",)
SDIM_TYPES = ("ServiceNowSDIM", "ServiceNow")

_SOURCE_ID = re.compile(r"^[^/#\s]+$")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_Enum = TypeVar("_Enum", bound=enum.Enum)
_DEFAULT_SUPPRESSED_FLOWS = ("AttributeSync", "Attribute Synchronization Refresh")


class ServiceNowAuthType(enum.Enum):
    """How the library authenticates to ServiceNow."""

    BASIC = "basic"
    OAUTH2_PASSWORD = "oauth2_password"  # noqa: S105 - a grant name, not a password
    OAUTH2_REFRESH_TOKEN = "oauth2_refresh_token"  # noqa: S105 - a grant name, not a token
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"


class Grouping(enum.Enum):
    """How a plan's account requests are split into tickets.

    ``PLAN``: one ticket for the whole plan (SailPoint's SIM: one REQ per identity; for catalog tickets one
    RITM per source in it). ``SOURCE``: one ticket per source. ``ACCOUNT_REQUEST``: one ticket per account
    request.
    """

    PLAN = "plan"
    SOURCE = "source"
    ACCOUNT_REQUEST = "account_request"


class ExpiryAction(enum.Enum):
    """What happens to a ticket still open after the maximum number of status-check days.

    ``FAIL``: the account requests are reported Failed. ``REPORT``: the ticket is left open and reported as
    overdue once; checking goes on.
    """

    FAIL = "fail"
    REPORT = "report"


@attrs.frozen
class ServiceNowSettings:
    """Where and how to reach ServiceNow.

    Attributes:
        url: the instance URL, e.g. ``https://example.service-now.com``.
        auth: Basic, or an OAuth 2.0 grant against ``oauth_token.do``.
        username: for Basic and the OAuth password grant.
        password: for Basic and the OAuth password grant.
        client_id: for OAuth.
        client_secret: for OAuth.
        refresh_token: for the OAuth refresh-token grant.
        token_url: the token endpoint; ``<url>/oauth_token.do`` when not set.
    """

    url: str
    auth: ServiceNowAuthType = ServiceNowAuthType.BASIC
    username: str | None = None
    password: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    token_url: str | None = None

    @property
    def effective_token_url(self) -> str:
        """:attr:`token_url`, or ServiceNow's default token endpoint of :attr:`url`."""
        return self.token_url or f"{self.url.rstrip('/')}/oauth_token.do"


@attrs.frozen
class IdentityNowSettings:
    """Where and how to reach IdentityNow (OAuth 2.0 client credentials, e.g. a personal access token).

    Attributes:
        url: the API URL, e.g. ``https://acme.api.identitynow.com``.
        client_id: the client id.
        client_secret: the client secret.
        token_url: the token endpoint; ``<url>/oauth/token`` when not set.
    """

    url: str
    client_id: str | None = None
    client_secret: Secret | None = None
    token_url: str | None = None

    @property
    def effective_token_url(self) -> str:
        """:attr:`token_url`, or IdentityNow's token endpoint of :attr:`url`."""
        return self.token_url or f"{self.url.rstrip('/')}/oauth/token"


@attrs.frozen
class ManagedSource:
    """An IdentityNow source whose provisioning becomes tickets.

    Attributes:
        id: the source id (32 hex characters).
        name: the source's name; plans from manual work items name sources without ids, and match on it.
        catalog_item: the ServiceNow catalog item (``sc_cat_item`` sys_id) ordered for it (catalog tickets).
    """

    id: str
    name: str | None = None
    catalog_item: str | None = None


def _operations(value: Iterable[AccountOperation]) -> frozenset[AccountOperation]:
    return frozenset(value)


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _flows(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _flow_key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).casefold()


@attrs.frozen
class TicketFilter:
    """Which provisioning becomes tickets, and attribute-synchronisation noise control.

    Attributes:
        operations: account operations that create tickets; others are left alone.
        ignored_attributes: attribute names whose requests are dropped (e.g. synchronised attributes nobody
            should be asked to type in). A Modify left without attribute requests creates no ticket.
        suppressed_flows: plans whose ``flow``, ``source`` or ``action`` argument names one of these (compared
            ignoring case, spaces and underscores) create no tickets at all. SailPoint advises against ticketing
            attribute synchronisation; which argument IdentityNow uses to mark it is UNCONFIRMED, hence a list.
    """

    operations: frozenset[AccountOperation] = attrs.field(default=frozenset(AccountOperation), converter=_operations)
    ignored_attributes: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    suppressed_flows: tuple[str, ...] = attrs.field(default=_DEFAULT_SUPPRESSED_FLOWS, converter=_flows)

    def suppresses(self, plan: ProvisioningPlan) -> bool:
        """True when the whole plan is suppressed by :attr:`suppressed_flows`."""
        markers = {_flow_key(flow) for flow in self.suppressed_flows}
        return any(
            isinstance(plan.arguments.get(name), str) and _flow_key(plan.arguments[name]) in markers
            for name in ("flow", "source", "action")
        )

    def apply(self, request: AccountRequest) -> AccountRequest | None:
        """``request`` without ignored attributes, or None when it should create no ticket."""
        if request.operation not in self.operations:
            return None
        kept = tuple(a for a in request.attribute_requests if a.name not in self.ignored_attributes)
        if len(kept) == len(request.attribute_requests):
            return request
        if request.operation is AccountOperation.MODIFY and not kept:
            return None
        return attrs.evolve(request, attribute_requests=kept)


@attrs.frozen
class StatusCheck:
    """How often tickets are checked, and for how long (IdentityNow's status-check configuration).

    Attributes:
        interval: time between two checks of one ticket (IdentityNow's default: 30 minutes).
        max_days: days after creation when checking stops and the :class:`ExpiryAction` applies (default 2).
    """

    interval: dt.timedelta = dt.timedelta(minutes=30)
    max_days: int = 2

    @property
    def max_age(self) -> dt.timedelta:
        """:attr:`max_days` as a duration."""
        return dt.timedelta(days=self.max_days)

    @classmethod
    def from_identitynow(cls, details: Mapping[str, Any]) -> StatusCheck:
        """From IdentityNow's ``QueuedCheckConfigDetails`` (values are strings in the API, ints accepted).

        Raises:
            ConfigError: a value is missing, not a whole number, or not positive.
        """
        problems: list[ValidationProblem] = []
        minutes = _positive_int(
            details.get("provisioningStatusCheckIntervalMinutes"), problems, "provisioningStatusCheckIntervalMinutes"
        )
        days = _positive_int(details.get("provisioningMaxStatusCheckDays"), problems, "provisioningMaxStatusCheckDays")
        if problems or minutes is None or days is None:
            raise ConfigError("invalid status-check configuration", problems)
        return cls(dt.timedelta(minutes=minutes), days)


def _positive_int(value: Any, problems: list[ValidationProblem], path: str) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(ValidationProblem(path, f"expected a whole number, got {_kind(value)}"))
        return None
    if value <= 0:
        problems.append(ValidationProblem(path, f"must be positive, got {value}"))
        return None
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"text {value!r}" if len(value) <= 40 else "text"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _sources(value: Iterable[ManagedSource]) -> tuple[ManagedSource, ...]:
    return tuple(value)


def _default_template(config: IntegrationConfig) -> RequestTemplate:
    return RequestTemplate.default(config.ticket_type)


def _default_status_map(config: IntegrationConfig) -> StatusMap:
    if config.ticket_type is TicketType.CATALOG or config.table is None:
        return StatusMap.sc_request()
    return StatusMap.default_for_table(config.table)


def _default_item_status_map(config: IntegrationConfig) -> StatusMap | None:
    return StatusMap.task() if config.ticket_type is TicketType.CATALOG else None


@attrs.frozen
class IntegrationConfig:
    """Everything one integration needs: connections, managed sources, ticket shape, templates, status maps.

    Build it from a SailPoint SIM definition (:meth:`from_sim_integration`), a Service Desk Integration
    definition (:meth:`from_service_desk_integration`), a TOML file (:meth:`from_toml`, :meth:`from_toml_file`)
    or JSON-ready data (:meth:`from_dict`, the inverse of :meth:`to_dict`), or construct it directly.
    Every builder validates the same way and reports every problem at once, each with its path, in a
    :class:`~sim_servicenow.errors.ConfigError`.

    Loading does not require connection settings or secrets (so a definition can be rendered and checked
    offline); :meth:`ensure_ready` checks that everything needed to run is there.

    Attributes:
        name: the integration's name.
        servicenow: how to reach ServiceNow.
        identitynow: how to reach IdentityNow (needed to read work items and report back).
        sources: the managed sources; account requests on other sources are left alone.
        ticket_type: catalog orders or records on a table.
        table: the table for ``TicketType.TABLE`` (``incident``, ``sc_request``, ``change_request``, any table).
        grouping: how account requests are split into tickets.
        correlation_variable: the catalog variable that carries the correlation key in catalog orders.
        request_template: ticket field → Velocity template; defaults to :meth:`RequestTemplate.default`.
        status_map: maps the ticket's status (``sc_request.request_state`` for catalog tickets); defaults by
            ticket type and table.
        item_status_map: maps each RITM's ``state`` for catalog tickets (the task state model by default);
            combined with :attr:`status_map` by :func:`~sim_servicenow.mapping.combine_statuses`.
        filters: which operations and attributes create tickets.
        status_check: check interval and maximum days.
        expiry_action: what to do when the maximum days have passed.
        retry_limit: how many times a ticket whose status maps to Retry is created again before the group fails.
        store_url: where the engine keeps its state (``sqlite:///path``, ``postgresql://...``).
        forward_failed_to: identity id a failed manual work item is forwarded to; None completes it instead.
        integration_id: the SailPoint integration's id, when loaded from one.
        description: the SailPoint integration's description, when loaded from one.
        cluster: the SailPoint integration's VA cluster, kept for reference.
        before_provisioning_rule: the SailPoint integration's Before Provisioning rule (its name or id). It is
            kept for reference but not run: transform plans in Python before submitting them instead.

    Raises:
        ConfigError: the settings contradict each other (e.g. a table ticket without a table).
    """

    name: str = "sim-servicenow"
    servicenow: ServiceNowSettings | None = None
    identitynow: IdentityNowSettings | None = None
    sources: tuple[ManagedSource, ...] = attrs.field(default=(), converter=_sources)
    ticket_type: TicketType = TicketType.CATALOG
    table: str | None = None
    grouping: Grouping = Grouping.SOURCE
    correlation_variable: str = "sim_correlation_id"
    request_template: RequestTemplate = attrs.field(default=attrs.Factory(_default_template, takes_self=True))
    status_map: StatusMap = attrs.field(default=attrs.Factory(_default_status_map, takes_self=True))
    item_status_map: StatusMap | None = attrs.field(default=attrs.Factory(_default_item_status_map, takes_self=True))
    filters: TicketFilter = attrs.field(factory=TicketFilter)
    status_check: StatusCheck = attrs.field(factory=StatusCheck)
    expiry_action: ExpiryAction = ExpiryAction.FAIL
    retry_limit: int = 3
    store_url: str = "sqlite:///sim-servicenow.db"
    forward_failed_to: str | None = None
    integration_id: str | None = None
    description: str | None = None
    cluster: str | None = None
    before_provisioning_rule: str | None = None

    def __attrs_post_init__(self) -> None:
        problems = _consistency_problems(self)
        if problems:
            raise ConfigError("invalid configuration", problems)

    # -- queries ------------------------------------------------------------------------------------------------

    def managed_source(self, request: AccountRequest) -> ManagedSource | None:
        """The managed source ``request`` is for: matched by source id, else by name (ignoring case)."""
        if request.source_id:
            wanted = request.source_id.casefold()
            found = next((s for s in self.sources if s.id.casefold() == wanted), None)
            if found is not None:
                return found
        if request.source_name:
            wanted = request.source_name.casefold()
            return next((s for s in self.sources if s.name and s.name.casefold() == wanted), None)
        return None

    def ready_problems(self) -> tuple[ValidationProblem, ...]:
        """What is missing to run the engine: connections, secrets, managed sources, catalog items."""
        return _readiness_problems(self)

    def ensure_ready(self) -> None:
        """Raise unless everything needed to run is configured.

        Raises:
            ConfigError: every missing piece, each with its path (``servicenow.password: environment variable
                SN_PASSWORD is not set``).
        """
        problems = self.ready_problems()
        if problems:
            raise ConfigError("configuration is not complete enough to run", problems)

    # -- builders -----------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> IntegrationConfig:
        """Build from JSON-ready data in this library's own format (the one TOML files and :meth:`to_dict` use).

        Args:
            data: the settings; see the configuration reference for every key.
            environ: where ``{env = "NAME"}`` secret references are read; ``os.environ`` by default.

        Raises:
            ConfigError: every problem, each with its path (``status.map.closed_complete: ...``).
        """
        return _build(data, environ=environ, translate=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in this library's own format; :meth:`from_dict` reads it back to an equal config.

        Secrets are written as their environment-variable reference (``{"env": "SN_PASSWORD"}``), never as
        values; a secret that was given inline is written as ``{"redacted": true}``.
        """
        return _to_dict(self)

    @classmethod
    def from_toml(cls, text: str, *, environ: Mapping[str, str] | None = None) -> IntegrationConfig:
        """Build from TOML text in this library's own format.

        Raises:
            ConfigError: the text is not TOML, or every problem in it, each with its path.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError("configuration is not valid TOML", [ValidationProblem("", str(error))]) from error
        return cls.from_dict(data, environ=environ)

    @classmethod
    def from_toml_file(cls, path: str | Path, *, environ: Mapping[str, str] | None = None) -> IntegrationConfig:
        """Build from a TOML file; see :meth:`from_toml`.

        Raises:
            ConfigError: the file cannot be read, or its problems.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read configuration file {path}", [ValidationProblem("", str(error))]) from error
        return cls.from_toml(text, environ=environ)

    @classmethod
    def from_sim_integration(
        cls,
        definition: Mapping[str, Any],
        *,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> IntegrationConfig:
        """Build from a legacy SIM definition exactly as IdentityNow returns it (``GET /beta/sim-integrations/{id}``).

        Read: ``type`` ("ServiceNow Service Desk"), ``attributes`` (``url``, ``authType`` Basic|OAuth2,
        ``grantType``, ``username``, ``password``, ``clientId``, ``clientSecret``, ``refreshToken``,
        ``tokenUrl``, ``catalogItem`` source id → catalog item sys_id, ``ticketType``), ``sources``, ``cluster``,
        ``statusMap`` (for ``sc_request.request_state``), ``request`` (the templates) and
        ``beforeProvisioningRule``. Unknown attributes are ignored. ``statusMap``, ``request`` and ``attributes``
        may also arrive as JSON text or Java ``{k=v, ...}`` text, as some SDK samples show them.

        Args:
            definition: the SIM definition (camelCase JSON).
            overrides: settings in this library's own format applied on top, e.g. our own settings SailPoint
                has no place for (``{"ticket": {"grouping": "plan"}, "servicenow": {"password": {"env": ...}}}``).
            environ: where environment-variable secret references are read.

        Raises:
            ConfigError: every problem, with paths in the definition's own terms (``statusMap.closed_complete``).
        """
        return _from_sailpoint(definition, sdim=False, overrides=overrides, environ=environ)

    @classmethod
    def from_service_desk_integration(
        cls,
        definition: Mapping[str, Any],
        *,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> IntegrationConfig:
        """Build from a v3 Service Desk Integration (``ServiceDeskIntegrationDto``, type ``ServiceNowSDIM``).

        Sources come from ``provisioningConfig.managedResourceRefs`` (or the deprecated ``managedSources``);
        the cluster from ``clusterRef``. The ``attributes`` keys SailPoint uses for ServiceNow SDIMs are
        UNCONFIRMED, so the SIM names are accepted (see :meth:`from_sim_integration`), including ``statusMap``
        and ``request`` inside ``attributes``.

        Raises:
            ConfigError: every problem, with paths in the definition's own terms.
        """
        return _from_sailpoint(definition, sdim=True, overrides=overrides, environ=environ)


# ---------------------------------------------------------------------------------------------------------------
# Consistency and readiness
# ---------------------------------------------------------------------------------------------------------------


def _consistency_problems(config: IntegrationConfig) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    if config.ticket_type is TicketType.TABLE:
        if not config.table:
            problems.append(ValidationProblem("ticket.table", "required when ticket.type is 'table'"))
        elif not _TABLE_NAME.match(config.table):
            problems.append(ValidationProblem("ticket.table", f"{config.table!r} is not a ServiceNow table name"))
    if not _VARIABLE_NAME.match(config.correlation_variable):
        problems.append(
            ValidationProblem(
                "ticket.correlation_variable", f"{config.correlation_variable!r} is not a catalog variable name"
            )
        )
    seen: set[str] = set()
    for source in config.sources:
        key = source.id.casefold()
        if not source.id:
            problems.append(ValidationProblem("sources", "a source id must not be empty"))
        elif not _SOURCE_ID.match(source.id):
            # The id becomes part of correlation keys: <plan key>/source-<id>[#attempt].
            problems.append(
                ValidationProblem(f"sources.{source.id}", "a source id must not contain '/', '#' or spaces")
            )
        elif key in seen:
            problems.append(ValidationProblem(f"sources.{source.id}", "listed twice"))
        seen.add(key)
        if source.catalog_item is not None and not _SYS_ID.match(source.catalog_item):
            problems.append(
                ValidationProblem(
                    f"sources.{source.id}.catalog_item",
                    f"{source.catalog_item!r} is not a ServiceNow sys_id (32 lowercase hexadecimal characters)",
                )
            )
    if config.retry_limit < 0:
        problems.append(ValidationProblem("status.retry_limit", f"must not be negative, got {config.retry_limit}"))
    if config.status_check.interval <= dt.timedelta(0):
        problems.append(ValidationProblem("status.check_interval_minutes", "must be positive"))
    if config.status_check.max_days <= 0:
        problems.append(ValidationProblem("status.max_check_days", "must be positive"))
    if "://" not in config.store_url:
        problems.append(ValidationProblem("store_url", f"{config.store_url!r} is not a URL (e.g. sqlite:///state.db)"))
    for path, url in (
        ("servicenow.url", config.servicenow.url if config.servicenow else None),
        ("identitynow.url", config.identitynow.url if config.identitynow else None),
    ):
        if url is not None and not re.match(r"^https?://[^/\s]+", url):
            problems.append(ValidationProblem(path, f"{url!r} is not an http(s) URL"))
    return problems


def _readiness_problems(config: IntegrationConfig) -> tuple[ValidationProblem, ...]:
    problems: list[ValidationProblem] = []
    servicenow = config.servicenow
    if servicenow is None:
        problems.append(ValidationProblem("servicenow.url", "required to run"))
    else:
        needed: dict[str, Any] = {}
        if servicenow.auth in (ServiceNowAuthType.BASIC, ServiceNowAuthType.OAUTH2_PASSWORD):
            needed |= {"username": servicenow.username, "password": servicenow.password}
        if servicenow.auth is not ServiceNowAuthType.BASIC:
            needed |= {"client_id": servicenow.client_id, "client_secret": servicenow.client_secret}
        if servicenow.auth is ServiceNowAuthType.OAUTH2_REFRESH_TOKEN:
            needed["refresh_token"] = servicenow.refresh_token
        problems += _missing("servicenow", needed)
    if config.identitynow is not None:
        problems += _missing(
            "identitynow",
            {"client_id": config.identitynow.client_id, "client_secret": config.identitynow.client_secret},
        )
    if not config.sources:
        problems.append(ValidationProblem("sources", "no managed sources: nothing would become a ticket"))
    if config.ticket_type is TicketType.CATALOG:
        problems += [
            ValidationProblem(f"sources.{source.id}.catalog_item", "required for catalog tickets")
            for source in config.sources
            if not source.catalog_item
        ]
    return tuple(problems)


def _missing(section: str, needed: Mapping[str, Any]) -> list[ValidationProblem]:
    problems = []
    for key, value in needed.items():
        if value is None or value == "":
            problems.append(ValidationProblem(f"{section}.{key}", "required for this authentication type"))
        elif isinstance(value, Secret) and not value.available:
            reason = f"environment variable {value.env} is not set" if value.env else "the value is not available"
            problems.append(ValidationProblem(f"{section}.{key}", reason))
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Our own format: reading
# ---------------------------------------------------------------------------------------------------------------

_TOP_KEYS = {
    "name",
    "description",
    "store_url",
    "forward_failed_to",
    "servicenow",
    "identitynow",
    "ticket",
    "sources",
    "status",
    "request",
    "render",
    "filters",
    "sailpoint",
}


class _Reader:
    """Reads our format, collecting every problem with its path (translated to the source's own terms)."""

    def __init__(self, environ: Mapping[str, str] | None, translate: _PathTranslator | None) -> None:
        self.problems: list[ValidationProblem] = []
        self.environ = environ
        self.translate = translate

    def problem(self, path: str, message: str) -> None:
        where = self.translate(path) if self.translate else path
        self.problems.append(ValidationProblem(where, message))

    def table(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a table, got {_kind(value)}")
            return None
        return value

    def unknown_keys(self, data: Mapping[str, Any], known: Iterable[str], path: str) -> None:
        allowed = set(known)
        for key in data:
            if key not in allowed:
                self.problem(f"{path}.{key}" if path else str(key), "unknown setting")

    def text(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(path, "required")
            return None
        if not isinstance(value, str):
            self.problem(path, f"expected text, got {_kind(value)}")
            return None
        return value

    def boolean(self, data: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {_kind(value)}")
            return None
        return value

    def whole_number(self, data: Mapping[str, Any], key: str, path: str, *, minimum: int) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # IdentityNow writes its numbers as strings
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected a whole number, got {_kind(value)}")
            return None
        if value < minimum:
            self.problem(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)  # IdentityNow writes its numbers as strings
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            self.problem(path, f"expected a positive number, got {_kind(value)}")
            return None
        return float(value)

    def choice(self, data: Mapping[str, Any], key: str, path: str, enum_type: type[_Enum]) -> _Enum | None:
        value = self.text(data, key, path)
        if value is None:
            return None
        wanted = value.strip().casefold().replace("-", "_")
        for member in enum_type:
            if str(member.value).casefold() == wanted:
                return member
        self.problem(path, f"{value!r} is not one of {', '.join(str(m.value) for m in enum_type)}")
        return None

    def secret(self, data: Mapping[str, Any], key: str, path: str) -> Secret | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return Secret(value=value)
        if isinstance(value, Mapping):
            if set(value) == {"env"} and isinstance(value["env"], str) and value["env"]:
                return Secret.from_env(value["env"], self.environ)
            if set(value) == {"redacted"}:
                return Secret(value=None)
        self.problem(path, 'expected {env = "VARIABLE_NAME"} (or the value as text)')
        return None

    def text_list(self, data: Mapping[str, Any], key: str, path: str) -> list[str] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            self.problem(path, f"expected a list of text, got {_kind(value)}")
            return None
        return list(value)


def _build(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None, translate: _PathTranslator | None
) -> IntegrationConfig:
    reader = _Reader(environ, translate)
    if not isinstance(data, Mapping):
        raise ConfigError("invalid configuration", [ValidationProblem("", f"expected a table, got {_kind(data)}")])
    reader.unknown_keys(data, _TOP_KEYS, "")
    settings: dict[str, Any] = {}
    for key in ("name", "description", "store_url", "forward_failed_to"):
        value = reader.text(data, key, key)
        if value is not None:
            settings[key] = value

    servicenow = _read_servicenow(reader, data)
    identitynow = _read_identitynow(reader, data)
    ticket = reader.table(data, "ticket", "ticket") or {}
    reader.unknown_keys(ticket, ("type", "table", "grouping", "correlation_variable"), "ticket")
    ticket_type, table = _read_ticket_type(reader, ticket)
    grouping = reader.choice(ticket, "grouping", "ticket.grouping", Grouping)
    correlation_variable = reader.text(ticket, "correlation_variable", "ticket.correlation_variable")
    sources = _read_sources(reader, data)
    render = reader.table(data, "render", "render") or {}
    strict, limits = _read_render(reader, render)
    request_template = _read_request(reader, data, ticket_type or TicketType.CATALOG, strict, limits)
    status = reader.table(data, "status", "status") or {}
    # A status map is read from the field the ticket's default map reads: request_state for catalog orders.
    status_table = (table or "") if ticket_type is TicketType.TABLE else "sc_request"
    default_field = StatusMap.default_for_table(status_table).field
    status_settings = _read_status(reader, status, default_field)
    filters = _read_filters(reader, data)
    sailpoint = reader.table(data, "sailpoint", "sailpoint") or {}
    reader.unknown_keys(sailpoint, ("integration_id", "cluster", "before_provisioning_rule"), "sailpoint")
    for key in ("integration_id", "cluster", "before_provisioning_rule"):
        value = reader.text(sailpoint, key, f"sailpoint.{key}")
        if value is not None:
            settings[key] = value

    optional = {
        "servicenow": servicenow,
        "identitynow": identitynow,
        "sources": sources,
        "ticket_type": ticket_type,
        "table": table,
        "grouping": grouping,
        "correlation_variable": correlation_variable,
        "request_template": request_template,
        "filters": filters,
    }
    settings |= {key: value for key, value in optional.items() if value is not None}
    settings |= status_settings
    try:
        config = IntegrationConfig(**settings)
    except ConfigError as error:
        # Consistency problems of what could be read, reported with the reading problems (once per path).
        reported = {problem.path for problem in reader.problems}
        for problem in error.problems:
            path = translate(problem.path) if translate else problem.path
            if path not in reported:
                reader.problems.append(ValidationProblem(path, problem.message))
    if reader.problems:
        raise ConfigError("invalid configuration", reader.problems)
    return config


def _read_servicenow(reader: _Reader, data: Mapping[str, Any]) -> ServiceNowSettings | None:
    section = reader.table(data, "servicenow", "servicenow")
    if section is None:
        return None
    keys = ("url", "auth", "username", "password", "client_id", "client_secret", "refresh_token", "token_url")
    reader.unknown_keys(section, keys, "servicenow")
    url = reader.text(section, "url", "servicenow.url", required=True)
    auth = reader.choice(section, "auth", "servicenow.auth", ServiceNowAuthType) or ServiceNowAuthType.BASIC
    username = reader.text(section, "username", "servicenow.username")
    client_id = reader.text(section, "client_id", "servicenow.client_id")
    token_url = reader.text(section, "token_url", "servicenow.token_url")
    password = reader.secret(section, "password", "servicenow.password")
    client_secret = reader.secret(section, "client_secret", "servicenow.client_secret")
    refresh_token = reader.secret(section, "refresh_token", "servicenow.refresh_token")
    if url is None:
        return None
    return ServiceNowSettings(url, auth, username, password, client_id, client_secret, refresh_token, token_url)


def _read_identitynow(reader: _Reader, data: Mapping[str, Any]) -> IdentityNowSettings | None:
    section = reader.table(data, "identitynow", "identitynow")
    if section is None:
        return None
    reader.unknown_keys(section, ("url", "client_id", "client_secret", "token_url"), "identitynow")
    url = reader.text(section, "url", "identitynow.url", required=True)
    client_id = reader.text(section, "client_id", "identitynow.client_id")
    client_secret = reader.secret(section, "client_secret", "identitynow.client_secret")
    token_url = reader.text(section, "token_url", "identitynow.token_url")
    if url is None:
        return None
    return IdentityNowSettings(url, client_id, client_secret, token_url)


def _read_ticket_type(reader: _Reader, ticket: Mapping[str, Any]) -> tuple[TicketType | None, str | None]:
    kind = reader.text(ticket, "type", "ticket.type")
    table = reader.text(ticket, "table", "ticket.table")
    if kind is None:
        return (TicketType.TABLE if table else None), table
    folded = kind.strip().casefold()
    if folded == TicketType.CATALOG.value:
        if table is not None:
            reader.problem("ticket.table", "only used when ticket.type is 'table'")
        return TicketType.CATALOG, None
    if folded == TicketType.TABLE.value:
        return TicketType.TABLE, table
    # Shorthand: a table name as the type ("incident", "sc_request", "u_access_request").
    if table is not None and table != kind:
        reader.problem("ticket.type", f"{kind!r} names a table but ticket.table says {table!r}")
    return TicketType.TABLE, kind.strip()


def _read_sources(reader: _Reader, data: Mapping[str, Any]) -> tuple[ManagedSource, ...] | None:
    section = reader.table(data, "sources", "sources")
    if section is None:
        return None
    sources = []
    for source_id, entry in section.items():
        path = f"sources.{source_id}"
        if entry is None or entry == {}:
            sources.append(ManagedSource(str(source_id)))
            continue
        if not isinstance(entry, Mapping):
            reader.problem(path, f"expected a table, got {_kind(entry)}")
            continue
        reader.unknown_keys(entry, ("name", "catalog_item"), path)
        name = reader.text(entry, "name", f"{path}.name")
        catalog_item = reader.text(entry, "catalog_item", f"{path}.catalog_item")
        sources.append(ManagedSource(str(source_id), name, catalog_item))
    return tuple(sources)


def _read_render(reader: _Reader, render: Mapping[str, Any]) -> tuple[bool, RenderLimits]:
    limit_fields = [f.name for f in attrs.fields(RenderLimits)]
    reader.unknown_keys(render, ["strict", *limit_fields], "render")
    strict = reader.boolean(render, "strict", "render.strict") or False
    limits: dict[str, Any] = {}
    for name in limit_fields:
        path = f"render.{name}"
        value = (
            reader.number(render, name, path)
            if name == "max_seconds"
            else reader.whole_number(render, name, path, minimum=1)
        )
        if value is not None:
            limits[name] = value
    return strict, RenderLimits(**limits)


def _read_request(
    reader: _Reader, data: Mapping[str, Any], ticket_type: TicketType, strict: bool, limits: RenderLimits
) -> RequestTemplate | None:
    section = reader.table(data, "request", "request")
    if section is None:
        if strict or limits != RenderLimits():
            return attrs.evolve(RequestTemplate.default(ticket_type), strict=strict, limits=limits)
        return None
    fields: dict[str, str] = {}
    for field, source in section.items():
        path = f"request.{field}"
        if not isinstance(source, str):
            reader.problem(path, f"expected template text, got {_kind(source)}")
            continue
        try:
            VelocityTemplate(source, field=str(field), limits=limits)
        except TemplateError as error:
            reader.problem(path, _template_problem(error))
            continue
        fields[str(field)] = source
    if len(fields) < len(section):
        return None
    return RequestTemplate(fields, strict=strict, limits=limits)


def _template_problem(error: TemplateError) -> str:
    text = str(error)
    prefix = f"field {error.field!r}, " if error.field is not None else ""
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


def _read_status(reader: _Reader, status: Mapping[str, Any], default_field: str) -> dict[str, Any]:
    known = (
        "field",
        "map",
        "item_map",
        "close_codes",
        "check_interval_minutes",
        "max_check_days",
        "expiry_action",
        "retry_limit",
    )
    reader.unknown_keys(status, known, "status")
    settings: dict[str, Any] = {}
    field = reader.text(status, "field", "status.field")
    entries = reader.table(status, "map", "status.map")
    close_codes = reader.table(status, "close_codes", "status.close_codes")
    if entries is not None:
        status_map = _status_map(reader, entries, "status.map", field or default_field, close_codes or {})
        if status_map is not None:
            settings["status_map"] = status_map
    elif field is not None or close_codes is not None:
        reader.problem("status.map", "required when status.field or status.close_codes is set")
    if "item_map" in status:
        item_map = status["item_map"]
        if item_map is False:
            settings["item_status_map"] = None  # track the REQ only, as old SailPoint app versions did
        elif isinstance(item_map, Mapping):
            parsed = _status_map(reader, item_map, "status.item_map", "state", {})
            if parsed is not None:
                settings["item_status_map"] = parsed
        else:
            reader.problem("status.item_map", f"expected a table or false, got {_kind(item_map)}")
    minutes = reader.number(status, "check_interval_minutes", "status.check_interval_minutes")
    days = reader.whole_number(status, "max_check_days", "status.max_check_days", minimum=1)
    if minutes is not None or days is not None:
        default = StatusCheck()
        settings["status_check"] = StatusCheck(
            dt.timedelta(minutes=minutes) if minutes is not None else default.interval,
            days if days is not None else default.max_days,
        )
    expiry = reader.choice(status, "expiry_action", "status.expiry_action", ExpiryAction)
    if expiry is not None:
        settings["expiry_action"] = expiry
    retry_limit = reader.whole_number(status, "retry_limit", "status.retry_limit", minimum=0)
    if retry_limit is not None:
        settings["retry_limit"] = retry_limit
    return settings


def _status_map(
    reader: _Reader, entries: Mapping[str, Any], path: str, field: str, close_codes: Mapping[str, Any]
) -> StatusMap | None:
    try:
        return StatusMap(entries, field=field, close_codes=close_codes)
    except StatusMappingError as error:
        for problem in error.problems:
            if problem.path.startswith("close_codes."):
                reader.problem(f"status.{problem.path}", problem.message)
            else:
                reader.problem(f"{path}.{problem.path}" if problem.path else path, problem.message)
        return None


def _read_filters(reader: _Reader, data: Mapping[str, Any]) -> TicketFilter | None:
    section = reader.table(data, "filters", "filters")
    if section is None:
        return None
    reader.unknown_keys(section, ("operations", "ignored_attributes", "suppressed_flows"), "filters")
    settings: dict[str, Any] = {}
    operations = reader.text_list(section, "operations", "filters.operations")
    if operations is not None:
        parsed = set()
        for index, text in enumerate(operations):
            try:
                parsed.add(AccountOperation.parse(text))
            except ValueError as error:
                reader.problem(f"filters.operations[{index}]", str(error))
        settings["operations"] = parsed
    ignored = reader.text_list(section, "ignored_attributes", "filters.ignored_attributes")
    if ignored is not None:
        settings["ignored_attributes"] = ignored
    flows = reader.text_list(section, "suppressed_flows", "filters.suppressed_flows")
    if flows is not None:
        settings["suppressed_flows"] = flows
    return TicketFilter(**settings)


# ---------------------------------------------------------------------------------------------------------------
# Our own format: writing
# ---------------------------------------------------------------------------------------------------------------


def _minutes(interval: dt.timedelta) -> int | float:
    minutes = interval / dt.timedelta(minutes=1)
    return int(minutes) if minutes.is_integer() else minutes


def _secret_data(secret: Secret | None) -> Any:
    if secret is None:
        return None
    return {"env": secret.env} if secret.env else {"redacted": True}


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _to_dict(config: IntegrationConfig) -> dict[str, Any]:
    data: dict[str, Any] = _without_none(
        {
            "name": config.name,
            "description": config.description,
            "store_url": config.store_url,
            "forward_failed_to": config.forward_failed_to,
        }
    )
    if config.servicenow is not None:
        sn = config.servicenow
        data["servicenow"] = _without_none(
            {
                "url": sn.url,
                "auth": sn.auth.value,
                "username": sn.username,
                "password": _secret_data(sn.password),
                "client_id": sn.client_id,
                "client_secret": _secret_data(sn.client_secret),
                "refresh_token": _secret_data(sn.refresh_token),
                "token_url": sn.token_url,
            }
        )
    if config.identitynow is not None:
        isc = config.identitynow
        data["identitynow"] = _without_none(
            {
                "url": isc.url,
                "client_id": isc.client_id,
                "client_secret": _secret_data(isc.client_secret),
                "token_url": isc.token_url,
            }
        )
    data["ticket"] = _without_none(
        {
            "type": config.ticket_type.value,
            "table": config.table if config.ticket_type is TicketType.TABLE else None,
            "grouping": config.grouping.value,
            "correlation_variable": config.correlation_variable,
        }
    )
    data["sources"] = {
        source.id: _without_none({"name": source.name, "catalog_item": source.catalog_item})
        for source in config.sources
    }
    template = config.request_template
    data["request"] = dict(template.fields)
    data["render"] = {"strict": template.strict, **attrs.asdict(template.limits)}
    status: dict[str, Any] = {
        "field": config.status_map.field,
        "map": config.status_map.to_mapping(),
        "item_map": config.item_status_map.to_mapping() if config.item_status_map is not None else False,
        "check_interval_minutes": _minutes(config.status_check.interval),
        "max_check_days": config.status_check.max_days,
        "expiry_action": config.expiry_action.value,
        "retry_limit": config.retry_limit,
    }
    if config.status_map.close_codes:
        status["close_codes"] = {key: value.value for key, value in config.status_map.close_codes.items()}
    data["status"] = status
    data["filters"] = {
        "operations": [op.value for op in AccountOperation if op in config.filters.operations],
        "ignored_attributes": sorted(config.filters.ignored_attributes),
        "suppressed_flows": list(config.filters.suppressed_flows),
    }
    sailpoint = _without_none(
        {
            "integration_id": config.integration_id,
            "cluster": config.cluster,
            "before_provisioning_rule": config.before_provisioning_rule,
        }
    )
    if sailpoint:
        data["sailpoint"] = sailpoint
    return data


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


def _from_sailpoint(
    definition: Mapping[str, Any],
    *,
    sdim: bool,
    overrides: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
) -> IntegrationConfig:
    problems: list[ValidationProblem] = []
    if not isinstance(definition, Mapping):
        raise ConfigError(
            "invalid integration definition", [ValidationProblem("", f"expected an object, got {_kind(definition)}")]
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
    put("sailpoint.cluster", cluster, "cluster")

    attributes = _decode_object_text(wire.attributes)
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping):
        problems.append(ValidationProblem("attributes", f"expected an object, got {_kind(attributes)}"))
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
    return _build(merged, environ=environ, translate=_PathTranslator(prefixes, overridden))


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
            problems.append(ValidationProblem(path, f"expected a source id, got {_kind(source_id)}"))
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
            problems.append(ValidationProblem(path, f"expected a list of source ids, got {_kind(listed)}"))
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
                    problems.append(ValidationProblem(path, f"expected a source reference, got {_kind(ref)}"))
        elif refs is not None:
            problems.append(
                ValidationProblem("provisioningConfig.managedResourceRefs", f"expected a list, got {_kind(refs)}")
            )
    elif config is not None:
        problems.append(ValidationProblem("provisioningConfig", f"expected an object, got {_kind(config)}"))

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
                "attributes.catalogItem", f"expected an object of source id → catalog item, got {_kind(catalog)}"
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
