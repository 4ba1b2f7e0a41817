"""What the measurements share: plans, the integration config, engine wiring, store seeding, timing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs

from sim_servicenow.adapters import ServiceNowTicketing
from sim_servicenow.auth import BasicAuth
from sim_servicenow.engine import (
    GroupState,
    IntegrationEngine,
    NewPlan,
    PlanState,
    QueueSource,
    SqliteStore,
    StateStore,
    TicketGroupRecord,
    TicketRef,
)
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    Identity,
    IntegrationConfig,
    ManagedSource,
    ProvisioningPlan,
    StatusCheck,
    TicketType,
    plan_ticket_groups,
)
from sim_servicenow.servicenow import ServiceNowClient

#: Where the engine's clock starts; every seeded ticket is due then.
from sim_servicenow.testing import ManualClock

from ._fakeproc import PASSWORD, ROOT, USER, child_environment

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
#: The status-check interval of the benchmark integration; a poll round moves the clock past it.
CHECK_INTERVAL = timedelta(minutes=30)
#: The table tickets of the polling benchmark live on.
TABLE = "incident"
SOURCE = ManagedSource("2c9180835d2e5168015d32f890ca1581", "Badge System")
#: The engine's own plan source (``engine.submit``); seeded plans belong to it.
QUEUE_SOURCE = QueueSource().name


def make_plan(index: int) -> ProvisioningPlan:
    """A typical manual work item's plan: create an account on the managed source with three attributes."""
    name = f"user.{index:06d}"
    return ProvisioningPlan(
        key=f"bench-{index:06d}",
        identity=Identity(id=f"{index:032x}", name=name, display_name=f"User {index:06d}"),
        arguments={"identityRequestId": f"{index + 1:032x}", "flow": "AccessRequest"},
        account_requests=(
            AccountRequest(
                AccountOperation.CREATE,
                source_id=SOURCE.id,
                source_name=SOURCE.name,
                native_identity=name,
                attribute_requests=(
                    AttributeRequest("badgeLevel", AttributeOperation.SET, "3"),
                    AttributeRequest("buildings", AttributeOperation.ADD, ("HQ", "Lab 2")),
                    AttributeRequest("email", AttributeOperation.SET, f"{name}@example.com"),
                ),
            ),
        ),
    )


def table_config(*, store_url: str = "memory://") -> IntegrationConfig:
    """The benchmark integration: table tickets on ``incident``, one per plan, checked every 30 minutes."""
    return IntegrationConfig(
        sources=(SOURCE,),
        ticket_type=TicketType.TABLE,
        table=TABLE,
        status_check=StatusCheck(interval=CHECK_INTERVAL, max_days=30),
        store_url=store_url,
    )


def servicenow_client(url: str, verify: bool | str) -> ServiceNowClient:
    """Our ServiceNow client as the engine gets it: Basic auth, default timeouts and retries."""
    return ServiceNowClient(url, BasicAuth(USER, PASSWORD), verify=verify, retry=RetryPolicy(max_attempts=3))


def make_engine(
    config: IntegrationConfig, client: ServiceNowClient, store: StateStore, clock: ManualClock, *, concurrency: int = 4
) -> IntegrationEngine:
    """The engine over ServiceNow ticketing and its built-in queue (no IdentityNow in these benchmarks)."""
    ticketing = ServiceNowTicketing.from_config(client, config, clock=clock)
    return IntegrationEngine(config, ticketing, (), store, clock=clock, concurrency=concurrency, worker_id="bench")


def correlation_keys(config: IntegrationConfig, plans: Sequence[ProvisioningPlan]) -> list[str]:
    """The correlation key of each plan's single ticket group, as the engine would write it."""
    keys = []
    for plan in plans:
        (group,) = plan_ticket_groups(plan, config)
        keys.append(str(group.correlation_key(1)))
    return keys


def seed_store(
    store: StateStore,
    config: IntegrationConfig,
    plans: Sequence[ProvisioningPlan],
    tickets: Sequence[tuple[str, str]],
    *,
    now: datetime = START,
) -> None:
    """Record ``plans`` as the engine leaves them after creating ``tickets``: ACTIVE, one TICKETED group due now.

    Only the public store API is used (add, lease, update, release), so the rows are what the engine writes.
    """
    store.add_many([NewPlan(plan.key, plan.to_json(), source=QUEUE_SOURCE) for plan in plans], now=now)
    by_key = {plan.key: (plan, ticket) for plan, ticket in zip(plans, tickets, strict=True)}
    # Leases are held until every plan is seeded, so each lease_due returns plans not seen yet.
    while leased := store.lease_due("seeder", now=now, limit=5000, lease_for=timedelta(hours=1)):
        for record in leased:
            plan, (sys_id, number) = by_key[record.plan_key]
            (group,) = plan_ticket_groups(plan, config)
            ref = TicketRef("servicenow", TABLE, sys_id, number)
            ticketed = TicketGroupRecord(
                group_id=group.group_id,
                correlation_key=str(group.correlation_key(1)),
                state=GroupState.TICKETED,
                created_at=now,
                ticket=ref.to_json(),
                ticket_number=number,
                next_check_at=now,
                expires_at=now + config.status_check.max_age,
                detail="ticket created",
            )
            store.update(
                "seeder",
                attrs.evolve(record, state=PlanState.ACTIVE, groups=(ticketed,), due_at=now),
                now=now,
                detail="seeded",
            )
    store.release("seeder", list(by_key))


def seeded_store_file(
    directory: Path,
    config: IntegrationConfig,
    plans: Sequence[ProvisioningPlan],
    tickets: Sequence[tuple[str, str]],
) -> Path:
    """A SqliteStore file in ``directory`` holding ``plans`` as ticketed, due plans.

    Seeding writes one synced transaction per plan; on a RAM disk (``/dev/shm``) that costs a fraction of a
    millisecond, so the file is seeded there when one exists and then copied to ``directory``. The measured
    engine then reads and writes the copy on the real disk.
    """
    target = directory / f"store-{len(plans)}.db"
    with _seeding_directory(directory) as scratch:
        seeded = scratch / target.name
        store = SqliteStore(seeded)
        try:
            seed_store(store, config, plans, tickets)
        finally:
            store.close()  # the last connection's close checkpoints the WAL into the main file
        if seeded != target:
            shutil.copyfile(seeded, target)
    return target


def ram_disk() -> Path | None:
    """A writable RAM disk (``/dev/shm``) for scratch files, if the machine has one."""
    # Only ever used through tempfile.TemporaryDirectory(dir=...), which creates a private directory.
    ram = Path("/dev/shm")  # noqa: S108
    return ram if ram.is_dir() and os.access(ram, os.W_OK) else None


@contextmanager
def _seeding_directory(fallback: Path) -> Iterator[Path]:
    ram = ram_disk()
    if ram is None:
        yield fallback
        return
    with tempfile.TemporaryDirectory(prefix="sim-servicenow-bench-", dir=ram) as scratch:
        yield Path(scratch)


def run_python(arguments: Sequence[str]) -> str:
    """Run this interpreter with ``arguments`` from the repository root; its stdout, or the failure with stderr."""
    completed = subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=child_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"python {' '.join(arguments)[:80]} exited with {completed.returncode}: {tail}")
    return completed.stdout


# -- timing ------------------------------------------------------------------------------------------


def interleaved(contenders: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run each contender once per round, in turn, so machine noise falls on all of them alike.

    Each contender returns the seconds of the part it measures (its own set-up excluded).
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            times[name].append(run())
    return times


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
