"""The demo's world: a tenant with three sources, a ServiceNow catalog, joiners, movers and leavers.

Everything here is deterministic for a seed: the scenario (who, what, on which source, and how the service desk
will treat the ticket), the fakes' ids, and the simulated clock they all read.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from ..mapping import IdentityNowSettings, IntegrationConfig, ManagedSource, Secret, ServiceNowSettings, StatusCheck
from ..testing import FakeIdentityNow, FakeServiceNow

__all__ = [
    "DemoClock",
    "DemoWorld",
    "DeskOutcome",
    "PlannedWorkItem",
    "build_scenario",
]

#: Monday morning, when HR's feed brings the week's joiners, movers and leavers.
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

#: The catalog variables of the demo's catalog items (the correlation key travels in the first).
CATALOG_VARIABLES = ("sim_correlation_id", "short_description", "description")


class DemoClock:
    """Simulated UTC time shared by both fakes (epoch seconds) and the engine (aware datetimes).

    It stands still until `advance` moves it, so a whole day passes in a few seconds; after
    `run_in_real_time` it flows with the wall clock from where it was.
    """

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._real_since: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            if self._real_since is None:
                return self._now
            return self._now + timedelta(seconds=time.monotonic() - self._real_since)

    def epoch(self) -> float:
        """The time as epoch seconds, for the fakes."""
        return self().timestamp()

    def advance(self, delta: timedelta) -> None:
        """Move simulated time forward."""
        with self._lock:
            self._now += delta

    def run_in_real_time(self) -> None:
        """From now on, time passes as on the wall clock."""
        with self._lock:
            self._real_since = time.monotonic()


class Event(enum.Enum):
    """Why IdentityNow asks for provisioning."""

    JOINER = "joiner"
    MOVER = "mover"
    LEAVER = "leaver"


class DeskOutcome(enum.Enum):
    """What the (fake) service desk does with a ticket; ``None`` in a plan means no ticket is expected."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    REJECTED = "rejected"
    OPEN = "open"
    """Nobody works the ticket: it is still open when the integration's maximum tracking time passes."""

    @property
    def request_state(self) -> str:
        """The REQ's ``request_state`` once the desk is done with it."""
        return {"complete": "closed_complete", "incomplete": "closed_incomplete", "rejected": "closed_rejected"}.get(
            self.value, "requested"
        )

    @property
    def plan_outcome(self) -> str:
        """The engine's outcome for the plan."""
        return {"complete": "committed", "open": "expired"}.get(self.value, "failed")

    @property
    def identitynow(self) -> str:
        """What happens to the work item in IdentityNow."""
        return "completed" if self is DeskOutcome.COMPLETE else f"forwarded ({self.plan_outcome})"


@attrs.frozen
class PlannedWorkItem:
    """One manual work item of the scenario, and what the service desk will do with its ticket.

    Attributes:
        person: the identity's account name, e.g. ``ada.lovelace``.
        event: joiner, mover or leaver.
        source: ``badge``, ``laptop`` (managed) or ``crm`` (not managed by the integration).
        operation: the account operation.
        attributes: attribute requests as `FakeIdentityNow.add_manual_work_item` takes them.
        outcome: what the desk does with the ticket; ``None`` for the unmanaged source (no ticket).
        arrives_after: when, after the start, IdentityNow creates the work item.
        starts_after: when, after the ticket appears, the desk starts working on it.
        closes_after: when, after the ticket appears, the desk closes it.
    """

    person: str
    event: Event
    source: str
    operation: str
    attributes: Any
    outcome: DeskOutcome | None
    arrives_after: timedelta = timedelta(0)
    starts_after: timedelta = timedelta(minutes=30)
    closes_after: timedelta = timedelta(hours=2)

    @property
    def change(self) -> str:
        """``joiner: Create on Badge System``."""
        return f"{self.event.value}: {self.operation} on {SOURCES[self.source].name}"


@attrs.frozen
class _SourceSpec:
    name: str
    managed: bool
    catalog_item: str | None
    joiner: Any
    mover: Any
    leaver: tuple[str, Any]


