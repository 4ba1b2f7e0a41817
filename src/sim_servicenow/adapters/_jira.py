"""Jira Service Management as the engine's ticketing system: customer requests, JQL status reads, comments."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import requests

from .._errors import ApiError, BadRequestError, ConfigError, DecodeError, TransportError, ValidationProblem
from ..engine._ports import TicketRef, TicketStatus
from ..http import HttpCore, RetryPolicy, Timeout
from ..mapping import (
    CatalogTicketPayload,
    IntegrationConfig,
    JiraCorrelationField,
    JiraDeployment,
    StatusMap,
    TableTicketPayload,
    TicketPayload,
)
from ..mapping._config import jira_option_problems

__all__ = ["JiraServiceManagementTicketing", "jira_status_map"]

logger = logging.getLogger("sim_servicenow.adapters.jira")

SYSTEM = "jira"

Deployment = Literal["cloud", "data_center"]
CorrelationField = Literal["description", "labels"]

#: Rendered template keys that are not request fields but members of the create request itself.
_REQUEST_MEMBERS = frozenset({"raiseOnBehalfOf"})
#: Jira's longest label.
_MAX_LABEL = 255
_MISSING_KEY = re.compile(r"An issue with key '([^']+)' does not exist|The issue key '([^']+)' for field")
_SAFE_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
_DEPLOYMENTS: Mapping[JiraDeployment, Deployment] = {
    JiraDeployment.CLOUD: "cloud",
    JiraDeployment.DATA_CENTER: "data_center",
}
_CORRELATION_FIELDS: Mapping[JiraCorrelationField, CorrelationField] = {
    JiraCorrelationField.DESCRIPTION: "description",
    JiraCorrelationField.LABELS: "labels",
}


def jira_status_map() -> StatusMap:
    """The default status map, `jira` (kept as an alias)."""
    return StatusMap.jira()


def _quote(value: str) -> str:
    """A JQL string literal: double quotes, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraServiceManagementTicketing:
    """The `TicketingSystem` for Jira Service Management (Cloud or Data Center).

    * **create** raises a customer request (``POST /rest/servicedeskapi/request``) in one service desk with one
      request type; its field values are the rendered request template (``short_description`` is Jira's
      ``summary``; other keys are Jira field ids; a ``raiseOnBehalfOf`` key names the customer). The correlation
      key travels **in that same request** - as a marker line at the end of the description (default) or as a
      label - so a create whose answer was lost is found again instead of repeated. Afterwards the key's label
      is added too (labels are what agents filter on); if that fails the ticket still counts.
    * **find** runs one JQL search for the label or the description marker, and checks the hit.
    * **statuses** reads many tickets with one JQL search per batch (``key in (...)``, paged); a deleted ticket
      is left out. The status map looks up the status category (or the status name) and, for final statuses,
      the resolution (see `jira`).
    * **comment** adds an internal comment (or a public one, with ``public_comments``).

    Authenticate with `BasicAuth` (Cloud: e-mail and API token; Data Center: user
    name and password) or `BearerToken` (a Data Center personal access token).

    Args:
        base_url: the site, e.g. ``https://acme.atlassian.net`` or ``https://jira.example.com``.
        auth: the auth object.
        service_desk_id: the service desk requests are raised in (``serviceDeskId``).
        request_type_id: the request type they are raised with (``requestTypeId``); it must offer ``summary``,
            ``description`` (or ``labels``, see ``correlation_field``) and every field the template fills.
        deployment: ``"cloud"`` searches with ``/rest/api/2/search/jql`` (Cloud removed ``/rest/api/2/search``);
            ``"data_center"`` with ``/rest/api/2/search``.
        session: a `requests.Session` to use (the caller keeps ownership); a new one otherwise.
        timeout: connect and read timeouts.
        retry: the retry policy (``POST`` creating a request is never retried: its answer may have been lost).
        verify: TLS verification: ``True`` or the path of a CA bundle.
        cert: a client certificate for mutual TLS: a path, or ``(cert, key)`` paths.
        allow_insecure_http: permit ``http://`` to hosts other than loopback.
        status_map: maps each ticket's status; default `jira`. Its
            ``field`` is ``statusCategory`` (category keys ``new``/``indeterminate``/``done``) or ``status``
            (status names); its ``close_codes`` are resolution names, consulted for final statuses.
        correlation_field: where the create request carries the correlation key: ``"description"`` appends
            a marker line to the description (works with any request type offering a description);
            ``"labels"`` sets the label in the request (the request type must offer the Labels field).
        correlation_label_prefix: the start of every correlation label.
        field_map: template key → Jira field id; default ``{"short_description": "summary"}``.
        public_comments: add `comment` notes as public comments (customers see them) instead of internal.
        batch_size: the most keys one status search names.
        page_size: ``maxResults`` of each search page (the site may return fewer).
    """

    system = SYSTEM

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase | None,
        *,
        service_desk_id: str,
        request_type_id: str,
        deployment: Deployment = "cloud",
        session: requests.Session | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        allow_insecure_http: bool = False,
        status_map: StatusMap | None = None,
        correlation_field: CorrelationField = "description",
        correlation_label_prefix: str = "sim-corr-",
        field_map: Mapping[str, str] | None = None,
        public_comments: bool = False,
        batch_size: int = 50,
        page_size: int = 100,
    ) -> None:
        problems = jira_option_problems(
            service_desk_id=service_desk_id,
            request_type_id=request_type_id,
            deployment=deployment,
            correlation_field=correlation_field,
            correlation_label_prefix=correlation_label_prefix,
            batch_size=batch_size,
            page_size=page_size,
        )
        status_map = status_map or StatusMap.jira()
        if status_map.field not in ("statusCategory", "status"):
            problems.append(
                ValidationProblem(
                    "status_map.field", f"expected 'statusCategory' or 'status', got {status_map.field!r}"
                )
            )
        if problems:
            raise ConfigError("invalid Jira ticketing options", problems)
        self._http = HttpCore(
            base_url,
            auth=auth,
            session=session,
            timeout=timeout or Timeout(),
            retry=retry or RetryPolicy(),
            verify=verify,
            cert=cert,
            allow_insecure_http=allow_insecure_http,
            logger_name="sim_servicenow.jira",
        )
        self._auth_name = type(auth).__name__ if auth is not None else None
        self.service_desk_id = str(service_desk_id)
        self.request_type_id = str(request_type_id)
        self.deployment: Deployment = deployment
        self.status_map = status_map
        self.correlation_field: CorrelationField = correlation_field
        self.correlation_label_prefix = correlation_label_prefix
        self.field_map = dict({"short_description": "summary"} if field_map is None else field_map)
        self.public_comments = public_comments
        self.batch_size = batch_size
        self.page_size = page_size

    @classmethod
    def from_config(
        cls, config: IntegrationConfig, auth: requests.auth.AuthBase | None, **options: Any
    ) -> JiraServiceManagementTicketing:
        """The adapter an `IntegrationConfig` describes: its
        `jira` settings and its status map.

        Args:
            config: the configuration; its ``jira`` settings must be present.
            auth: the auth object (``sim_servicenow.engine`` builds it from the settings: ``jira_auth``).
            **options: the connection options: ``session``, ``timeout``, ``retry``, ``verify``, ``cert``,
                ``allow_insecure_http``.

        Raises:
            ConfigError: the configuration has no Jira settings, or they are invalid.
        """
        settings = config.jira
        if settings is None:
            raise ConfigError("no Jira settings", [ValidationProblem("jira.url", "required to run")])
        return cls(
            settings.url,
            auth,
            service_desk_id=settings.service_desk_id,
            request_type_id=settings.request_type_id,
            deployment=_DEPLOYMENTS[settings.deployment],
            status_map=config.status_map,
            correlation_field=_CORRELATION_FIELDS[settings.correlation_field],
            correlation_label_prefix=settings.correlation_label_prefix,
            field_map=settings.field_map,
            public_comments=settings.public_comments,
            batch_size=settings.batch_size,
            page_size=settings.page_size,
            **options,
        )

    @property
    def base_url(self) -> str:
        """The site's base URL."""
        return self._http.base_url.rstrip("/")

    @property
    def http(self) -> HttpCore:
        """The HTTP core every request goes through (its `stats` count requests and retries)."""
        return self._http

    def __repr__(self) -> str:
        return (
            f"JiraServiceManagementTicketing({self.base_url!r}, service_desk_id={self.service_desk_id!r}, "
            f"request_type_id={self.request_type_id!r}, deployment={self.deployment!r}, auth={self._auth_name})"
        )

    def close(self) -> None:
        """Close the session if this object created it."""
        self._http.close()

    def __enter__(self) -> JiraServiceManagementTicketing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------- keys

    def label_for(self, correlation_key: str) -> str:
        """The label that carries ``correlation_key``: the prefix, then the key with every character other than
        ``a-z 0-9 - .`` written as ``_xx`` (UTF-8 hex), so distinct keys get distinct labels whatever Jira's
        case rules; a key too long for a label (255 characters) gets ``h_`` and a SHA-256 digest instead."""
        encoded = "".join(
            char if char in _SAFE_LABEL_CHARS else "".join(f"_{byte:02x}" for byte in char.encode())
            for char in correlation_key
        )
        label = self.correlation_label_prefix + encoded
        if len(label) > _MAX_LABEL:
            label = self.correlation_label_prefix + "h_" + hashlib.sha256(correlation_key.encode()).hexdigest()
        return label

    @staticmethod
    def marker_for(correlation_key: str) -> str:
        """The description line that carries ``correlation_key``: the key for people, and a token derived from
        it for machines - one word of letters and digits, which Jira's text search matches exactly and which no
        rich-text conversion alters."""
        return f"sim-servicenow correlation key: {correlation_key} ({_token(correlation_key)})"

    # ---------------------------------------------------------------------------------------------- create

    def create(self, payload: TicketPayload, correlation_key: str) -> TicketRef:
        """Raise a customer request for ``payload``, with the correlation key in the same request."""
        fields, members = self._request_fields(payload)
        label = self.label_for(correlation_key)
        if self.correlation_field == "labels":
            fields["labels"] = [*_as_list(fields.get("labels")), label]
        else:
            description = str(fields.get("description") or "").rstrip()
            marker = self.marker_for(correlation_key)
            fields["description"] = f"{description}\n\n{marker}" if description else marker
        body = {
            "serviceDeskId": self.service_desk_id,
            "requestTypeId": self.request_type_id,
            "requestFieldValues": fields,
            **members,
        }
        # Not idempotent: a lost answer may hide a created request, which find() then looks up.
        created = self._json("POST", "rest/servicedeskapi/request", json_body=body, idempotent=False)
        issue_id, key = str(created.get("issueId") or ""), str(created.get("issueKey") or "")
        if not issue_id or not key:
            raise DecodeError(
                f"POST {self.base_url}/rest/servicedeskapi/request: the answer has no issueId/issueKey",
                method="POST",
                url=f"{self.base_url}/rest/servicedeskapi/request",
            )
        links = _mapping(created.get("_links"))
        ref = TicketRef(
            SYSTEM,
            self.request_type_id,
            issue_id,
            key,
            url=str(links.get("agent") or links.get("web") or f"{self.base_url}/browse/{key}"),
        )
        if self.correlation_field != "labels":
            self._add_label(ref, label)
        return ref

    def _request_fields(self, payload: TicketPayload) -> tuple[dict[str, Any], dict[str, Any]]:
        """Jira field values and create-request members from the rendered template."""
        if isinstance(payload, TableTicketPayload):
            rendered: dict[str, Any] = dict(payload.fields)
        elif isinstance(payload, CatalogTicketPayload):
            # A catalog-shaped configuration: the request-level (``req_*``) texts describe the whole group;
            # an item's own fields fill what they leave out.
            rendered = {}
            for item in payload.items:
                rendered.update({k: v for k, v in item.item_fields.items() if k not in rendered})
            rendered.update(payload.request_fields)
        else:  # pragma: no cover - the port admits only the two payload kinds
            raise TypeError(f"unsupported payload {type(payload).__name__}")
        fields: dict[str, Any] = {}
        members: dict[str, Any] = {}
        for key, value in rendered.items():
            if key in _REQUEST_MEMBERS:
                if str(value).strip():
                    members[key] = str(value).strip()
                continue
            fields[self.field_map.get(key, key)] = value
        return fields, members

    def _add_label(self, ref: TicketRef, label: str) -> None:
        """Add the correlation label after creation; the ticket exists either way, so a failure is only logged."""
        try:
            self._http.request(
                "PUT",
                f"rest/api/2/issue/{ref.id}",
                json_body={"update": {"labels": [{"add": label}]}},
                idempotent=True,
            )
        except (ApiError, TransportError) as exc:
            logger.warning("created %s but could not add its correlation label: %s", ref.number, exc)

    # ---------------------------------------------------------------------------------------------- find

    def find(self, correlation_key: str) -> TicketRef | None:
        """The request carrying ``correlation_key`` (by its label or its description marker), or ``None``.

        On Jira Cloud the search index lags behind writes by a few seconds: a request created moments ago
        may not be found yet. The engine looks keys up only after an interruption, later than that.
        """
        label = self.label_for(correlation_key)
        token = _token(correlation_key)
        jql = f"labels = {_quote(label)} OR description ~ {_quote(token)} ORDER BY created ASC"
        for issue in self._search(jql, ["labels", "description"]):
            fields = issue.get("fields") or {}
            labels = fields.get("labels") or []
            description = fields.get("description")
            # Text search matches loosely; only an exact label or the exact token counts.
            carries = label in labels or (isinstance(description, str) and token in description)
            if carries:
                key = str(issue.get("key") or "")
                return TicketRef(
                    SYSTEM, self.request_type_id, str(issue["id"]), key, url=f"{self.base_url}/browse/{key}"
                )
        return None

    # ---------------------------------------------------------------------------------------------- statuses

    def statuses(self, refs: Sequence[TicketRef]) -> Mapping[str, TicketStatus]:
        """Statuses of ``refs``, one JQL search per `batch_size` tickets; deleted tickets are absent."""
        result: dict[str, TicketStatus] = {}
        wanted = [ref for ref in refs if ref.number]
        for start in range(0, len(wanted), self.batch_size):
            batch = wanted[start : start + self.batch_size]
            by_id = {ref.id: ref for ref in batch}
            for issue in self._search_keys([ref.number for ref in batch]):
                ref = by_id.get(str(issue.get("id")))
                if ref is not None:
                    result[ref.id] = self._status(ref, issue.get("fields") or {})
        return result

    def _search_keys(self, keys: list[str]) -> Iterator[dict[str, Any]]:
        """Issues with these keys. Keys Jira no longer knows are dropped, and the search is run again."""
        remaining = list(dict.fromkeys(keys))
        while remaining:
            jql = f"key in ({', '.join(_quote(k) for k in remaining)}) ORDER BY key"
            try:
                found = list(self._search(jql, ["status", "resolution"]))
            except BadRequestError as exc:
                missing = _missing_keys(exc.body) & set(remaining)
                if not missing:
                    raise
                logger.info("tickets no longer in Jira (deleted or moved out of reach): %s", sorted(missing))
                remaining = [k for k in remaining if k not in missing]
                continue
            yield from found
            return

    def _status(self, ref: TicketRef, fields: Mapping[str, Any]) -> TicketStatus:
        status = _mapping(fields.get("status"))
        name = str(status.get("name") or "")
        category_key = str(_mapping(status.get("statusCategory")).get("key") or "")
        resolution = str(_mapping(fields.get("resolution")).get("name") or "")
        value = category_key if self.status_map.field == "statusCategory" else name
        looked_up = self.status_map.lookup(value, close_code=resolution or None)
        values: dict[str, Any] = {"status": name, "statusCategory": category_key, "resolution": resolution or None}
        detail = f"{ref.number} status={name} ({category_key})" + (f", resolution={resolution}" if resolution else "")
        return TicketStatus(looked_up.status, values, looked_up.unknown_values, detail)

    # ---------------------------------------------------------------------------------------------- comment

    def comment(self, ref: TicketRef, text: str) -> None:
        """Add a comment to the request: internal (agents only) unless ``public_comments``."""
        self._http.request(
            "POST",
            f"rest/servicedeskapi/request/{ref.id}/comment",
            json_body={"body": text, "public": self.public_comments},
            idempotent=False,
        )

    # ---------------------------------------------------------------------------------------------- check

    def check(self) -> None:
        """Check the set-up against the site: the credentials, the service desk, the request type, and that the
        request type offers the fields this adapter fills.

        Raises:
            ConfigError: what is wrong, each problem with its option as the path.
            ApiError: the site refused the credentials or failed (other than 404 for the desk or request type).
        """
        problems: list[ValidationProblem] = []
        self._json("GET", "rest/api/2/myself")
        try:
            self._json("GET", f"rest/servicedeskapi/servicedesk/{self.service_desk_id}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            problems.append(ValidationProblem("service_desk_id", f"no service desk {self.service_desk_id!r}"))
            raise ConfigError("Jira is not set up for this integration", problems) from exc
        path = f"rest/servicedeskapi/servicedesk/{self.service_desk_id}/requesttype/{self.request_type_id}/field"
        try:
            offered = self._json("GET", path)
        except ApiError as exc:
            if exc.status != 404:
                raise
            problems.append(
                ValidationProblem("request_type_id", f"no request type {self.request_type_id!r} in this service desk")
            )
            raise ConfigError("Jira is not set up for this integration", problems) from exc
        field_ids = {str(f.get("fieldId")) for f in offered.get("requestTypeFields") or [] if isinstance(f, Mapping)}
        for needed in ("summary", self.correlation_field):
            if needed not in field_ids:
                problems.append(
                    ValidationProblem(
                        "request_type_id", f"request type {self.request_type_id} does not offer the field {needed!r}"
                    )
                )
        if problems:
            raise ConfigError("Jira is not set up for this integration", problems)

    # ---------------------------------------------------------------------------------------------- plumbing

    def _json(
        self, method: str, path: str, *, json_body: Any = None, idempotent: bool | None = None, **params: Any
    ) -> dict[str, Any]:
        body = self._http.request_json(method, path, json_body=json_body, params=params or None, idempotent=idempotent)
        if not isinstance(body, dict):
            raise DecodeError(
                f"{method} {self.base_url}/{path}: expected a JSON object, got {type(body).__name__}",
                method=method,
                url=f"{self.base_url}/{path}",
            )
        return body

    def _search(self, jql: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every issue ``jql`` finds, page by page, with ``fields``."""
        if self.deployment == "cloud":
            yield from self._enhanced_search(jql, fields)
        else:
            yield from self._offset_search(jql, fields)

    def _enhanced_search(self, jql: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": self.page_size}
            if token:
                body["nextPageToken"] = token
            # A search changes nothing: safe to repeat, although it is a POST (long JQL would not fit a URL).
            page = self._json("POST", "rest/api/2/search/jql", json_body=body, idempotent=True)
            yield from _issues(page)
            token = page.get("nextPageToken") or None
            if token is None or page.get("isLast") is True:
                return

    def _offset_search(self, jql: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            body = {
                "jql": jql,
                "fields": fields,
                "startAt": start,
                "maxResults": self.page_size,
                "validateQuery": False,  # unknown (deleted) keys become warnings, not a 400
            }
            page = self._json("POST", "rest/api/2/search", json_body=body, idempotent=True)
            issues = _issues(page)
            yield from issues
            start += len(issues)
            total = page.get("total")
            if not issues or (isinstance(total, int) and start >= total):
                return


def _token(correlation_key: str) -> str:
    return "simcorr" + hashlib.sha256(correlation_key.encode()).hexdigest()[:32]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _issues(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    issues = page.get("issues")
    return [i for i in issues if isinstance(i, dict) and "id" in i] if isinstance(issues, list) else []


def _missing_keys(body: Any) -> set[str]:
    """Keys a 400 answer to ``key in (...)`` says do not exist (deleted, moved, or never readable)."""
    messages = body.get("errorMessages") if isinstance(body, Mapping) else None
    found: set[str] = set()
    for message in messages if isinstance(messages, list) else []:
        for match in _MISSING_KEY.finditer(str(message)):
            found.add(match.group(1) or match.group(2))
    return found
