"""The engine: ports, the integration engine, and the state stores it keeps its promise with.

State stores: `SqliteStore` (the default, one machine), `PostgresStore` (several machines,
needs the ``postgres`` extra) and `MemoryStore` (tests, demos) all implement `StateStore`;
`open_store` picks one from a URL.
"""

from ._engine import CycleError, CycleReport, EngineHooks, IntegrationEngine, plan_outcome
from ._ports import PlanReport, PlanSource, TicketingSystem, TicketRef, TicketStatus, TicketSummary
from ._queue import QueueSource
from ._store import (
    AuditEntry,
    CheckedGroup,
    CheckedPlan,
    GroupState,
    LeaseLostError,
    NewPlan,
    PlanOutcome,
    PlanRecord,
    PlanState,
    StaleRecordError,
    StateStore,
    StoreCounts,
    StoreError,
    StoreFormatError,
    StoreVersionError,
    TicketGroupRecord,
    mask_store_url,
    open_store,
)
from ._store_memory import MemoryStore
from ._store_postgres import PostgresStore
from ._store_sqlite import SqliteStore

__all__ = [
    "AuditEntry",
    "CheckedGroup",
    "CheckedPlan",
    "CycleError",
    "CycleReport",
    "EngineHooks",
    "GroupState",
    "IntegrationEngine",
    "LeaseLostError",
    "MemoryStore",
    "NewPlan",
    "PlanOutcome",
    "PlanRecord",
    "PlanReport",
    "PlanSource",
    "PlanState",
    "PostgresStore",
    "QueueSource",
    "SqliteStore",
    "StaleRecordError",
    "StateStore",
    "StoreCounts",
    "StoreError",
    "StoreFormatError",
    "StoreVersionError",
    "TicketGroupRecord",
    "TicketRef",
    "TicketStatus",
    "TicketSummary",
    "TicketingSystem",
    "mask_store_url",
    "open_store",
    "plan_outcome",
]
