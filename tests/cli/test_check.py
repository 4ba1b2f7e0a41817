"""``sim-servicenow check``: configuration, both services and the store, with a clear verdict and exit code."""

from __future__ import annotations

import re
from pathlib import Path

from sim_servicenow.cli import ExitCode
from sim_servicenow.testing import FakeJira, serve

from .conftest import ENV, Served, run_cli, write


def verdicts(output: str) -> list[tuple[str, str, str]]:
    """``(verdict, area, message)`` of every report line."""
    found = []
    pattern = re.compile(r"^(PASS|WARN|FAIL|SKIP)  (configuration|ServiceNow|Jira|IdentityNow|state store) *  (.*)$")
    for line in output.splitlines():
        match = pattern.match(line)
        if match:
            found.append((match.group(1), match.group(2).strip(), match.group(3)))
    return found


def test_a_ready_integration_passes(served: Served, tmp_path: Path) -> None:
    config = write(tmp_path / "integration.toml", served.config_text(f"sqlite:///{tmp_path / 'state.db'}"))

    result = run_cli("check", "--config", str(config), env=ENV)

    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    found = verdicts(result.stdout)
    assert {v for v, _, _ in found} == {"PASS"}
    messages = [m for _, _, m in found]
    assert any(m.startswith(f"signed in to {served.sn_served.url} as admin (basic)") for m in messages)
    assert f"catalog item 'Security badge' ({served.badge_item}) for source Badge System" in messages
    assert f"managed source 'Laptop Fleet' ({served.laptop['id']}) exists" in messages
    assert "status-check configuration: every 30 min for up to 2 days, as configured" in messages
    assert f"{tmp_path / 'state.db'} does not exist yet; it will be created" in messages
    assert result.stdout.splitlines()[-1] == "Result: ready to run (0 failures, 0 warnings)"
    assert not (tmp_path / "state.db").exists()  # checking creates nothing


def test_a_broken_configuration_fails_and_names_the_broken_key(served: Served, tmp_path: Path) -> None:
    extra = '\n[status]\nmax_check_days = "soon"\n\n[status.map]\nclosed_complete = "Done"\n'
    config = write(tmp_path / "integration.toml", served.config_text("memory://", extra=extra))

    result = run_cli("check", "--config", str(config), env=ENV)

    assert result.returncode == ExitCode.USAGE
    failures = [m for v, _, m in verdicts(result.stdout) if v == "FAIL"]
    assert any(m.startswith("status.max_check_days: ") for m in failures), failures
    assert any(m.startswith("status.map.closed_complete: ") and "Done" in m for m in failures), failures
    assert "NOT ready to run" in result.stdout


def test_a_typo_in_a_key_is_named(served: Served, tmp_path: Path) -> None:
    text = served.config_text("memory://").replace("username =", "user_name =")
    config = write(tmp_path / "integration.toml", text)

    result = run_cli("check", "--config", str(config), env=ENV)

    assert result.returncode == ExitCode.USAGE
    assert ("FAIL", "configuration", "servicenow.user_name: unknown setting") in verdicts(result.stdout)


def test_missing_secrets_are_named_and_nothing_is_contacted(served: Served, tmp_path: Path) -> None:
    config = write(tmp_path / "integration.toml", served.config_text("memory://"))

    result = run_cli("check", "--config", str(config), env={"SAIL_CLIENT_SECRET": "x"})

    assert result.returncode == ExitCode.USAGE
    found = verdicts(result.stdout)
    assert ("FAIL", "configuration", "servicenow.password: environment variable SN_PASSWORD is not set") in found
    assert ("SKIP", "ServiceNow", "not checked: its settings are incomplete") in found
    assert not any(r.path.startswith("/api/") for r in served.sn.requests)


def test_refused_credentials_mean_unreachable(served: Served, tmp_path: Path) -> None:
    config = write(tmp_path / "integration.toml", served.config_text("memory://"))

    result = run_cli("check", "--config", str(config), env={**ENV, "SN_PASSWORD": "wrong"})

    assert result.returncode == ExitCode.UNREACHABLE
    failures = [(area, m) for v, area, m in verdicts(result.stdout) if v == "FAIL"]
    assert len(failures) == 1
    assert failures[0][0] == "ServiceNow"
    assert "401" in failures[0][1]
    assert "wrong" not in result.stdout + result.stderr


