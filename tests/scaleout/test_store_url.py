"""``store_url`` in the configuration: ``postgresql://...`` makes ``IntegrationEngine.from_config`` use PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from sim_servicenow.engine import GroupState, IntegrationEngine, PostgresStore, StoreError
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import IntegrationConfig

from ._fleet import Fleet, Scenario, store_url


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
@pytest.mark.parametrize("built", ["constructed", "from_dict"])
def test_a_postgresql_store_url_opens_a_postgres_store(
    postgres_dsn: str, tmp_path: Path, scheme: str, built: str
) -> None:
    url = f"{scheme}://" + store_url(postgres_dsn).removeprefix("postgresql://")
    with Fleet(Scenario(plans=3, close_after=None), postgres_dsn, tmp_path) as fleet:
        config = attrs.evolve(fleet.config, store_url=url)
        if built == "from_dict":
            data = json.loads(fleet.config_path.read_text(encoding="utf-8"))  # the workers' file, secrets inline
            config = IntegrationConfig.from_dict({**data, "store_url": url})
        engine = IntegrationEngine.from_config(config, retry=RetryPolicy.never())
        try:
            assert isinstance(engine.store, PostgresStore)
            report = engine.run_once()
        finally:
            engine.store.close()
    assert (report.received, report.created, report.errors) == (3, 3, [])
    with PostgresStore(postgres_dsn) as another_connection:
        counts = another_connection.counts()
    assert (counts.total_plans, counts.groups[GroupState.TICKETED]) == (3, 3)


def test_an_unreachable_database_fails_at_start_without_showing_the_password(tmp_path: Path) -> None:
    with Fleet(Scenario(plans=1, close_after=None), "", tmp_path) as fleet:
        # Port 1 on loopback refuses at once: nothing listens there.
        config = attrs.evolve(fleet.config, store_url="postgresql://sim:hunter2@127.0.0.1:1/identity?connect_timeout=2")
        with pytest.raises(StoreError) as raised:
            IntegrationEngine.from_config(config)
    message = str(raised.value)
    assert "hunter2" not in message
    assert "sim:***@127.0.0.1:1/identity" in message
    assert "connection failed" in message