SOURCES: Mapping[str, _SourceSpec] = {
    "badge": _SourceSpec(
        "Badge System",
        managed=True,
        catalog_item="Security badge",
        joiner={"badgeLevel": "Staff", "building": "HQ"},
        mover=[("accessZones", "Add", "Lab 2")],
        leaver=("Disable", None),
    ),
    "laptop": _SourceSpec(
        "Laptop Fleet",
        managed=True,
        catalog_item="Laptop",
        joiner={"model": "ThinkPad X1 Carbon", "keyboard": "UK"},
        mover=[("peripherals", "Add", "Docking station")],
        leaver=("Delete", None),
    ),
    "crm": _SourceSpec(
        "Legacy CRM",
        managed=False,
        catalog_item=None,
        joiner={"role": "Sales"},
        mover=[("role", "Remove", "Sales"), ("role", "Add", "Sales Manager")],
        leaver=("Delete", None),
    ),
}

_PEOPLE = (
    ("ada.lovelace", "Ada Lovelace"),
    ("grace.hopper", "Grace Hopper"),
    ("alan.turing", "Alan Turing"),
    ("barbara.liskov", "Barbara Liskov"),
    ("edsger.dijkstra", "Edsger Dijkstra"),
    ("margaret.hamilton", "Margaret Hamilton"),
    ("ken.thompson", "Ken Thompson"),
    ("frances.allen", "Frances Allen"),
    ("john.backus", "John Backus"),
    ("radia.perlman", "Radia Perlman"),
    ("dennis.ritchie", "Dennis Ritchie"),
    ("katherine.johnson", "Katherine Johnson"),
    ("claude.shannon", "Claude Shannon"),
    ("hedy.lamarr", "Hedy Lamarr"),
    ("john.mccarthy", "John McCarthy"),
    ("karen.sparck-jones", "Karen Spärck Jones"),
)

# The story the default twelve work items tell: every kind of change, every ending.
_CURATED: tuple[tuple[str, Event, str, DeskOutcome | None], ...] = (
    ("ada.lovelace", Event.JOINER, "badge", DeskOutcome.COMPLETE),
    ("ada.lovelace", Event.JOINER, "laptop", DeskOutcome.COMPLETE),
    ("ada.lovelace", Event.JOINER, "crm", None),
    ("grace.hopper", Event.JOINER, "badge", DeskOutcome.REJECTED),
    ("alan.turing", Event.MOVER, "badge", DeskOutcome.COMPLETE),
    ("alan.turing", Event.MOVER, "crm", None),
    ("barbara.liskov", Event.MOVER, "laptop", DeskOutcome.INCOMPLETE),
    ("edsger.dijkstra", Event.LEAVER, "badge", DeskOutcome.COMPLETE),
    ("edsger.dijkstra", Event.LEAVER, "laptop", DeskOutcome.OPEN),
    ("edsger.dijkstra", Event.LEAVER, "crm", None),
    ("margaret.hamilton", Event.JOINER, "laptop", DeskOutcome.COMPLETE),
    ("ken.thompson", Event.MOVER, "badge", DeskOutcome.COMPLETE),
)

#: Work items arrive in this many half-hourly waves.
_WAVES = 6


def _request(source: str, event: Event) -> tuple[str, Any]:
    spec = SOURCES[source]
    if event is Event.JOINER:
        return "Create", spec.joiner
    if event is Event.MOVER:
        return "Modify", spec.mover
    return spec.leaver


