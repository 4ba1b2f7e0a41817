"""TLS is verified by default; a custom CA bundle and a client certificate (mutual TLS) can be given; plain
``http://`` is refused for every host but loopback unless explicitly allowed. Token endpoints included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import trustme

from sim_servicenow.auth import BasicAuth, OAuth2ClientCredentials, OAuth2PasswordGrant
from sim_servicenow.engine import IntegrationEngine, MemoryStore
from sim_servicenow.errors import ConfigError, SimServiceNowError, TransportError
from sim_servicenow.http import RetryPolicy
from sim_servicenow.identitynow import IdentityNowClient
from sim_servicenow.mapping import (
    IdentityNowSettings,
    IntegrationConfig,
    ManagedSource,
    Secret,
    ServiceNowAuthType,
    ServiceNowSettings,
)
from sim_servicenow.servicenow import ServiceNowClient
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, ServedApp, WSGIAdapter, serve

from ._cli import IDN_SECRET_ENV, SN_PASSWORD_ENV, run_cli, write_config

NO_RETRY = RetryPolicy.never()


@pytest.fixture(scope="module")
def client_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """The CA our client certificates come from, and a PEM file holding it (what the server trusts)."""
    ca = trustme.CA(organization_name="sim-servicenow test clients")
    path = tmp_path_factory.mktemp("client-ca") / "clients.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def _client_pem(ca: trustme.CA, directory: Path, name: str) -> str:
    """A client certificate and its key in one PEM file, as ``cert=`` takes it."""
    path = directory / f"{name}.pem"
    ca.issue_cert(f"{name}.clients.example.com").private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_servicenow() -> Iterator[ServedApp]:
    with serve(FakeServiceNow(seed=3), tls=True) as served:
        yield served


@pytest.fixture
def tls_identitynow() -> Iterator[ServedApp]:
    with serve(FakeIdentityNow(seed=3), tls=True) as served:
        yield served


def _no_response(error: BaseException) -> str:
    assert isinstance(error, TransportError)
    assert isinstance(error.__cause__, requests.exceptions.SSLError), repr(error.__cause__)
    return str(error)


# ------------------------------------------------------------------------------------------- verification


def test_an_unknown_certificate_is_refused_by_default_for_api_and_token_requests(
    tls_servicenow: ServedApp, tls_identitynow: ServedApp
) -> None:
    servicenow = ServiceNowClient(tls_servicenow.url, BasicAuth("admin", "admin"), retry=NO_RETRY)
    with pytest.raises(TransportError) as caught:
        servicenow.table("incident").first()
    assert "SSLError" in _no_response(caught.value)
    # The token request is refused before the client secret is sent anywhere.
    token = OAuth2ClientCredentials.for_identitynow(
        tls_identitynow.url, FakeIdentityNow.DEFAULT_CLIENT_ID, FakeIdentityNow.DEFAULT_CLIENT_SECRET, retry=NO_RETRY
    )
    identitynow = IdentityNowClient(tls_identitynow.url, token, retry=NO_RETRY)
    with pytest.raises(TransportError) as caught:
        identitynow.sources.list()
    _no_response(caught.value)
    assert token.token_requests == 1
    assert len(tls_identitynow.app.requests) == 0


def test_the_engine_verifies_by_default_and_trusts_a_given_ca_bundle(
    tls_servicenow: ServedApp, tls_identitynow: ServedApp
) -> None:
    sn, idn = tls_servicenow.app, tls_identitynow.app
    source = idn.add_source("Badge System")
    item = sn.add_catalog_item("Badge", ["sim_correlation_id", "short_description", "description"])
    work_item = idn.add_manual_work_item(source["id"], "Create", "ada", {"level": "1"})["id"]
    config = IntegrationConfig(
        servicenow=ServiceNowSettings(tls_servicenow.url, username="admin", password=Secret("admin")),
        identitynow=IdentityNowSettings(
            tls_identitynow.url,
            client_id=FakeIdentityNow.DEFAULT_CLIENT_ID,
            client_secret=Secret(FakeIdentityNow.DEFAULT_CLIENT_SECRET),
        ),
        sources=(ManagedSource(source["id"], source["name"], item),),
    )

    default = IntegrationEngine.from_config(config, store=MemoryStore(), retry=NO_RETRY)
    refused = default.run_once()
    assert refused.received == 0
    [error] = refused.errors
    assert error.stage == "poll"
    assert "SSLError" in error.message
    assert len(idn.requests) == len(sn.requests) == 0

    # Both fakes' certificates come from throwaway CAs; one bundle holding both is what an operator would pass.
    bundle = Path(tls_servicenow.ca_bundle or "").parent / "both.pem"
    bundle.write_text(
        Path(tls_servicenow.ca_bundle or "").read_text() + Path(tls_identitynow.ca_bundle or "").read_text()
    )
    trusting = IntegrationEngine.from_config(config, store=MemoryStore(), retry=NO_RETRY, verify=str(bundle))
    accepted = trusting.run_once()
    assert accepted.errors == []
    assert (accepted.received, accepted.created) == (1, 1)
    assert sn.records("sc_request")[0]["correlation_id"].startswith(f"{work_item}/")


def test_the_run_command_verifies_by_default_and_takes_a_ca_bundle(
    tls_servicenow: ServedApp, tls_identitynow: ServedApp, tmp_path: Path
) -> None:
    sn, idn = tls_servicenow.app, tls_identitynow.app
    source = idn.add_source("Badge System")
    item = sn.add_catalog_item("Badge", ["sim_correlation_id", "short_description", "description"])
    idn.add_manual_work_item(source["id"], "Create", "ada", {"level": "1"})
    config = write_config(
        tmp_path / "integration.toml",
        servicenow=tls_servicenow,
        identitynow=tls_identitynow,
        sources=[(source["id"], source["name"], item)],
        store=tmp_path / "state.db",
    )
    env = {SN_PASSWORD_ENV: "admin", IDN_SECRET_ENV: FakeIdentityNow.DEFAULT_CLIENT_SECRET}
    refused = run_cli(["run", "--config", str(config), "--once"], env)
    assert refused.returncode != 0
    assert "SSLError" in refused.stderr
    assert len(idn.requests) == len(sn.requests) == 0

    bundle = tmp_path / "servers.pem"
    bundle.write_text(
        Path(tls_servicenow.ca_bundle or "").read_text() + Path(tls_identitynow.ca_bundle or "").read_text()
    )
    trusted = run_cli(["run", "--config", str(config), "--once", "--ca-bundle", str(bundle)], env)
    assert trusted.returncode == 0, trusted.stderr
    assert len(sn.records("sc_request")) == 1


# ------------------------------------------------------------------------------------------- mutual TLS


def test_a_client_certificate_is_sent_to_a_server_that_demands_one(
    client_ca: tuple[trustme.CA, Path], tmp_path: Path
) -> None:
    ca, ca_path = client_ca
    ours = _client_pem(ca, tmp_path, "sim-servicenow")
    strangers = _client_pem(trustme.CA(), tmp_path, "stranger")
    with serve(FakeServiceNow(seed=3), tls=True, client_ca=str(ca_path)) as served:
        trusted = served.ca_bundle
        assert trusted is not None

        def client(cert: str | None) -> ServiceNowClient:
            return ServiceNowClient(served.url, BasicAuth("admin", "admin"), verify=trusted, cert=cert, retry=NO_RETRY)

        for refused in (None, strangers):
            with pytest.raises(TransportError):
                client(refused).table("incident").first()
        created = client(ours).table("incident").create({"short_description": "over mutual TLS"})
        assert served.app.get("incident", created.sys_id)["short_description"] == "over mutual TLS"


def test_token_requests_present_the_client_certificate_too(client_ca: tuple[trustme.CA, Path], tmp_path: Path) -> None:
    ca, ca_path = client_ca
    ours = _client_pem(ca, tmp_path, "sim-servicenow")
    fake = FakeServiceNow(seed=3)
    with serve(fake, tls=True, client_ca=str(ca_path)) as served:
        oauth_client, oauth_secret = next(iter(FakeServiceNow.DEFAULT_OAUTH_CLIENTS.items()))
        trusted = served.ca_bundle
        assert trusted is not None

        def grant(cert: str | None) -> OAuth2PasswordGrant:
            return OAuth2PasswordGrant.for_servicenow(
                served.url, oauth_client, oauth_secret, "admin", "admin", verify=trusted, cert=cert
            )

        with pytest.raises(TransportError):
            grant(None).get_token()
        token = grant(ours)
        client = ServiceNowClient(served.url, token, verify=trusted, cert=ours, retry=NO_RETRY)
        assert client.table("sys_user").first(fields=("user_name",)) is not None
        assert token.token_requests == 1
        assert [r.path for r in fake.requests][:1] == ["/oauth_token.do"]


def test_the_engine_presents_its_client_certificate_to_both_services(
    client_ca: tuple[trustme.CA, Path], tmp_path: Path
) -> None:
    ca, ca_path = client_ca
    ours = _client_pem(ca, tmp_path, "sim-servicenow")
    sn, idn = FakeServiceNow(seed=3), FakeIdentityNow(seed=3)
    source = idn.add_source("Badge System")
    item = sn.add_catalog_item("Badge", ["sim_correlation_id", "short_description", "description"])
    idn.add_manual_work_item(source["id"], "Create", "ada", {"level": "1"})
    oauth_client, oauth_secret = next(iter(FakeServiceNow.DEFAULT_OAUTH_CLIENTS.items()))
    with (
        serve(sn, tls=True, client_ca=str(ca_path)) as sn_served,
        serve(idn, tls=True, client_ca=str(ca_path)) as idn_served,
    ):
        bundle = tmp_path / "servers.pem"
        bundle.write_text(Path(sn_served.ca_bundle or "").read_text() + Path(idn_served.ca_bundle or "").read_text())
        config = IntegrationConfig(
            servicenow=ServiceNowSettings(
                sn_served.url,
                auth=ServiceNowAuthType.OAUTH2_CLIENT_CREDENTIALS,
                client_id=oauth_client,
                client_secret=Secret(oauth_secret),
            ),
            identitynow=IdentityNowSettings(
                idn_served.url,
                client_id=FakeIdentityNow.DEFAULT_CLIENT_ID,
                client_secret=Secret(FakeIdentityNow.DEFAULT_CLIENT_SECRET),
            ),
            sources=(ManagedSource(source["id"], source["name"], item),),
        )

        def engine(cert: str | None) -> IntegrationEngine:
            return IntegrationEngine.from_config(
                config, store=MemoryStore(), retry=NO_RETRY, verify=str(bundle), cert=cert
            )

        refused = engine(None).run_once()
        assert [e.stage for e in refused.errors] == ["poll"]
        accepted = engine(ours).run_once()
        assert accepted.errors == []
        assert accepted.created == 1
        # Both token endpoints were reached over mutual TLS too.
        assert sn.requests.count("POST", "/oauth_token.do") == 1
        assert idn.requests.count("POST", "/oauth/token") == 1


def test_serve_refuses_a_client_ca_without_tls(client_ca: tuple[trustme.CA, Path]) -> None:
    with pytest.raises(ValueError, match="tls=True"), serve(FakeServiceNow(), client_ca=str(client_ca[1])):
        pass  # pragma: no cover - never reached


# ------------------------------------------------------------------------------------------- plain http


REMOTE_HTTP = ("http://dev1234.service-now.com", "http://10.0.0.8", "http://[2001:db8::1]", "http://intranet")
LOOPBACK_HTTP = ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9", "http://127.8.9.10:9")


@pytest.mark.parametrize("url", REMOTE_HTTP)
def test_plain_http_to_a_remote_host_is_refused_everywhere(url: str) -> None:
    # Refused when the object is made: nothing is sent, no credentials travel in clear text.
    attempts: list[Callable[[], object]] = [
        lambda: ServiceNowClient(url, BasicAuth("admin", "admin")),
        lambda: IdentityNowClient(url, None),
        lambda: OAuth2ClientCredentials.for_identitynow(url, "client", "secret"),
        lambda: OAuth2PasswordGrant.for_servicenow(url, "client", "secret", "admin", "admin"),
    ]
    for attempt in attempts:
        with pytest.raises(ConfigError) as caught:
            attempt()
        assert "http://" in str(caught.value.problems)
        assert "secret" not in str(caught.value)


@pytest.mark.parametrize("url", REMOTE_HTTP)
def test_the_engine_refuses_a_configuration_with_plain_http_to_a_remote_host(url: str) -> None:
    config = IntegrationConfig(
        servicenow=ServiceNowSettings(url, username="admin", password=Secret("s3cr3t-password")),
        identitynow=IdentityNowSettings("https://acme.api.identitynow.com", client_id="c", client_secret=Secret("x")),
        sources=(ManagedSource("a" * 32, "Badge", "b" * 32),),
    )
    with pytest.raises(ConfigError) as caught:
        IntegrationEngine.from_config(config, store=MemoryStore())
    assert "s3cr3t-password" not in str(caught.value)


@pytest.mark.parametrize("url", LOOPBACK_HTTP)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert ServiceNowClient(url, BasicAuth("admin", "admin")).http.base_url.startswith("http://")
    assert OAuth2ClientCredentials.for_identitynow(url, "client", "secret").token_url.startswith("http://")


def test_plain_http_to_a_remote_host_works_when_explicitly_allowed() -> None:
    url = "http://sn.intranet.example"
    session = requests.Session()
    session.mount(f"{url}/", WSGIAdapter(FakeServiceNow()))
    client = ServiceNowClient(url, BasicAuth("admin", "admin"), session=session, allow_insecure_http=True)
    assert client.table("sys_user").first(fields=("user_name",)) is not None
    with pytest.raises(SimServiceNowError):
        ServiceNowClient(url, BasicAuth("admin", "admin"), session=session)
