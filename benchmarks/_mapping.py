"""The pure mapping layer on its own: rendering plans with SailPoint's default SIM request map, status lookups."""

from __future__ import annotations

import itertools

import attrs

from sim_servicenow.mapping import IntegrationConfig, render_ticket_payloads
from sim_servicenow.testing import FakeIdentityNow

from ._common import SOURCE, make_plan, median, timed

#: A catalog item sys_id for the managed source (SailPoint's SIM orders catalog items).
CATALOG_ITEM = "e2132865c0a8016500108d9cee411699"
#: What a status check reads from ``sc_request.request_state``: every value of SailPoint's default map, one in
#: other letter case, and one the map does not know (it must stay Queued).
STATUS_VALUES = (
    "requested",
    "in_process",
    "closed_complete",
    "closed_incomplete",
    "closed_cancelled",
    "closed_rejected",
    "Closed_Complete",
    "closed_skipped",
)


@attrs.frozen
class MappingResult:
    """Throughput of the mapping layer.

    Attributes:
        plans_per_s: plans rendered to ticket payloads per second.
        status_lookups_per_s: status values mapped per second.
        plans: distinct plans rendered per timed pass.
        lookups: status values looked up per timed pass.
    """

    plans_per_s: float
    status_lookups_per_s: float
    plans: int
    lookups: int


def sim_config() -> IntegrationConfig:
    """SailPoint's example SIM definition (default request map and status map), managing one source."""
    definition = FakeIdentityNow.example_sim_integration([SOURCE.id])
    definition["attributes"]["catalogItem"] = {SOURCE.id: CATALOG_ITEM}
    return IntegrationConfig.from_sim_integration(definition)


def measure_mapping(plans: int, *, lookups: int, rounds: int) -> MappingResult:
    """Render ``plans`` distinct plans and look up ``lookups`` status values, ``rounds`` times; median rates."""
    config = sim_config()
    batch = [make_plan(index) for index in range(plans)]
    values = list(itertools.islice(itertools.cycle(STATUS_VALUES), lookups))
    status_map = config.status_map
    produced: list[object] = []

    def render() -> None:
        produced.clear()
        for plan in batch:
            produced.extend(render_ticket_payloads(plan, config))

    def look_up() -> None:
        for value in values:
            status_map.lookup(value)

    render_times, lookup_times = [], []
    for _ in range(rounds):
        render_times.append(timed(render))
        lookup_times.append(timed(look_up))
    if len(produced) != plans:
        raise RuntimeError(f"rendered {len(produced)} payloads for {plans} plans")
    return MappingResult(
        plans_per_s=plans / median(render_times),
        status_lookups_per_s=lookups / median(lookup_times),
        plans=plans,
        lookups=lookups,
    )
