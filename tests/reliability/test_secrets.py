"""No secret escapes: the demo scenario (joiners, movers and leavers raised, worked, reported) run with known
secret values at DEBUG, and every log line, repr, exception message, CLI output and the SQLite file searched.

The secrets are the ServiceNow password and OAuth client secret, the IdentityNow client secret, and every access
and refresh token the fakes issue during the run (recorded by a middleware in front of each fake). Each is looked
for as sent and in the encodings it travels in (form-encoded, Basic auth, JSON-escaped).
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

import attrs
import pytest

from sim_servicenow.auth import BasicAuth, OAuth2ClientCredentials, OAuth2PasswordGrant
from sim_servicenow.engine import IntegrationEngine, PlanState, SqliteStore
from sim_servicenow.errors import SimServiceNowError
from sim_servicenow.http import HttpCore, RetryPolicy
from sim_servicenow.mapping import IntegrationConfig
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, FaultKind, ServedApp, serve

from ._cli import CliProcess, run_cli

SN_USER = "svc.sim-integration"
SN_PASSWORD = "Sn-P@ss/w0rd+%42 only-in-env"
SN_CLIENT = "sim-oauth-client"
SN_CLIENT_SECRET = "sn-client-s3cret&=/?"
IDN_CLIENT = "pat-4e2b"
IDN_CLIENT_SECRET = "idn-pat-s3cret#;:!"
ENV = {"T_SN_PASSWORD": SN_PASSWORD, "T_SN_CLIENT_SECRET": SN_CLIENT_SECRET, "T_IDN_SECRET": IDN_CLIENT_SECRET}
VARIABLES = ["sim_correlation_id", "short_description", "description"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


class TokenRecorder:
    """WSGI middleware in front of a fake: remembers every bearer token presented and every token issued."""

    def __init__(self, app: Any, token_path: str) -> None:
        self.app = app
        self.token_path = token_path
        self.tokens: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scheme, _, credentials = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() == "bearer" and credentials:
            self.tokens.add(credentials.strip())
        body = b"".join(self.app(environ, start_response))
        if environ.get("PATH_INFO") == self.token_path:
            try:
                issued = json.loads(body)
            except ValueError:
                issued = {}
            if isinstance(issued, dict):
                self.tokens.update(str(issued[k]) for k in ("access_token", "refresh_token") if issued.get(k))
        return [body]


def _forms(secret: str) -> set[str]:
    """A secret as sent, and in the encodings it travels in."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


