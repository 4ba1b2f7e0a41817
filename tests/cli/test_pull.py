"""``sim-servicenow pull``: a SIM or SDIM definition in the tenant becomes a configuration ``check`` accepts."""

from __future__ import annotations

import sys
from pathlib import Path

from sim_servicenow.cli import ExitCode

from .conftest import ENV, Served, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def pull_env(served: Served) -> dict[str, str]:
    return {"SAIL_BASE_URL": served.idn_served.url, "SAIL_CLIENT_ID": "fake-client-id", **ENV}


def add_sim(served: Served) -> str:
    integration = served.idn.add_sim_integration(
        name="ServiceNow SIM",
        attributes={
            "authType": "Basic",
            "url": served.sn_served.url,
            "username": "admin",
            "password": "the-sim-password",
            "catalogItem": {served.badge["id"]: served.badge_item, served.laptop["id"]: served.laptop_item},
        },
        sources=[served.badge["id"], served.laptop["id"]],
    )
    return str(integration["id"])


def test_pull_writes_a_configuration_that_check_accepts(served: Served, tmp_path: Path) -> None:
    integration = add_sim(served)
    served.idn.set_status_check_configuration(15, 3)
    output = tmp_path / "integration.toml"

    pulled = run_cli("pull", "--integration", integration, "--output", str(output), env=pull_env(served), cwd=tmp_path)

    assert pulled.returncode == ExitCode.OK, pulled.stderr
    assert "wrote" in pulled.stdout
    text = output.read_text()
    assert "the-sim-password" not in text
    data = tomllib.loads(text)
    assert data["servicenow"]["url"] == served.sn_served.url
    assert data["servicenow"]["password"] == {"env": "SN_PASSWORD"}
    assert data["identitynow"] == {
        "url": served.idn_served.url,
        "client_id": "fake-client-id",
        "client_secret": {"env": "SAIL_CLIENT_SECRET"},
    }
    assert data["sources"] == {
        served.badge["id"]: {"catalog_item": served.badge_item},
        served.laptop["id"]: {"catalog_item": served.laptop_item},
    }
    assert data["request"]["short_description"] == "SailPoint Access Request $!plan.arguments.identityRequestId"
    assert data["status"]["map"]["closed_complete"] == "Committed"
    assert (data["status"]["check_interval_minutes"], data["status"]["max_check_days"]) == (15, 3)
    assert data["sailpoint"]["integration_id"] == integration

    checked = run_cli("check", "--config", str(output), env=ENV, cwd=tmp_path)

    assert checked.returncode == ExitCode.OK, checked.stdout + checked.stderr
    assert "FAIL" not in checked.stdout


def test_pull_reads_a_service_desk_integration(served: Served, tmp_path: Path) -> None:
    integration = served.idn.add_service_desk_integration(
        "ServiceNow SDIM",
        attributes={
            "url": served.sn_served.url,
            "authenticationType": "Basic",
            "username": "admin",
            "password": "the-sdim-password",
            "ticketType": "incident",
        },
        provisioning_config={
            "managedResourceRefs": [{"type": "SOURCE", "id": served.badge["id"], "name": "Badge System"}]
        },
    )

    pulled = run_cli("pull", "--integration", integration["id"], "--type", "sdim", env=pull_env(served))

    assert pulled.returncode == ExitCode.OK, pulled.stderr
    data = tomllib.loads(pulled.stdout)
    assert data["ticket"]["type"] == "table"
    assert data["ticket"]["table"] == "incident"
    assert data["sources"] == {served.badge["id"]: {"name": "Badge System"}}
    assert "the-sdim-password" not in pulled.stdout


def test_pull_explains_what_is_missing(served: Served, tmp_path: Path) -> None:
    existing = tmp_path / "integration.toml"
    existing.write_text("keep me")

    result = run_cli("pull", "--integration", "x", "--output", str(existing), env={"SAIL_BASE_URL": "https://a.test"})

    assert result.returncode == ExitCode.USAGE
    assert "--client-id" in result.stderr
    assert "SAIL_CLIENT_SECRET" in result.stderr
    assert "pass --force to overwrite" in result.stderr
    assert existing.read_text() == "keep me"


def test_pull_of_an_unknown_integration_fails_in_one_line(served: Served) -> None:
    result = run_cli("pull", "--integration", "0" * 32, env=pull_env(served))

    assert result.returncode == ExitCode.FAILED
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "404" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_refused_credentials_are_exit_code_3(served: Served) -> None:
    integration = add_sim(served)

    result = run_cli("pull", "--integration", integration, env={**pull_env(served), "SAIL_CLIENT_SECRET": "wrong"})

    assert result.returncode == ExitCode.UNREACHABLE
    assert "wrong" not in result.stderr


def test_pull_without_an_id_lists_the_tenants_integrations(served: Served) -> None:
    sim = add_sim(served)
    sdim = served.idn.add_service_desk_integration("Tickets in SDIM")["id"]

    result = run_cli("pull", env=pull_env(served))

    assert result.returncode == ExitCode.OK, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:] if line.strip()]
    assert ["SIM", sim, "ServiceNow", "Service", "Desk", "ServiceNow", "SIM", "2"] in rows
    assert ["SDIM", sdim, "ServiceNowSDIM", "Tickets", "in", "SDIM", "0"] in rows
    assert result.stdout.rstrip().endswith("2 integration(s); pull one with --integration ID")
