"""Shared pieces of the reliability suite: both fakes served on loopback, and a way to build the engine on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

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
)
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, ServedApp, serve

CATALOG_VARIABLES = ("sim_correlation_id", "short_description", "description")
T = TypeVar("T")


def attempt(call: Callable[[], T], expected: type[Exception] | tuple[type[Exception], ...]) -> T | Exception:
    """What ``call`` returns, or the ``expected`` error it raised (any other error propagates)."""
    try:
        return call()
    except expected as error:
        return error


@attrs.define
class Fakes:
    """Both fakes, served, with two managed sources (catalog items in ServiceNow) and an unmanaged one."""

    sn: FakeServiceNow
    idn: FakeIdentityNow
    sn_served: ServedApp
    idn_served: ServedApp
    badge: Mapping[str, Any]
    laptop: Mapping[str, Any]
    directory: Mapping[str, Any]
    badge_item: str
    laptop_item: str
    desk: str

    def managed(self) -> tuple[ManagedSource, ...]:
        return (
            ManagedSource(self.badge["id"], self.badge["name"], self.badge_item),
            ManagedSource(self.laptop["id"], self.laptop["name"], self.laptop_item),
        )

    def config(self, **overrides: Any) -> IntegrationConfig:
        values: dict[str, Any] = {
            "servicenow": ServiceNowSettings(self.sn_served.url, username="admin", password=Secret("admin")),
            "identitynow": IdentityNowSettings(
                self.idn_served.url,
                client_id=FakeIdentityNow.DEFAULT_CLIENT_ID,
                client_secret=Secret(FakeIdentityNow.DEFAULT_CLIENT_SECRET),
            ),
            "sources": self.managed(),
            "forward_failed_to": self.desk,
            "store_url": "memory://",
        }
        values.update(overrides)
        return IntegrationConfig(**values)

    def engine(
        self, config: IntegrationConfig | None = None, store: StateStore | None = None, **options: Any
    ) -> IntegrationEngine:
        options.setdefault("retry", RetryPolicy(max_attempts=2).without_sleeping())
        return IntegrationEngine.from_config(config or self.config(), store=store or MemoryStore(), **options)

    def work_item(self, source: Mapping[str, Any], account: str, attributes: Any = None, op: str = "Create") -> str:
        return str(self.idn.add_manual_work_item(source["id"], op, account, attributes)["id"])

    def tickets_of(self, plan_key: str) -> list[dict[str, str]]:
        return [r for r in self.sn.records("sc_request") if r.get("correlation_id", "").startswith(f"{plan_key}/")]


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    sn = FakeServiceNow(seed=5)
    idn = FakeIdentityNow(seed=5)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    directory = idn.add_source("Active Directory")
    badge_item = sn.add_catalog_item("Security badge", CATALOG_VARIABLES)
    laptop_item = sn.add_catalog_item("Laptop", CATALOG_VARIABLES)
    desk = idn.add_identity("provisioning.desk")["id"]
    with serve(sn) as sn_served, serve(idn) as idn_served:
        yield Fakes(sn, idn, sn_served, idn_served, badge, laptop, directory, badge_item, laptop_item, desk)
