"""Fixtures: one FakeServiceNow, reached over loopback HTTP and through a mounted WSGI adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sim_servicenow.auth import BasicAuth
from sim_servicenow.http import RetryPolicy
from sim_servicenow.servicenow import ServiceNowClient
from sim_servicenow.testing import FakeServiceNow, ServedApp, mount, serve

MOUNTED_URL = "https://fake-sn.test"


@pytest.fixture(scope="session")
def _served() -> Iterator[ServedApp]:
    with serve(FakeServiceNow(seed=7)) as served:
        yield served


@pytest.fixture
def fake(_served: ServedApp) -> FakeServiceNow:
    """The fake instance, fresh for each test (records, faults and the request log cleared)."""
    instance: FakeServiceNow = _served.app
    instance.reset()
    return instance


@pytest.fixture(params=["loopback", "mounted"])
def transport(request: pytest.FixtureRequest, _served: ServedApp) -> Iterator[tuple[str, requests.Session | None]]:
    """``(instance_url, session)``: a real HTTP server on 127.0.0.1, or the app mounted on a session."""
    if request.param == "loopback":
        yield _served.url, None
        return
    with requests.Session() as session:
        mount(session, MOUNTED_URL, _served.app)
        yield MOUNTED_URL, session


ClientFactory = Callable[..., ServiceNowClient]


@pytest.fixture
def make_client(fake: FakeServiceNow, transport: tuple[str, requests.Session | None]) -> Iterator[ClientFactory]:
    """Build clients against the fake; retries keep their schedule but do not sleep."""
    url, session = transport
    made: list[ServiceNowClient] = []

    def build(**options: Any) -> ServiceNowClient:
        options.setdefault("retry", RetryPolicy().without_sleeping())
        options.setdefault("session", session)
        auth = options.pop("auth", BasicAuth("admin", "admin"))
        client = ServiceNowClient(url, auth, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> ServiceNowClient:
    return make_client()
