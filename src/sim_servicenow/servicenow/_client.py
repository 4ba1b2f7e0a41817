"""The typed ServiceNow REST client: Table API, Service Catalog, journal, choices, batched status reads."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import attrs
import requests

from .._errors import ConfigError, DecodeError, NotFoundError, ValidationProblem
from ..http import HttpCore, Page, RetryPolicy, Timeout, decode_json, iter_offset_pages, redact_url
from ._choices import default_choices
from ._convert import structure
from ._errors import CatalogVariablesError, InvalidInputError, QueryError
from ._models import Cart, CatalogItem, CatalogOrder, Choice, JournalEntry, RequestItem
from ._query import Field, Query, RawQuery
from ._record import Record
from ._values import DisplayValue, display_value_param, to_wire

__all__ = ["Catalog", "Journal", "ServiceNowClient", "Table"]

logger = logging.getLogger("sim_servicenow.servicenow")

_TABLE_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*\Z")
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
_API_VERSION = re.compile(r"v\d+\Z")
_JOURNAL_FIELDS = ("comments", "work_notes")

QueryLike = Query | RawQuery


def _instance_base_url(instance: str) -> str:
    """``https://<name>.service-now.com`` for a bare instance name; URLs unchanged."""
    if _INSTANCE_NAME.match(instance):
        return f"https://{instance}.service-now.com"
    return instance


def _check_table(name: object) -> str:
    if not isinstance(name, str) or not _TABLE_NAME.match(name):
        raise InvalidInputError(f"invalid table name {name!r}: expected letters, digits and underscores")
    return name


