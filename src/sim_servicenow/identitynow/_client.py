"""The typed IdentityNow REST client: sources, service desk and SIM integrations, work items, activities."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import attrs
import requests
import requests.auth

from .._errors import (
    BadRequestError,
    ConfigError,
    ConflictError,
    DecodeError,
    ForbiddenError,
    NotFoundError,
    ValidationProblem,
)
from ..http import HttpCore, Page, RetryPolicy, Timeout, decode_json, iter_offset_pages, redact_url
from . import _convert
from ._models import (
    AccountActivity,
    LegacySource,
    ManualAction,
    PatchOperation,
    ServiceDeskIntegration,
    ServiceDeskIntegrationTemplate,
    ServiceDeskIntegrationType,
    SimIntegration,
    Source,
    StatusCheckConfiguration,
    WorkItem,
    WorkItemCompletion,
    WorkItemsSummary,
    WorkItemType,
)
from ._ratelimit import RateLimiter, ThrottledAuth
from ._sourceids import SourceIdMap
from .filters import eq, in_

__all__ = [
    "AccountActivitiesApi",
    "ApiLayout",
    "IdentityNowClient",
    "ServiceDeskIntegrationsApi",
    "SimIntegrationsApi",
    "SourcesApi",
    "WorkItemsApi",
]

T = TypeVar("T")

logger = logging.getLogger("sim_servicenow.identitynow")

#: The largest page IdentityNow's list endpoints serve.
MAX_PAGE_SIZE = 250

_IDS_PER_QUERY = 40
_EXPERIMENTAL = {"X-SailPoint-Experimental": "true"}
_JSON_PATCH = {"Content-Type": "application/json-patch+json"}
_VERSION_SUFFIX = re.compile(r"/(v\d+|beta)/?$", re.IGNORECASE)


class ApiLayout(str, enum.Enum):
    """How IdentityNow's URLs are laid out.

    ``CLASSIC``: a version prefix before the API (``/v3/work-items``, ``/beta/sim-integrations``), the
    generally available layout most published examples use. ``PER_API``: the version after the API
    (``/work-items/v1``, ``/sim-integrations/v1``), the layout SailPoint's current SDK uses.
    """

    CLASSIC = "classic"
    PER_API = "per-api"


_CLASSIC_ROOTS = {
    "sources": "v3/sources",
    "service-desk-integrations": "v3/service-desk-integrations",
    "sim-integrations": "beta/sim-integrations",
    "work-items": "v3/work-items",
    "account-activities": "v3/account-activities",
}


def _api_root(layout: ApiLayout, api: str) -> str:
    return _CLASSIC_ROOTS[api] if layout is ApiLayout.CLASSIC else f"{api}/v1"


def _segment(value: str, what: str) -> str:
    """``value`` as one URL path segment; an empty id would silently address the collection instead."""
    if not value:
        raise ConfigError(
            "invalid identifier", [ValidationProblem(what, f"expected a non-empty string, got {value!r}")]
        )
    return quote(value, safe="")


def _check_limit(limit: int, what: str, *, minimum: int) -> None:
    if not minimum <= limit <= MAX_PAGE_SIZE:
        raise ConfigError(
            "invalid page size",
            [
                ValidationProblem(
                    what, f"must be between {minimum} and {MAX_PAGE_SIZE} (IdentityNow's maximum), got {limit}"
                )
            ],
        )


def _sorters(sorters: str | Sequence[str] | None) -> str | None:
    if sorters is None or isinstance(sorters, str):
        return sorters or None
    return ",".join(sorters) or None


def _collection_params(
    filters: str | None, sorters: str | Sequence[str] | None, extra: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    params = {"filters": filters or None, "sorters": _sorters(sorters), **(extra or {})}
    return {k: v for k, v in params.items() if v is not None}


#: "Decode the response body" (``None`` is a legitimate JSON payload).
_BODY: Any = object()


def _decode_error(response: requests.Response, problem: str) -> DecodeError:
    method = response.request.method or "?"
    url = redact_url(response.url or "")
    return DecodeError(
        f"{method} {url} -> {response.status_code}: {problem}",
        status=response.status_code,
        method=method,
        url=url,
        content_type=response.headers.get("Content-Type"),
    )


def _total_count(response: requests.Response) -> int | None:
    """``X-Total-Count``, when the server sent it."""
    header = response.headers.get("X-Total-Count")
    if header is None:
        return None
    try:
        return int(header)
    except ValueError as exc:
        raise _decode_error(response, f"X-Total-Count is not a number: {header[:40]!r}") from exc


class _Endpoint:
    """Shared plumbing of the API groups: URL building, decoding into models, paging."""

    def __init__(self, http: HttpCore, root: str, headers: Mapping[str, str] | None = None) -> None:
        self._http = http
        self._root = root
        self._headers = dict(headers or {})

    def _path(self, *segments: str) -> str:
        return "/".join((self._root, *segments))

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        return self._http.request(
            method,
            path,
            params=params,
            json_body=json_body,
            headers={**self._headers, **(headers or {})},
            idempotent=idempotent,
        )

    def _decode(self, response: requests.Response, cls: type[T], payload: Any = _BODY) -> T:
        """``payload`` (default: the response's JSON body) as ``cls``; decode errors name the request."""
        data = decode_json(response) if payload is _BODY else payload
        try:
            return _convert.structure(data, cls)
        except DecodeError as exc:
            raise _decode_error(response, str(exc)) from exc

    def _decode_many(self, response: requests.Response, cls: type[T], payload: Any = _BODY) -> tuple[T, ...]:
        """A JSON array of ``cls``; anything else is a `DecodeError`."""
        data = decode_json(response) if payload is _BODY else payload
        if not isinstance(data, list):
            raise _decode_error(response, f"expected a JSON array, got {type(data).__name__}")
        return self._decode(response, tuple[cls, ...], data)  # type: ignore[valid-type]

    def _call(
        self,
        method: str,
        path: str,
        cls: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> T:
        response = self._send(method, path, params=params, json_body=json_body, headers=headers, idempotent=idempotent)
        return self._decode(response, cls)

    def _list(self, path: str, cls: type[T], params: Mapping[str, Any] | None = None) -> tuple[T, ...]:
        return self._decode_many(self._send("GET", path, params=params), cls)

    def _page(
        self, path: str, cls: type[T], params: Mapping[str, Any], *, offset: int, limit: int, count: bool
    ) -> Page[T]:
        _check_limit(limit, "limit", minimum=0)
        if offset < 0:
            raise ConfigError("invalid offset", [ValidationProblem("offset", f"must not be negative, got {offset}")])
        query = {**params, "offset": str(offset), "limit": str(limit)}
        if count:
            query["count"] = "true"
        response = self._send("GET", path, params=query)
        return Page(self._decode_many(response, cls), _total_count(response))

    def _iter(self, path: str, cls: type[T], params: Mapping[str, Any], *, page_size: int) -> Iterator[T]:
        _check_limit(page_size, "page_size", minimum=1)

        def fetch(offset: int, limit: int) -> Page[T]:
            # IdentityNow never returns a short page before the last one, so no count is needed.
            return self._page(path, cls, params, offset=offset, limit=limit, count=False)

        return iter_offset_pages(fetch, page_size=page_size, short_page_is_last=True)


def _patch_body(operations: Iterable[PatchOperation | Mapping[str, Any]]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    for operation in operations:
        if isinstance(operation, PatchOperation):
            body.append(_convert.unstructure(operation))
        elif isinstance(operation, Mapping):
            body.append(dict(operation))
        else:
            raise ConfigError(
                "invalid JSON Patch",
                [
                    ValidationProblem(
                        f"operations[{len(body)}]", f"expected a PatchOperation, got {type(operation).__name__}"
                    )
                ],
            )
    if not body:
        raise ConfigError("invalid JSON Patch", [ValidationProblem("operations", "at least one operation is needed")])
    return body


class SourcesApi(_Endpoint):
    """Sources (``/v3/sources`` or ``/sources/v1``) and the private source list of the SIM set-up."""

    def list(
        self,
        *,
        filters: str | None = None,
        sorters: str | Sequence[str] | None = None,
        offset: int = 0,
        limit: int = MAX_PAGE_SIZE,
        count: bool = False,
    ) -> Page[Source]:
        """One page of sources; ``count=True`` fills `Page.total` from ``X-Total-Count``.

        ``filters`` fields: ``id``, ``name``, ``type``, ``owner.id``, ``features``, ``created``,
        ``modified``, ``connectorName``, ... (see `filters`).
        """
        params = _collection_params(filters, sorters)
        return self._page(self._path(), Source, params, offset=offset, limit=limit, count=count)

    def iter(
        self,
        *,
        filters: str | None = None,
        sorters: str | Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Source]:
        """Every matching source, fetched a page at a time as you iterate."""
        return self._iter(self._path(), Source, _collection_params(filters, sorters), page_size=page_size)

    def get(self, source_id: str) -> Source:
        """The source with this id; `NotFoundError` if there is none."""
        return self._call("GET", self._path(_segment(source_id, "source_id")), Source)

    def find_by_name(self, name: str) -> Source | None:
        """The source with this exact name (names are unique), or ``None``."""
        page = self.list(filters=eq("name", name))
        return next((source for source in page.items if source.name == name), None)

    def list_legacy(self) -> tuple[LegacySource, ...]:
        """The private ``/cc/api/source/list``: each source's short numeric id and its backend ``externalId``.

        The private API is undocumented: the list is asked for whole, and when an ``X-Total-Count``
        says it was not, the rest is fetched with ``start`` / ``limit``.
        """
        path = "cc/api/source/list"
        response = self._send("GET", path)
        sources = list(self._decode_many(response, LegacySource))
        total = _total_count(response)
        while total is not None and len(sources) < total:
            response = self._send("GET", path, params={"start": str(len(sources)), "limit": str(MAX_PAGE_SIZE)})
            page = self._decode_many(response, LegacySource)
            if not page:
                break
            sources.extend(page)
        return tuple(sources)

    def backend_ids(self) -> SourceIdMap:
        """Map source ids to the backend ids (``externalId``) the legacy SIM ``sources`` list holds, and back.

        Reads every source and the private source list. A legacy entry is matched to a source by
        ``externalId == id`` first, then by name.
        """
        return SourceIdMap.build(tuple(self.iter()), self.list_legacy())


class ServiceDeskIntegrationsApi(_Endpoint):
    """Service desk integrations (``/v3/service-desk-integrations`` or ``/service-desk-integrations/v1``)."""

    def list(
        self,
        *,
        filters: str | None = None,
        sorters: str | Sequence[str] | None = None,
        offset: int = 0,
        limit: int = MAX_PAGE_SIZE,
        count: bool = False,
    ) -> Page[ServiceDeskIntegration]:
        """One page of integrations. ``filters`` fields: ``id``, ``name``, ``type``, ``cluster``; sorter: ``name``."""
        params = _collection_params(filters, sorters)
        return self._page(self._path(), ServiceDeskIntegration, params, offset=offset, limit=limit, count=count)

    def iter(
        self,
        *,
        filters: str | None = None,
        sorters: str | Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ServiceDeskIntegration]:
        """Every matching integration, a page at a time."""
        params = _collection_params(filters, sorters)
        return self._iter(self._path(), ServiceDeskIntegration, params, page_size=page_size)

    def get(self, integration_id: str) -> ServiceDeskIntegration:
        """The integration with this id."""
        return self._call("GET", self._path(_segment(integration_id, "integration_id")), ServiceDeskIntegration)

    def find_by_name(self, name: str) -> ServiceDeskIntegration | None:
        """The integration with this exact name (names are unique), or ``None``."""
        page = self.list(filters=eq("name", name))
        return next((item for item in page.items if item.name == name), None)

    def create(self, integration: ServiceDeskIntegration) -> ServiceDeskIntegration:
        """Create an integration; returns it as stored (with its id)."""
        body = _convert.unstructure(integration)
        body.pop("id", None)
        return self._call("POST", self._path(), ServiceDeskIntegration, json_body=body)

    def replace(self, integration_id: str, integration: ServiceDeskIntegration) -> ServiceDeskIntegration:
        """Replace the integration with this id by ``integration`` (PUT)."""
        path = self._path(_segment(integration_id, "integration_id"))
        return self._call("PUT", path, ServiceDeskIntegration, json_body=_convert.unstructure(integration))

    def patch(
        self, integration_id: str, operations: Iterable[PatchOperation | Mapping[str, Any]]
    ) -> ServiceDeskIntegration:
        """Apply JSON Patch ``replace`` operations; any other operation is refused before sending.

        IdentityNow accepts only ``replace`` here (others answer 403), so a `ConfigError`
        naming the offending operation is raised instead of a round trip.
        """
        body = _patch_body(operations)
        problems = [
            ValidationProblem(f"operations[{n}].op", f"only 'replace' is accepted here, got {op.get('op')!r}")
            for n, op in enumerate(body)
            if op.get("op") != "replace"
        ]
        if problems:
            raise ConfigError("invalid JSON Patch for a service desk integration", problems)
        path = self._path(_segment(integration_id, "integration_id"))
        # A patch of replace operations only is idempotent, so a lost answer may be retried.
        return self._call("PATCH", path, ServiceDeskIntegration, json_body=body, headers=_JSON_PATCH, idempotent=True)

    def delete(self, integration_id: str) -> None:
        """Delete the integration with this id."""
        self._send("DELETE", self._path(_segment(integration_id, "integration_id")))

    def types(self) -> tuple[ServiceDeskIntegrationType, ...]:
        """The integration types the tenant supports."""
        return self._list(self._path("types"), ServiceDeskIntegrationType)

    def template(self, script_name: str) -> ServiceDeskIntegrationTemplate:
        """The template of an integration type, by its ``script_name`` (see `types`)."""
        path = self._path("templates", _segment(script_name, "script_name"))
        return self._call("GET", path, ServiceDeskIntegrationTemplate)

    def status_check_configuration(self) -> StatusCheckConfiguration:
        """The tenant-wide ticket status-check schedule."""
        return self._call("GET", self._path("status-check-configuration"), StatusCheckConfiguration)

    def update_status_check_configuration(self, configuration: StatusCheckConfiguration) -> StatusCheckConfiguration:
        """Replace the tenant-wide ticket status-check schedule; returns it as stored."""
        return self._call(
            "PUT",
            self._path("status-check-configuration"),
            StatusCheckConfiguration,
            json_body=_convert.unstructure(configuration),
        )


class SimIntegrationsApi(_Endpoint):
    """Legacy ServiceNow SIM integrations (``/beta/sim-integrations`` or ``/sim-integrations/v1``).

    Every request carries ``X-SailPoint-Experimental: true``: the per-API and versioned endpoints
    require it, ``/beta`` ignores it.
    """

    def list(self) -> tuple[SimIntegration, ...]:
        """Every SIM integration (the endpoint does not page).

        SailPoint's beta document describes the answer as a single object; a single object is
        therefore read as a list of one.
        """
        response = self._send("GET", self._path())
        payload = decode_json(response)
        return self._decode_many(response, SimIntegration, [payload] if isinstance(payload, Mapping) else payload)

    def get(self, integration_id: str) -> SimIntegration:
        """The SIM integration with this id."""
        return self._call("GET", self._path(_segment(integration_id, "integration_id")), SimIntegration)

    def create(self, integration: SimIntegration) -> SimIntegration:
        """Create a SIM integration; returns it as stored."""
        body = _convert.unstructure(integration)
        body.pop("id", None)
        return self._call("POST", self._path(), SimIntegration, json_body=body)

    def replace(self, integration_id: str, integration: SimIntegration) -> SimIntegration:
        """Replace the SIM integration with this id (PUT)."""
        path = self._path(_segment(integration_id, "integration_id"))
        return self._call("PUT", path, SimIntegration, json_body=_convert.unstructure(integration))

    def patch(self, integration_id: str, operations: Iterable[PatchOperation | Mapping[str, Any]]) -> SimIntegration:
        """Apply a JSON Patch to the SIM integration."""
        path = self._path(_segment(integration_id, "integration_id"))
        return self._patch(path, operations)

    def patch_before_provisioning_rule(
        self, integration_id: str, operations: Iterable[PatchOperation | Mapping[str, Any]]
    ) -> SimIntegration:
        """Apply a JSON Patch to the SIM integration's ``beforeProvisioningRule``."""
        path = self._path(_segment(integration_id, "integration_id"), "beforeProvisioningRule")
        return self._patch(path, operations)

    def delete(self, integration_id: str) -> None:
        """Delete the SIM integration with this id."""
        self._send("DELETE", self._path(_segment(integration_id, "integration_id")))

    def _patch(self, path: str, operations: Iterable[PatchOperation | Mapping[str, Any]]) -> SimIntegration:
        # SailPoint documents (and its SDK sends) the SIM patch wrapped as {"operations": [...]}.
        body = {"operations": _patch_body(operations)}
        return self._call("PATCH", path, SimIntegration, json_body=body, headers=_JSON_PATCH)


class WorkItemsApi(_Endpoint):
    """Work items (``/v3/work-items`` or ``/work-items/v1``): manual provisioning tasks among them."""

    def __init__(self, http: HttpCore, root: str, sources: SourcesApi) -> None:
        super().__init__(http, root)
        self._sources = sources

    def list(
        self, *, owner_id: str | None = None, offset: int = 0, limit: int = MAX_PAGE_SIZE, count: bool = False
    ) -> Page[WorkItem]:
        """One page of pending work items, of the caller or of ``owner_id`` (needs an admin)."""
        params = _collection_params(None, None, {"ownerId": owner_id})
        return self._page(self._path(), WorkItem, params, offset=offset, limit=limit, count=count)

    def iter(self, *, owner_id: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[WorkItem]:
        """Every pending work item, a page at a time."""
        params = _collection_params(None, None, {"ownerId": owner_id})
        return self._iter(self._path(), WorkItem, params, page_size=page_size)

    def list_completed(
        self, *, owner_id: str | None = None, offset: int = 0, limit: int = MAX_PAGE_SIZE, count: bool = False
    ) -> Page[WorkItem]:
        """One page of completed work items."""
        params = _collection_params(None, None, {"ownerId": owner_id})
        return self._page(self._path("completed"), WorkItem, params, offset=offset, limit=limit, count=count)

    def iter_completed(self, *, owner_id: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[WorkItem]:
        """Every completed work item, a page at a time."""
        params = _collection_params(None, None, {"ownerId": owner_id})
        return self._iter(self._path("completed"), WorkItem, params, page_size=page_size)

    def iter_manual_actions(
        self,
        source_ids: Iterable[str],
        *,
        owner_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ManualAction]:
        """Pending manual provisioning tasks (type ``ManualAction``) for the sources ``source_ids``, with their source.

        Work items name their source rather than identify it (``approvalItems[].application``,
        ``remediationItems[].applicationName``), so the sources are read first, in one request. A name
        matches case-insensitively, also with the ``" [source]"`` / ``" [source-<n>]"`` suffix of
        IdentityNow's internal application names. Work items are then read a page at a time; one that cannot be
        read (it does not match IdentityNow's schema) is logged and skipped, so it cannot hold up the others.

        Raises:
            ConfigError: a source id is not a source of the tenant (checked before any work item is read).
        """
        wanted = list(dict.fromkeys(source_ids))
        by_name: dict[str, Source] = {}
        if wanted:
            found: dict[str, Source] = {}
            # A few dozen ids per query keep the URL short.
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                chunk = wanted[start : start + _IDS_PER_QUERY]
                found.update((source.id, source) for source in self._sources.iter(filters=in_("id", chunk)))
            missing = [
                ValidationProblem(f"source_ids[{n}]", f"no source with id {source_id!r}")
                for n, source_id in enumerate(wanted)
                if source_id not in found
            ]
            if missing:
                raise ConfigError("unknown source", missing)
            by_name = {found[source_id].name.casefold(): found[source_id] for source_id in wanted}
        return self._manual_actions(by_name, owner_id, page_size)

    def _manual_actions(
        self, by_name: Mapping[str, Source], owner_id: str | None, page_size: int
    ) -> Iterator[ManualAction]:
        if not by_name:
            return
        for item in self._iter_readable(owner_id, page_size):
            if item.type != WorkItemType.MANUAL_ACTION:
                continue
            source = next((by_name[name] for name in _work_item_sources(item) if name in by_name), None)
            if source is not None:
                yield ManualAction(item, source)

    def _iter_readable(self, owner_id: str | None, page_size: int) -> Iterator[WorkItem]:
        """Pending work items decoded one by one: an unreadable one is logged and skipped, not fatal to its page."""
        _check_limit(page_size, "page_size", minimum=1)
        params = _collection_params(None, None, {"ownerId": owner_id})

        def fetch(offset: int, limit: int) -> Page[tuple[requests.Response, Any]]:
            response = self._send("GET", self._path(), params={**params, "offset": str(offset), "limit": str(limit)})
            data = decode_json(response)
            if not isinstance(data, list):
                raise _decode_error(response, f"expected a JSON array, got {type(data).__name__}")
            # Raw items, so a page keeps its length (a short page ends the collection).
            return Page([(response, raw) for raw in data])

        for response, raw in iter_offset_pages(fetch, page_size=page_size, short_page_is_last=True):
            try:
                yield self._decode(response, WorkItem, raw)
            except DecodeError as exc:
                work_item_id = raw.get("id") if isinstance(raw, Mapping) else None
                logger.error("work item %s cannot be read, skipped (it stays pending): %s", work_item_id or "?", exc)

    def get(self, work_item_id: str) -> WorkItem:
        """The work item with this id."""
        return self._call("GET", self._path(_segment(work_item_id, "work_item_id")), WorkItem)

    def complete(self, work_item_id: str, comment: str | None = None) -> WorkItemCompletion:
        """Complete a work item; safe to call again for the same item.

        When the server refuses (400 / 403 / 404 / 409) because the item is no longer pending, the
        answer is ``WorkItemCompletion(work_item, already_closed=True)`` with the item's current state,
        instead of an error: a retried completion, or one whose first answer was lost, is recognisable
        as done. Any other refusal is raised.
        """
        path = self._path(_segment(work_item_id, "work_item_id"))
        try:
            # Retrying a lost completion is safe: a repeat is recognised below.
            item = self._call("POST", path, WorkItem, json_body=comment, idempotent=True)
        except (BadRequestError, ForbiddenError, NotFoundError, ConflictError) as refused:
            try:
                current = self.get(work_item_id)
            except (ForbiddenError, NotFoundError):
                raise refused from None
            if current.is_pending:
                raise
            return WorkItemCompletion(current, already_closed=True)
        return WorkItemCompletion(item, already_closed=False)

    def forward(
        self, work_item_id: str, target_owner_id: str, comment: str, *, send_notifications: bool = True
    ) -> bool:
        """Forward a work item to another owner (an identity id), with a comment; safe to call again.

        The work item is read first: when it already belongs to ``target_owner_id`` (a repeated call,
        e.g. after a crash) nothing is sent and ``False`` is returned; otherwise it is forwarded and
        ``True`` is returned. The forward itself is not retried after a lost answer, so no comment is
        ever sent twice; call again to settle it.
        """
        current = self.get(work_item_id)
        if current.owner_id == target_owner_id:
            return False
        body = {"targetOwnerId": target_owner_id, "comment": comment, "sendNotifications": send_notifications}
        self._send("POST", self._path(_segment(work_item_id, "work_item_id"), "forward"), json_body=body)
        return True

    def approve(self, work_item_id: str, approval_item_id: str) -> WorkItem:
        """Approve one approval item of a work item."""
        return self._decide("approve", work_item_id, approval_item_id)

    def reject(self, work_item_id: str, approval_item_id: str) -> WorkItem:
        """Reject one approval item of a work item."""
        return self._decide("reject", work_item_id, approval_item_id)

    def approve_all(self, work_item_id: str) -> WorkItem:
        """Approve every approval item of a work item."""
        return self._call("POST", self._path("bulk-approve", _segment(work_item_id, "work_item_id")), WorkItem)

    def reject_all(self, work_item_id: str) -> WorkItem:
        """Reject every approval item of a work item."""
        return self._call("POST", self._path("bulk-reject", _segment(work_item_id, "work_item_id")), WorkItem)

    def count(self, *, owner_id: str | None = None, completed: bool = False) -> int:
        """How many pending (or, with ``completed=True``, completed) work items there are."""
        path = self._path("completed", "count") if completed else self._path("count")
        params = _collection_params(None, None, {"ownerId": owner_id})
        return self._call("GET", path, _WorkItemsCount, params=params).count

    def summary(self, *, owner_id: str | None = None) -> WorkItemsSummary:
        """Counts of open, completed and all work items."""
        params = _collection_params(None, None, {"ownerId": owner_id})
        return self._call("GET", self._path("summary"), WorkItemsSummary, params=params)

    def _decide(self, verdict: str, work_item_id: str, approval_item_id: str) -> WorkItem:
        path = self._path(
            _segment(work_item_id, "work_item_id"), verdict, _segment(approval_item_id, "approval_item_id")
        )
        return self._call("POST", path, WorkItem)


@attrs.frozen
class _WorkItemsCount:
    count: int


_SOURCE_SUFFIX = re.compile(r"\s*\[source(?:-[^\]]*)?\]$", re.IGNORECASE)


def _work_item_sources(item: WorkItem) -> list[str]:
    """The (case-folded) source names a work item refers to, in the order its items name them."""
    names = [a.application for a in item.approval_items] + [r.application_name for r in item.remediation_items]
    return list(dict.fromkeys(_SOURCE_SUFFIX.sub("", name).casefold() for name in names if name))


class AccountActivitiesApi(_Endpoint):
    """Account activities (``/v3/account-activities`` or ``/account-activities/v1``)."""

    def list(
        self,
        *,
        requested_for: str | None = None,
        requested_by: str | None = None,
        regarding_identity: str | None = None,
        filters: str | None = None,
        sorters: str | Sequence[str] | None = None,
        offset: int = 0,
        limit: int = MAX_PAGE_SIZE,
        count: bool = False,
    ) -> Page[AccountActivity]:
        """One page of account activities.

        ``requested_for`` / ``requested_by`` / ``regarding_identity`` take an identity id or ``"me"``;
        ``regarding_identity`` excludes the other two. ``filters`` fields: ``type``, ``created``,
        ``modified``; sorters: ``type``, ``created``, ``modified``.
        """
        params = self._params(requested_for, requested_by, regarding_identity, filters, sorters)
        return self._page(self._path(), AccountActivity, params, offset=offset, limit=limit, count=count)

    def iter(
        self,
        *,
        requested_for: str | None = None,
        requested_by: str | None = None,
        regarding_identity: str | None = None,
        filters: str | None = None,
        sorters: str | Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[AccountActivity]:
        """Every matching account activity, a page at a time."""
        params = self._params(requested_for, requested_by, regarding_identity, filters, sorters)
        return self._iter(self._path(), AccountActivity, params, page_size=page_size)

    def get(self, activity_id: str) -> AccountActivity:
        """The account activity with this id."""
        return self._call("GET", self._path(_segment(activity_id, "activity_id")), AccountActivity)

    @staticmethod
    def _params(
        requested_for: str | None,
        requested_by: str | None,
        regarding_identity: str | None,
        filters: str | None,
        sorters: str | Sequence[str] | None,
    ) -> dict[str, str]:
        if regarding_identity is not None and (requested_for is not None or requested_by is not None):
            raise ConfigError(
                "invalid account activity query",
                [ValidationProblem("regarding_identity", "cannot be combined with requested_for or requested_by")],
            )
        extra = {
            "requested-for": requested_for,
            "requested-by": requested_by,
            "regarding-identity": regarding_identity,
        }
        return _collection_params(filters, sorters, extra)


class IdentityNowClient:
    """A typed client of one IdentityNow (Identity Security Cloud) tenant.

    The operations are grouped as SailPoint groups its APIs: `sources`,
    `service_desk_integrations`, `sim_integrations`, `work_items` and
    `account_activities`. Every request goes through one HTTP core (timeouts, retries with
    ``Retry-After``, error mapping).

    Args:
        base_url: the tenant's API root, ``https://{tenant}.api.identitynow.com`` (no ``/v3`` or ``/beta``).
        auth: how requests authenticate; normally
            ``OAuth2ClientCredentials.for_identitynow(base_url, client_id, client_secret)`` with a
            personal access token's client id and secret.
        session: a `requests.Session` to use (you keep ownership of it).
        timeout: connect and read timeouts of every request.
        retry: which failures are retried, and how long to wait.
        layout: ``"classic"`` (default: ``/v3/...`` and ``/beta/...``) or ``"per-api"``
            (``/work-items/v1``, ..., as SailPoint's current SDK calls them).
        rate_limiter: an optional `RateLimiter` shared by all requests of this client, e.g.
            ``WindowRateLimiter()`` for IdentityNow's 100 requests per 10 seconds. Off by default.
        verify: TLS verification: ``True`` or the path of a CA bundle.
        cert: a client certificate for mutual TLS: a path, or ``(cert, key)`` paths.
        allow_insecure_http: permit ``http://`` to hosts other than loopback.
    """

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase | None,
        *,
        session: requests.Session | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        layout: ApiLayout | str = ApiLayout.CLASSIC,
        rate_limiter: RateLimiter | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        try:
            self.layout = ApiLayout(layout)
        except ValueError:
            choices = ", ".join(repr(member.value) for member in ApiLayout)
            raise ConfigError(
                "invalid IdentityNow client",
                [ValidationProblem("layout", f"expected one of {choices}, got {layout!r}")],
            ) from None
        if _VERSION_SUFFIX.search(urlsplit(base_url).path):
            raise ConfigError(
                "invalid IdentityNow client",
                [
                    ValidationProblem(
                        "base_url",
                        f"give the tenant's API root (https://{{tenant}}.api.identitynow.com), "
                        f"without a version path: {redact_url(base_url)!r}",
                    )
                ],
            )
        self._auth = auth
        self._http = HttpCore(
            base_url,
            auth=ThrottledAuth(rate_limiter, auth) if rate_limiter is not None else auth,
            session=session,
            timeout=timeout or Timeout(),
            retry=retry or RetryPolicy(),
            verify=verify,
            cert=cert,
            allow_insecure_http=allow_insecure_http,
            logger_name="sim_servicenow.identitynow",
        )
        http = self._http
        #: Sources, and the source-id lookups of the SIM set-up.
        self.sources = SourcesApi(http, _api_root(self.layout, "sources"))
        #: Service desk integrations (SDIM) and the status-check configuration.
        self.service_desk_integrations = ServiceDeskIntegrationsApi(
            http, _api_root(self.layout, "service-desk-integrations")
        )
        #: Legacy ServiceNow SIM integrations.
        self.sim_integrations = SimIntegrationsApi(http, _api_root(self.layout, "sim-integrations"), _EXPERIMENTAL)
        #: Work items: manual provisioning tasks, approvals.
        self.work_items = WorkItemsApi(http, _api_root(self.layout, "work-items"), self.sources)
        #: Account activities.
        self.account_activities = AccountActivitiesApi(http, _api_root(self.layout, "account-activities"))

    @property
    def base_url(self) -> str:
        """The tenant's API root."""
        return self._http.base_url

    @property
    def http(self) -> HttpCore:
        """The HTTP core every request goes through (its ``stats`` count requests and retries)."""
        return self._http

    def close(self) -> None:
        """Close the session, if the client created it."""
        self._http.close()

    def __enter__(self) -> IdentityNowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IdentityNowClient(base_url={self.base_url!r}, auth={type(self._auth).__name__})"
