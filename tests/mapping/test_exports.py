from __future__ import annotations

import sim_servicenow
from sim_servicenow import mapping


def isort_order(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_importable() -> None:
    assert mapping.__all__ == sorted(mapping.__all__, key=isort_order)
    for name in mapping.__all__:
        assert getattr(mapping, name) is not None


def test_top_level_names_come_from_the_mapping_layer() -> None:
    for name in (
        "ProvisioningPlan",
        "AccountRequest",
        "AttributeRequest",
        "ProvisioningStatus",
        "StatusMap",
        "RequestTemplate",
        "IntegrationConfig",
    ):
        assert getattr(sim_servicenow, name) is getattr(mapping, name)