def _path_segment(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _field_list(fields: Iterable[str] | str | None, *, with_sys_id: bool) -> str | None:
    """The ``sysparm_fields`` value; ``None`` for every field."""
    if fields is None:
        return None
    names = fields.split(",") if isinstance(fields, str) else list(fields)
    names = [n.strip() for n in names]
    for name in names:
        if not _FIELD_NAME.match(name):
            raise InvalidInputError(f"invalid field name {name!r} in fields")
    if with_sys_id:
        names.insert(0, "sys_id")
    return ",".join(dict.fromkeys(names))


def _read_params(
    fields: Iterable[str] | str | None, display_value: DisplayValue, exclude_reference_link: bool
) -> dict[str, str]:
    params = {
        "sysparm_display_value": display_value_param(display_value),
        "sysparm_exclude_reference_link": "true" if exclude_reference_link else "false",
    }
    field_list = _field_list(fields, with_sys_id=True)
    if field_list is not None:
        params["sysparm_fields"] = field_list
    return params


def _check_query(query: object) -> QueryLike:
    if query is None:
        return Query()
    if isinstance(query, (Query, RawQuery)):
        return query
    if isinstance(query, str):
        raise QueryError(
            "a plain string is not accepted as a query: build it with Field(...) conditions, "
            f"or wrap a query you wrote yourself in RawQuery(...): {query[:60]!r}"
        )
    raise QueryError(f"expected a Query or RawQuery, got {type(query).__name__}")


def _ordered(query: QueryLike, order_by: str | Sequence[str] | None) -> QueryLike:
    """``query`` with the caller's ``order_by`` and a final ``sys_id`` tie-break, so offset pages are stable."""
    names = [order_by] if isinstance(order_by, str) else list(order_by or ())
    for name in names:
        query = query.order_by_desc(name[1:]) if name.startswith("-") else query.order_by(name)
    if "sys_id" not in query.ordered_fields():
        query = query.order_by("sys_id")
    return query


def _check_positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("invalid option", [ValidationProblem(what, f"must be an integer >= 1, got {value!r}")])
    return value


class ServiceNowClient:
    """A client of one ServiceNow instance's REST APIs.

    Every request goes through one `HttpCore`: timeouts always applied, idempotent requests (GET, PUT,
    DELETE) retried on 502/503/504 and connection failures, 429 retried for every method (ServiceNow
    refuses it before acting), errors raised as `ApiError` subclasses. ``POST`` (creating records,
    ordering) and ``PATCH`` are otherwise not retried unless the caller passes ``idempotent=True``: a
    retry after a lost response would create a second ticket.

    Args:
        instance_url: ``https://dev1234.service-now.com``, or just the instance name ``dev1234``.
        auth: a `requests` auth object, e.g. `BasicAuth` or an OAuth2 one.
        session: a `requests.Session` to use (the caller keeps ownership); a new one otherwise.
        timeout: connect and read timeouts.
        retry: the retry policy.
        verify: TLS verification: ``True`` or the path of a CA bundle.
        cert: a client certificate for mutual TLS: a path, or ``(cert, key)`` paths.
        allow_insecure_http: permit ``http://`` to hosts other than loopback.
        api_version: ``"v1"`` or ``"v2"`` for the versioned Table API paths; ``None`` (default) uses the
            unversioned path, which the instance maps to its latest version.
        status_batch_size: the most sys_ids `statuses` puts in one request.
        max_url_length: the longest request URL `statuses` builds; batches are split to stay
            under it (load balancers commonly refuse request lines over 8 KiB).
        request_item_wait: seconds `Catalog.order_now` keeps looking for the requested items of a
            new order before returning the order without them.

    Attributes:
        catalog: the Service Catalog API.
        journal: comments and work notes of task records.
        status_batch_size: the most sys_ids `statuses` puts in one request.
        max_url_length: the longest URL `statuses` builds.
        request_item_wait: seconds `Catalog.order_now` looks for a new order's requested items.

    Example:
        ```python
        with ServiceNowClient("https://dev1234.service-now.com", BasicAuth("admin", "secret")) as sn:
            incident = sn.table("incident").create({"short_description": "Badge for Ada"})
        ```
    """

    def __init__(
        self,
        instance_url: str,
        auth: requests.auth.AuthBase | None = None,
        *,
        session: requests.Session | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        allow_insecure_http: bool = False,
        api_version: str | None = None,
        status_batch_size: int = 100,
        max_url_length: int = 8000,
        request_item_wait: float = 5.0,
    ) -> None:
        if api_version is not None and not _API_VERSION.match(api_version):
            raise ConfigError(
                "invalid option", [ValidationProblem("api_version", f"expected 'v1', 'v2', ..., got {api_version!r}")]
            )
        if request_item_wait < 0:
            raise ConfigError(
                "invalid option", [ValidationProblem("request_item_wait", f"must be >= 0, got {request_item_wait!r}")]
            )
        self._http = HttpCore(
            _instance_base_url(instance_url),
            auth=auth,
            session=session,
            timeout=timeout or Timeout(),
            retry=retry or RetryPolicy(),
            verify=verify,
            cert=cert,
            allow_insecure_http=allow_insecure_http,
        )
        self._auth_name = type(auth).__name__ if auth is not None else None
        self._table_root = f"api/now/{api_version}/table/" if api_version else "api/now/table/"
        self.status_batch_size = _check_positive(status_batch_size, "status_batch_size")
        self.max_url_length = _check_positive(max_url_length, "max_url_length")
        self.request_item_wait = request_item_wait
        self.catalog = Catalog(self)
        self.journal = Journal(self)

    @property
    def instance_url(self) -> str:
        """The instance's base URL."""
        return self._http.base_url.rstrip("/")

    @property
    def http(self) -> HttpCore:
        """The HTTP core every request goes through (its `stats` count requests and retries)."""
        return self._http

    def __repr__(self) -> str:
        return f"ServiceNowClient({self.instance_url!r}, auth={self._auth_name})"

    def close(self) -> None:
        """Close the session, if the client created it."""
        self._http.close()

    def __enter__(self) -> ServiceNowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def table(self, name: str) -> Table:
        """The Table API of table ``name`` (``incident``, ``sc_request``, ``u_custom``, ...)."""
        return Table(self, name)

    def statuses(
        self, table: str, sys_ids: Iterable[str], fields: Iterable[str] | str = ("state",)
    ) -> dict[str, Record]:
        """Read ``fields`` of many records of ``table`` at once: one request per batch of sys_ids.

        This is how the engine polls tickets: about one request per `status_batch_size` tickets
        (``sysparm_query=sys_idIN...``), database values, no reference links, no count query. Batches
        are also split so no URL exceeds `max_url_length`.

        Returns:
            sys_id -> record for every record found. Records that do not exist (deleted) or that the
            integration user may not read are absent.
        """
        path = self._table_root + _check_table(table)
        wanted = list(dict.fromkeys(sys_ids))
        if not wanted:
            return {}
        base = {
            "sysparm_fields": _field_list(fields, with_sys_id=True) or "sys_id",
            "sysparm_display_value": "false",
            "sysparm_exclude_reference_link": "true",
            "sysparm_no_count": "true",
            "sysparm_suppress_pagination_header": "true",
        }
        found: dict[str, Record] = {}
        for batch in self._status_batches(path, base, wanted):
            params = {**base, "sysparm_query": str(Field("sys_id").in_(batch)), "sysparm_limit": str(len(batch))}
            rows, _ = self._get_list(path, params)
            for raw in rows:
                record = Record(table, raw)
                found[record.sys_id] = record
        return found

    def _status_batches(self, path: str, base: Mapping[str, str], sys_ids: list[str]) -> Iterator[list[str]]:
        probe = {**base, "sysparm_query": "sys_idIN", "sysparm_limit": str(self.status_batch_size)}
        fixed = len(self._http.url(path)) + 1 + len(urlencode(probe))
        batch: list[str] = []
        length = fixed
        for sys_id in sys_ids:
            cost = len(quote_plus(sys_id)) + (len(quote_plus(",")) if batch else 0)
            if batch and (len(batch) >= self.status_batch_size or length + cost > self.max_url_length):
                yield batch
                batch, length = [], fixed
                cost = len(quote_plus(sys_id))
            batch.append(sys_id)
            length += cost
        if batch:
            yield batch

    def choices(
        self,
        table: str,
        field: str,
        *,
        language: str | None = "en",
        include_inactive: bool = False,
        defaults: bool = True,
    ) -> tuple[Choice, ...]:
        """The choice list of ``table.field``, read from ``sys_choice`` in display order.

        When the instance defines none for the table (choices inherited from ``task`` are stored under
        ``task``) and ``defaults`` is true, the built-in list for the base system is returned instead
        (see `DEFAULT_CHOICES`).
        """
        query = Field("name").eq(_check_table(table)) & Field("element").eq(field)
        if language is not None:
            query &= Field("language").eq(language)
        if not include_inactive:
            query &= Field("inactive").eq(False)
        records = self.table("sys_choice").query(
            query,
            fields=("value", "label", "sequence", "inactive", "dependent_value"),
            order_by=("sequence", "value"),
        )
        live = tuple(record.to_model(Choice) for record in records)
        if live or not defaults:
            return live
        return default_choices(table, field)

    # -- plumbing shared by the API objects --------------------------------------------------------

    def _table_path(self, table: str, sys_id: str | None = None) -> str:
        path = self._table_root + _check_table(table)
        return path if sys_id is None else f"{path}/{_path_segment(sys_id, 'sys_id')}"

    def _get_list(self, path: str, params: Mapping[str, str]) -> tuple[list[Any], int | None]:
        """GET a list; ``(rows, X-Total-Count or None)``. A v1 "No Record found" 404 is an empty list."""
        try:
            response = self._http.request("GET", path, params=params)
        except NotFoundError as exc:
            if "requested uri" in exc.message.lower():
                raise
            return [], 0
        rows = _result(decode_json(response), response, list)
        if not all(isinstance(row, Mapping) for row in rows):
            raise _decode_error(response, 'expected {"result": a list of records}, got a list holding a non-object')
        total_header = response.headers.get("X-Total-Count")
        total: int | None = None
        if total_header is not None:
            try:
                total = int(total_header)
            except ValueError:
                total = None
        return rows, total

    def _result_object(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        return _result(decode_json(response), response, dict)


def _result(body: Any, response: requests.Response, expected: type) -> Any:
    """The ``result`` member of a ServiceNow success envelope, checked to be a list or an object."""
    result = body.get("result") if isinstance(body, Mapping) else None
    if not isinstance(result, expected):
        what = "a list" if expected is list else "an object"
        raise _decode_error(response, f'expected {{"result": {what}}}, got {str(body)[:80]!r}')
    return result


def _decode_error(response: requests.Response, problem: str) -> DecodeError:
    method = response.request.method
    url = redact_url(response.url or "")
    return DecodeError(
        f"{method} {url} -> {response.status_code}: {problem}", status=response.status_code, method=method, url=url
    )


class Table:
    """One table of the Table API (``/api/now/table/<name>``). Get one from `ServiceNowClient.table`.

    Reads default to database values (``display_value=False``) without reference links, which is what
    typed reads and status maps need; pass ``display_value=True`` or ``"all"`` for labels.
    """

    def __init__(self, client: ServiceNowClient, name: str) -> None:
        self._client = client
        self.name = _check_table(name)

    def __repr__(self) -> str:
        return f"Table({self.name!r})"

    def get(
        self,
        sys_id: str,
        *,
        fields: Iterable[str] | str | None = None,
        display_value: DisplayValue = False,
        exclude_reference_link: bool = True,
    ) -> Record:
        """The record ``sys_id``.

        Raises:
            NotFoundError: no such record, or an ACL hides it.
        """
        raw = self._client._result_object(
            "GET",
            self._client._table_path(self.name, sys_id),
            params=_read_params(fields, display_value, exclude_reference_link),
        )
        return Record(self.name, raw, display_value)

    def query(
        self,
        query: QueryLike | None = None,
        *,
        fields: Iterable[str] | str | None = None,
        order_by: str | Sequence[str] | None = None,
        page_size: int = 500,
        limit: int | None = None,
        display_value: DisplayValue = False,
        exclude_reference_link: bool = True,
    ) -> Iterator[Record]:
        """The records matching ``query``, fetched lazily one page at a time.

        Pages are read with ``sysparm_offset``/``sysparm_limit`` in a stable order: the query's own
        ``ORDERBY``, then ``order_by`` (a leading ``-`` sorts descending), then ``sys_id`` as the final
        tie-break, so paging never skips or repeats a record. The first page asks for the total
        (``X-Total-Count``); later pages skip the count query. Short pages (records hidden by ACLs
        still use up the offset) never end the iteration early.

        Args:
            query: a `Query` built from `Field` conditions, a `RawQuery`, or
                ``None`` for every record.
            fields: the fields to return (``sys_id`` is always included); ``None`` for all.
            order_by: field names to order by after the query's own ordering.
            page_size: records per request.
            limit: stop after this many records.
            display_value: ``False`` database values, ``True`` display values, ``"all"`` both.
            exclude_reference_link: leave out the ``link`` member of reference fields.
        """
        ordered = _ordered(_check_query(query), order_by)
        page_size = _check_positive(page_size, "page_size")
        if limit is not None:
            page_size = min(page_size, _check_positive(limit, "limit"))
        params = _read_params(fields, display_value, exclude_reference_link)
        params["sysparm_query"] = str(ordered)
        params["sysparm_suppress_pagination_header"] = "true"
        records = self._iter_pages(params, page_size, display_value)
        return itertools.islice(records, limit) if limit is not None else records

    def _iter_pages(self, params: dict[str, str], page_size: int, display_value: DisplayValue) -> Iterator[Record]:
        path = self._client._table_path(self.name)
        first_total: list[int | None] = []

        def fetch(offset: int, limit: int) -> Page[Record]:
            counting = not first_total
            page_params = {
                **params,
                "sysparm_offset": str(offset),
                "sysparm_limit": str(limit),
                "sysparm_no_count": "false" if counting else "true",
            }
            rows, total = self._client._get_list(path, page_params)
            if counting:
                first_total.append(total)
            return Page([Record(self.name, raw, display_value) for raw in rows], first_total[0])

        yield from iter_offset_pages(fetch, page_size=page_size, short_page_is_last=False)

    def first(
        self,
        query: QueryLike | None = None,
        *,
        fields: Iterable[str] | str | None = None,
        order_by: str | Sequence[str] | None = None,
        display_value: DisplayValue = False,
        exclude_reference_link: bool = True,
    ) -> Record | None:
        """The first record matching ``query`` in the given order, or ``None``; usually one request.

        ServiceNow applies ``sysparm_limit`` before ACLs, so the one-record page can come back empty
        although readable matches exist further on. The total it reports says so, and the search then
        goes on page by page rather than answer ``None`` wrongly.
        """
        ordered = _ordered(_check_query(query), order_by)
        params = _read_params(fields, display_value, exclude_reference_link)
        params.update(
            sysparm_query=str(ordered),
            sysparm_limit="1",
            sysparm_suppress_pagination_header="true",
        )
        rows, total = self._client._get_list(self._client._table_path(self.name), params)
        if rows:
            return Record(self.name, rows[0], display_value)
        if not total:
            return None
        following = self.query(
            ordered,
            fields=fields,
            page_size=100,
            display_value=display_value,
            exclude_reference_link=exclude_reference_link,
        )
        return next(following, None)

    def count(self, query: QueryLike | None = None) -> int:
        """How many records match ``query``, from the Table API's ``X-Total-Count`` (one small request).

        Raises:
            DecodeError: the instance sent no ``X-Total-Count``.
        """
        params = {
            "sysparm_query": str(_check_query(query)),
            "sysparm_fields": "sys_id",
            "sysparm_limit": "1",
            "sysparm_suppress_pagination_header": "true",
        }
        _, total = self._client._get_list(self._client._table_path(self.name), params)
        if total is None:
            raise DecodeError(f"GET {self._client._table_path(self.name)}: the response has no X-Total-Count header")
        return total

    def create(
        self,
        values: Mapping[str, Any],
        *,
        fields: Iterable[str] | str | None = None,
        display_value: DisplayValue = False,
        exclude_reference_link: bool = True,
        idempotent: bool = False,
    ) -> Record:
        """Insert one record; returns it as stored (number, defaults and system fields filled in).

        Values may be ``str``, ``bool``, ``int``, aware ``datetime`` (sent as UTC) or ``None`` (empty).
        Not retried: a retry after a lost response would insert a second record. Pass
        ``idempotent=True`` only if the table rejects duplicates (a unique index or business rule).
        """
        raw = self._client._result_object(
            "POST",
            self._client._table_path(self.name),
            params=_read_params(fields, display_value, exclude_reference_link),
            json_body=to_wire(dict(values), where="values"),
            idempotent=True if idempotent else None,
        )
        return Record(self.name, raw, display_value)

    def update(
        self,
        sys_id: str,
        values: Mapping[str, Any],
        *,
        fields: Iterable[str] | str | None = None,
        display_value: DisplayValue = False,
        exclude_reference_link: bool = True,
        idempotent: bool = False,
    ) -> Record:
        """Change the given fields of record ``sys_id`` (``PATCH``); returns the updated record.

        Not retried by default, since a journal field (``comments``, ``work_notes``) in ``values`` would
        be appended twice; pass ``idempotent=True`` when ``values`` only sets plain fields.

        Raises:
            NotFoundError: no such record.
        """
        raw = self._client._result_object(
            "PATCH",
            self._client._table_path(self.name, sys_id),
            params=_read_params(fields, display_value, exclude_reference_link),
            json_body=to_wire(dict(values), where="values"),
            idempotent=True if idempotent else None,
        )
        return Record(self.name, raw, display_value)

    def delete(self, sys_id: str) -> None:
        """Delete record ``sys_id``.

        Raises:
            NotFoundError: no such record.
        """
        self._client._http.request("DELETE", self._client._table_path(self.name, sys_id))


class Catalog:
    """The Service Catalog API (``/api/sn_sc/servicecatalog``): items, ``order_now`` and the cart.

    Get it as `ServiceNowClient.catalog`. Ordering is not retried (each attempt would place an
    order); to be safe against lost responses, put a correlation key in a variable and look for it
    before ordering again.
    """

    _ROOT = "api/sn_sc/servicecatalog/"

    def __init__(self, client: ServiceNowClient) -> None:
        self._client = client

    def get_item(self, sys_id: str) -> CatalogItem:
        """The catalog item ``sys_id`` with its variables.

        Raises:
            BadRequestError: no such item, or the user may not see it (the catalog answers 400).
        """
        raw = self._client._result_object("GET", f"{self._ROOT}items/{_path_segment(sys_id, 'item sys_id')}")
        return structure(raw, CatalogItem, where=f"catalog item {sys_id}")

    def order_now(
        self,
        item_sys_id: str,
        variables: Mapping[str, Any] | None = None,
        *,
        quantity: int = 1,
        requested_for: str | None = None,
        also_request_for: Sequence[str] = (),
        check_variables: bool = False,
    ) -> CatalogOrder:
        """Order one catalog item now; returns the request (REQ) and its requested items (RITMs).

        The catalog answers with the request only; its items are then looked up through
        ``sc_req_item.request``, retrying for up to the client's ``request_item_wait`` seconds while
        none is visible yet. If none appears, the order is returned with no items (it *was* placed).

        Args:
            item_sys_id: the ``sc_cat_item`` sys_id.
            variables: variable name -> answer (bools become ``"true"``/``"false"``).
            quantity: how many (at least 1).
            requested_for: sys_id of the user the item is for (default: the calling user).
            also_request_for: sys_ids of up to 50 more users to order the item for.
            check_variables: first read the item and refuse (`CatalogVariablesError`, nothing
                ordered) when a mandatory variable is missing or a name is not one of its variables.
        """
        body = self._order_body(item_sys_id, variables, quantity, requested_for, also_request_for, check_variables)
        raw = self._client._result_object(
            "POST", f"{self._ROOT}items/{_path_segment(item_sys_id, 'item sys_id')}/order_now", json_body=body
        )
        order = structure(raw, CatalogOrder, where=f"order of catalog item {item_sys_id}")
        return self._with_items(order)

    def add_to_cart(
        self,
        item_sys_id: str,
        variables: Mapping[str, Any] | None = None,
        *,
        quantity: int = 1,
        requested_for: str | None = None,
        also_request_for: Sequence[str] = (),
        check_variables: bool = False,
    ) -> Cart:
        """Add an item to the calling user's cart; returns the cart. `submit_order` orders it.

        The cart belongs to the ServiceNow user, so two workers sharing one integration user share it:
        use the cart from one worker at a time, or `order_now`.
        """
        body = self._order_body(item_sys_id, variables, quantity, requested_for, also_request_for, check_variables)
        raw = self._client._result_object(
            "POST", f"{self._ROOT}items/{_path_segment(item_sys_id, 'item sys_id')}/add_to_cart", json_body=body
        )
        return structure(raw, Cart, where="cart")

    def get_cart(self) -> Cart:
        """The calling user's cart."""
        raw = self._client._result_object("GET", f"{self._ROOT}cart")
        return structure(raw, Cart, where="cart")

    def remove_from_cart(self, cart_item_id: str) -> None:
        """Remove one line (``cart_item_id``, from `Cart.items`) from the calling user's cart."""
        self._client._http.request("DELETE", f"{self._ROOT}cart/{_path_segment(cart_item_id, 'cart item id')}")

    def empty_cart(self) -> None:
        """Remove every line from the calling user's cart."""
        cart_id = self.get_cart().cart_id
        self._client._http.request("DELETE", f"{self._ROOT}cart/{_path_segment(cart_id, 'cart id')}/empty")

    def submit_order(self) -> CatalogOrder:
        """Order everything in the calling user's cart; returns the request and its items.

        Raises:
            BadRequestError: the cart is empty.
        """
        raw = self._client._result_object("POST", f"{self._ROOT}cart/submit_order", json_body={})
        return self._with_items(structure(raw, CatalogOrder, where="cart order"))

    def request_items(self, request_sys_id: str, *, wait: float = 0.0) -> tuple[RequestItem, ...]:
        """The requested items (``sc_req_item``) of request ``request_sys_id``, ordered by number.

        Args:
            request_sys_id: the ``sc_request`` sys_id.
            wait: keep looking for up to about this many seconds while none is visible yet.
        """
        table = self._client.table("sc_req_item")
        query = Field("request").eq(request_sys_id)
        waited = 0.0
        delay = 0.1
        while True:
            items = tuple(r.to_model(RequestItem) for r in table.query(query, order_by="number"))
            if items or waited >= wait:
                return items
            step = min(delay, wait - waited)
            self._client._http.retry.sleep(step)
            waited += step
            delay = min(delay * 2, 1.0)

    def _with_items(self, order: CatalogOrder) -> CatalogOrder:
        items = self.request_items(order.request_sys_id, wait=self._client.request_item_wait)
        if not items:
            logger.warning(
                "request %s (%s): no requested items visible after %.1f s; look them up later with request_items()",
                order.request_number,
                order.request_sys_id,
                self._client.request_item_wait,
            )
        return attrs.evolve(order, items=items)

    def _order_body(
        self,
        item_sys_id: str,
        variables: Mapping[str, Any] | None,
        quantity: int,
        requested_for: str | None,
        also_request_for: Sequence[str],
        check_variables: bool,
    ) -> dict[str, Any]:
        if isinstance(quantity, bool) or quantity < 1:
            raise InvalidInputError(f"quantity must be an integer >= 1, got {quantity!r}")
        variables = dict(variables or {})
        if check_variables:
            item = self.get_item(item_sys_id)
            problems = item.check_variables(variables)
            if problems:
                what = item.name or item_sys_id
                raise CatalogVariablesError(f"catalog item {what!r} refuses these variables", problems)
        body: dict[str, Any] = {"sysparm_quantity": quantity, "variables": to_wire(variables, where="variables")}
        if requested_for:
            body["sysparm_requested_for"] = requested_for
        if also_request_for:
            users = list(also_request_for)
            if isinstance(also_request_for, str) or len(users) > 50 or any("," in u or not u for u in users):
                raise InvalidInputError("also_request_for must be a list of at most 50 user sys_ids")
            body["sysparm_also_request_for"] = ",".join(users)
        return body


class Journal:
    """Journal fields of task records: customer-visible comments, internal work notes, and their history.

    Get it as `ServiceNowClient.journal`. Entries are appended by writing the journal field
    (``PATCH`` with ``comments`` or ``work_notes``), never retried; the history is read from
    ``sys_journal_field``.
    """

    def __init__(self, client: ServiceNowClient) -> None:
        self._client = client

    def add_comment(self, table: str, sys_id: str, text: str) -> None:
        """Add an additional comment (visible to the requester) to record ``sys_id`` of ``table``."""
        self._append(table, sys_id, "comments", text)

    def add_work_note(self, table: str, sys_id: str, text: str) -> None:
        """Add a work note (visible to fulfillers only) to record ``sys_id`` of ``table``."""
        self._append(table, sys_id, "work_notes", text)

    def history(self, table: str, sys_id: str, *, fields: Sequence[str] = _JOURNAL_FIELDS) -> tuple[JournalEntry, ...]:
        """The journal entries of record ``sys_id``, oldest first (ties within a second by sys_id).

        Args:
            table: the record's table.
            sys_id: the record's sys_id.
            fields: which journal fields: ``comments``, ``work_notes`` or both.
        """
        query = Field("element_id").eq(sys_id) & Field("name").eq(_check_table(table)) & Field("element").in_(fields)
        records = self._client.table("sys_journal_field").query(query, order_by="sys_created_on")
        return tuple(record.to_model(JournalEntry) for record in records)

    def _append(self, table: str, sys_id: str, field: str, text: str) -> None:
        if not text.strip():
            raise InvalidInputError(f"{table} {sys_id}: a {field} entry needs some text")
        self._client._result_object(
            "PATCH",
            self._client._table_path(table, sys_id),
            params={"sysparm_fields": "sys_id", "sysparm_exclude_reference_link": "true"},
            json_body={field: text},
        )
