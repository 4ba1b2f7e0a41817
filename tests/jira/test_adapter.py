"""JiraServiceManagementTicketing against FakeJira over loopback: create, find, statuses, comments, check."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.adapters._jira import JiraServiceManagementTicketing, jira_status_map
from sim_servicenow.auth import BasicAuth, BearerToken
from sim_servicenow.engine._ports import TicketingSystem, TicketRef
from sim_servicenow.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    DecodeError,
    TransportError,
)
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    Grouping,
    Identity,
    IntegrationConfig,
    ManagedSource,
    ProvisioningPlan,
    ProvisioningStatus,
    RequestTemplate,
    StatusMap,
    TicketPayload,
    TicketType,
    render_ticket_payloads,
)
from sim_servicenow.testing import serve
from sim_servicenow.testing._faults import FaultKind
from sim_servicenow.testing._jira import FakeJira

if TYPE_CHECKING:
    from conftest import Clock

BADGE = ManagedSource(id="2c9180835d2e5168015d32f890ca1581", name="Badge")
VPN = ManagedSource(id="2c9180835d2e5168015d32f890ca1582", name="VPN")
AUTH = BasicAuth(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN)


def _plan(key: str = "wi-1", *sources: ManagedSource) -> ProvisioningPlan:
    return ProvisioningPlan(
        key=key,
        identity=Identity(name="ada", display_name="Ada Lovelace", attributes={"email": "ada@example.com"}),
        account_requests=[
            AccountRequest(
                AccountOperation.CREATE,
                source_name=source.name,
                native_identity="ada",
                attribute_requests=[AttributeRequest("groups", AttributeOperation.ADD, ("staff",))],
            )
            for source in (sources or (BADGE,))
        ],
    )


def _payloads(
    plan: ProvisioningPlan | None = None, template: dict[str, str] | None = None, **options: Any
) -> tuple[TicketPayload, ...]:
    config = IntegrationConfig(
        sources=[BADGE, VPN],
        ticket_type=options.pop("ticket_type", TicketType.TABLE),
        table=options.pop("table", "incident"),
        **({"request_template": RequestTemplate(template)} if template else {}),
        **options,
    )
    return render_ticket_payloads(plan or _plan(), config)


def _payload(plan: ProvisioningPlan | None = None, **options: Any) -> TicketPayload:
    (payload,) = _payloads(plan, **options)
    return payload


class Site:
    """A FakeJira served on loopback, and adapters pointed at it."""

    def __init__(self, fake: FakeJira, url: str) -> None:
        self.fake = fake
        self.url = url

    def adapter(self, **options: Any) -> JiraServiceManagementTicketing:
        options.setdefault("retry", RetryPolicy().without_sleeping())
        return JiraServiceManagementTicketing(
            self.url,
            options.pop("auth", AUTH),
            service_desk_id=options.pop("service_desk_id", FakeJira.DEFAULT_SERVICE_DESK_ID),
            request_type_id=options.pop("request_type_id", FakeJira.DEFAULT_REQUEST_TYPE_ID),
            **options,
        )

    def searches(self) -> int:
        return self.fake.requests.count(path="/rest/api/2/search")


@pytest.fixture
def site(fake: FakeJira) -> Iterator[Site]:
    with serve(fake) as served:
        yield Site(fake, served.url)


@pytest.fixture
def dc_site(dc_fake: FakeJira) -> Iterator[Site]:
    with serve(dc_fake) as served:
        yield Site(dc_fake, served.url)


# ----------------------------------------------------------------------------------------------------- create


def test_it_is_a_ticketing_system(site: Site) -> None:
    with site.adapter() as adapter:
        assert isinstance(adapter, TicketingSystem)
        assert adapter.system == "jira"


def test_create_raises_a_customer_request_with_the_key_in_the_same_request(site: Site) -> None:
    payload = _payload()
    key = str(payload.correlation_key)
    with site.adapter() as adapter:
        ref = adapter.create(payload, key)

    assert ref == TicketRef("jira", "10", ref.id, "SIM-1", url=f"{site.url}/browse/SIM-1")
    issue = site.fake.issue("SIM-1")
    assert issue.summary == "Create account ada on Badge for Ada Lovelace"
    assert issue.description is not None
    assert issue.description.endswith(JiraServiceManagementTicketing.marker_for(key))
    assert "Add groups: staff" in issue.description
    assert set(issue.field_values) == {"summary", "description"}  # no ServiceNow correlation_* fields
    assert issue.labels == (adapter.label_for(key),)
    create = site.fake.requests.filter("POST", "/rest/servicedeskapi/request")[0]
    assert key.encode() in create.body  # the key was in the create request itself


def test_template_keys_become_jira_fields_and_request_members(site: Site) -> None:
    site.fake.add_customer("ada@example.com")
    site.fake.add_request_type("1", "Access", fields=("summary", "description", "customfield_10050"))
    template = {
        "summary": "Access for $identity.displayName",
        "customfield_10050": "$plan.requests.size() request(s)",
        "raiseOnBehalfOf": "$!identity.attributes.email",
    }
    payload = _payload(template=template)
    with site.adapter(request_type_id="11") as adapter:
        adapter.create(payload, str(payload.correlation_key))
    issue = site.fake.issue("SIM-1")
    assert (issue.summary, issue.field_values["customfield_10050"], issue.reporter) == (
        "Access for Ada Lovelace",
        "1 request(s)",
        "ada@example.com",
    )
    assert issue.description == JiraServiceManagementTicketing.marker_for(str(payload.correlation_key))


def test_catalog_shaped_payloads_use_the_request_level_fields(site: Site) -> None:
    badge = attrs.evolve(BADGE, catalog_item="a" * 32)
    vpn = attrs.evolve(VPN, catalog_item="b" * 32)
    config = IntegrationConfig(sources=[badge, vpn], ticket_type=TicketType.CATALOG, grouping=Grouping.PLAN)
    (payload,) = render_ticket_payloads(_plan("wi-2", badge, vpn), config)
    with site.adapter() as adapter:
        ref = adapter.create(payload, str(payload.correlation_key))
    issue = site.fake.issue(ref.number)
    assert issue.summary == "2 account changes for Ada Lovelace"
    assert issue.description is not None
    assert "1. Create an account ada on Badge" in issue.description
    assert "2. Create an account ada on VPN" in issue.description


def test_labels_as_the_correlation_field(site: Site) -> None:
    payload = _payload()
    key = str(payload.correlation_key)
    with site.adapter(correlation_field="labels") as adapter:
        with pytest.raises(BadRequestError, match="400"):
            adapter.create(payload, key)  # the default request type has no Labels field
        assert site.fake.issues() == []
        labelled = site.fake.add_request_type("1", "Labelled", fields=("summary", "description", "labels"))
    with site.adapter(correlation_field="labels", request_type_id=labelled.id) as adapter:
        ref = adapter.create(payload, key)
        assert site.fake.issue(ref.number).labels == (adapter.label_for(key),)
        assert "correlation key" not in (site.fake.issue(ref.number).description or "")
        assert site.fake.requests.count("PUT") == 0  # nothing to add afterwards
        assert adapter.find(key) == ref


def test_a_failed_label_update_does_not_lose_the_ticket(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    site.fake.faults.add(FaultKind.ERROR, status=500, method="PUT")
    payload = _payload()
    key = str(payload.correlation_key)
    with caplog.at_level(logging.WARNING, "sim_servicenow.adapters.jira"), site.adapter() as adapter:
        ref = adapter.create(payload, key)
        assert site.fake.issue(ref.number).labels == ()
        assert "could not add its correlation label" in caplog.text
        assert adapter.find(key) == ref  # the description marker still finds it


def test_a_lost_create_answer_is_found_instead_of_repeated(site: Site) -> None:
    site.fake.faults.add(FaultKind.DROP, after=True, method="POST", path="/rest/servicedeskapi/request", times=1)
    payload = _payload()
    key = str(payload.correlation_key)
    with site.adapter() as adapter:
        with pytest.raises(TransportError):
            adapter.create(payload, key)
        assert site.fake.requests.count("POST", "/rest/servicedeskapi/request") == 1  # POST is never retried
        found = adapter.find(key)
    assert found is not None
    assert found.number == "SIM-1"
    assert len(site.fake.issues()) == 1


# ------------------------------------------------------------------------------------------------------- find


def test_find_checks_each_hit_and_survives_agent_edits(site: Site) -> None:
    first, second = _payloads(_plan("wi-3", BADGE, VPN))
    with site.adapter() as adapter:
        ref = adapter.create(first, str(first.correlation_key))
        other = adapter.create(second, str(second.correlation_key))
        assert adapter.find(str(first.correlation_key)) == ref
        assert adapter.find(str(second.correlation_key)) == other
        assert adapter.find("wi-3/source-unknown") is None

        # An agent removes the label: the description marker still carries the key ...
        site.fake.transition(ref.number, "In Progress")
        _edit(site, ref.number, {"fields": {"labels": []}})
        assert adapter.find(str(first.correlation_key)) == ref
        # ... and rewrites the description: the label is enough again once put back.
        label = adapter.label_for(str(first.correlation_key))
        _edit(site, ref.number, {"fields": {"description": "rewritten", "labels": [label]}})
        assert adapter.find(str(first.correlation_key)) == ref
        _edit(site, ref.number, {"fields": {"labels": []}})
        assert adapter.find(str(first.correlation_key)) is None


def _edit(site: Site, key: str, body: dict[str, Any]) -> None:
    """Change an issue as an agent would, through the API."""
    response = requests.put(
        f"{site.url}/rest/api/2/issue/{key}",
        json=body,
        auth=(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN),
        timeout=5,
    )
    assert response.status_code == 204, response.text


def test_find_right_after_creation_can_miss_on_cloud(clock: Clock) -> None:
    fake = FakeJira(clock=clock, search_lag=5.0)
    payload = _payload()
    key = str(payload.correlation_key)
    with serve(fake) as served, Site(fake, served.url).adapter() as adapter:
        ref = adapter.create(payload, key)
        assert adapter.find(key) is None  # Jira Cloud's index has not caught up yet
        clock.advance(5)
        assert adapter.find(key) == ref


@given(st.lists(st.text(min_size=1, max_size=300), min_size=2, max_size=6, unique=True))
def test_labels_are_safe_and_distinct(keys: list[str]) -> None:
    adapter = JiraServiceManagementTicketing(
        "https://acme.atlassian.net", None, service_desk_id="1", request_type_id="10"
    )
    labels = [adapter.label_for(key) for key in keys]
    assert len(set(labels)) == len(keys)
    for label in labels:
        assert label.startswith("sim-corr-")
        assert len(label) <= 255
        assert not any(ch.isspace() or ch.isupper() for ch in label)


# --------------------------------------------------------------------------------------------------- statuses


def test_statuses_map_category_and_resolution(site: Site) -> None:
    payloads = _payloads(_plan("wi-4", BADGE, VPN)) + _payloads(_plan("wi-5", BADGE, VPN))
    with site.adapter() as adapter:
        refs = [adapter.create(p, str(p.correlation_key)) for p in payloads]
        site.fake.start(refs[1].number)
        site.fake.close(refs[2].number)
        site.fake.reject(refs[3].number)
        statuses = adapter.statuses(refs)
        site.fake.transition(refs[2].number, "Resolved", resolution="Duplicate")
        duplicate = adapter.statuses(refs[2:3])

    assert [statuses[r.id].status for r in refs] == [
        ProvisioningStatus.QUEUED,
        ProvisioningStatus.QUEUED,
        ProvisioningStatus.COMMITTED,
        ProvisioningStatus.FAILED,
    ]
    assert statuses[refs[3].id].values == {"status": "Declined", "statusCategory": "done", "resolution": "Declined"}
    assert statuses[refs[3].id].detail == f"{refs[3].number} status=Declined (done), resolution=Declined"
    assert statuses[refs[0].id].values["resolution"] is None
    assert duplicate[refs[2].id].status is ProvisioningStatus.FAILED


def test_statuses_read_many_tickets_in_few_searches(site: Site) -> None:
    payloads = [p for n in range(6) for p in _payloads(_plan(f"wi-{n}", BADGE, VPN))]
    with site.adapter(batch_size=5, page_size=3) as adapter:
        refs = [adapter.create(p, str(p.correlation_key)) for p in payloads]
        before = site.searches()
        statuses = adapter.statuses(refs)
    assert set(statuses) == {r.id for r in refs}
    # 12 tickets, 5 keys a search, at most 3 issues a page: pages of 3+2, 3+2, 2.
    assert site.searches() - before == 5


def test_deleted_tickets_are_left_out(site: Site) -> None:
    payloads = _payloads(_plan("wi-6", BADGE, VPN))
    with site.adapter() as adapter:
        refs = [adapter.create(p, str(p.correlation_key)) for p in payloads]
        site.fake.delete_issue(refs[0].number)
        statuses = adapter.statuses(refs)
        assert set(statuses) == {refs[1].id}
        site.fake.delete_issue(refs[1].number)
        assert adapter.statuses(refs) == {}
        assert adapter.statuses([]) == {}


def test_a_status_map_by_status_name(site: Site) -> None:
    status_map = StatusMap(
        {"Waiting for support": "Queued", "Resolved": "Committed", "Canceled": "Retry"},
        field="status",
    )
    payloads = _payloads(_plan("wi-7", BADGE, VPN))
    with site.adapter(status_map=status_map) as adapter:
        refs = [adapter.create(p, str(p.correlation_key)) for p in payloads]
        site.fake.close(refs[0].number, "cancelled")
        site.fake.transition(refs[1].number, "Pending")
        statuses = adapter.statuses(refs)
    assert statuses[refs[0].id].status is ProvisioningStatus.RETRY
    assert (statuses[refs[1].id].status, statuses[refs[1].id].unknown_values) == (
        ProvisioningStatus.QUEUED,
        ("Pending",),
    )


def test_rate_limited_searches_are_retried(site: Site) -> None:
    payload = _payload()
    with site.adapter() as adapter:
        ref = adapter.create(payload, str(payload.correlation_key))
        site.fake.faults.add(FaultKind.RATE_LIMIT, retry_after=2, times=2, path="/rest/api/2/search")
        assert adapter.statuses([ref])[ref.id].status is ProvisioningStatus.QUEUED
        assert adapter.http.stats["retries"] == 2


def test_an_html_page_instead_of_json_is_a_decode_error(site: Site) -> None:
    payload = _payload()
    with site.adapter() as adapter:
        ref = adapter.create(payload, str(payload.correlation_key))
        site.fake.faults.add(FaultKind.HTML, times=1)
        with pytest.raises(DecodeError, match="expected a JSON body, got text/html"):
            adapter.statuses([ref])


# ---------------------------------------------------------------------------------------------- data center


def test_data_center_with_a_personal_access_token(dc_site: Site) -> None:
    payloads = _payloads(_plan("wi-8", BADGE, VPN))
    with dc_site.adapter(auth=BearerToken("pat-123"), deployment="data_center") as adapter:
        refs = [adapter.create(p, str(p.correlation_key)) for p in payloads]
        assert adapter.find(str(payloads[1].correlation_key)) == TicketRef(
            "jira", "10", refs[1].id, refs[1].number, url=f"{dc_site.url}/browse/{refs[1].number}"
        )
        dc_site.fake.close(refs[0].number)
        dc_site.fake.delete_issue(refs[1].number)
        searches = dc_site.searches()
        statuses = adapter.statuses(refs)
    assert {k: v.status for k, v in statuses.items()} == {refs[0].id: ProvisioningStatus.COMMITTED}
    assert dc_site.searches() - searches == 1  # validateQuery=false: a deleted key costs no second search
    assert all(e.headers["authorization"] == "Bearer ***" for e in dc_site.fake.requests)


def test_the_wrong_deployment_is_a_clear_error(site: Site) -> None:
    payload = _payload()
    with site.adapter(deployment="data_center") as cloud_as_dc:
        ref = cloud_as_dc.create(payload, str(payload.correlation_key))
        with pytest.raises(ApiError, match="410") as removed:
            cloud_as_dc.statuses([ref])
        assert "search/jql" in str(removed.value.body)


# --------------------------------------------------------------------------------------------- comments, auth


def test_comments_are_internal_unless_asked(site: Site) -> None:
    payload = _payload()
    with site.adapter() as adapter:
        ref = adapter.create(payload, str(payload.correlation_key))
        adapter.comment(ref, "Past the maximum tracking time.")
    with site.adapter(public_comments=True) as adapter:
        adapter.comment(ref, "We are on it.")
    assert [(c.body, c.public) for c in site.fake.issue(ref.number).comments] == [
        ("Past the maximum tracking time.", False),
        ("We are on it.", True),
    ]


def test_refused_credentials(site: Site) -> None:
    payload = _payload()
    for auth in (BasicAuth(FakeJira.DEFAULT_LOGIN, "wrong"), BearerToken("a-cloud-site-takes-no-pat")):
        with site.adapter(auth=auth) as adapter, pytest.raises(AuthenticationError, match="401"):
            adapter.create(payload, str(payload.correlation_key))
    assert site.fake.issues() == []


def test_repr_names_no_secret(site: Site) -> None:
    with site.adapter() as adapter:
        text = repr(adapter)
    assert FakeJira.DEFAULT_API_TOKEN not in text
    assert "auth=BasicAuth" in text


# ------------------------------------------------------------------------------------------------------ check


def test_check_against_the_site(site: Site) -> None:
    with site.adapter() as adapter:
        adapter.check()
    with site.adapter(service_desk_id="42") as adapter, pytest.raises(ConfigError, match="no service desk '42'"):
        adapter.check()
    with site.adapter(request_type_id="99") as adapter, pytest.raises(ConfigError, match="no request type '99'"):
        adapter.check()
    with site.adapter(correlation_field="labels") as adapter, pytest.raises(ConfigError, match="'labels'") as raised:
        adapter.check()
    assert [p.path for p in raised.value.problems] == ["request_type_id"]
    with site.adapter(auth=BasicAuth("nobody@example.com", "x")) as adapter, pytest.raises(AuthenticationError):
        adapter.check()


def test_options_are_validated_together() -> None:
    with pytest.raises(ConfigError) as raised:
        JiraServiceManagementTicketing(
            "https://acme.atlassian.net",
            None,
            service_desk_id="",
            request_type_id=" ",
            deployment="server",  # type: ignore[arg-type]
            correlation_field="summary",  # type: ignore[arg-type]
            correlation_label_prefix="has space",
            batch_size=0,
            page_size=True,
            status_map=StatusMap({"Done": "Committed"}, field="resolution"),
        )
    assert [p.path for p in raised.value.problems] == [
        "service_desk_id",
        "request_type_id",
        "deployment",
        "correlation_field",
        "correlation_label_prefix",
        "batch_size",
        "page_size",
        "status_map.field",
    ]
    with pytest.raises(ConfigError, match="insecure"):
        JiraServiceManagementTicketing("http://jira.example.com", None, service_desk_id="1", request_type_id="2")


def test_the_default_status_map_is_the_mapping_layers() -> None:
    # The map itself is tested with the other defaults (tests/mapping/test_status.py).
    adapter = JiraServiceManagementTicketing(
        "https://acme.atlassian.net", None, service_desk_id="1", request_type_id="2"
    )
    assert adapter.status_map == StatusMap.jira()
    assert jira_status_map() == StatusMap.jira()  # the adapter module's older name