@attrs.define
class Scenario:
    """The demo's world with our own secrets: three sources (two managed), joiners, movers and leavers."""

    clock: Clock
    sn: FakeServiceNow
    idn: FakeIdentityNow
    sn_recorder: TokenRecorder
    idn_recorder: TokenRecorder
    sn_served: ServedApp
    idn_served: ServedApp
    work_items: list[str]
    toml: str

    def secrets(self) -> set[str]:
        found: set[str] = set()
        for secret in (
            SN_PASSWORD,
            SN_CLIENT_SECRET,
            IDN_CLIENT_SECRET,
            *self.sn_recorder.tokens,
            *self.idn_recorder.tokens,
        ):
            found |= _forms(secret)
        basic = base64.b64encode(f"{SN_USER}:{SN_PASSWORD}".encode()).decode()
        clients = [
            base64.b64encode(f"{c}:{s}".encode()).decode()
            for c, s in ((SN_CLIENT, SN_CLIENT_SECRET), (IDN_CLIENT, IDN_CLIENT_SECRET))
        ]
        return found | {basic, *clients}

    def done(self, store: SqliteStore) -> bool:
        return store.counts().plans[PlanState.DONE] == len(self.work_items)


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    clock = Clock()
    sn = FakeServiceNow(
        users={SN_USER: SN_PASSWORD}, oauth_clients={SN_CLIENT: SN_CLIENT_SECRET}, clock=clock.epoch, seed=4
    )
    idn = FakeIdentityNow(clients={IDN_CLIENT: IDN_CLIENT_SECRET}, clock=clock.epoch, seed=4, token_lifetime=749)
    badge, laptop, directory = (idn.add_source(n) for n in ("Badge System", "Laptop Fleet", "Active Directory"))
    badge_item, laptop_item = sn.add_catalog_item("Badge", VARIABLES), sn.add_catalog_item("Laptop", VARIABLES)
    desk = idn.add_identity("service.desk")["id"]
    people = ["ada.lovelace", "grace.hopper", "alan.turing", "edsger.dijkstra", "barbara.liskov", "ken.thompson"]
    work_items = []
    for n, person in enumerate(people):
        work_items.append(idn.add_manual_work_item(badge["id"], "Create", person, {"level": str(n % 3)})["id"])
        work_items.append(
            idn.add_manual_work_item(laptop["id"], "Modify" if n % 2 else "Disable", person, {"model": "T14"})["id"]
        )
        idn.add_manual_work_item(directory["id"], "Delete", person)  # not managed: left alone
    sn_recorder = TokenRecorder(sn, "/oauth_token.do")
    idn_recorder = TokenRecorder(idn, "/oauth/token")
    with serve(sn_recorder) as sn_served, serve(idn_recorder) as idn_served:
        toml = f'''
name = "secrets"
store_url = "sqlite:///{tmp_path / "state.db"}"
forward_failed_to = "{desk}"

[servicenow]
url = "{sn_served.url}"
auth = "oauth2_password"
username = "{SN_USER}"
password = {{ env = "T_SN_PASSWORD" }}
client_id = "{SN_CLIENT}"
client_secret = {{ env = "T_SN_CLIENT_SECRET" }}

[identitynow]
url = "{idn_served.url}"
client_id = "{IDN_CLIENT}"
client_secret = {{ env = "T_IDN_SECRET" }}

[status]
check_interval_minutes = 0.02
max_check_days = 1

[sources]
{badge["id"]} = {{ name = "Badge System", catalog_item = "{badge_item}" }}
{laptop["id"]} = {{ name = "Laptop Fleet", catalog_item = "{laptop_item}" }}
'''
        yield Scenario(clock, sn, idn, sn_recorder, idn_recorder, sn_served, idn_served, work_items, toml)


def _work_the_desk(sn: FakeServiceNow) -> None:
    outcomes = ["complete", "complete", "incomplete", "rejected"]
    for n, request in enumerate(sorted(sn.records("sc_request"), key=lambda r: r["number"])):
        if request["active"] == "true":
            sn.close(request["sys_id"], outcomes[n % len(outcomes)])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ searching


def _reachable(roots: Iterable[object], limit: int = 50_000) -> Iterator[object]:
    """Every object reachable from ``roots`` through attributes, slots and containers (breadth first)."""
    seen: set[int] = set()
    queue: deque[object] = deque(roots)
    skipped = (type, ModuleType, FunctionType, BuiltinFunctionType, str, bytes, int, float, bool, type(None))
    while queue and len(seen) < limit:
        obj = queue.popleft()
        if id(obj) in seen or isinstance(obj, skipped):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            queue.extend(obj.keys())
            queue.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            queue.extend(obj)
        else:
            queue.extend(gc.get_referents(obj))


def _leaks(texts: Iterable[tuple[str, str]], secrets: set[str]) -> list[str]:
    """Where a secret shows (named by its first characters only, so a failure does not print it)."""
    return [f"{where}: {secret[:4]}..." for where, text in texts for secret in secrets if secret and secret in text]


def _exception_texts(error: BaseException) -> Iterator[tuple[str, str]]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        yield f"str({name})", str(current)
        yield f"repr({name})", repr(current)
        yield f"args({name})", repr(current.args)
        for key, value in vars(current).items():
            yield f"{name}.{key}", repr(value)
        current = current.__cause__ or current.__context__
    yield "traceback", "".join(traceback.format_exception(error))


# ------------------------------------------------------------------------------------------------ the tests


