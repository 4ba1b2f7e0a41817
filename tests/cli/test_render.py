"""``sim-servicenow render``: the payloads SailPoint's example SIM definition produces for a plan."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sim_servicenow.cli import ExitCode
from sim_servicenow.testing import FakeIdentityNow

from .conftest import run_cli, write

BADGE = "2c9180835d191a86015d28455b4a2329"
LAPTOP = "2c5680835d191a85765d28455b4a9823"
BADGE_ITEM = "e8a3e2b1db2a1010a1b2c3d4e5f60718"
LAPTOP_ITEM = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

SPEC = Path(os.environ.get("SIM_SERVICENOW_SAILPOINT_SPECS", "/work/shared/specs/sailpoint")) / (
    "isc-beta-sim-subset.json"
)

PLAN = {
    "trackingNumber": "IR-42",
    "identity": {"id": "2c9180835d2e5168015d32f890ca1581", "name": "ada.lovelace", "displayName": "Ada Lovelace"},
    "arguments": {"identityRequestId": "42"},
    "accountRequests": [
        {
            "op": "Create",
            "applicationId": BADGE,
            "applicationName": "Badge System",
            "nativeIdentity": "ada.lovelace",
            "attributeRequests": [{"name": "badgeLevel", "op": "Set", "value": "Staff"}],
        },
        {"op": "Create", "applicationName": "Active Directory", "nativeIdentity": "ada.lovelace"},
    ],
}


def example_definition() -> dict[str, Any]:
    """SailPoint's example SIM definition (as the fake ships it), for the badge source with a catalog item."""
    definition = FakeIdentityNow.example_sim_integration([BADGE])
    definition["attributes"]["catalogItem"] = {BADGE: BADGE_ITEM}
    return definition


def test_render_prints_the_payload_of_the_example_sim_definition(tmp_path: Path) -> None:
    sim = write(tmp_path / "sim.json", json.dumps(example_definition()))
    plan = write(tmp_path / "plan.json", json.dumps(PLAN))

    result = run_cli("render", "--config", str(sim), "--plan", str(plan), "--json")

    assert result.returncode == ExitCode.OK, result.stderr
    key = f"IR-42/source-{BADGE}"
    assert json.loads(result.stdout) == [
        {
            "plan_key": "IR-42",
            "tickets": [
                {
                    "kind": "catalog",
                    "correlation_key": key,
                    "group_id": f"source-{BADGE}",
                    "sources": [{"id": BADGE, "name": None}],
                    "correlation_variable": "sim_correlation_id",
                    "request_fields": {
                        "description": "The Service Request created by SailPoint ServiceNow Service Integration "
                        "Module (SIM).",
                        "short_description": "SailPoint New Access Request Created from IdentityNow",
                    },
                    "items": [
                        {
                            "source": {"id": BADGE, "name": None},
                            "catalog_item": BADGE_ITEM,
                            "variables": {
                                "description": "SailPoint Access Request",
                                "short_description": "SailPoint Access Request 42",
                                "sim_correlation_id": key,
                            },
                            "item_fields": {},
                        }
                    ],
                }
            ],
            "not_ticketed": [
                "Create ada.lovelace on Active Directory: not a managed source (the plan names it without an id, "
                "so it is matched by name)"
            ],
        }
    ]


def test_render_as_text_shows_each_record_and_what_is_left_alone(tmp_path: Path) -> None:
    sim = write(tmp_path / "sim.json", json.dumps(example_definition()))
    plan = write(tmp_path / "plan.json", json.dumps(PLAN))

    result = run_cli("render", "--sim-definition", str(sim), "--plan", str(plan))

    assert result.returncode == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Plan IR-42 for Ada Lovelace: 1 ticket"
    assert lines[1].startswith("  not ticketed: Create ada.lovelace on Active Directory: not a managed source")
    assert f"Ticket 1 of 1: a Service Catalog order (correlation key IR-42/source-{BADGE})" in lines
    assert "      short_description   SailPoint Access Request 42" in lines
    assert f"  requested item: catalog item {BADGE_ITEM} for source {BADGE}" in lines


