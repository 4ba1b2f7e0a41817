"""``FakeIdentityNow``: an in-process, stateful fake of the IdentityNow (Identity Security Cloud) APIs the SIM speaks.

It is a WSGI application. Serve it on loopback with `serve` (optionally TLS) or mount
it on a `requests.Session` with `WSGIAdapter`. It answers:

- ``POST /oauth/token`` (client credentials, form body, multipart form or query string, or HTTP Basic client
  authentication) and ``GET /oauth/info``; bearer JWTs that expire;
- service-desk integrations, legacy SIM integrations, work items, account activities and sources, under both URL
  layouts: classic (``/v3/...``, ``/beta/...``, ``/v2024``-``/v2026``) and per-API (``/work-items/v1/...``);
- the private ``GET /cc/api/source/list`` with the legacy numeric source ids and their ``externalId``.

Paging (``offset``/``limit`` <= 250/``count`` -> ``X-Total-Count``), the documented ``filters`` and ``sorters``,
IdentityNow's error bodies (``ErrorResponseDto``; ``{"error": ...}`` for 401; ``{"message": " Rate Limit
Exceeded "}`` with ``Retry-After`` for 429) and an optional per-client rate limit are served as documented.

The fake depends only on the standard library.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from ._faults import Fault, FaultKind, Faults, LoggedRequest, RequestLog
from ._idn_data import (
    ACCOUNT_ACTIVITY_COLLECTION,
    DEFAULT_SDIM_TYPES,
    SERVICE_DESK_COLLECTION,
    SOURCE_COLLECTION,
    PatchError,
    PatchForbidden,
    apply_json_patch,
    example_sim_integration,
)
from ._idn_query import CollectionSpec, QueryError, apply_sorters, compile_filter, parse_paging
from ._idn_wire import (
    ApiProblem,
    Request,
    Response,
    camel_case,
    decode_jwt,
    encode_jwt,
    error_envelope,
    iso_timestamp,
    parse_form,
)
from ._server import DropConnection

__all__ = ["Completion", "FakeIdentityNow", "Forward"]

#: Classic layout prefixes, and the per-API names served as ``/{api}/v1``.
_CLASSIC_VERSIONS = frozenset({"v3", "beta", "v2024", "v2025", "v2026"})
_EXPERIMENTAL_VERSIONS = frozenset({"v2024", "v2025", "v2026", "v1"})
_V3_APIS = frozenset({"service-desk-integrations", "work-items", "account-activities", "sources"})
_ALL_APIS = _V3_APIS | {"sim-integrations"}

#: Account operations of a manual work item, and how IdentityNow names them.
_ACCOUNT_OPERATIONS = {op.lower(): op for op in ("Create", "Modify", "Delete", "Enable", "Disable", "Unlock")}
_ATTRIBUTE_OPERATIONS = {op.lower(): op for op in ("Add", "Remove", "Set")}

_SDIM_REQUIRED = ("name", "description", "type", "attributes")
_SDIM_MEMBERS = (
    "name",
    "description",
    "type",
    "ownerRef",
    "clusterRef",
    "cluster",
    "managedSources",
    "provisioningConfig",
    "attributes",
    "beforeProvisioningRule",
)
_SIM_MEMBERS = (
    "name",
    "description",
    "type",
    "attributes",
    "sources",
    "cluster",
    "statusMap",
    "request",
    "beforeProvisioningRule",
)
_READ_ONLY = ("id", "created", "modified")

_RATE_LIMIT_BODY = {"message": " Rate Limit Exceeded "}

_POD = "fake01-useast1"

#: Approval-item states that still await a decision.
_UNDECIDED = (None, "Pending")


@dataclass(frozen=True)
class Completion:
    """A work item reaching a final state through the API: completed, or its approval items decided.

    Attributes:
        work_item_id: the work item.
        at: when (timezone-aware UTC, from the fake's clock).
        state: the state it reached (``Finished`` or ``Rejected``).
        via: ``complete``, ``approve``, ``reject``, ``bulk-approve`` or ``bulk-reject``.
        client_id: the OAuth client that asked.
        body: the body the client sent with a completion (IdentityNow documents a nullable string).
    """

    work_item_id: str
    at: datetime
    state: str
    via: str
    client_id: str | None
    body: Any = None


@dataclass(frozen=True)
class Forward:
    """A work item forwarded to another owner.

    Attributes:
        work_item_id: the work item.
        at: when (timezone-aware UTC, from the fake's clock).
        from_owner_id: the owner before.
        to_owner_id: the owner after (``targetOwnerId``).
        comment: the comment sent.
        send_notifications: ``sendNotifications`` as sent (default true).
        client_id: the OAuth client that asked.
    """

    work_item_id: str
    at: datetime
    from_owner_id: str | None
    to_owner_id: str
    comment: str
    send_notifications: bool
    client_id: str | None


@dataclass
class _Client:
    secret: str = field(repr=False)
    identity_id: str = ""


@dataclass
class _IssuedToken:
    client_id: str
    identity_id: str
    expires_at: float
    revoked: bool = False


@dataclass(frozen=True)
class _Principal:
    client_id: str
    identity_id: str


class _Unauthorized(Exception):
    """401 with IdentityNow's ``{"error": ...}`` body."""


class _RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after = retry_after


Handler = Callable[..., Response]


def _retry_after(seconds: float) -> str:
    """``Retry-After`` in whole seconds as IdentityNow sends it; sub-second values (fast tests) as decimals."""
    if seconds >= 1:
        return str(math.ceil(seconds - 1e-9))
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")


def _wire_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments as wire (camelCase) names; camelCase keywords pass unchanged."""
    return {camel_case(name): value for name, value in fields.items()}


class FakeIdentityNow:
    """A fake IdentityNow tenant: a WSGI app with seedable, inspectable, lock-protected state.

    Args:
        clients: OAuth client ids and secrets (personal access tokens) allowed to get tokens.
            Default: ``{"fake-client-id": "fake-client-secret"}``.
        tenant: the tenant name (``/oauth/info``, token claims).
        token_lifetime: seconds an access token lives (``expires_in``; IdentityNow's example says 749).
        rate_limit: ``(requests, seconds)`` allowed per client id and API version, e.g. ``(100, 10.0)`` as the
            API gateway documents; ``None`` (default) for no limit. Exceeding it answers 429 with ``Retry-After``.
        require_experimental_header: answer 400 to ``/sim-integrations`` under ``/v2024``-``/v2026`` and the
            per-API layout unless ``X-SailPoint-Experimental: true`` is sent, as those specifications require.
        clock: the time source (epoch seconds) for timestamps, token expiry and the rate limit.
        seed: seed for generated ids and for fault probabilities, for reproducible runs.

    Attributes:
        faults: the fault rules acted out on matching requests (see `Faults`).
        requests: every request received, in order (``Authorization`` and client secrets masked).
        admin: the identity every client acts as unless bound to another one (the personal access token's owner).
    """

    DEFAULT_CLIENT_ID = "fake-client-id"
    DEFAULT_CLIENT_SECRET = "fake-client-secret"

    def __init__(
        self,
        *,
        clients: Mapping[str, str] | None = None,
        tenant: str = "acme",
        token_lifetime: float = 749.0,
        rate_limit: tuple[int, float] | None = None,
        require_experimental_header: bool = True,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        if token_lifetime <= 0:
            raise ValueError(f"token_lifetime must be positive, got {token_lifetime}")
        self.tenant = tenant
        self.token_lifetime = token_lifetime
        self.rate_limit = rate_limit
        self.require_experimental_header = require_experimental_header
        self.clock = clock
        self.faults = Faults(seed)
        self.requests = RequestLog()
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._jwt_key = self._rng.randbytes(32)
        self._initial_clients = (
            dict(clients) if clients is not None else {self.DEFAULT_CLIENT_ID: self.DEFAULT_CLIENT_SECRET}
        )
        self._routes = self._route_table()
        self._init_state()

    # ------------------------------------------------------------------------------------------------ state

    def _init_state(self) -> None:
        self._identities: dict[str, dict[str, Any]] = {}
        self._sources: dict[str, dict[str, Any]] = {}
        self._legacy_ids: dict[str, str] = {}
        self._work_items: dict[str, dict[str, Any]] = {}
        self._work_item_links: dict[str, dict[str, str]] = {}
        self._completions: dict[str, list[Completion]] = {}
        self._forwards: dict[str, list[Forward]] = {}
        self._activities: dict[str, dict[str, Any]] = {}
        self._sdims: dict[str, dict[str, Any]] = {}
        self._sims: dict[str, dict[str, Any]] = {}
        self._sdim_types: list[dict[str, Any]] = []
        self._tokens: dict[str, _IssuedToken] = {}
        self._windows: dict[tuple[str, str], list[float]] = {}
        self._status_check = {"provisioningStatusCheckIntervalMinutes": "30", "provisioningMaxStatusCheckDays": "2"}
        self.admin = self.add_identity("slpt.services", displayName="SailPoint Services")
        self._clients = {cid: _Client(secret, self.admin["id"]) for cid, secret in self._initial_clients.items()}
        for sdim_type in DEFAULT_SDIM_TYPES:
            self.add_service_desk_type(
                sdim_type["name"], sdim_type["type"], sdim_type["scriptName"], attributes=sdim_type["attributes"]
            )

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        """``(requests, seconds)`` allowed per client id and API version, or ``None``; may be changed at any time."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: tuple[int, float] | None) -> None:
        if value is not None:
            allowed, period = value
            if allowed < 1 or period <= 0:
                raise ValueError(f"rate_limit must be (requests >= 1, seconds > 0), got {value!r}")
        self._rate_limit = value

    def reset(self) -> None:
        """Forget everything: seeded and created objects, tokens, rate-limit windows, faults and the request log.

        Configuration (clients given to the constructor, tenant, lifetimes, rate limit, clock) is kept.
        """
        with self._lock:
            self._init_state()
        self.faults.clear()
        self.requests.clear()

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"FakeIdentityNow(tenant={self.tenant!r}, clients={sorted(self._clients)!r}, "
                f"sources={len(self._sources)}, work_items={len(self._work_items)})"
            )

    def _new_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _now(self) -> float:
        return float(self.clock())

    def _stamp(self) -> str:
        return iso_timestamp(self._now())

    def _at(self) -> datetime:
        return datetime.fromtimestamp(self._now(), tz=timezone.utc)

    # -------------------------------------------------------------------------------------- seeding helpers

    def add_client(self, client_id: str, client_secret: str, *, identity_id: str | None = None) -> None:
        """Allow another OAuth client (personal access token), acting as ``identity_id`` (default: `admin`)."""
        with self._lock:
            owner = identity_id or self.admin["id"]
            self._require(self._identities, owner, "identity")
            self._clients[client_id] = _Client(client_secret, owner)

    def add_identity(self, name: str, **fields: Any) -> dict[str, Any]:
        """Add an identity (an owner, requester or the person a work item is for); returns it with its ``id``."""
        with self._lock:
            identity: dict[str, Any] = {
                "id": self._new_id(),
                "name": name,
                "displayName": name,
                "email": f"{name}@example.com",
            }
            identity.update(_wire_fields(fields))
            self._identities[identity["id"]] = identity
            return copy.deepcopy(identity)

    def add_source(self, name: str, **fields: Any) -> dict[str, Any]:
        """Add a source; returns it as ``GET /v3/sources/{id}`` shows it.

        ``fields`` override any ``Source`` member, in snake_case or camelCase (``connector_name="Jira"``). The
        default is a healthy delimited-file source owned by `admin`. The source also gets a legacy numeric
        id (``legacy_id=`` to choose it), visible through ``/cc/api/source/list`` and `legacy_source`.
        """
        with self._lock:
            stamp = self._stamp()
            source_id = self._new_id()
            source: dict[str, Any] = {
                "id": source_id,
                "name": name,
                "description": f"{name} (manual provisioning)",
                "owner": self._identity_ref(self.admin["id"]),
                "cluster": None,
                "accountCorrelationConfig": None,
                "accountCorrelationRule": None,
                "managerCorrelationMapping": None,
                "managerCorrelationRule": None,
                "beforeProvisioningRule": None,
                "schemas": [
                    {"type": "CONNECTOR_SCHEMA", "id": self._new_id(), "name": "account"},
                    {"type": "CONNECTOR_SCHEMA", "id": self._new_id(), "name": "group"},
                ],
                "passwordPolicies": None,
                "features": ["DIRECT_PERMISSIONS", "NO_RANDOM_ACCESS", "DISCOVER_SCHEMA"],
                "type": "DelimitedFile",
                "connector": "delimited-file",
                "connectorClass": "sailpoint.connector.DelimitedFileConnector",
                "connectorAttributes": {},
                "deleteThreshold": 10,
                "authoritative": False,
                "managementWorkgroup": None,
                "healthy": True,
                "status": "SOURCE_STATE_HEALTHY",
                "since": stamp,
                "connectorId": "delimited-file",
                "connectorName": "Delimited File",
                "connectionType": "file",
                "connectorImplementationId": "delimited-file",
                "created": stamp,
                "modified": stamp,
                "credentialProviderEnabled": False,
                "category": None,
            }
            overrides = _wire_fields(fields)
            legacy_id = str(overrides.pop("legacyId", None) or 20000 + len(self._legacy_ids) + 1)
            if "id" in overrides and overrides["id"] in self._sources:
                raise ValueError(f"a source with id {overrides['id']!r} already exists")
            if not legacy_id.isdigit() or legacy_id in self._legacy_ids.values():
                raise ValueError(f"legacy_id must be a number no other source has, got {legacy_id!r}")
            source.update(overrides)
            self._sources[source["id"]] = source
            self._legacy_ids[source["id"]] = legacy_id
            return copy.deepcopy(source)

    def legacy_source(self, source_id: str) -> dict[str, Any]:
        """The source as the private ``/cc/api/source/list`` shows it (numeric ``id``, ``externalId``)."""
        with self._lock:
            return self._cc_source(self._require(self._sources, source_id, "source"))

    def add_manual_work_item(
        self,
        source_id: str,
        operation: str,
        native_identity: str,
        attributes: Mapping[str, Any] | Iterable[Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add the manual work item IdentityNow creates for a source configured for manual provisioning.

        Args:
            source_id: the source (v3 id) the account lives on.
            operation: the account operation: ``Create``, ``Modify``, ``Delete``, ``Enable``, ``Disable`` or
                ``Unlock`` (any case).
            native_identity: the account's native identity on the source.
            attributes: the attribute requests. A mapping ``{name: value}`` means ``Set`` for a Create and
                ``Add`` otherwise; for entitlement changes pass ``(name, "Add" | "Remove", value)`` tuples or
                ``{"name", "operation", "value"}`` dicts. A list value becomes one approval item per element.
            **fields: overrides of ``WorkItems`` members (``owner_id=``, ``requester_id=``, ``description=``,
                ...), plus ``identity_id=`` (the identity the account belongs to; default: an identity named
                after ``native_identity``, created when missing) and ``application=`` (the application name the
                approval and remediation items show; default: the source's name - tenants may show the internal
                ``"Name [source-12345]"`` instead).

        Returns:
            The work item as ``GET /v3/work-items/{id}`` shows it: type ``ManualAction``, state ``Pending``,
            owned by the source's owner, with one approval item and one remediation item per attribute request
            (one for the account itself when there are none). An account activity is recorded alongside.
        """
        with self._lock:
            source = self._require(self._sources, source_id, "source")
            op = _ACCOUNT_OPERATIONS.get(operation.lower())
            if op is None:
                raise ValueError(
                    f"operation must be one of {', '.join(_ACCOUNT_OPERATIONS.values())}, got {operation!r}"
                )
            overrides = _wire_fields(fields)
            identity_id = overrides.pop("identityId", None) or self._identity_named(native_identity)["id"]
            application = str(overrides.pop("application", None) or source["name"])
            identity = self._require(self._identities, identity_id, "identity")
            requests = self._attribute_requests(op, attributes)
            stamp = self._stamp()
            owner = (source.get("owner") or {}).get("id") or self.admin["id"]
            work_item_id = self._new_id()
            approval_items: list[dict[str, Any]] = []
            remediation_items: list[dict[str, Any]] = []
            entries: list[tuple[str | None, str, str | None]] = [*requests] or [(None, op, None)]
            for name, attribute_op, value in entries:
                item_id = self._new_id()
                approval_items.append(
                    {
                        "id": item_id,
                        "account": native_identity,
                        "application": application,
                        "name": name,
                        "operation": attribute_op,
                        "value": value,
                        # Undecided: IdentityNow's schema allows null, and SailPoint's SDK (2.1.x) cannot read
                        # a non-null approval-item state (NameError: WorkItemState) - null keeps it usable.
                        "state": None,
                    }
                )
                remediation = {
                    "id": item_id,
                    "targetId": identity["id"],
                    "targetName": identity["name"],
                    "targetDisplayName": identity.get("displayName", identity["name"]),
                    "applicationName": application,
                    "attributeName": name,
                    "attributeOperation": attribute_op,
                    "attributeValue": value,
                    "nativeIdentity": native_identity,
                }
                remediation_items.append({key: val for key, val in remediation.items() if val is not None})
            work_item: dict[str, Any] = {
                "id": work_item_id,
                "requesterId": identity["id"],
                "requesterDisplayName": identity.get("displayName", identity["name"]),
                "ownerId": owner,
                "ownerName": self._identity_display(owner),
                "created": stamp,
                "modified": stamp,
                "description": self._work_item_description(op, native_identity, source["name"]),
                "state": "Pending",
                "type": "ManualAction",
                "remediationItems": remediation_items,
                "approvalItems": approval_items,
                "name": f"Account {op}",
                "completed": None,
                "numItems": len(approval_items),
                "form": None,
                "errors": [],
            }
            for key in ("ownerId", "requesterId"):
                if key in overrides:
                    self._require(self._identities, overrides[key], "identity")
            if "ownerId" in overrides and "ownerName" not in overrides:
                overrides["ownerName"] = self._identity_display(overrides["ownerId"])
            if "requesterId" in overrides and "requesterDisplayName" not in overrides:
                overrides["requesterDisplayName"] = self._identity_display(overrides["requesterId"])
            work_item.update(overrides)
            self._work_items[work_item["id"]] = work_item
            activity = self._activity_for(work_item, op, source, identity, requests)
            self._work_item_links[work_item["id"]] = {
                "sourceId": source_id,
                "identityId": identity["id"],
                "activityId": activity["id"],
            }
            return copy.deepcopy(work_item)

    def add_account_activity(self, **fields: Any) -> dict[str, Any]:
        """Add an account activity (``AccountActivity`` members as keywords); returns it as the API shows it."""
        with self._lock:
            stamp = self._stamp()
            activity_id = self._new_id()
            activity: dict[str, Any] = {
                "id": activity_id,
                "name": activity_id,
                "created": stamp,
                "modified": stamp,
                "completed": None,
                "completionStatus": "PENDING",
                "type": "appRequest",
                "requesterIdentitySummary": self._identity_summary(self.admin["id"]),
                "targetIdentitySummary": self._identity_summary(self.admin["id"]),
                "errors": [],
                "warnings": [],
                "items": [],
                "executionStatus": "EXECUTING",
                "clientMetadata": None,
            }
            activity.update(_wire_fields(fields))
            self._activities[activity["id"]] = activity
            return copy.deepcopy(activity)

    def add_service_desk_integration(self, name: str, **fields: Any) -> dict[str, Any]:
        """Add a service-desk integration (``ServiceDeskIntegrationDto`` members as keywords).

        Defaults: type ``ServiceNowSDIM``, empty attributes, owned by `admin`. Returns it as
        ``GET /v3/service-desk-integrations/{id}`` shows it.
        """
        body: dict[str, Any] = {
            "name": name,
            "description": f"{name} service desk integration",
            "type": "ServiceNowSDIM",
            "attributes": {},
            "ownerRef": {"type": "IDENTITY", "id": self.admin["id"]},
        }
        body.update(_wire_fields(fields))
        with self._lock:
            try:
                stored = self._sdim_from_body(body, stored=None, patched_from=None)
            except ApiProblem as exc:
                raise ValueError(exc.text) from exc
            self._sdims[stored["id"]] = stored
            return copy.deepcopy(stored)

    def add_sim_integration(self, **fields: Any) -> dict[str, Any]:
        """Add a legacy SIM integration; unspecified members come from SailPoint's example definition.

        Returns it as ``GET /beta/sim-integrations/{id}`` shows it. See `example_sim_integration`.
        """
        body = example_sim_integration()
        body.update(_wire_fields(fields))
        with self._lock:
            try:
                stored = self._sim_from_body(body, stored=None)
            except ApiProblem as exc:
                raise ValueError(exc.text) from exc
            self._sims[stored["id"]] = stored
            return copy.deepcopy(stored)

    @staticmethod
    def example_sim_integration(sources: Sequence[str] = ()) -> dict[str, Any]:
        """SailPoint's example SIM definition (a ``SimIntegrationDetails`` body), for ``sources``."""
        return example_sim_integration(sources)

    def add_service_desk_type(
        self, name: str, type: str, script_name: str, *, attributes: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Offer an integration type in ``/types`` and its template in ``/templates/{script_name}``."""
        with self._lock:
            stamp = self._stamp()
            template = {
                "id": self._new_id(),
                "name": name,
                "created": stamp,
                "modified": stamp,
                "type": type,
                "attributes": dict(attributes or {}),
                "provisioningConfig": {
                    "universalManager": False,
                    "managedResourceRefs": [],
                    "planInitializerScript": None,
                    "noProvisioningRequests": False,
                },
            }
            entry = {"name": name, "type": type, "scriptName": script_name, "template": template}
            self._sdim_types = [t for t in self._sdim_types if t["scriptName"] != script_name] + [entry]
            return {"name": name, "type": type, "scriptName": script_name}

    def set_status_check_configuration(self, interval_minutes: int, max_days: int) -> None:
        """Set the tenant's status-check configuration (served as strings, as IdentityNow does)."""
        with self._lock:
            self._status_check = {
                "provisioningStatusCheckIntervalMinutes": str(int(interval_minutes)),
                "provisioningMaxStatusCheckDays": str(int(max_days)),
            }

    def issue_token(self, client_id: str | None = None) -> str:
        """A valid access token for ``client_id`` (default: the first client), without an HTTP round trip.

        Handy for scripts that call the API with plain `requests`: ``{"Authorization": f"Bearer {token}"}``.
        """
        with self._lock:
            chosen = client_id if client_id is not None else next(iter(self._clients), None)
            if chosen is None or chosen not in self._clients:
                raise KeyError(f"no OAuth client {chosen!r} in the fake")
            return str(self._issue(chosen)["access_token"])

    def expire_tokens(self) -> None:
        """Expire every access token issued so far (clients must fetch new ones)."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    # ----------------------------------------------------------------------------------------- inspection

    def work_item(self, work_item_id: str) -> dict[str, Any]:
        """A work item as the API shows it now (a copy); ``KeyError`` if there is none."""
        with self._lock:
            return copy.deepcopy(self._require(self._work_items, work_item_id, "work item"))

    def work_items(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every work item (optionally only those in ``state``, e.g. ``"Pending"``), oldest first."""
        with self._lock:
            return [copy.deepcopy(w) for w in self._work_items.values() if state is None or w["state"] == state]

    def completions(self, work_item_id: str) -> list[Completion]:
        """Every completion of a work item, in order, with timestamps: assert "completed exactly once" here."""
        with self._lock:
            self._require(self._work_items, work_item_id, "work item")
            return list(self._completions.get(work_item_id, ()))

    def forwards(self, work_item_id: str) -> list[Forward]:
        """Every forward of a work item, in order, with timestamps, owners and comments."""
        with self._lock:
            self._require(self._work_items, work_item_id, "work item")
            return list(self._forwards.get(work_item_id, ()))

    def identities(self) -> list[dict[str, Any]]:
        """Every identity, `admin` first."""
        with self._lock:
            return copy.deepcopy(list(self._identities.values()))

    def sources(self) -> list[dict[str, Any]]:
        """Every source, as the API shows them."""
        with self._lock:
            return copy.deepcopy(list(self._sources.values()))

    def account_activities(self) -> list[dict[str, Any]]:
        """Every account activity, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._activities.values()))

    def service_desk_integrations(self) -> list[dict[str, Any]]:
        """Every service-desk integration, as the API shows them."""
        with self._lock:
            return copy.deepcopy(list(self._sdims.values()))

    def sim_integrations(self) -> list[dict[str, Any]]:
        """Every legacy SIM integration, as the API shows them."""
        with self._lock:
            return copy.deepcopy(list(self._sims.values()))

    def status_check_configuration(self) -> dict[str, str]:
        """The tenant's status-check configuration as the API shows it (string values)."""
        with self._lock:
            return dict(self._status_check)

    # -------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _require(table: Mapping[str, Any], key: str, what: str) -> Any:
        try:
            return table[key]
        except KeyError:
            raise KeyError(f"no {what} with id {key!r} in the fake") from None

    def _identity_named(self, name: str) -> dict[str, Any]:
        for identity in self._identities.values():
            if identity["name"] == name:
                return identity
        return self._identities[self.add_identity(name)["id"]]

    def _identity_display(self, identity_id: str | None) -> str:
        identity = self._identities.get(identity_id or "")
        if identity is None:
            return identity_id or ""
        return str(identity.get("displayName") or identity["name"])

    def _identity_ref(self, identity_id: str) -> dict[str, Any]:
        return {"type": "IDENTITY", "id": identity_id, "name": self._identity_display(identity_id)}

    def _identity_summary(self, identity_id: str) -> dict[str, Any]:
        return {
            "id": identity_id,
            "name": self._identity_display(identity_id),
            "identityId": identity_id,
            "completed": False,
        }

    @staticmethod
    def _work_item_description(op: str, native_identity: str, source_name: str) -> str:
        if op == "Create":
            return f"Create account on source '{source_name}'"
        return f"{op} account '{native_identity}' on source '{source_name}'"

    @staticmethod
    def _attribute_requests(
        op: str, attributes: Mapping[str, Any] | Iterable[Any] | None
    ) -> list[tuple[str, str, str]]:
        if attributes is None:
            return []
        default_op = "Set" if op == "Create" else "Add"
        triples: list[tuple[str, str, Any]] = []
        if isinstance(attributes, Mapping):
            triples = [(str(name), default_op, value) for name, value in attributes.items()]
        else:
            for entry in attributes:
                if isinstance(entry, Mapping):
                    triples.append((str(entry["name"]), str(entry.get("operation", default_op)), entry.get("value")))
                else:
                    parts = tuple(entry)
                    if len(parts) != 3:
                        raise ValueError(f"an attribute request is (name, operation, value), got {entry!r}")
                    triples.append((str(parts[0]), str(parts[1]), parts[2]))
        requests: list[tuple[str, str, str]] = []
        for name, attribute_op, value in triples:
            canonical = _ATTRIBUTE_OPERATIONS.get(attribute_op.lower())
            if canonical is None:
                raise ValueError(f"attribute operation must be Add, Remove or Set, got {attribute_op!r}")
            values = value if isinstance(value, (list, tuple)) else [value]
            requests.extend((name, canonical, _as_text(item)) for item in values)
        return requests

    def _activity_for(
        self,
        work_item: Mapping[str, Any],
        op: str,
        source: Mapping[str, Any],
        identity: Mapping[str, Any],
        requests: Sequence[tuple[str, str, str]],
    ) -> dict[str, Any]:
        stamp = work_item["created"]
        native_identity = work_item["approvalItems"][0]["account"]
        entries = [(None, op, None)] if not requests else list(requests)
        items = []
        for name, item_op, value in entries:
            item_id = self._new_id()
            items.append(
                {
                    "id": item_id,
                    "name": item_id,
                    "requested": stamp,
                    "approvalStatus": "FINISHED",
                    "provisioningStatus": "PENDING",
                    "requesterComment": None,
                    "reviewerIdentitySummary": None,
                    "reviewerComment": None,
                    "operation": item_op.upper(),
                    "attribute": name,
                    "value": value,
                    "nativeIdentity": native_identity,
                    "sourceId": source["id"],
                    "accountRequestInfo": None,
                    "clientMetadata": None,
                    "removeDate": None,
                }
            )
        requester = work_item.get("requesterId") or identity["id"]
        return self.add_account_activity(
            type="AccountStateUpdate" if op in ("Enable", "Disable", "Unlock") else "appRequest",
            created=stamp,
            modified=stamp,
            requesterIdentitySummary=self._identity_summary(requester),
            targetIdentitySummary=self._identity_summary(identity["id"]),
            items=items,
        )

    def _settle_activity(self, work_item_id: str, state: str) -> None:
        link = self._work_item_links.get(work_item_id)
        activity = self._activities.get(link["activityId"]) if link else None
        if activity is None:
            return
        stamp = self._stamp()
        succeeded = state == "Finished"
        activity.update(
            modified=stamp,
            completed=stamp,
            executionStatus="COMPLETED",
            completionStatus="SUCCESS" if succeeded else "FAILURE",
        )
        for item in activity.get("items") or []:
            item["provisioningStatus"] = "COMMITED" if succeeded else "FAILED"
            if not succeeded:
                item["approvalStatus"] = "REJECTED"

    def _cc_source(self, source: Mapping[str, Any]) -> dict[str, Any]:
        owner = source.get("owner") or {}
        return {
            "id": self._legacy_ids[source["id"]],
            "externalId": source["id"],
            "name": source["name"],
            "displayName": source["name"],
            "description": source.get("description"),
            "sourceType": source.get("type"),
            "sourceConnectorName": source.get("connectorName"),
            "owner": {"id": owner.get("id"), "name": owner.get("name")} if owner else None,
            "health": {"healthy": bool(source.get("healthy")), "status": source.get("status")},
            "lastUpdated": source.get("modified"),
        }

    # ------------------------------------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Answer one WSGI request."""
        request = Request.from_environ(environ)
        fault = self.faults.pick(request.method, request.path)
        try:
            response = self._respond(request, fault)
        except DropConnection:
            self._log(request, 0, fault)
            raise
        if fault is not None and fault.kind is FaultKind.DROP:
            self._log(request, 0, fault)
            raise DropConnection(f"fault: dropped {request.method} {request.path} after acting on it")
        self._log(request, response.status, fault)
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(response.status_line(), headers)
        return [response.body]

    def _respond(self, request: Request, fault: Fault | None) -> Response:
        if fault is not None:
            kind = fault.kind
            if kind is FaultKind.LATENCY:
                time.sleep(fault.delay)
            elif kind is FaultKind.DROP and not fault.after:
                raise DropConnection(f"fault: dropped {request.method} {request.path}")
            elif kind is FaultKind.ERROR:
                # IdentityNow answers 401 and 429 with their own bodies, not the error envelope.
                if fault.status == 401:
                    return self._unauthorized("JWT validation failed: JWT is invalid")
                if fault.status == 429:
                    return Response.json(_RATE_LIMIT_BODY, 429)
                return self._problem_response(ApiProblem(fault.status, "Fault injected by the fake."))
            elif kind is FaultKind.RATE_LIMIT:
                return Response.json(_RATE_LIMIT_BODY, 429, [("Retry-After", _retry_after(fault.retry_after))])
            elif kind is FaultKind.SEMAPHORE:
                return Response.json(_RATE_LIMIT_BODY, 429)
            elif kind is FaultKind.HTML:
                return Response.html(fault.status)
            elif kind is FaultKind.EXPIRE_TOKEN:
                self._revoke_presented_token(request)
                return self._unauthorized("JWT validation failed: JWT is expired")
        return self._handle(request)

    def _log(self, request: Request, status: int, fault: Fault | None) -> None:
        headers = {
            name: ("***" if name in ("authorization", "cookie") else value) for name, value in request.headers.items()
        }
        query = {name: list(values) for name, values in request.query.items()}
        body = request.body
        if request.path == "/oauth/token":
            query = {name: (["***"] if name == "client_secret" else values) for name, values in query.items()}
            body = _mask_form_secret(body)
        self.requests.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=query,
                headers=headers,
                body=body,
                status=status,
                at=self._now(),
                fault=fault.kind.value if fault is not None else None,
            )
        )

    def _handle(self, request: Request) -> Response:
        try:
            if request.path == "/oauth/token":
                return self._oauth_token(request)
            if request.path == "/oauth/info":
                if request.method != "GET":
                    raise ApiProblem(405, f"{request.method} is not supported on /oauth/info.")
                return self._oauth_info(request)
            principal = self._authenticate(request)
            version, resource = self._split(request.path)
            self._check_rate(principal.client_id, version)
            handler, params = self._match(request, version, resource)
            with self._lock:
                return handler(request, principal, *params)
        except ApiProblem as problem:
            return self._problem_response(problem)
        except _Unauthorized as exc:
            return self._unauthorized(str(exc))
        except _RateLimited as exc:
            return Response.json(_RATE_LIMIT_BODY, 429, [("Retry-After", _retry_after(exc.retry_after))])
        except Exception as exc:  # a bug in the fake: answer like IdentityNow's 500, say what it was
            return self._problem_response(
                ApiProblem(500, "An internal fault occurred.", causes=[f"{type(exc).__name__}: {exc}"])
            )

    def _problem_response(self, problem: ApiProblem) -> Response:
        with self._lock:
            tracking_id = self._new_id()
        body = error_envelope(
            problem.status, problem.text, tracking_id, detail_code=problem.detail_code, causes=problem.causes
        )
        return Response.json(body, problem.status)

    @staticmethod
    def _unauthorized(message: str) -> Response:
        return Response.json({"error": message}, 401, [("WWW-Authenticate", 'Bearer error="invalid_token"')])

    # ----------------------------------------------------------------------------------------------- OAuth

    def _oauth_token(self, request: Request) -> Response:
        if request.method != "POST":
            raise ApiProblem(405, f"{request.method} is not supported on /oauth/token; use POST.")
        params = {name: values[-1] for name, values in request.query.items()}
        params.update(parse_form(request))
        client_id = params.get("client_id")
        client_secret = params.get("client_secret")
        basic = _basic_credentials(request.headers.get("authorization", ""))
        if basic is not None:
            client_id, client_secret = basic
        grant_type = (params.get("grant_type") or "").lower()
        if not grant_type:
            return _oauth_error(400, "invalid_request", "Missing grant type")
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        with self._lock:
            client = self._clients.get(client_id or "")
            if client is None or not hmac.compare_digest(client.secret.encode(), (client_secret or "").encode()):
                return _oauth_error(401, "invalid_client", "Bad client credentials")
            body = self._issue(client_id or "")
        return Response.json(body, 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def _issue(self, client_id: str) -> dict[str, Any]:
        """Mint a token for a known client; returns the token response body."""
        client = self._clients[client_id]
        jti = self._new_id()
        expires_at = self._now() + self.token_lifetime
        self._tokens[jti] = _IssuedToken(client_id, client.identity_id, expires_at)
        identity = self._identities.get(client.identity_id, self.admin)
        tenant_id = self._tenant_id()
        claims = {
            "tenant_id": tenant_id,
            "internal": False,
            "pod": _POD,
            "org": self.tenant,
            "identity_id": client.identity_id,
            "user_name": identity["name"],
            "strong_auth": True,
            "authorities": ["ORG_ADMIN"],
            "client_id": client_id,
            "strong_auth_supported": False,
            "user_id": client.identity_id,
            "scope": ["sp:scopes:all"],
            "exp": int(expires_at),
            "jti": jti,
        }
        return {
            "access_token": encode_jwt(claims, self._jwt_key),
            "token_type": "bearer",
            "expires_in": math.ceil(self.token_lifetime),
            "scope": "sp:scopes:all",
            "accessType": "OFFLINE",
            "tenant_id": tenant_id,
            "internal": False,
            "pod": _POD,
            "strong_auth_supported": False,
            "org": self.tenant,
            "user_id": client.identity_id,
            "identity_id": client.identity_id,
            "strong_auth": True,
            "enabled": True,
            "jti": jti,
        }

    def _tenant_id(self) -> str:
        digest = hashlib.sha256(self.tenant.encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def _oauth_info(self, request: Request) -> Response:
        base = request.base_url
        return Response.json(
            {
                "tenantId": self._tenant_id(),
                "tenantName": self.tenant,
                "authorizeEndpoint": f"{base}/oauth/authorize",
                "tokenEndpoint": f"{base}/oauth/token",
                "cloudDomainUrl": base,
                "logoutUrl": f"{base}/logout",
                "pod": _POD,
            }
        )

    def _authenticate(self, request: Request) -> _Principal:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise _Unauthorized("JWT validation failed: JWT is missing")
        claims = decode_jwt(credentials.strip(), self._jwt_key)
        with self._lock:
            token = self._tokens.get(str(claims.get("jti"))) if claims else None
            if token is None:
                raise _Unauthorized("JWT validation failed: JWT is invalid")
            if token.revoked or self._now() >= token.expires_at:
                raise _Unauthorized("JWT validation failed: JWT is expired")
            return _Principal(token.client_id, token.identity_id)

    def _revoke_presented_token(self, request: Request) -> None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return
        claims = decode_jwt(credentials.strip(), self._jwt_key)
        if claims:
            with self._lock:
                token = self._tokens.get(str(claims.get("jti")))
                if token is not None:
                    token.revoked = True

    def _check_rate(self, client_id: str, version: str) -> None:
        limit = self.rate_limit
        if limit is None:
            return
        allowed, period = limit
        with self._lock:
            now = self._now()
            window = self._windows.get((client_id, version))
            if window is None or now >= window[0] + period:
                window = [now, 0.0]
                self._windows[(client_id, version)] = window
            if window[1] >= allowed:
                raise _RateLimited(window[0] + period - now)
            window[1] += 1

    # --------------------------------------------------------------------------------------------- routing

    def _split(self, path: str) -> tuple[str, list[str]]:
        """``/v3/work-items/x`` and ``/work-items/v1/x`` -> (version, ["work-items", "x"])."""
        segments = [segment for segment in path.split("/") if segment]
        if segments and segments[0] in _CLASSIC_VERSIONS:
            version, resource = segments[0], segments[1:]
            apis = _V3_APIS if version == "v3" else _ALL_APIS
            if resource and resource[0] in apis:
                return version, resource
        elif len(segments) >= 2 and segments[0] in _ALL_APIS and segments[1] == "v1":
            return "v1", [segments[0], *segments[2:]]
        elif segments[:2] == ["cc", "api"]:
            return "cc", segments[2:]
        raise ApiProblem(404, f"No API is served at {path}.")

    def _match(self, request: Request, version: str, resource: list[str]) -> tuple[Handler, list[str]]:
        table = self._routes["cc" if version == "cc" else "api"]
        for pattern, methods in table:
            if len(pattern) != len(resource):
                continue
            params: list[str] = []
            for expected, actual in zip(pattern, resource, strict=True):
                if expected == "{}":
                    params.append(actual)
                elif expected != actual:
                    break
            else:
                handler = methods.get(request.method)
                if handler is None:
                    allowed = ", ".join(sorted(methods))
                    raise ApiProblem(405, f"{request.method} is not supported on {request.path} (allowed: {allowed}).")
                if resource[0] == "sim-integrations" and version in _EXPERIMENTAL_VERSIONS:
                    self._require_experimental(request)
                return handler, params
        raise ApiProblem(404, f"No API is served at {request.path}.")

    def _require_experimental(self, request: Request) -> None:
        if not self.require_experimental_header:
            return
        if request.headers.get("x-sailpoint-experimental", "").strip().lower() != "true":
            raise ApiProblem(
                400,
                "This API is experimental: send the header X-SailPoint-Experimental: true to use it.",
                detail_code="400.1.0 Required data missing or empty",
            )

    def _route_table(self) -> dict[str, list[tuple[tuple[str, ...], dict[str, Handler]]]]:
        sdim, sim, wi = "service-desk-integrations", "sim-integrations", "work-items"
        api: list[tuple[tuple[str, ...], dict[str, Handler]]] = [
            ((sdim,), {"GET": self._list_sdims, "POST": self._create_sdim}),
            ((sdim, "types"), {"GET": self._sdim_types_list}),
            ((sdim, "templates", "{}"), {"GET": self._sdim_template}),
            ((sdim, "status-check-configuration"), {"GET": self._get_status_check, "PUT": self._put_status_check}),
            (
                (sdim, "{}"),
                {"GET": self._get_sdim, "PUT": self._put_sdim, "PATCH": self._patch_sdim, "DELETE": self._delete_sdim},
            ),
            ((sim,), {"GET": self._list_sims, "POST": self._create_sim}),
            (
                (sim, "{}"),
                {"GET": self._get_sim, "PUT": self._put_sim, "PATCH": self._patch_sim, "DELETE": self._delete_sim},
            ),
            ((sim, "{}", "beforeProvisioningRule"), {"PATCH": self._patch_sim_rule}),
            ((wi,), {"GET": self._list_pending}),
            ((wi, "completed"), {"GET": self._list_completed}),
            ((wi, "count"), {"GET": self._count_pending}),
            ((wi, "completed", "count"), {"GET": self._count_completed}),
            ((wi, "summary"), {"GET": self._summary}),
            ((wi, "bulk-approve", "{}"), {"POST": self._bulk_approve}),
            ((wi, "bulk-reject", "{}"), {"POST": self._bulk_reject}),
            ((wi, "{}"), {"GET": self._get_work_item, "POST": self._complete_work_item}),
            ((wi, "{}", "forward"), {"POST": self._forward_work_item}),
            ((wi, "{}", "approve", "{}"), {"POST": self._approve_item}),
            ((wi, "{}", "reject", "{}"), {"POST": self._reject_item}),
            (("account-activities",), {"GET": self._list_activities}),
            (("account-activities", "{}"), {"GET": self._get_activity}),
            (("sources",), {"GET": self._list_sources}),
            (("sources", "{}"), {"GET": self._get_source}),
        ]
        cc: list[tuple[tuple[str, ...], dict[str, Handler]]] = [(("source", "list"), {"GET": self._cc_list_sources})]
        return {"api": api, "cc": cc}

    # ------------------------------------------------------------------------------------------ collections

    @staticmethod
    def _collection(request: Request, records: Iterable[dict[str, Any]], spec: CollectionSpec | None) -> Response:
        try:
            paging = parse_paging(request.query)
            selected = list(records)
            if spec is not None:
                predicate = compile_filter(request.param("filters"), spec)
                selected = apply_sorters([r for r in selected if predicate(r)], request.param("sorters"), spec)
        except QueryError as exc:
            raise ApiProblem(400, str(exc)) from exc
        headers = [("X-Total-Count", str(len(selected)))] if paging.count else []
        return Response.json(copy.deepcopy(paging.page(selected)), 200, headers)

    @staticmethod
    def _found(table: Mapping[str, dict[str, Any]], key: str, what: str) -> dict[str, Any]:
        record = table.get(key)
        if record is None:
            raise ApiProblem(404, f"{what} with id {key} was not found.")
        return record

    # ---------------------------------------------------------------------------------------------- sources

    def _list_sources(self, request: Request, principal: _Principal) -> Response:
        return self._collection(request, self._sources.values(), SOURCE_COLLECTION)

    def _get_source(self, request: Request, principal: _Principal, source_id: str) -> Response:
        return Response.json(copy.deepcopy(self._found(self._sources, source_id, "Source")))

    def _cc_list_sources(self, request: Request, principal: _Principal) -> Response:
        # The private API pages with start/limit and always reports X-Total-Count.
        records = [self._cc_source(source) for source in self._sources.values()]
        try:
            start = int(request.param("start") or 0)
            limit = int(request.param("limit") or len(records) or 1)
        except ValueError as exc:
            raise ApiProblem(400, f"start and limit must be integers: {exc}.") from exc
        if start < 0 or limit < 0:
            raise ApiProblem(400, "start and limit must not be negative.")
        return Response.json(records[start : start + limit], 200, [("X-Total-Count", str(len(records)))])

    # -------------------------------------------------------------------------- service-desk integrations

    def _list_sdims(self, request: Request, principal: _Principal) -> Response:
        return self._collection(request, self._sdims.values(), SERVICE_DESK_COLLECTION)

    def _get_sdim(self, request: Request, principal: _Principal, sdim_id: str) -> Response:
        return Response.json(copy.deepcopy(self._found(self._sdims, sdim_id, "Service desk integration")))

    def _create_sdim(self, request: Request, principal: _Principal) -> Response:
        stored = self._sdim_from_body(request.json(), stored=None, patched_from=None)
        self._sdims[stored["id"]] = stored
        return Response.json(copy.deepcopy(stored))

    def _put_sdim(self, request: Request, principal: _Principal, sdim_id: str) -> Response:
        previous = self._found(self._sdims, sdim_id, "Service desk integration")
        stored = self._sdim_from_body(request.json(), stored=previous, patched_from=None)
        self._sdims[sdim_id] = stored
        return Response.json(copy.deepcopy(stored))

    def _patch_sdim(self, request: Request, principal: _Principal, sdim_id: str) -> Response:
        previous = self._found(self._sdims, sdim_id, "Service desk integration")
        operations = _patch_operations(request)
        try:
            patched = apply_json_patch(previous, operations, allowed_ops=("replace",), implicit_members=_SDIM_MEMBERS)
        except PatchForbidden as exc:
            raise ApiProblem(403, f"Only replace operations are accepted: {exc}.") from exc
        except PatchError as exc:
            raise ApiProblem(400, f"The patch cannot be applied: {exc}.") from exc
        _refuse_read_only_changes(previous, patched)
        stored = self._sdim_from_body(patched, stored=previous, patched_from=previous)
        self._sdims[sdim_id] = stored
        return Response.json(copy.deepcopy(stored))

    def _delete_sdim(self, request: Request, principal: _Principal, sdim_id: str) -> Response:
        self._found(self._sdims, sdim_id, "Service desk integration")
        del self._sdims[sdim_id]
        return Response.empty(204)

    def _sdim_types_list(self, request: Request, principal: _Principal) -> Response:
        return Response.json([{k: t[k] for k in ("name", "type", "scriptName")} for t in self._sdim_types])

    def _sdim_template(self, request: Request, principal: _Principal, script_name: str) -> Response:
        for entry in self._sdim_types:
            if entry["scriptName"] == script_name:
                return Response.json(copy.deepcopy(entry["template"]))
        raise ApiProblem(404, f"Service desk integration template {script_name} was not found.")

    def _get_status_check(self, request: Request, principal: _Principal) -> Response:
        return Response.json(dict(self._status_check))

    def _put_status_check(self, request: Request, principal: _Principal) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise ApiProblem(400, "The status-check configuration must be a JSON object.")
        updated: dict[str, str] = {}
        for key in ("provisioningStatusCheckIntervalMinutes", "provisioningMaxStatusCheckDays"):
            value = body.get(key)
            # A Java String field: Jackson also accepts a JSON number and keeps its text.
            text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
            if text is None or not text.strip().isdigit() or int(text) < 1:
                raise ApiProblem(400, f"{key} is required and must be a positive whole number, got {value!r}.")
            updated[key] = str(int(text))
        self._status_check = updated
        return Response.json(dict(updated))

    def _sdim_from_body(
        self, body: Any, *, stored: Mapping[str, Any] | None, patched_from: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Validate an integration body and build what IdentityNow stores and shows (mirrors kept in sync)."""
        if not isinstance(body, dict):
            raise ApiProblem(400, "A service desk integration must be a JSON object.")
        missing = [key for key in _SDIM_REQUIRED if body.get(key) is None]
        if missing:
            raise ApiProblem(400, f"Required field(s) missing: {', '.join(missing)}.")
        for key in ("name", "description", "type"):
            if not isinstance(body[key], str):
                raise ApiProblem(400, f"{key} must be a string.")
        if not isinstance(body["attributes"], dict):
            raise ApiProblem(400, "attributes must be a JSON object.")
        name = body["name"].strip()
        if not name:
            raise ApiProblem(400, "name must not be empty.")
        for other in self._sdims.values():
            if other["name"].casefold() == name.casefold() and (stored is None or other["id"] != stored["id"]):
                raise ApiProblem(
                    400,
                    f"A service desk integration named {name!r} already exists.",
                    detail_code="400.1.409 Reference conflict",
                )
        stamp = self._stamp()
        result: dict[str, Any] = {
            "id": stored["id"] if stored else self._new_id(),
            "name": body["name"],
            "created": stored["created"] if stored else stamp,
            "modified": stamp,
            "description": body["description"],
            "type": body["type"],
        }
        owner = body.get("ownerRef")
        if owner is not None:
            if not isinstance(owner, dict) or not owner.get("id"):
                raise ApiProblem(400, "ownerRef must be an object with an id.")
            result["ownerRef"] = {
                "type": "IDENTITY",
                "id": owner["id"],
                "name": owner.get("name") or self._identity_display(owner["id"]),
            }
        result.update(self._cluster_members(body, patched_from))
        provisioning, managed = self._provisioning_members(body, patched_from)
        result["managedSources"] = managed
        result["provisioningConfig"] = provisioning
        result["attributes"] = copy.deepcopy(body["attributes"])
        rule = body.get("beforeProvisioningRule")
        if rule is not None:
            if not isinstance(rule, dict) or not rule.get("id"):
                raise ApiProblem(400, "beforeProvisioningRule must be an object with an id.")
            result["beforeProvisioningRule"] = {"type": "RULE", "id": rule["id"]}
            if rule.get("name") is not None:
                result["beforeProvisioningRule"]["name"] = rule["name"]
        return result

    @staticmethod
    def _cluster_members(body: Mapping[str, Any], patched_from: Mapping[str, Any] | None) -> dict[str, Any]:
        """``clusterRef`` and its deprecated mirror ``cluster``: one truth, the one the caller changed."""
        ref = body.get("clusterRef")
        legacy = body.get("cluster")
        if patched_from is None:  # create or replace: clusterRef wins when both are sent
            use_legacy = ref is None
        else:  # patch: the member the caller changed wins
            use_legacy = legacy != patched_from.get("cluster") and ref == patched_from.get("clusterRef")
        if use_legacy:
            if legacy is None:
                return {"cluster": None}
            if not isinstance(legacy, str):
                raise ApiProblem(400, "cluster must be a string (a cluster id).")
            return {"clusterRef": {"type": "CLUSTER", "id": legacy}, "cluster": legacy}
        if ref is None:
            return {"cluster": None}
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
            raise ApiProblem(400, "clusterRef must be an object with an id.")
        cluster_ref = {"type": "CLUSTER", "id": ref["id"]}
        if ref.get("name") is not None:
            cluster_ref["name"] = ref["name"]
        return {"clusterRef": cluster_ref, "cluster": ref["id"]}

    def _provisioning_members(
        self, body: Mapping[str, Any], patched_from: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], list[str]]:
        """``provisioningConfig`` and the deprecated ``managedSources`` mirror: one truth, sources resolved."""
        config = body.get("provisioningConfig")
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ApiProblem(400, "provisioningConfig must be a JSON object.")
        refs = config.get("managedResourceRefs")
        legacy = body.get("managedSources")
        if patched_from is None:  # create or replace: managedResourceRefs win when both are sent
            use_legacy = refs is None and legacy is not None
        else:  # patch: the member the caller changed wins
            previous_refs = (patched_from.get("provisioningConfig") or {}).get("managedResourceRefs")
            use_legacy = legacy != patched_from.get("managedSources") and refs == previous_refs
        if use_legacy:
            if legacy is not None and (not isinstance(legacy, list) or not all(isinstance(s, str) for s in legacy)):
                raise ApiProblem(400, "managedSources must be a list of source ids.")
            refs = [{"type": "SOURCE", "id": source_id} for source_id in legacy or []]
        refs = refs or []
        if not isinstance(refs, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in refs):
            raise ApiProblem(400, "provisioningConfig.managedResourceRefs must be a list of objects with an id.")
        unknown = [ref["id"] for ref in refs if ref["id"] not in self._sources]
        if unknown:
            raise ApiProblem(
                400,
                f"Unknown source id(s) in managedResourceRefs: {', '.join(unknown)}.",
                detail_code="400.1.1 Illegal value",
            )
        resolved = [{"type": "SOURCE", "id": ref["id"], "name": self._sources[ref["id"]]["name"]} for ref in refs]
        result: dict[str, Any] = {
            "universalManager": False,
            "managedResourceRefs": resolved,
            "planInitializerScript": copy.deepcopy(config.get("planInitializerScript")),
            "noProvisioningRequests": bool(config.get("noProvisioningRequests", False)),
        }
        expiration = config.get("provisioningRequestExpiration")
        if expiration is not None:
            if isinstance(expiration, bool) or not isinstance(expiration, int):
                raise ApiProblem(400, "provisioningConfig.provisioningRequestExpiration must be an integer (hours).")
            result["provisioningRequestExpiration"] = expiration
        return result, [ref["id"] for ref in resolved]

    # ------------------------------------------------------------------------------------ SIM integrations

    def _list_sims(self, request: Request, principal: _Principal) -> Response:
        return Response.json(copy.deepcopy(list(self._sims.values())))

    def _get_sim(self, request: Request, principal: _Principal, sim_id: str) -> Response:
        return Response.json(copy.deepcopy(self._found(self._sims, sim_id, "SIM integration")))

    def _create_sim(self, request: Request, principal: _Principal) -> Response:
        stored = self._sim_from_body(request.json(), stored=None)
        self._sims[stored["id"]] = stored
        return Response.json(copy.deepcopy(stored))

    def _put_sim(self, request: Request, principal: _Principal, sim_id: str) -> Response:
        previous = self._found(self._sims, sim_id, "SIM integration")
        stored = self._sim_from_body(request.json(), stored=previous)
        self._sims[sim_id] = stored
        return Response.json(copy.deepcopy(stored))

    def _patch_sim(self, request: Request, principal: _Principal, sim_id: str) -> Response:
        return self._apply_sim_patch(request, sim_id, rule_only=False)

    def _patch_sim_rule(self, request: Request, principal: _Principal, sim_id: str) -> Response:
        return self._apply_sim_patch(request, sim_id, rule_only=True)

    def _apply_sim_patch(self, request: Request, sim_id: str, *, rule_only: bool) -> Response:
        previous = self._found(self._sims, sim_id, "SIM integration")
        operations = _patch_operations(request)
        if rule_only:
            for operation in operations:
                paths = [operation.get("path"), operation.get("from")] if isinstance(operation, dict) else []
                for path in filter(None, paths):
                    if not (path == "/beforeProvisioningRule" or str(path).startswith("/beforeProvisioningRule/")):
                        raise ApiProblem(400, f"Only /beforeProvisioningRule can be patched here, not {path}.")
        try:
            patched = apply_json_patch(previous, operations, implicit_members=_SIM_MEMBERS)
        except PatchError as exc:
            raise ApiProblem(400, f"The patch cannot be applied: {exc}.") from exc
        _refuse_read_only_changes(previous, patched)
        stored = self._sim_from_body(patched, stored=previous)
        self._sims[sim_id] = stored
        return Response.json(copy.deepcopy(stored))

    def _delete_sim(self, request: Request, principal: _Principal, sim_id: str) -> Response:
        self._found(self._sims, sim_id, "SIM integration")
        del self._sims[sim_id]
        return Response.empty(200)

    def _sim_from_body(self, body: Any, *, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate a ``SimIntegrationDetails`` body and build what IdentityNow stores and shows."""
        if not isinstance(body, dict):
            raise ApiProblem(400, "A SIM integration must be a JSON object.")
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise ApiProblem(400, "Required field missing: name.")
        for key in ("description", "type", "cluster"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise ApiProblem(400, f"{key} must be a string.")
        for key in ("attributes", "statusMap", "request"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                raise ApiProblem(400, f"{key} must be a JSON object.")
        sources = body.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise ApiProblem(400, "sources must be a list of source ids.")
        unknown = [source_id for source_id in sources if source_id not in self._sources]
        if unknown:
            raise ApiProblem(
                400,
                f"Unknown source id(s): {', '.join(unknown)}. SIM integrations take the source's v3 id "
                "(the externalId of /cc/api/source/list), not its legacy numeric id.",
                detail_code="400.1.1 Illegal value",
            )
        stamp = self._stamp()
        result: dict[str, Any] = {
            "id": stored["id"] if stored else self._new_id(),
            "name": body["name"],
            "created": stored["created"] if stored else stamp,
            "modified": stamp,
            "description": body.get("description") or "",
            "type": body.get("type") or "ServiceNow Service Desk",
            "attributes": copy.deepcopy(body.get("attributes") or {}),
            "sources": list(sources),
            "statusMap": copy.deepcopy(body.get("statusMap") or {}),
            "request": copy.deepcopy(body.get("request") or {}),
        }
        if body.get("cluster") is not None:
            result["cluster"] = body["cluster"]
        rule = body.get("beforeProvisioningRule")
        if rule is not None:
            if not isinstance(rule, dict):
                raise ApiProblem(400, "beforeProvisioningRule must be an object.")
            result["beforeProvisioningRule"] = {"type": "RULE", **{k: v for k, v in rule.items() if k != "type"}}
        return result

    # ------------------------------------------------------------------------------------------ work items

    def _owner_of_request(self, request: Request, principal: _Principal) -> str:
        return request.param("ownerId") or principal.identity_id

    def _owned(self, owner: str, *, pending: bool) -> list[dict[str, Any]]:
        return [
            item
            for item in self._work_items.values()
            if item.get("ownerId") == owner and (item["state"] == "Pending") == pending
        ]

    def _list_pending(self, request: Request, principal: _Principal) -> Response:
        return self._collection(request, self._owned(self._owner_of_request(request, principal), pending=True), None)

    def _list_completed(self, request: Request, principal: _Principal) -> Response:
        return self._collection(request, self._owned(self._owner_of_request(request, principal), pending=False), None)

    def _count_pending(self, request: Request, principal: _Principal) -> Response:
        return Response.json({"count": len(self._owned(self._owner_of_request(request, principal), pending=True))})

    def _count_completed(self, request: Request, principal: _Principal) -> Response:
        return Response.json({"count": len(self._owned(self._owner_of_request(request, principal), pending=False))})

    def _summary(self, request: Request, principal: _Principal) -> Response:
        owner = self._owner_of_request(request, principal)
        open_count = len(self._owned(owner, pending=True))
        completed = len(self._owned(owner, pending=False))
        return Response.json({"open": open_count, "completed": completed, "total": open_count + completed})

    def _get_work_item(self, request: Request, principal: _Principal, work_item_id: str) -> Response:
        return Response.json(copy.deepcopy(self._found(self._work_items, work_item_id, "Work item")))

    def _pending_work_item(self, work_item_id: str, action: str) -> dict[str, Any]:
        item = self._found(self._work_items, work_item_id, "Work item")
        if item["state"] != "Pending":
            raise ApiProblem(
                400,
                f"Work item {work_item_id} cannot be {action}: it is {item['state']}, not Pending.",
                detail_code="400.1.3 Illegal update attempt",
            )
        return item

    def _finish(self, item: dict[str, Any], state: str, via: str, principal: _Principal, body: Any = None) -> None:
        stamp = self._stamp()
        item.update(state=state, completed=stamp, modified=stamp)
        self._completions.setdefault(item["id"], []).append(
            Completion(item["id"], self._at(), state, via, principal.client_id, body)
        )
        self._settle_activity(item["id"], state)

    def _complete_work_item(self, request: Request, principal: _Principal, work_item_id: str) -> Response:
        item = self._pending_work_item(work_item_id, "completed")
        self._finish(item, "Finished", "complete", principal, _completion_body(request.body))
        return Response.json(copy.deepcopy(item))

    def _forward_work_item(self, request: Request, principal: _Principal, work_item_id: str) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise ApiProblem(400, "The forward request must be a JSON object.")
        target = body.get("targetOwnerId")
        comment = body.get("comment")
        notify = body.get("sendNotifications", True)
        if not isinstance(target, str) or not target:
            raise ApiProblem(400, "targetOwnerId is required.", detail_code="400.1.0 Required data missing or empty")
        if not isinstance(comment, str) or not comment.strip():
            raise ApiProblem(400, "comment is required.", detail_code="400.1.0 Required data missing or empty")
        if not isinstance(notify, bool):
            raise ApiProblem(400, "sendNotifications must be true or false.")
        item = self._pending_work_item(work_item_id, "forwarded")
        if target not in self._identities:
            raise ApiProblem(400, f"Identity {target} was not found.", detail_code="400.1.1 Illegal value")
        previous_owner = item.get("ownerId")
        item.update(ownerId=target, ownerName=self._identity_display(target), modified=self._stamp())
        self._forwards.setdefault(work_item_id, []).append(
            Forward(work_item_id, self._at(), previous_owner, target, comment, notify, principal.client_id)
        )
        return Response.empty(200)

    def _decide(
        self, request: Request, principal: _Principal, work_item_id: str, item_id: str, *, approve: bool
    ) -> Response:
        item = self._pending_work_item(work_item_id, "approved" if approve else "rejected")
        approvals = item.get("approvalItems") or []
        approval = next((a for a in approvals if a.get("id") == item_id), None)
        if approval is None:
            raise ApiProblem(404, f"Approval item {item_id} was not found in work item {work_item_id}.")
        if approval.get("state") not in _UNDECIDED:
            raise ApiProblem(
                400,
                f"Approval item {item_id} was already decided ({approval.get('state')}).",
                detail_code="400.1.3 Illegal update attempt",
            )
        approval["state"] = "Finished" if approve else "Rejected"
        item["modified"] = self._stamp()
        if all(a.get("state") not in _UNDECIDED for a in approvals):
            rejected = any(a.get("state") == "Rejected" for a in approvals)
            self._finish(item, "Rejected" if rejected else "Finished", "approve" if approve else "reject", principal)
        return Response.json(copy.deepcopy(item))

    def _approve_item(self, request: Request, principal: _Principal, work_item_id: str, item_id: str) -> Response:
        return self._decide(request, principal, work_item_id, item_id, approve=True)

    def _reject_item(self, request: Request, principal: _Principal, work_item_id: str, item_id: str) -> Response:
        return self._decide(request, principal, work_item_id, item_id, approve=False)

    def _bulk_approve(self, request: Request, principal: _Principal, work_item_id: str) -> Response:
        return self._decide_all(principal, work_item_id, approve=True)

    def _bulk_reject(self, request: Request, principal: _Principal, work_item_id: str) -> Response:
        return self._decide_all(principal, work_item_id, approve=False)

    def _decide_all(self, principal: _Principal, work_item_id: str, *, approve: bool) -> Response:
        item = self._pending_work_item(work_item_id, "approved" if approve else "rejected")
        decision = "Finished" if approve else "Rejected"
        for approval in item.get("approvalItems") or []:
            if approval.get("state") in _UNDECIDED:
                approval["state"] = decision
        rejected = any(a.get("state") == "Rejected" for a in item.get("approvalItems") or [])
        self._finish(
            item, "Rejected" if rejected else "Finished", "bulk-approve" if approve else "bulk-reject", principal
        )
        return Response.json(copy.deepcopy(item))

    # ---------------------------------------------------------------------------------- account activities

    def _list_activities(self, request: Request, principal: _Principal) -> Response:
        def who(name: str) -> str | None:
            value = request.param(name)
            return principal.identity_id if value == "me" else value

        requested_for, requested_by, regarding = who("requested-for"), who("requested-by"), who("regarding-identity")
        if regarding is not None and (requested_for is not None or requested_by is not None):
            raise ApiProblem(400, "regarding-identity cannot be combined with requested-for or requested-by.")
        selected = []
        for activity in self._activities.values():
            target = (activity.get("targetIdentitySummary") or {}).get("id")
            requester = (activity.get("requesterIdentitySummary") or {}).get("id")
            if requested_for is not None and target != requested_for:
                continue
            if requested_by is not None and requester != requested_by:
                continue
            if regarding is not None and regarding not in (target, requester):
                continue
            selected.append(activity)
        return self._collection(request, selected, ACCOUNT_ACTIVITY_COLLECTION)

    def _get_activity(self, request: Request, principal: _Principal, activity_id: str) -> Response:
        return Response.json(copy.deepcopy(self._found(self._activities, activity_id, "Account activity")))


# ----------------------------------------------------------------------------------------- module helpers


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:
        return None
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 2.3.1: both parts are form-urlencoded before being joined.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def _mask_form_secret(body: bytes) -> bytes:
    """The token request body with ``client_secret``'s value replaced, for the request log."""
    masked = re.sub(rb"(client_secret=)[^&\s]*", rb"\1***", body)
    return re.sub(rb'(name="client_secret"\r?\n\r?\n)[^\r\n]*', rb"\1***", masked)


def _patch_operations(request: Request) -> list[Any]:
    """A JSON Patch body: a bare array, or the beta ``{"operations": [...]}`` wrapper."""
    if request.content_type not in ("application/json-patch+json", "application/json"):
        raise ApiProblem(
            415,
            f"Content type {request.content_type or 'none'!r} is not supported; send application/json-patch+json.",
        )
    body = request.json()
    if isinstance(body, dict) and isinstance(body.get("operations"), list):
        body = body["operations"]
    if not isinstance(body, list):
        raise ApiProblem(400, "A JSON Patch must be an array of operations.")
    return body


def _refuse_read_only_changes(previous: Mapping[str, Any], patched: Mapping[str, Any]) -> None:
    for key in _READ_ONLY:
        if patched.get(key) != previous.get(key):
            raise ApiProblem(
                400, f"{key} is read-only and cannot be patched.", detail_code="400.1.3 Illegal update attempt"
            )


def _completion_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
