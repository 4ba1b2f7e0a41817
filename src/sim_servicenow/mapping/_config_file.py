"""This library's own configuration format (TOML files, JSON data): reading with every problem, and writing."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from .._errors import ConfigError, StatusMappingError, TemplateError, ValidationProblem
from ._config import (
    MAX_CHECK_DAYS,
    ExpiryAction,
    Grouping,
    IdentityNowSettings,
    IntegrationConfig,
    JiraAuthType,
    JiraCorrelationField,
    JiraDeployment,
    JiraSettings,
    ManagedSource,
    ServiceNowAuthType,
    ServiceNowSettings,
    StatusCheck,
    TicketFilter,
    TicketingSystemKind,
    kind_of,
)
from ._plan import AccountOperation
from ._secret import Secret
from ._status import StatusMap
from ._template import RequestTemplate, TicketType
from ._velocity import RenderLimits, VelocityTemplate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["PathTranslator", "parse_toml", "read_config", "write_config"]

_Enum = TypeVar("_Enum", bound=enum.Enum)

#: Maps a path of this format to the path the user wrote (a SailPoint definition's, for instance).
PathTranslator = Callable[[str], str]


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as data.

    Raises:
        ConfigError: the text is not TOML.
    """
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("configuration is not valid TOML", [ValidationProblem("", str(error))]) from error
    return data


# ---------------------------------------------------------------------------------------------------------------
# Our own format: reading
# ---------------------------------------------------------------------------------------------------------------

