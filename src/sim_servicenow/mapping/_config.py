"""IntegrationConfig: everything one integration needs, from SailPoint definitions or a TOML file."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .._errors import ConfigError, ValidationProblem
from ._plan import AccountOperation, AccountRequest, ProvisioningPlan
from ._secret import Secret
from ._status import StatusMap
from ._template import ITEM_PREFIX, REQUEST_PREFIX, RequestTemplate, TicketType

__all__ = [
    "ExpiryAction",
    "Grouping",
    "IdentityNowSettings",
    "IntegrationConfig",
    "JiraAuthType",
    "JiraCorrelationField",
    "JiraDeployment",
    "JiraSettings",
    "ManagedSource",
    "ServiceNowAuthType",
    "ServiceNowSettings",
    "StatusCheck",
    "TicketFilter",
    "TicketingSystemKind",
]

_SOURCE_ID = re.compile(r"^[^/#\s]+$")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_SUPPRESSED_FLOWS = ("AttributeSync", "Attribute Synchronization Refresh")
#: The longest status-check interval and tracking time accepted (ten years): longer ones overflow dates.
MAX_CHECK_DAYS = 3650
_HTTP_URL = re.compile(r"^https?://[^/\s]+")
#: Status fields the Jira adapter can read: the status category's key, or the status's name.
_JIRA_STATUS_FIELDS = ("statusCategory", "status")


class TicketingSystemKind(enum.Enum):
    """Which ticketing system an integration raises its tickets in.

    ``SERVICENOW``: catalog orders or table records (the ``[servicenow]`` settings). ``JIRA``: Jira Service
    Management customer requests (the ``[jira]`` settings). The values are the systems' names in
    `system`.
    """

    SERVICENOW = "servicenow"
    JIRA = "jira"


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
        """`token_url`, or ServiceNow's default token endpoint of `url`."""
        return self.token_url or f"{self.url.rstrip('/')}/oauth_token.do"


class JiraDeployment(enum.Enum):
    """Which kind of Jira site: ``CLOUD`` (``*.atlassian.net``) or ``DATA_CENTER`` (self-managed)."""

    CLOUD = "cloud"
    DATA_CENTER = "data_center"


class JiraAuthType(enum.Enum):
    """How the library authenticates to Jira.

    ``BASIC``: a user and a secret on every request: on Cloud the account's e-mail address and an API token, on
    Data Center the user name and password. ``BEARER``: a Data Center personal access token (Jira Cloud accepts
    bearer tokens only from OAuth apps, on another host).
    """

    BASIC = "basic"
    BEARER = "bearer"


class JiraCorrelationField(enum.Enum):
    """Where a Jira create request carries the correlation key.

    ``DESCRIPTION``: a marker line at the end of the description (any request type with a description).
    ``LABELS``: a label (the request type must offer the Labels field).
    """

    DESCRIPTION = "description"
    LABELS = "labels"


def _field_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


@attrs.frozen
class JiraSettings:
    """Where and how to reach Jira Service Management, and where requests are raised.

    The options of `JiraServiceManagementTicketing`, as configuration.

    Attributes:
        url: the site, e.g. ``https://acme.atlassian.net`` or ``https://jira.example.com``.
        service_desk_id: the service desk requests are raised in (``serviceDeskId``).
        request_type_id: the request type they are raised with (``requestTypeId``).
        deployment: Cloud or Data Center (they search differently).
        auth: Basic or bearer; see `JiraAuthType`.
        username: for Basic: the account's e-mail address on Cloud, the user name on Data Center.
        api_token: for Basic on Cloud: the account's API token.
        password: for Basic on Data Center: the user's password.
        personal_access_token: for bearer on Data Center.
        correlation_field: where the create request carries the correlation key.
        correlation_label_prefix: the start of every correlation label.
        field_map: template key → Jira field id; other template keys are Jira field ids themselves.
        public_comments: the engine's notes (an overdue ticket) as public comments instead of internal ones.
        batch_size: the most keys one status search names.
        page_size: ``maxResults`` of each search page.
    """

    url: str
    service_desk_id: str
    request_type_id: str
    deployment: JiraDeployment = JiraDeployment.CLOUD
    auth: JiraAuthType = JiraAuthType.BASIC
    username: str | None = None
    api_token: Secret | None = None
    password: Secret | None = None
    personal_access_token: Secret | None = None
    correlation_field: JiraCorrelationField = JiraCorrelationField.DESCRIPTION
    correlation_label_prefix: str = "sim-corr-"
    field_map: Mapping[str, str] = attrs.field(
        factory=lambda: {"short_description": "summary"}, converter=_field_map, hash=False
    )
    public_comments: bool = False
    batch_size: int = 50
    page_size: int = 100