def test_a_missing_catalog_item_and_source_fail_the_check(served: Served, tmp_path: Path) -> None:
    gone_item = "0" * 31 + "1"
    gone_source = "f" * 32
    extra = f'{gone_source} = {{ name = "Gone", catalog_item = "{gone_item}" }}\n'
    text = served.config_text("memory://").replace("[sources]\n", f"[sources]\n{extra}")
    config = write(tmp_path / "integration.toml", text)

    result = run_cli("check", "--config", str(config), env=ENV)

    assert result.returncode == ExitCode.FAILED
    failures = [m for v, _, m in verdicts(result.stdout) if v == "FAIL"]
    assert any(m.startswith(f"catalog item {gone_item} for source Gone does not exist") for m in failures), failures
    assert f"source {gone_source} (Gone) does not exist" in failures
    warnings = [m for v, _, m in verdicts(result.stdout) if v == "WARN"]
    assert any(m.startswith("memory://: plans are forgotten") for m in warnings)


def test_a_catalog_item_without_the_correlation_variable_is_a_warning(served: Served, tmp_path: Path) -> None:
    bare = served.sn.add_catalog_item("Desk phone", ["short_description"])
    text = served.config_text("memory://").replace(served.badge_item, bare)
    config = write(tmp_path / "integration.toml", text)

    result = run_cli("check", "--config", str(config), env=ENV)

    assert result.returncode == ExitCode.OK
    warnings = [m for v, _, m in verdicts(result.stdout) if v == "WARN"]
    assert any("has no variable 'sim_correlation_id'" in m for m in warnings), result.stdout


def test_an_unreachable_service_is_exit_code_3(served: Served, tmp_path: Path) -> None:
    text = served.config_text("memory://").replace(served.idn_served.url, "http://127.0.0.1:9")
    config = write(tmp_path / "integration.toml", text)

    result = run_cli("check", "--config", str(config), env=ENV)

    assert result.returncode == ExitCode.UNREACHABLE
    failures = [(area, m) for v, area, m in verdicts(result.stdout) if v == "FAIL"]
    assert [area for area, _ in failures] == ["IdentityNow"]


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("check", "--config", str(tmp_path / "nope.toml"))

    assert result.returncode == ExitCode.USAGE
    assert "cannot read configuration file" in result.stdout


def test_jira_ticketing_is_checked_against_the_site(served: Served, tmp_path: Path) -> None:
    def config(site: str, service_desk: str) -> Path:
        text = f"""ticketing = "jira"
store_url = "memory://"

[jira]
url = "{site}"
service_desk_id = "{service_desk}"
request_type_id = "{FakeJira.DEFAULT_REQUEST_TYPE_ID}"
username = "{FakeJira.DEFAULT_LOGIN}"
api_token = {{ env = "JIRA_TOKEN" }}

[identitynow]
url = "{served.idn_served.url}"
client_id = "fake-client-id"
client_secret = {{ env = "SAIL_CLIENT_SECRET" }}

[sources]
{served.badge["id"]} = {{ name = "Badge System" }}
"""
        return write(tmp_path / f"jira-{service_desk}.toml", text)

    env = {**ENV, "JIRA_TOKEN": FakeJira.DEFAULT_API_TOKEN}
    with serve(FakeJira()) as site:
        passed = run_cli("check", "--config", str(config(site.url, FakeJira.DEFAULT_SERVICE_DESK_ID)), env=env)
        failed = run_cli("check", "--config", str(config(site.url, "999")), env=env)

    assert passed.returncode == ExitCode.OK, passed.stdout + passed.stderr
    jira_lines = [m for _, area, m in verdicts(passed.stdout) if area == "Jira"]
    assert len(jira_lines) == 1
    assert jira_lines[0].startswith(f"signed in to {site.url}; service desk {FakeJira.DEFAULT_SERVICE_DESK_ID}")
    assert not any(area == "ServiceNow" for _, area, _ in verdicts(passed.stdout))
    assert failed.returncode == ExitCode.FAILED
    assert ("FAIL", "Jira", "jira.service_desk_id: no service desk '999'") in verdicts(failed.stdout)