_TOP_KEYS = {
    "name",
    "description",
    "store_url",
    "forward_failed_to",
    "ticketing",
    "servicenow",
    "jira",
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

    def __init__(self, environ: Mapping[str, str] | None, translate: PathTranslator | None) -> None:
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
            self.problem(path, f"expected a table, got {kind_of(value)}")
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
            self.problem(path, f"expected text, got {kind_of(value)}")
            return None
        return value

    def identifier(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        """An id that is text or a whole number (``service_desk_id = 4`` and ``"4"`` are the same)."""
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        text = self.text(data, key, path, required=required)
        if text is not None and not text.strip():
            self.problem(path, "must not be empty")
            return None
        return text

    def text_table(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, str] | None:
        table = self.table(data, key, path)
        if table is None:
            return None
        values: dict[str, str] = {}
        for name, value in table.items():
            if isinstance(value, str):
                values[str(name)] = value
            else:
                self.problem(f"{path}.{name}", f"expected text, got {kind_of(value)}")
        return values

    def boolean(self, data: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {kind_of(value)}")
            return None
        return value

    def whole_number(self, data: Mapping[str, Any], key: str, path: str, *, minimum: int) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # IdentityNow writes its numbers as strings
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected a whole number, got {kind_of(value)}")
            return None
        if value < minimum:
            self.problem(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str, *, maximum: float = math.inf) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)  # IdentityNow writes its numbers as strings
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            self.problem(path, f"expected a positive number, got {kind_of(value)}")
            return None
        if value > maximum:
            self.problem(path, f"must be at most {maximum:g}, got {value:g}")
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
            self.problem(path, f"expected a list of text, got {kind_of(value)}")
            return None
        return list(value)


def read_config(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None, translate: PathTranslator | None = None
) -> IntegrationConfig:
    """Build a configuration from data in this format; every problem is reported at once.

    Args:
        data: the settings.
        environ: where ``{env = "NAME"}`` secret references are read; ``os.environ`` by default.
        translate: maps this format's paths to the paths the user wrote, for problem messages.

    Raises:
        ConfigError: every problem, each with its path.
    """
    reader = _Reader(environ, translate)
    if not isinstance(data, Mapping):
        raise ConfigError("invalid configuration", [ValidationProblem("", f"expected a table, got {kind_of(data)}")])
    reader.unknown_keys(data, _TOP_KEYS, "")
    settings: dict[str, Any] = {}
    for key in ("name", "description", "store_url", "forward_failed_to"):
        value = reader.text(data, key, key)
        if value is not None:
            settings[key] = value

    ticketing = reader.choice(data, "ticketing", "ticketing", TicketingSystemKind)
    jira_selected = ticketing is TicketingSystemKind.JIRA
    servicenow = _read_servicenow(reader, data)
    jira = _read_jira(reader, data)
    identitynow = _read_identitynow(reader, data)
    ticket = reader.table(data, "ticket", "ticket") or {}
    reader.unknown_keys(ticket, ("type", "table", "grouping", "correlation_variable"), "ticket")
    ticket_type, table = _read_ticket_type(reader, ticket)
    grouping = reader.choice(ticket, "grouping", "ticket.grouping", Grouping)
    correlation_variable = reader.text(ticket, "correlation_variable", "ticket.correlation_variable")
    sources = _read_sources(reader, data)
    render = reader.table(data, "render", "render") or {}
    strict, limits = _read_render(reader, render)
    # Jira requests have the table shape whatever [ticket] says (a contradiction is reported once, below).
    template_shape = TicketType.TABLE if jira_selected else ticket_type or TicketType.CATALOG
    request_template = _read_request(reader, data, template_shape, strict, limits)
    status = reader.table(data, "status", "status") or {}
    # A status map is read from the field the ticket's default map reads: request_state for catalog orders.
    if jira_selected:
        default_field = StatusMap.jira().field
    else:
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
        "ticketing": ticketing,
        "servicenow": servicenow,
        "jira": jira,
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


_JIRA_KEYS = (
    "url",
    "service_desk_id",
    "request_type_id",
    "deployment",
    "auth",
    "username",
    "api_token",
    "password",
    "personal_access_token",
    "correlation_field",
    "correlation_label_prefix",
    "field_map",
    "public_comments",
    "batch_size",
    "page_size",
)


def _read_jira(reader: _Reader, data: Mapping[str, Any]) -> JiraSettings | None:
    section = reader.table(data, "jira", "jira")
    if section is None:
        return None
    reader.unknown_keys(section, _JIRA_KEYS, "jira")
    url = reader.text(section, "url", "jira.url", required=True)
    service_desk_id = reader.identifier(section, "service_desk_id", "jira.service_desk_id", required=True)
    request_type_id = reader.identifier(section, "request_type_id", "jira.request_type_id", required=True)
    options: dict[str, Any] = {
        "deployment": reader.choice(section, "deployment", "jira.deployment", JiraDeployment),
        "auth": reader.choice(section, "auth", "jira.auth", JiraAuthType),
        "username": reader.text(section, "username", "jira.username"),
        "api_token": reader.secret(section, "api_token", "jira.api_token"),
        "password": reader.secret(section, "password", "jira.password"),
        "personal_access_token": reader.secret(section, "personal_access_token", "jira.personal_access_token"),
        "correlation_field": reader.choice(
            section, "correlation_field", "jira.correlation_field", JiraCorrelationField
        ),
        "correlation_label_prefix": reader.text(section, "correlation_label_prefix", "jira.correlation_label_prefix"),
        "field_map": reader.text_table(section, "field_map", "jira.field_map"),
        "public_comments": reader.boolean(section, "public_comments", "jira.public_comments"),
        "batch_size": reader.whole_number(section, "batch_size", "jira.batch_size", minimum=1),
        "page_size": reader.whole_number(section, "page_size", "jira.page_size", minimum=1),
    }
    if url is None or service_desk_id is None or request_type_id is None:
        return None
    given = {key: value for key, value in options.items() if value is not None}
    return JiraSettings(url, service_desk_id, request_type_id, **given)


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
            reader.problem(path, f"expected a table, got {kind_of(entry)}")
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
            reader.problem(path, f"expected template text, got {kind_of(source)}")
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
            reader.problem("status.item_map", f"expected a table or false, got {kind_of(item_map)}")
    minutes = reader.number(
        status, "check_interval_minutes", "status.check_interval_minutes", maximum=MAX_CHECK_DAYS * 1440
    )
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


_DEFAULT_CORRELATION_VARIABLE = attrs.fields(IntegrationConfig).correlation_variable.default


def _jira_data(jira: JiraSettings) -> dict[str, Any]:
    return _without_none(
        {
            "url": jira.url,
            "service_desk_id": jira.service_desk_id,
            "request_type_id": jira.request_type_id,
            "deployment": jira.deployment.value,
            "auth": jira.auth.value,
            "username": jira.username,
            "api_token": _secret_data(jira.api_token),
            "password": _secret_data(jira.password),
            "personal_access_token": _secret_data(jira.personal_access_token),
            "correlation_field": jira.correlation_field.value,
            "correlation_label_prefix": jira.correlation_label_prefix,
            "field_map": dict(jira.field_map),
            "public_comments": jira.public_comments,
            "batch_size": jira.batch_size,
            "page_size": jira.page_size,
        }
    )


def write_config(config: IntegrationConfig) -> dict[str, Any]:
    jira_selected = config.ticketing is TicketingSystemKind.JIRA
    data: dict[str, Any] = _without_none(
        {
            "name": config.name,
            "description": config.description,
            "store_url": config.store_url,
            "forward_failed_to": config.forward_failed_to,
            "ticketing": config.ticketing.value,
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
    if config.jira is not None:
        data["jira"] = _jira_data(config.jira)
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
    # A Jira ticket has one shape; ServiceNow's ticket settings are written only when they say something.
    data["ticket"] = _without_none(
        {
            "type": None if jira_selected else config.ticket_type.value,
            "table": config.table if config.ticket_type is TicketType.TABLE else None,
            "grouping": config.grouping.value,
            "correlation_variable": (
                None
                if jira_selected and config.correlation_variable == _DEFAULT_CORRELATION_VARIABLE
                else config.correlation_variable
            ),
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
        "check_interval_minutes": _minutes(config.status_check.interval),
        "max_check_days": config.status_check.max_days,
        "expiry_action": config.expiry_action.value,
        "retry_limit": config.retry_limit,
    }
    if not jira_selected:
        status["item_map"] = config.item_status_map.to_mapping() if config.item_status_map is not None else False
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