def jira_option_problems(
    *,
    service_desk_id: Any,
    request_type_id: Any,
    deployment: Any,
    correlation_field: Any,
    correlation_label_prefix: Any,
    batch_size: Any,
    page_size: Any,
) -> list[ValidationProblem]:
    """Problems of the Jira adapter's options, each with the option's name as its path.

    One set of rules for `JiraSettings` and the adapter's constructor.
    """
    problems = []
    for name, value in (("service_desk_id", service_desk_id), ("request_type_id", request_type_id)):
        if not str(value or "").strip():
            problems.append(ValidationProblem(name, "must not be empty"))
    if deployment not in {d.value for d in JiraDeployment}:
        problems.append(ValidationProblem("deployment", f"expected 'cloud' or 'data_center', got {deployment!r}"))
    if correlation_field not in {f.value for f in JiraCorrelationField}:
        problems.append(
            ValidationProblem("correlation_field", f"expected 'description' or 'labels', got {correlation_field!r}")
        )
    prefix = correlation_label_prefix
    # Labels have no spaces and at most 255 characters; the rest of the label encodes the key.
    if not isinstance(prefix, str) or not prefix or any(ch.isspace() for ch in prefix) or len(prefix) > 100:
        problems.append(ValidationProblem("correlation_label_prefix", "must be 1-100 characters without spaces"))
    for name, value in (("batch_size", batch_size), ("page_size", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(ValidationProblem(name, f"must be an integer >= 1, got {value!r}"))
    return problems


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
        """`token_url`, or IdentityNow's token endpoint of `url`."""
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
        """True when the whole plan is suppressed by `suppressed_flows`."""
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
        max_days: days after creation when checking stops and the `ExpiryAction` applies (default 2).
    """

    interval: dt.timedelta = dt.timedelta(minutes=30)
    max_days: int = 2

    @property
    def max_age(self) -> dt.timedelta:
        """`max_days` as a duration."""
        return dt.timedelta(days=self.max_days)

    @classmethod
    def from_identitynow(cls, details: Mapping[str, Any]) -> StatusCheck:
        """From IdentityNow's ``QueuedCheckConfigDetails`` (values are strings in the API, ints accepted).

        Raises:
            ConfigError: a value is missing, not a whole number, or not positive.
        """
        problems: list[ValidationProblem] = []
        minutes = _positive_int(
            details.get("provisioningStatusCheckIntervalMinutes"),
            problems,
            "provisioningStatusCheckIntervalMinutes",
            maximum=MAX_CHECK_DAYS * 1440,
        )
        days = _positive_int(
            details.get("provisioningMaxStatusCheckDays"),
            problems,
            "provisioningMaxStatusCheckDays",
            maximum=MAX_CHECK_DAYS,
        )
        if problems or minutes is None or days is None:
            raise ConfigError("invalid status-check configuration", problems)
        return cls(dt.timedelta(minutes=minutes), days)


def _positive_int(value: Any, problems: list[ValidationProblem], path: str, *, maximum: int) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(ValidationProblem(path, f"expected a whole number, got {kind_of(value)}"))
        return None
    if value <= 0:
        problems.append(ValidationProblem(path, f"must be positive, got {value}"))
        return None
    if value > maximum:
        problems.append(ValidationProblem(path, f"must be at most {maximum}, got {value}"))
        return None
    return value


def kind_of(value: Any) -> str:
    """A value described for a problem message; short text is quoted (never call it on a secret)."""
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


def _default_ticket_type(config: IntegrationConfig) -> TicketType:
    # A Jira request is one record with fields: the table shape, rendered by the same templates.
    return TicketType.TABLE if config.ticketing is TicketingSystemKind.JIRA else TicketType.CATALOG


def _default_template(config: IntegrationConfig) -> RequestTemplate:
    if config.ticketing is TicketingSystemKind.JIRA:
        return RequestTemplate.default(TicketType.TABLE)
    return RequestTemplate.default(config.ticket_type)


def _default_status_map(config: IntegrationConfig) -> StatusMap:
    if config.ticketing is TicketingSystemKind.JIRA:
        return StatusMap.jira()
    if config.ticket_type is TicketType.CATALOG or config.table is None:
        return StatusMap.sc_request()
    return StatusMap.default_for_table(config.table)


def _default_item_status_map(config: IntegrationConfig) -> StatusMap | None:
    if config.ticketing is TicketingSystemKind.JIRA:
        return None
    return StatusMap.task() if config.ticket_type is TicketType.CATALOG else None


_URL_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")


def _masked_url(url: str) -> str:
    """``url`` for a repr: a password in it (``postgresql://user:secret@host/db``) masked."""
    return repr(_URL_PASSWORD.sub(r"\1***@", url))


@attrs.frozen
class IntegrationConfig:
    """Everything one integration needs: connections, managed sources, ticket shape, templates, status maps.

    Tickets are raised in ServiceNow (the default) or, with ``ticketing=TicketingSystemKind.JIRA``, in Jira
    Service Management: then `jira` says where, tickets have the table shape (un-prefixed template keys;
    ``short_description`` becomes Jira's ``summary``), and the status maps default to `StatusMap.jira`.

    Build it from a SailPoint SIM definition (`from_sim_integration`), a Service Desk Integration
    definition (`from_service_desk_integration`), a TOML file (`from_toml`, `from_toml_file`)
    or JSON-ready data (`from_dict`, the inverse of `to_dict`), or construct it directly.
    Every builder validates the same way and reports every problem at once, each with its path, in a
    `ConfigError`.

    Loading does not require connection settings or secrets (so a definition can be rendered and checked
    offline); `ensure_ready` checks that everything needed to run is there.

    Attributes:
        name: the integration's name.
        servicenow: how to reach ServiceNow (used when `ticketing` is ServiceNow).
        identitynow: how to reach IdentityNow (needed to read work items and report back).
        jira: how to reach Jira Service Management (used when `ticketing` is Jira). Keyword only.
        sources: the managed sources; account requests on other sources are left alone.
        ticketing: the system tickets are raised in; ServiceNow by default. Keyword only.
        ticket_type: catalog orders or records on a table (ServiceNow); always ``TABLE`` for Jira.
        table: the table for ``TicketType.TABLE`` (``incident``, ``sc_request``, ``change_request``, any table);
            not used for Jira.
        grouping: how account requests are split into tickets.
        correlation_variable: the catalog variable that carries the correlation key in catalog orders.
        request_template: ticket field → Velocity template; defaults to `RequestTemplate.default`.
        status_map: maps the ticket's status (``sc_request.request_state`` for catalog tickets, the status
            category for Jira); defaults by ticketing system, ticket type and table.
        item_status_map: maps each RITM's ``state`` for catalog tickets (the task state model by default);
            combined with `status_map` by `combine_statuses`. None for Jira.
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
    # Keyword only, so positional construction stays as it was; defined here because the defaults below depend
    # on the ticketing system (attrs assigns fields in definition order).
    jira: JiraSettings | None = attrs.field(default=None, kw_only=True)
    sources: tuple[ManagedSource, ...] = attrs.field(default=(), converter=_sources)
    ticketing: TicketingSystemKind = attrs.field(default=TicketingSystemKind.SERVICENOW, kw_only=True)
    ticket_type: TicketType = attrs.field(default=attrs.Factory(_default_ticket_type, takes_self=True))
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
    store_url: str = attrs.field(default="sqlite:///sim-servicenow.db", repr=_masked_url)
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
        """The managed source ``request`` is for: matched by source id when the request has one, else by name
        (ignoring case), as for plans from manual work items."""
        if request.source_id:
            wanted = request.source_id.casefold()
            return next((s for s in self.sources if s.id.casefold() == wanted), None)
        if request.source_name:
            wanted = request.source_name.casefold()
            return next((s for s in self.sources if s.name and s.name.casefold() == wanted), None)
        return None

    def ready_problems(self) -> tuple[ValidationProblem, ...]:
        """What is missing to run the engine: the selected ticketing system's connection and secrets, IdentityNow's
        secrets, managed sources, catalog items (ServiceNow catalog tickets)."""
        return _readiness_problems(self)

    def ensure_ready(self) -> None:
        """Raise unless everything needed to run is configured.

        Raises:
            ConfigError: every missing piece, each with its path (``servicenow.password: environment variable
                SN_PASSWORD is not set``, ``jira.api_token: required for this authentication type``).
        """
        problems = self.ready_problems()
        if problems:
            raise ConfigError("configuration is not complete enough to run", problems)

    # -- builders -----------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> IntegrationConfig:
        """Build from JSON-ready data in this library's own format (the one TOML files and `to_dict` use).

        Args:
            data: the settings; see the configuration reference for every key.
            environ: where ``{env = "NAME"}`` secret references are read; ``os.environ`` by default.

        Raises:
            ConfigError: every problem, each with its path (``status.map.closed_complete: ...``).
        """
        from ._config_file import read_config

        return read_config(data, environ=environ)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in this library's own format; `from_dict` reads it back to an equal config.

        Secrets are written as their environment-variable reference (``{"env": "SN_PASSWORD"}``), never as
        values; a secret that was given inline is written as ``{"redacted": true}``.
        """
        from ._config_file import write_config

        return write_config(self)

    @classmethod
    def from_toml(cls, text: str, *, environ: Mapping[str, str] | None = None) -> IntegrationConfig:
        """Build from TOML text in this library's own format.

        Raises:
            ConfigError: the text is not TOML, or every problem in it, each with its path.
        """
        from ._config_file import parse_toml

        return cls.from_dict(parse_toml(text), environ=environ)

    @classmethod
    def from_toml_file(cls, path: str | Path, *, environ: Mapping[str, str] | None = None) -> IntegrationConfig:
        """Build from a TOML file; see `from_toml`.

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
        from ._config_sailpoint import config_from_sailpoint

        return config_from_sailpoint(definition, sdim=False, overrides=overrides, environ=environ)

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
        UNCONFIRMED, so the SIM names are accepted (see `from_sim_integration`), including ``statusMap``
        and ``request`` inside ``attributes``.

        Raises:
            ConfigError: every problem, with paths in the definition's own terms.
        """
        from ._config_sailpoint import config_from_sailpoint

        return config_from_sailpoint(definition, sdim=True, overrides=overrides, environ=environ)


# ---------------------------------------------------------------------------------------------------------------
# Consistency and readiness
# ---------------------------------------------------------------------------------------------------------------


def _consistency_problems(config: IntegrationConfig) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    if config.ticketing is TicketingSystemKind.JIRA:
        problems += _jira_problems(config)
    elif config.ticket_type is TicketType.TABLE:
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
    if config.status_check.max_days > MAX_CHECK_DAYS:
        problems.append(
            ValidationProblem(
                "status.max_check_days", f"must be at most {MAX_CHECK_DAYS}, got {config.status_check.max_days}"
            )
        )
    if config.status_check.interval > dt.timedelta(days=MAX_CHECK_DAYS):
        problems.append(ValidationProblem("status.check_interval_minutes", f"must be at most {MAX_CHECK_DAYS} days"))
    if "://" not in config.store_url:
        problems.append(ValidationProblem("store_url", f"{config.store_url!r} is not a URL (e.g. sqlite:///state.db)"))
    for path, url in (
        ("servicenow.url", config.servicenow.url if config.servicenow else None),
        ("identitynow.url", config.identitynow.url if config.identitynow else None),
        ("jira.url", config.jira.url if config.jira else None),
    ):
        if url is not None and not _HTTP_URL.match(url):
            problems.append(ValidationProblem(path, f"{url!r} is not an http(s) URL"))
    if config.jira is not None:
        problems += _jira_settings_problems(config.jira)
    return problems


_SERVICENOW_ONLY = "only used when ticketing is 'servicenow'"


def _jira_problems(config: IntegrationConfig) -> list[ValidationProblem]:
    """What contradicts Jira as the ticketing system: ServiceNow's ticket shapes and status fields."""
    problems = []
    if config.ticket_type is not TicketType.TABLE:
        problems.append(ValidationProblem("ticket.type", _SERVICENOW_ONLY))
    if config.table is not None:
        problems.append(ValidationProblem("ticket.table", _SERVICENOW_ONLY))
    if config.item_status_map is not None:
        problems.append(ValidationProblem("status.item_map", _SERVICENOW_ONLY))
    if config.status_map.field not in _JIRA_STATUS_FIELDS:
        problems.append(
            ValidationProblem(
                "status.field",
                f"Jira statuses are read from 'statusCategory' or 'status', not {config.status_map.field!r}",
            )
        )
    # A req_/ritm_ key fills a ServiceNow REQ or RITM; for Jira it would be dropped without a word.
    problems += [
        ValidationProblem(f"request.{field}", "req_ and ritm_ keys fill ServiceNow records; Jira takes plain keys")
        for field in config.request_template.fields
        if _routed_to_servicenow_record(field)
    ]
    return problems


def _routed_to_servicenow_record(field: str) -> bool:
    return any(field.startswith(prefix) and len(field) > len(prefix) for prefix in (REQUEST_PREFIX, ITEM_PREFIX))


def _jira_settings_problems(jira: JiraSettings) -> list[ValidationProblem]:
    problems = [
        ValidationProblem(f"jira.{problem.path}", problem.message)
        for problem in jira_option_problems(
            service_desk_id=jira.service_desk_id,
            request_type_id=jira.request_type_id,
            deployment=jira.deployment.value,
            correlation_field=jira.correlation_field.value,
            correlation_label_prefix=jira.correlation_label_prefix,
            batch_size=jira.batch_size,
            page_size=jira.page_size,
        )
    ]
    if jira.auth is JiraAuthType.BEARER and jira.deployment is JiraDeployment.CLOUD:
        problems.append(
            ValidationProblem(
                "jira.auth", "Jira Cloud takes an e-mail address and API token (basic), not a bearer token"
            )
        )
    return problems


def _readiness_problems(config: IntegrationConfig) -> tuple[ValidationProblem, ...]:
    problems: list[ValidationProblem] = []
    if config.ticketing is TicketingSystemKind.JIRA:
        problems += _jira_readiness_problems(config.jira)
    else:
        problems += _servicenow_readiness_problems(config.servicenow)
    if config.identitynow is not None:
        problems += _missing(
            "identitynow",
            {"client_id": config.identitynow.client_id, "client_secret": config.identitynow.client_secret},
        )
    if not config.sources:
        problems.append(ValidationProblem("sources", "no managed sources: nothing would become a ticket"))
    if config.ticketing is TicketingSystemKind.SERVICENOW and config.ticket_type is TicketType.CATALOG:
        problems += [
            ValidationProblem(f"sources.{source.id}.catalog_item", "required for catalog tickets")
            for source in config.sources
            if not source.catalog_item
        ]
    return tuple(problems)


def _servicenow_readiness_problems(servicenow: ServiceNowSettings | None) -> list[ValidationProblem]:
    if servicenow is None:
        return [ValidationProblem("servicenow.url", "required to run")]
    needed: dict[str, Any] = {}
    if servicenow.auth in (ServiceNowAuthType.BASIC, ServiceNowAuthType.OAUTH2_PASSWORD):
        needed |= {"username": servicenow.username, "password": servicenow.password}
    if servicenow.auth is not ServiceNowAuthType.BASIC:
        needed |= {"client_id": servicenow.client_id, "client_secret": servicenow.client_secret}
    if servicenow.auth is ServiceNowAuthType.OAUTH2_REFRESH_TOKEN:
        needed["refresh_token"] = servicenow.refresh_token
    return _missing("servicenow", needed)


def _jira_readiness_problems(jira: JiraSettings | None) -> list[ValidationProblem]:
    if jira is None:
        return [ValidationProblem("jira.url", "required to run")]
    needed: dict[str, Any]
    if jira.auth is JiraAuthType.BEARER:
        needed = {"personal_access_token": jira.personal_access_token}
    elif jira.deployment is JiraDeployment.CLOUD:
        needed = {"username": jira.username, "api_token": jira.api_token}
    else:
        needed = {"username": jira.username, "password": jira.password}
    return _missing("jira", needed)


def _missing(section: str, needed: Mapping[str, Any]) -> list[ValidationProblem]:
    problems = []
    for key, value in needed.items():
        if value is None or value == "":
            problems.append(ValidationProblem(f"{section}.{key}", "required for this authentication type"))
        elif isinstance(value, Secret) and not value.available:
            reason = f"environment variable {value.env} is not set" if value.env else "the value is not available"
            problems.append(ValidationProblem(f"{section}.{key}", reason))
    return problems