def test_a_whole_run_at_debug_leaves_no_secret_anywhere(
    scenario: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, urllib3's, requests'
    config = IntegrationConfig.from_toml(scenario.toml, environ=ENV)
    store = SqliteStore(tmp_path / "state.db")
    engine = IntegrationEngine.from_config(
        config, store=store, clock=scenario.clock, retry=RetryPolicy(max_attempts=3).without_sleeping()
    )
    # Tokens expiring mid-run (a 401 and a renewal), a token endpoint failing once, a dropped answer.
    scenario.sn.faults.add(FaultKind.EXPIRE_TOKEN, times=2, path="/api/now/table/")
    scenario.sn.faults.add(FaultKind.ERROR, status=503, times=1, path="/oauth_token.do")
    scenario.idn.faults.add(FaultKind.EXPIRE_TOKEN, times=1, path="/v3/work-items")
    scenario.idn.faults.add(FaultKind.DROP, times=1, method="POST", after=True)
    reports = []
    for _ in range(8):
        reports.append(engine.run_once())
        _work_the_desk(scenario.sn)
        scenario.clock.now += timedelta(minutes=31)
        if scenario.done(store):
            break
    assert scenario.done(store), store.counts()
    assert scenario.sn_recorder.tokens
    assert scenario.idn_recorder.tokens

    # Failures of every kind the run can produce: refused secrets, a token endpoint that is down, no answer.
    errors: list[BaseException] = []

    def expect_error(action: Callable[[], object]) -> None:
        with pytest.raises(SimServiceNowError) as caught:
            action()
        errors.append(caught.value)

    no_retry = RetryPolicy.never()
    sn_url, idn_url = scenario.sn_served.url, scenario.idn_served.url
    expect_error(
        lambda: OAuth2ClientCredentials.for_identitynow(
            idn_url, IDN_CLIENT, IDN_CLIENT_SECRET + "x", retry=no_retry
        ).get_token()
    )
    expect_error(
        lambda: OAuth2PasswordGrant.for_servicenow(
            sn_url, SN_CLIENT, SN_CLIENT_SECRET, SN_USER, SN_PASSWORD + "x", retry=no_retry
        ).get_token()
    )
    expect_error(
        lambda: HttpCore(sn_url, auth=BasicAuth(SN_USER, SN_PASSWORD + "x"), retry=no_retry).request(
            "GET", "/api/now/table/incident"
        )
    )
    scenario.sn.faults.add(FaultKind.ERROR, status=500, times=1, path="/oauth_token.do")
    expect_error(
        lambda: OAuth2PasswordGrant.for_servicenow(
            sn_url, SN_CLIENT, SN_CLIENT_SECRET, SN_USER, SN_PASSWORD, retry=no_retry
        ).get_token()
    )
    scenario.idn.faults.add(FaultKind.DROP, times=1, path="/oauth/token")
    expect_error(
        lambda: OAuth2ClientCredentials.for_identitynow(
            idn_url, IDN_CLIENT, IDN_CLIENT_SECRET, retry=no_retry
        ).get_token()
    )
    bad = IntegrationConfig.from_toml(scenario.toml.replace("T_IDN_SECRET", "T_UNSET_SECRET"), environ=ENV)
    expect_error(lambda: IntegrationEngine.from_config(bad, store=store))
    with pytest.raises(SimServiceNowError) as broken_toml:
        IntegrationConfig.from_toml(scenario.toml.replace(f'"{SN_USER}"', "3"), environ=ENV)
    errors.append(broken_toml.value)

    secrets = scenario.secrets()
    texts: list[tuple[str, str]] = []
    for record in caplog.records:
        texts.append((f"log {record.name}", record.getMessage()))
        if record.exc_info:
            texts.append((f"log {record.name} traceback", "".join(traceback.format_exception(*record.exc_info))))
    texts.append(("log text", caplog.text))
    for report in reports:
        texts += [("cycle error", repr(error)) for error in report.errors]
        texts.append(("cycle report", repr(report)))
    for error in errors:
        texts += list(_exception_texts(error))
    reached = list(_reachable([engine, config, store, bad]))
    assert len(reached) > 100
    for obj in reached:
        if isinstance(obj, (dict, list, tuple, set, frozenset, deque)):
            continue  # containers hold the secrets the objects use; what matters is what objects show
        texts.append((f"repr {type(obj).__qualname__}", repr(obj)))
        texts.append((f"str {type(obj).__qualname__}", str(obj)))
    texts.append(("config.to_dict", json.dumps(config.to_dict())))
    store.close()
    for path in tmp_path.glob("state.db*"):
        texts.append((f"file {path.name}", path.read_bytes().decode("latin-1")))

    assert len(secrets) > 10
    assert _leaks(texts, secrets) == []


def test_the_run_command_at_debug_prints_no_secret(scenario: Scenario, tmp_path: Path) -> None:
    # The fakes run on a clock that only moves with the test; move it on while the command runs.
    config = tmp_path / "integration.toml"
    config.write_text(scenario.toml, encoding="utf-8")
    scenario.sn.faults.add(FaultKind.EXPIRE_TOKEN, times=2, path="/api/now/table/")
    outputs: list[tuple[str, str]] = []

    check = run_cli(["--debug", "check", "--config", str(config)], ENV)
    outputs += [("check stdout", check.stdout), ("check stderr", check.stderr)]
    worker = CliProcess(["--debug", "run", "--config", str(config), "--interval", "0.05"], ENV)
    try:
        worker.wait_ready()
        deadline = time.monotonic() + 60
        with SqliteStore(tmp_path / "state.db") as store:
            while not scenario.done(store):
                assert time.monotonic() < deadline, worker.output[-3000:]
                _work_the_desk(scenario.sn)
                scenario.clock.now += timedelta(minutes=1)
                time.sleep(0.1)
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        worker.kill()
    outputs.append(("run output", worker.output))
    tickets = run_cli(["--debug", "tickets", "--config", str(config), "--json"], ENV)
    outputs += [("tickets stdout", tickets.stdout), ("tickets stderr", tickets.stderr)]
    refused = run_cli(
        ["--debug", "run", "--config", str(config), "--once"], {**ENV, "T_IDN_SECRET": "wrong" + IDN_CLIENT_SECRET}
    )
    assert refused.returncode != 0
    outputs += [("refused stdout", refused.stdout), ("refused stderr", refused.stderr)]
    for path in tmp_path.glob("state.db*"):
        outputs.append((f"file {path.name}", path.read_bytes().decode("latin-1")))

    assert "DEBUG" in worker.output
    secrets = scenario.secrets() | _forms("wrong" + IDN_CLIENT_SECRET)
    assert _leaks(outputs, secrets) == []


def test_the_fakes_request_logs_mask_credentials(scenario: Scenario) -> None:
    # Users print the fakes' request logs when their own tests fail; those must not show the secrets either.
    config = IntegrationConfig.from_toml(scenario.toml, environ=ENV)
    engine = IntegrationEngine.from_config(
        config, store=SqliteStore(Path(config.store_url.removeprefix("sqlite:///"))), clock=scenario.clock
    )
    engine.run_once()
    logged = [repr(entry) for entry in [*scenario.sn.requests, *scenario.idn.requests]]
    bodies = [
        dict(parse_qsl(entry.body.decode("latin-1")))
        for entry in [*scenario.sn.requests, *scenario.idn.requests]
        if entry.body
    ]
    assert logged
    assert _leaks([("request log", text) for text in logged + [repr(b) for b in bodies]], scenario.secrets()) == []


def test_the_demo_command_at_debug_prints_no_secret() -> None:
    # The demo's fakes use the library's well-known test credentials; the run itself must not print them.
    demo = run_cli(["--debug", "demo", "--plans", "6"], {}, timeout=120)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "DEBUG" in demo.stderr
    secrets = _forms(FakeIdentityNow.DEFAULT_CLIENT_SECRET) | {
        form for secret in FakeServiceNow.DEFAULT_OAUTH_CLIENTS.values() for form in _forms(secret)
    }
    basic = base64.b64encode(b"admin:admin").decode()
    assert _leaks([("demo stdout", demo.stdout), ("demo stderr", demo.stderr)], secrets | {basic}) == []
