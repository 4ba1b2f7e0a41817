"""Fixtures for FakeJira and the Jira adapter: a settable clock, the fake, and an authenticated session on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sim_servicenow.testing import mount
from sim_servicenow.testing._jira import FakeJira

BASE = "https://acme.atlassian.test"


class Clock:
    """A settable clock for the fake (epoch seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Jira:
    """A requests session on a fake mounted at :data:`BASE` (no sockets), signed in as the default agent."""

    def __init__(self, fake: FakeJira, auth: Any = (FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN)) -> None:
        self.fake = fake
        self.session = mount(requests.Session(), BASE, fake)
        self.session.auth = auth

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, BASE + path, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, summary: str = "Grant access", **values: Any) -> dict[str, Any]:
        """Create a request in the default service desk; returns the CustomerRequest body."""
        response = self.post(
            "/rest/servicedeskapi/request",
            json={
                "serviceDeskId": FakeJira.DEFAULT_SERVICE_DESK_ID,
                "requestTypeId": FakeJira.DEFAULT_REQUEST_TYPE_ID,
                "requestFieldValues": {"summary": summary, **values},
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def search(self, jql: str, **params: Any) -> requests.Response:
        return self.get("/rest/api/2/search/jql", params={"jql": jql, **params})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeJira:
    return FakeJira(clock=clock, seed=11)


@pytest.fixture
def jira(fake: FakeJira) -> Iterator[Jira]:
    client = Jira(fake)
    yield client
    client.session.close()


@pytest.fixture
def client_for() -> Iterator[Callable[..., Jira]]:
    """Make clients for other fakes or other credentials; they are closed after the test."""
    made: list[Jira] = []

    def make(fake: FakeJira, **kwargs: Any) -> Jira:
        made.append(Jira(fake, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.session.close()


@pytest.fixture
def dc_fake(clock: Clock) -> FakeJira:
    return FakeJira(
        edition="data_center",
        users={"sim-bot": "s3cret"},
        personal_access_tokens={"pat-123": "sim-bot"},
        clock=clock,
        seed=11,
    )


@pytest.fixture
def dc(dc_fake: FakeJira) -> Iterator[Jira]:
    client = Jira(dc_fake, auth=("sim-bot", "s3cret"))
    yield client
    client.session.close()