def build_scenario(count: int, seed: int) -> tuple[PlannedWorkItem, ...]:
    """``count`` work items: the curated twelve first, then random ones (mostly completed tickets)."""
    rng = random.Random(seed)
    items: list[PlannedWorkItem] = []
    for index in range(count):
        if index < len(_CURATED):
            person, event, source, outcome = _CURATED[index]
        else:
            base, _ = _PEOPLE[index % len(_PEOPLE)]
            person = f"{base}{index // len(_PEOPLE) + 1}"
            event = rng.choice(list(Event))
            source = rng.choices(("badge", "laptop", "crm"), weights=(4, 4, 2))[0]
            outcome = (
                None
                if not SOURCES[source].managed
                else rng.choices(
                    (DeskOutcome.COMPLETE, DeskOutcome.INCOMPLETE, DeskOutcome.REJECTED), weights=(8, 1, 1)
                )[0]
            )
        operation, attributes = _request(source, event)
        starts = timedelta(minutes=30 * rng.randint(1, 3))
        closes = starts if outcome is DeskOutcome.REJECTED else starts + timedelta(minutes=30 * rng.randint(1, 10))
        items.append(
            PlannedWorkItem(
                person=person,
                event=event,
                source=source,
                operation=operation,
                attributes=attributes,
                outcome=outcome,
                arrives_after=timedelta(minutes=30 * (index * _WAVES // max(count, 1))),
                starts_after=starts,
                closes_after=closes,
            )
        )
    return tuple(items)


def _display_name(person: str) -> str:
    known = dict(_PEOPLE)
    base = person.rstrip("0123456789")
    suffix = person[len(base) :]
    return f"{known.get(base, base)}{' ' + suffix if suffix else ''}"


class DemoWorld:
    """Both fakes, seeded: three sources (two managed, with catalog items), the people, the service desk identity.

    Args:
        seed: seed of both fakes' ids.
        clock: the clock both fakes read (epoch seconds).
        servicenow: a `FakeServiceNow` built by the caller (e.g. with a work policy); a plain one otherwise.
        check_interval: the tenant's status-check interval (its maximum is one day).
    """

    SERVICENOW_USER = "admin"
    SERVICENOW_PASSWORD = "admin"

    def __init__(
        self,
        seed: int,
        clock: DemoClock,
        servicenow: FakeServiceNow | None = None,
        *,
        check_interval: timedelta = timedelta(minutes=30),
    ) -> None:
        self.clock = clock
        self.check_interval = check_interval
        self.servicenow = servicenow or FakeServiceNow(clock=clock.epoch, seed=seed)
        # Tokens outlive the accelerated demo, so the fake's token expiry does not add a 401 to every cycle.
        self.identitynow = FakeIdentityNow(clock=clock.epoch, seed=seed, token_lifetime=30 * 86400.0)
        self.sources: dict[str, dict[str, Any]] = {}
        self.catalog_items: dict[str, str] = {}
        for key, spec in SOURCES.items():
            self.sources[key] = self.identitynow.add_source(spec.name, description=f"{spec.name} (disconnected)")
            if spec.catalog_item:
                self.catalog_items[key] = self.servicenow.add_catalog_item(spec.catalog_item, CATALOG_VARIABLES)
        self.service_desk = self.identitynow.add_identity("service.desk", displayName="Service Desk")
        self.identitynow.set_status_check_configuration(int(check_interval.total_seconds() // 60), 1)
        self._people: dict[str, str] = {}

    def add_work_item(self, planned: PlannedWorkItem) -> str:
        """Create the work item IdentityNow would create for ``planned``; returns its id."""
        identity_id = self._people.get(planned.person)
        if identity_id is None:
            identity_id = self.identitynow.add_identity(planned.person, displayName=_display_name(planned.person))["id"]
            self._people[planned.person] = identity_id
        item = self.identitynow.add_manual_work_item(
            self.sources[planned.source]["id"],
            planned.operation,
            planned.person,
            planned.attributes,
            identity_id=identity_id,
        )
        return str(item["id"])

    def managed_sources(self) -> tuple[ManagedSource, ...]:
        """The managed sources, with their names and catalog items."""
        return tuple(
            ManagedSource(self.sources[key]["id"], spec.name, self.catalog_items[key])
            for key, spec in SOURCES.items()
            if spec.managed
        )

    def config(
        self,
        servicenow_url: str,
        identitynow_url: str,
        *,
        store_url: str = "memory://",
        secrets_from_env: Sequence[str] | None = None,
    ) -> IntegrationConfig:
        """The integration for this world, with the tenant's status-check schedule.

        Args:
            servicenow_url: where the fake ServiceNow is served.
            identitynow_url: where the fake IdentityNow is served.
            store_url: the state store.
            secrets_from_env: ``(ServiceNow password variable, IdentityNow secret variable)`` to reference the
                secrets by environment variable (for a configuration file) instead of holding them.
        """
        if secrets_from_env is None:
            password = Secret(self.SERVICENOW_PASSWORD)
            client_secret = Secret(FakeIdentityNow.DEFAULT_CLIENT_SECRET)
        else:
            password = Secret(None, env=secrets_from_env[0])
            client_secret = Secret(None, env=secrets_from_env[1])
        return IntegrationConfig(
            name="demo",
            servicenow=ServiceNowSettings(servicenow_url, username=self.SERVICENOW_USER, password=password),
            identitynow=IdentityNowSettings(
                identitynow_url, client_id=FakeIdentityNow.DEFAULT_CLIENT_ID, client_secret=client_secret
            ),
            sources=self.managed_sources(),
            status_check=StatusCheck(interval=self.check_interval, max_days=1),
            store_url=store_url,
            forward_failed_to=self.service_desk["id"],
        )