@pytest.mark.skipif(not SPEC.exists(), reason="SailPoint's OpenAPI documents are not available")
def test_render_runs_the_openapi_example_unchanged_with_catalog_items_added_by_toml(tmp_path: Path) -> None:
    document = json.loads(SPEC.read_text())
    schemas = document["components"]["schemas"]
    properties: dict[str, Any] = {}
    for part in schemas["SimIntegrationDetails"]["allOf"]:
        resolved = part if "properties" in part else schemas[part["$ref"].rsplit("/", 1)[1]]
        properties |= resolved["properties"]
    definition = {name: prop["example"] for name, prop in properties.items() if "example" in prop}
    assert definition["sources"] == [BADGE, LAPTOP]
    sim = write(tmp_path / "sim.json", json.dumps(definition))
    overrides = write(
        tmp_path / "extra.toml",
        f'[sources]\n{BADGE} = {{ catalog_item = "{BADGE_ITEM}" }}\n{LAPTOP} = {{ catalog_item = "{LAPTOP_ITEM}" }}\n',
    )
    plan = write(tmp_path / "plan.json", json.dumps(PLAN))

    result = run_cli("render", "--sim-definition", str(sim), "--config", str(overrides), "--plan", str(plan), "--json")

    assert result.returncode == ExitCode.OK, result.stderr
    (ticket,) = json.loads(result.stdout)[0]["tickets"]
    # The example's values, commas and all, as SailPoint wrote them.
    assert ticket["items"][0]["variables"]["short_description"] == "SailPoint Access Request 42"
    assert ticket["items"][0]["variables"]["description"] == "SailPoint Access Request,"
    assert ticket["request_fields"]["short_description"] == "SailPoint New Access Request Created from IdentityNow,"
    assert ticket["items"][0]["catalog_item"] == BADGE_ITEM


def test_render_reads_a_manual_work_item_and_matches_sources_by_name(tmp_path: Path) -> None:
    idn = FakeIdentityNow(seed=1)
    source = idn.add_source("Badge System", id=BADGE)
    work_item = idn.add_manual_work_item(source["id"], "Disable", "alan.turing")
    config = write(
        tmp_path / "integration.toml",
        f'[ticket]\ntype = "incident"\n\n[sources]\n{BADGE} = {{ name = "Badge System" }}\n',
    )
    plan = write(tmp_path / "item.json", json.dumps(work_item))

    result = run_cli("render", "--config", str(config), "--plan", str(plan), "--json")

    assert result.returncode == ExitCode.OK, result.stderr
    (ticket,) = json.loads(result.stdout)[0]["tickets"]
    assert ticket["kind"] == "table"
    assert ticket["table"] == "incident"
    assert ticket["fields"]["short_description"] == "Disable account alan.turing on Badge System for alan.turing"
    assert ticket["correlation_key"] == f"{work_item['id']}/source-{BADGE}"


def test_render_names_what_is_missing(tmp_path: Path) -> None:
    definition = example_definition()
    definition["attributes"]["catalogItem"] = {}
    sim = write(tmp_path / "sim.json", json.dumps(definition))
    plan = write(tmp_path / "plan.json", json.dumps(PLAN))

    result = run_cli("render", "--config", str(sim), "--plan", str(plan))

    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert f"sources.{BADGE}.catalog_item: required for catalog tickets" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_render_refuses_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    sim = write(tmp_path / "sim.json", json.dumps(example_definition()))
    plan = write(tmp_path / "plan.json", json.dumps([PLAN, {"accountRequests": "nope"}]))

    result = run_cli("render", "--config", str(sim), "--plan", str(plan))

    assert result.returncode == ExitCode.USAGE
    assert "[1]" in result.stderr
    assert "Traceback" not in result.stderr
