"""FakeJira at run time: authentication, faults, the request log, reset, auto-work, threads, loopback and TLS."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests

from sim_servicenow.errors import AuthenticationError, RateLimitError, ServerError, TransportError
from sim_servicenow.http import HttpCore, RetryPolicy, Timeout
from sim_servicenow.testing import serve
from sim_servicenow.testing._faults import FaultKind
from sim_servicenow.testing._jira import FakeJira, JiraOutcome
from sim_servicenow.testing._servicenow import WorkPolicy

if TYPE_CHECKING:
    from conftest import Clock, Jira

CREATE = {"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "x"}}


# ------------------------------------------------------------------------------------------ authentication


def test_cloud_refuses_missing_and_wrong_credentials(fake: FakeJira, client_for: Callable[..., Jira]) -> None:
    anonymous = client_for(fake, auth=None)
    platform = anonymous.get("/rest/api/2/myself")
    assert platform.status_code == 401
    assert platform.json()["errorMessages"] == [
        "You are not authenticated. Authentication required to perform this operation."
    ]
    service_desk = anonymous.post("/rest/servicedeskapi/request", json=CREATE)
    assert service_desk.status_code == 401
    assert set(service_desk.json()) == {"errorMessage", "i18nErrorMessage"}

    wrong = client_for(fake, auth=(FakeJira.DEFAULT_LOGIN, "not-the-token")).get("/rest/api/2/myself")
    assert wrong.status_code == 401
    assert wrong.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert wrong.json()["message"] == "Client must be authenticated to access this resource."

    bearer = anonymous.get("/rest/api/2/myself", headers={"Authorization": "Bearer jira-api-token"})
    assert bearer.status_code == 401
    garbled = anonymous.get("/rest/api/2/myself", headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401
    assert fake.issues() == []

    me = client_for(fake).get("/rest/api/2/myself").json()
    assert (me["emailAddress"], me["accountId"].startswith("712020:")) == (FakeJira.DEFAULT_LOGIN, True)
    assert anonymous.get("/rest/api/2/serverInfo").json()["deploymentType"] == "Cloud"


def test_data_center_personal_access_tokens(dc_fake: FakeJira, client_for: Callable[..., Jira]) -> None:
    bearer = client_for(dc_fake, auth=None)
    headers = {"Authorization": "Bearer pat-123"}
    assert bearer.post("/rest/servicedeskapi/request", json=CREATE, headers=headers).status_code == 201
    assert dc_fake.issue("SIM-1").reporter == "sim-bot"
    assert bearer.get("/rest/api/2/myself", headers={"Authorization": "Bearer nope"}).status_code == 401
    dc_fake.revoke_personal_access_token("pat-123")
    assert bearer.get("/rest/api/2/myself", headers=headers).status_code == 401
    assert bearer.get("/rest/api/2/serverInfo").json()["deploymentType"] == "Server"


def test_data_center_captcha_after_failed_logins(clock: Clock, client_for: Callable[..., Jira]) -> None:
    fake = FakeJira(edition="data_center", users={"sim-bot": "s3cret"}, captcha_after=2, clock=clock)
    wrong = client_for(fake, auth=("sim-bot", "guess"))
    right = client_for(fake, auth=("sim-bot", "s3cret"))
    assert [wrong.get("/rest/api/2/myself").status_code for _ in range(2)] == [401, 401]
    denied = right.get("/rest/api/2/myself")
    assert denied.status_code == 403
    assert denied.headers["X-Authentication-Denied-Reason"].startswith("CAPTCHA_CHALLENGE; login-url=")
    fake.solve_captcha("sim-bot")
    assert right.get("/rest/api/2/myself").status_code == 200


# ---------------------------------------------------------------------------------------------------- faults


def test_error_and_rate_limit_faults_speak_each_api_dialect(jira: Jira) -> None:
    jira.fake.faults.add(FaultKind.ERROR, status=503, times=1, path="/rest/servicedeskapi")
    jira.fake.faults.add(FaultKind.RATE_LIMIT, retry_after=7, times=1, path="/rest/api/2")
    unavailable = jira.post("/rest/servicedeskapi/request", json=CREATE)
    assert unavailable.status_code == 503
    assert unavailable.json()["errorMessage"] == "Service Unavailable"
    limited = jira.get("/rest/api/2/myself")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.json()["errorMessages"] == ["Rate limit exceeded."]
    assert jira.fake.issues() == []
    assert jira.get("/rest/api/2/myself").status_code == 200
    assert dict(jira.fake.faults.counts) == {"error": 1, "rate_limit": 1}


def test_unnamed_error_statuses(jira: Jira) -> None:
    jira.fake.faults.add(FaultKind.ERROR, status=599, times=1)
    response = jira.get("/rest/api/2/myself")
    assert (response.status_code, response.json()["errorMessages"]) == (599, ["Error"])


def test_semaphore_html_and_expired_credentials(jira: Jira) -> None:
    jira.fake.faults.add("semaphore", times=1)
    jira.fake.faults.add("html", times=1)
    jira.fake.faults.add("expire_token", times=1)
    semaphore = jira.get("/rest/api/2/myself")
    assert (semaphore.status_code, "Retry-After" in semaphore.headers) == (429, False)
    html = jira.get("/rest/api/2/myself")
    assert (html.status_code, html.headers["Content-Type"].split(";")[0]) == (200, "text/html")
    assert jira.get("/rest/api/2/myself").status_code == 401
    assert jira.get("/rest/api/2/myself").status_code == 200


def test_the_http_core_retries_rate_limits_and_maps_errors(fake: FakeJira) -> None:
    fake.faults.add(FaultKind.RATE_LIMIT, retry_after=3, times=2, method="POST")
    waits: list[float] = []
    with serve(fake) as served:
        core = HttpCore(
            served.url,
            auth=requests.auth.HTTPBasicAuth(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN),
            retry=RetryPolicy(sleep=waits.append),
        )
        with core:
            created = core.request_json("POST", "/rest/servicedeskapi/request", json_body=CREATE)
            assert created["issueKey"] == "SIM-1"
            assert waits == [3.0, 3.0]

            fake.faults.add(FaultKind.RATE_LIMIT, retry_after=2, times=1)
            with pytest.raises(RateLimitError) as limited:
                HttpCore(served.url, auth=core.auth, retry=RetryPolicy.never()).request("GET", "/rest/api/2/myself")
            assert limited.value.retry_after == 2.0
            assert limited.value.body["errorMessages"] == ["Rate limit exceeded."]

            fake.faults.add(FaultKind.ERROR, status=500, times=1)
            with pytest.raises(ServerError):
                core.request("POST", "/rest/servicedeskapi/request", json_body=CREATE)
            with pytest.raises(AuthenticationError):
                HttpCore(served.url, retry=RetryPolicy.never()).request("GET", "/rest/api/2/myself")
    assert len(fake.issues()) == 1


def test_dropped_connections_before_and_after_acting(fake: FakeJira) -> None:
    fake.faults.add(FaultKind.DROP, times=1, method="POST")
    fake.faults.add(FaultKind.DROP, times=1, method="POST", after=True)
    auth = (FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN)
    with serve(fake) as served, requests.Session() as session:
        url = served.url + "/rest/servicedeskapi/request"
        with pytest.raises(requests.ConnectionError):
            session.post(url, json=CREATE, auth=auth, timeout=5)
        assert fake.issues() == []
        with pytest.raises(requests.ConnectionError):
            session.post(url, json=CREATE, auth=auth, timeout=5)
        assert [i.key for i in fake.issues()] == ["SIM-1"]
    assert [(e.status, e.fault) for e in fake.requests] == [(0, "drop"), (0, "drop")]


def test_latency_past_the_read_timeout_is_a_transport_error(fake: FakeJira) -> None:
    fake.faults.add(FaultKind.LATENCY, delay=0.5, times=1)
    with serve(fake) as served:
        core = HttpCore(
            served.url,
            auth=requests.auth.HTTPBasicAuth(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN),
            timeout=Timeout(connect=1, read=0.1),
            retry=RetryPolicy.never(),
        )
        with core, pytest.raises(TransportError):
            core.request("GET", "/rest/api/2/myself")


# ------------------------------------------------------------------------------------- log, reset, threads


def test_request_log_masks_credentials(jira: Jira, clock: Clock) -> None:
    jira.create()
    jira.get("/rest/api/2/search/jql", params={"jql": "project = SIM"})
    create, search = list(jira.fake.requests)
    assert (create.method, create.path, create.status) == ("POST", "/rest/servicedeskapi/request", 201)
    assert create.headers["authorization"] == "Basic ***"
    credentials = base64.b64encode(f"{FakeJira.DEFAULT_LOGIN}:{FakeJira.DEFAULT_API_TOKEN}".encode()).decode()
    assert not any(credentials in str(e.headers) for e in jira.fake.requests)
    assert b'"summary"' in create.body
    assert create.at == clock.now
    assert search.query == {"jql": ["project = SIM"]}
    assert jira.fake.requests.count("GET", "/rest/api/2/search") == 1


def test_reset_returns_to_the_state_after_construction(clock: Clock, client_for: Callable[..., Jira]) -> None:
    fake = FakeJira(users={"bot@example.com": "t"}, clock=clock)
    jira = client_for(fake, auth=("bot@example.com", "t"))
    fake.add_service_desk("HR")
    fake.add_user("late@example.com", "u")
    jira.create()
    fake.faults.add("error", status=500, path="/nowhere")
    fake.reset()
    assert (fake.issues(), len(fake.requests), len(fake.faults)) == ([], 0, 0)
    assert [d.project_key for d in fake.service_desks] == ["SIM"]
    assert client_for(fake, auth=("late@example.com", "u")).get("/rest/api/2/myself").status_code == 401
    assert jira.create()["issueKey"] == "SIM-1"
    assert repr(fake) == "FakeJira(edition='cloud', service_desks=1, issues=1)"


def test_concurrent_creates_get_distinct_keys(fake: FakeJira) -> None:
    auth = (FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN)
    keys: list[str] = []
    lock = threading.Lock()

    def worker(url: str) -> None:
        with requests.Session() as session:
            for _ in range(10):
                body = session.post(url, json=CREATE, auth=auth, timeout=10).json()
                with lock:
                    keys.append(body["issueKey"])

    with serve(fake) as served:
        threads = [
            threading.Thread(target=worker, args=(served.url + "/rest/servicedeskapi/request",)) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(keys, key=lambda k: int(k.split("-")[1])) == [f"SIM-{n}" for n in range(1, 81)]
    assert len({i.id for i in fake.issues()}) == 80


def test_served_over_tls(fake: FakeJira) -> None:
    pytest.importorskip("trustme")
    with serve(fake, tls=True) as served, requests.Session() as session:
        response = session.get(
            served.url + "/rest/api/2/myself",
            auth=(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN),
            verify=served.ca_bundle,
            timeout=5,
        )
        assert response.json()["emailAddress"] == FakeJira.DEFAULT_LOGIN
        assert served.url.startswith("https://")


# ---------------------------------------------------------------------------------------------- auto-work


def test_work_policy_moves_requests_on_the_clock(jira: Jira, clock: Clock) -> None:
    jira.fake.work_policy = WorkPolicy(start_after=60, close_after=300)
    created_at = clock.now
    jira.create()
    clock.advance(59)
    assert jira.get("/rest/servicedeskapi/request/SIM-1").json()["currentStatus"]["status"] == "Waiting for support"
    clock.advance(1)
    status = jira.get("/rest/servicedeskapi/request/SIM-1").json()["currentStatus"]
    assert (status["status"], status["statusCategory"]) == ("In Progress", "INDETERMINATE")
    clock.advance(3600)
    status = jira.get("/rest/servicedeskapi/request/SIM-1").json()["currentStatus"]
    assert (status["status"], status["statusCategory"]) == ("Resolved", "DONE")
    # The status date is when the work was due, not when the fake noticed.
    assert status["statusDate"]["epochMillis"] == int((created_at + 300) * 1000)
    assert jira.fake.issue("SIM-1").resolution == "Done"

    # Closed once: a request a test reopens stays open.
    jira.fake.transition("SIM-1", "Waiting for support")
    assert jira.fake.tick() == 0
    assert jira.fake.issue("SIM-1").status == "Waiting for support"


def test_one_work_policy_drives_both_fakes_with_the_same_outcomes(
    clock: Clock, client_for: Callable[..., Jira]
) -> None:
    policy = WorkPolicy(close_after=10, outcomes={"complete": 1, "rejected": 1}, seed=3)
    fake = FakeJira(clock=clock, work_policy=policy)
    jira = client_for(fake)
    for n in range(12):
        jira.create(f"r{n}")
    clock.advance(10)
    assert fake.tick() == 12
    expected = {"complete": ("Resolved", "Done"), "rejected": ("Declined", "Declined")}
    closed = {(i.status, i.resolution) for i in fake.issues()}
    assert closed == set(expected.values())  # both outcomes occur among twelve draws with this seed
    for issue in fake.issues():
        assert (issue.status, issue.resolution) == expected[policy.outcome_for(issue.key)]


def test_outcomes_can_be_configured(clock: Clock, client_for: Callable[..., Jira]) -> None:
    outcomes = {"complete": JiraOutcome("Closed", "Done", comment="Provisioned by the access team")}
    fake = FakeJira(clock=clock, outcomes=outcomes, work_policy=WorkPolicy(close_after=1))
    client_for(fake).create()
    clock.advance(1)
    fake.tick()
    issue = fake.issue("SIM-1")
    assert (issue.status, issue.resolution, issue.comments[0].body) == (
        "Closed",
        "Done",
        "Provisioned by the access team",
    )
    with pytest.raises(ValueError, match="no outcome"):
        fake.close("SIM-1", "rejected")

    # A policy choosing an outcome the fake cannot act out is a 500 that says why.
    fake.work_policy = WorkPolicy(close_after=1, outcomes={"rejected": 1})
    client = client_for(fake)
    fake.transition("SIM-1", "Pending")
    client.create()
    clock.advance(5)
    failed = client.get("/rest/api/2/issue/SIM-2")
    assert failed.status_code == 500
    assert "'rejected'" in failed.json()["errorMessages"][0]


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="edition"):
        FakeJira(edition="server")
    with pytest.raises(ValueError, match="new"):
        FakeJira(statuses=[FakeJira().statuses[-1]])
    with pytest.raises(ValueError, match="project keys"):
        FakeJira(project_key="sim")
    with pytest.raises(ValueError, match="max_results_limit"):
        FakeJira(max_results_limit=0)
    with pytest.raises(ValueError, match="statuses the workflow does not have"):
        FakeJira(outcomes={"complete": JiraOutcome("Done")})
    fake = FakeJira()
    with pytest.raises(ValueError, match="exists already"):
        fake.add_service_desk("SIM")
    with pytest.raises(ValueError, match="required fields"):
        fake.add_request_type("1", "x", fields=("description",), required=("summary",))
    with pytest.raises(KeyError):
        fake.add_request_type("9", "x")
    with pytest.raises(KeyError):
        fake.add_personal_access_token("t", "nobody")
