"""A world for engine tests: both fakes served on loopback, three sources, a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from sim_servicenow.engine import IntegrationEngine, MemoryStore, StateStore
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import (
    IdentityNowSettings,
    IntegrationConfig,
    ManagedSource,
    Secret,
    ServiceNowSettings,
    StatusCheck,
)
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, ManualClock, ServedApp, serve

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@attrs.define
class World:
    """Both fakes, served; the managed and unmanaged sources; a config builder."""

    clock: ManualClock
    sn: FakeServiceNow
    idn: FakeIdentityNow
    sn_served: ServedApp
    idn_served: ServedApp
    badge: Mapping[str, Any]
    laptop: Mapping[str, Any]
    directory: Mapping[str, Any]
    badge_item: str
    laptop_item: str

    def config(self, **overrides: Any) -> IntegrationConfig:
        values: dict[str, Any] = {
            "servicenow": ServiceNowSettings(self.sn_served.url, username="admin", password=Secret("admin")),
            "identitynow": IdentityNowSettings(
                self.idn_served.url, client_id="fake-client-id", client_secret=Secret("fake-client-secret")
            ),
            "sources": (
                ManagedSource(self.badge["id"], self.badge["name"], self.badge_item),
                ManagedSource(self.laptop["id"], self.laptop["name"], self.laptop_item),
            ),
            "status_check": StatusCheck(interval=timedelta(minutes=30), max_days=2),
            "store_url": "memory://",
        }
        values.update(overrides)
        return IntegrationConfig(**values)

    def engine(
        self, config: IntegrationConfig | None = None, store: StateStore | None = None, **options: Any
    ) -> IntegrationEngine:
        return IntegrationEngine.from_config(
            config or self.config(),
            store=store or MemoryStore(),
            clock=self.clock,
            retry=RetryPolicy(max_attempts=3).without_sleeping(),
            **options,
        )

    def work_item(self, source: Mapping[str, Any], operation: str, account: str, attributes: Any = None) -> str:
        item = self.idn.add_manual_work_item(source["id"], operation, account, attributes)
        return str(item["id"])

    def tickets(self) -> list[dict[str, str]]:
        return self.sn.records("sc_request")


@pytest.fixture
def world() -> Iterator[World]:
    clock = ManualClock(START)
    sn = FakeServiceNow(clock=clock.epoch, seed=7)
    idn = FakeIdentityNow(clock=clock.epoch, seed=7)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    directory = idn.add_source("Active Directory")
    variables = ["sim_correlation_id", "short_description", "description"]
    badge_item = sn.add_catalog_item("Security badge", variables)
    laptop_item = sn.add_catalog_item("Laptop", variables)
    with serve(sn) as sn_served, serve(idn) as idn_served:
        yield World(clock, sn, idn, sn_served, idn_served, badge, laptop, directory, badge_item, laptop_item)
