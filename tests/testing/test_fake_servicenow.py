"""FakeServiceNow's Table API: auth, envelopes, values, fields, display values, queries, paging, writes, journal.

Every test speaks HTTP to the fake through a mounted WSGIAdapter (no sockets).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.testing import FakeServiceNow, mount

BASE = "https://acme.service-now.test"
TABLE = f"{BASE}/api/now/table"


class Clock:
    """A settable clock for the fake (epoch seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def session_for(fake: FakeServiceNow, user: str = "admin", password: str = "admin") -> requests.Session:
    session = mount(requests.Session(), BASE, fake)
    session.auth = (user, password)
    session.headers["Accept"] = "application/json"
    return session


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeServiceNow:
    return FakeServiceNow(seed=7, clock=clock)


@pytest.fixture
def sn(fake: FakeServiceNow) -> requests.Session:
    return session_for(fake)


def result(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["result"]


def error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "failure"
    assert set(body["error"]) == {"message", "detail"}
    return dict(body["error"])


def numbers(response: requests.Response) -> list[str]:
    return [row["number"] for row in result(response)]


# -- authentication -------------------------------------------------------------------------------


def test_basic_auth_accepts_the_configured_users_only() -> None:
    fake = FakeServiceNow(users={"integration": "s3cret"})
    assert result(session_for(fake, "integration", "s3cret").get(f"{TABLE}/incident")) == []
    for user, password in [("integration", "wrong"), ("admin", "admin"), ("nobody", "s3cret")]:
        failure = error(session_for(fake, user, password).get(f"{TABLE}/incident"), 401)
        assert failure == {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}


def test_missing_or_malformed_authorization_is_401(fake: FakeServiceNow) -> None:
    anonymous = mount(requests.Session(), BASE, fake)
    error(anonymous.get(f"{TABLE}/incident"), 401)
    garbled = anonymous.get(f"{TABLE}/incident", headers={"Authorization": "Basic not-base64!"})
    error(garbled, 401)
    error(anonymous.get(f"{TABLE}/incident", headers={"Authorization": "Bearer unknown"}), 401)


def test_inactive_and_locked_out_users_cannot_sign_in(fake: FakeServiceNow) -> None:
    fake.add_user("gone", "pw", active=False)
    fake.add_user("locked", "pw", locked_out=True)
    fake.add_user("fine", "pw")
    error(session_for(fake, "gone", "pw").get(f"{TABLE}/incident"), 401)
    error(session_for(fake, "locked", "pw").get(f"{TABLE}/incident"), 401)
    assert result(session_for(fake, "fine", "pw").get(f"{TABLE}/incident")) == []


def test_users_are_sys_user_records_without_passwords(fake: FakeServiceNow, sn: requests.Session) -> None:
    sys_id = fake.add_user("abel.tuter", "pw", email="abel@example.com")
    user = result(sn.get(f"{TABLE}/sys_user/{sys_id}"))
    assert user["user_name"] == "abel.tuter"
    assert user["name"] == "Abel Tuter"
    assert "pw" not in str(user)
    admin = result(sn.get(f"{TABLE}/sys_user", params={"sysparm_query": "user_name=admin"}))
    assert admin[0]["sys_id"] == FakeServiceNow.ADMIN_SYS_ID
    with pytest.raises(ValueError, match="already exists"):
        fake.add_user("abel.tuter")


# -- records: values, system fields, numbering ----------------------------------------------------


def test_insert_answers_201_with_location_and_the_full_record(sn: requests.Session, clock: Clock) -> None:
    response = sn.post(f"{TABLE}/incident", json={"short_description": "Printer on fire", "urgency": 2, "impact": 2})
    record = result(response, 201)
    assert response.headers["Location"] == f"{TABLE}/incident/{record['sys_id']}"
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert re.fullmatch(r"[0-9a-f]{32}", record["sys_id"])
    assert record["number"] == "INC0010001"
    assert record["sys_created_on"] == record["sys_updated_on"] == "2023-11-14 22:13:20"
    assert record["sys_created_by"] == record["sys_updated_by"] == "admin"
    assert record["sys_mod_count"] == "0"
    assert record["sys_class_name"] == "incident"
    assert record["opened_by"]["value"] == FakeServiceNow.ADMIN_SYS_ID
    # Every value is a string, or a reference object of strings.
    for value in record.values():
        assert isinstance(value, str) or (isinstance(value, dict) and set(value) == {"link", "value"})
    # The base system's defaults and the priority matrix.
    assert (record["state"], record["active"], record["approval"], record["priority"]) == (
        "1",
        "true",
        "not requested",
        "3",
    )


def test_numbering_per_table_with_seven_digits(fake: FakeServiceNow, sn: requests.Session) -> None:
    made = [result(sn.post(f"{TABLE}/{t}", json={}), 201)["number"] for t in ("incident", "incident", "change_request")]
    assert made == ["INC0010001", "INC0010002", "CHG0010001"]
    item = fake.add_catalog_item("Laptop")
    request = result(sn.post(f"{BASE}/api/sn_sc/servicecatalog/items/{item}/order_now", json={"sysparm_quantity": 1}))
    assert request["number"] == "REQ0010001"
    ritm = fake.records("sc_req_item")[0]
    assert ritm["number"] == "RITM0010001"
    task = fake.insert("sc_task", request_item=ritm["sys_id"], request=request["sys_id"])
    assert task["number"] == "SCTASK0010001"


def test_unknown_fields_are_ignored_and_custom_fields_kept(sn: requests.Session) -> None:
    record = result(sn.post(f"{TABLE}/incident", json={"bogus": "x", "u_access_profile": "Finance"}), 201)
    assert "bogus" not in record
    assert record["u_access_profile"] == "Finance"
    other = result(sn.post(f"{TABLE}/incident", json={}), 201)
    assert other["u_access_profile"] == ""  # the column now exists on every record


def test_system_fields_are_not_writable_but_sys_id_is_on_insert(sn: requests.Session) -> None:
    chosen = "0123456789abcdef0123456789abcdef"
    record = result(sn.post(f"{TABLE}/incident", json={"sys_id": chosen, "sys_created_by": "mallory"}), 201)
    assert record["sys_id"] == chosen
    assert record["sys_created_by"] == "admin"
    duplicate = error(sn.post(f"{TABLE}/incident", json={"sys_id": chosen}), 403)
    assert duplicate["message"] == "Operation Failed"
    error(sn.post(f"{TABLE}/incident", json={"sys_id": "not-a-sys-id"}), 400)


def test_json_values_are_stored_as_strings(sn: requests.Session) -> None:
    record = result(sn.post(f"{TABLE}/incident", json={"urgency": 1, "knowledge": True, "description": None}), 201)
    assert (record["urgency"], record["knowledge"], record["description"]) == ("1", "true", "")


def test_only_the_first_record_of_an_array_is_inserted(fake: FakeServiceNow, sn: requests.Session) -> None:
    record = result(sn.post(f"{TABLE}/incident", json=[{"short_description": "a"}, {"short_description": "b"}]), 201)
    assert record["short_description"] == "a"
    assert len(fake.records("incident")) == 1


def test_update_patch_and_put_change_only_what_is_sent(sn: requests.Session, clock: Clock) -> None:
    record = result(sn.post(f"{TABLE}/incident", json={"short_description": "a", "urgency": 3, "impact": 3}), 201)
    clock.advance(65)
    patched = result(sn.patch(f"{TABLE}/incident/{record['sys_id']}", json={"urgency": 1, "impact": 1}))
    assert (patched["urgency"], patched["priority"], patched["short_description"]) == ("1", "1", "a")
    assert patched["sys_mod_count"] == "1"
    assert patched["sys_updated_on"] == "2023-11-14 22:14:25"
    assert patched["sys_created_on"] == record["sys_created_on"]
    put = result(sn.put(f"{TABLE}/incident/{record['sys_id']}", json={"short_description": "b"}))
    assert (put["short_description"], put["urgency"], put["sys_mod_count"]) == ("b", "1", "2")
    unchanged = result(sn.patch(f"{TABLE}/incident/{record['sys_id']}", json={"short_description": "b"}))
    assert unchanged["sys_mod_count"] == "2"


def test_clearing_a_field_with_an_empty_string(sn: requests.Session) -> None:
    record = result(sn.post(f"{TABLE}/incident", json={"description": "text"}), 201)
    assert result(sn.patch(f"{TABLE}/incident/{record['sys_id']}", json={"description": ""}))["description"] == ""


def test_delete_answers_204_then_404(fake: FakeServiceNow, sn: requests.Session) -> None:
    record = result(sn.post(f"{TABLE}/incident", json={}), 201)
    response = sn.delete(f"{TABLE}/incident/{record['sys_id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert fake.get("incident", record["sys_id"]) is None
    missing = error(sn.delete(f"{TABLE}/incident/{record['sys_id']}"), 404)
    assert missing == {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval",
    }


def test_missing_records_and_tables(sn: requests.Session) -> None:
    error(sn.get(f"{TABLE}/incident/{'0' * 32}"), 404)
    error(sn.patch(f"{TABLE}/incident/{'0' * 32}", json={}), 404)
    assert error(sn.get(f"{TABLE}/u_nope"), 400) == {"message": "Invalid table u_nope", "detail": None}
    error(sn.post(f"{TABLE}/u_nope", json={}), 400)
    unknown_api = error(sn.get(f"{BASE}/api/now/nothing_here"), 400)
    assert unknown_api["message"] == "Requested URI does not represent any resource"
    error(sn.post(f"{TABLE}/incident/{'0' * 32}", json={}), 405)


def test_v1_answers_404_for_an_empty_result_and_v2_an_empty_list(sn: requests.Session) -> None:
    v1 = error(sn.get(f"{BASE}/api/now/v1/table/incident", params={"sysparm_query": "number=INC0"}), 404)
    assert v1["message"] == "No Record found"
    assert result(sn.get(f"{BASE}/api/now/v2/table/incident", params={"sysparm_query": "number=INC0"})) == []
    record = result(sn.post(f"{BASE}/api/now/v1/table/incident", json={}), 201)
    assert result(sn.get(f"{BASE}/api/now/v1/table/incident"))[0]["sys_id"] == record["sys_id"]


def test_bad_bodies(sn: requests.Session) -> None:
    broken = error(sn.post(f"{TABLE}/incident", data=b"{not json", headers={"Content-Type": "application/json"}), 400)
    assert broken["message"] == "Exception while reading request"
    error(sn.post(f"{TABLE}/incident", data=b"<xml/>", headers={"Content-Type": "application/xml"}), 415)
    error(sn.post(f"{TABLE}/incident", json="just a string"), 400)


def test_accept_must_allow_json(sn: requests.Session) -> None:
    error(sn.get(f"{TABLE}/incident", headers={"Accept": "application/xml"}), 406)
    assert sn.get(f"{TABLE}/incident", headers={"Accept": "*/*"}).status_code == 200


def test_no_response_body_header_and_method_override(fake: FakeServiceNow, sn: requests.Session) -> None:
    response = sn.post(f"{TABLE}/incident", json={"short_description": "quiet"}, headers={"X-no-response-body": "true"})
    assert (response.status_code, response.content) == (201, b"")
    sys_id = response.headers["Location"].rsplit("/", 1)[1]
    overridden = sn.post(
        f"{TABLE}/incident/{sys_id}", json={"short_description": "loud"}, headers={"X-HTTP-Method-Override": "PATCH"}
    )
    assert result(overridden)["short_description"] == "loud"
    assert fake.get("incident", sys_id)["short_description"] == "loud"  # type: ignore[index]


def test_head_gives_headers_without_a_body(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.insert("incident", short_description="x")
    response = sn.head(f"{TABLE}/incident")
    assert (response.status_code, response.content, response.headers["X-Total-Count"]) == (200, b"", "1")


# -- references, fields, display values -----------------------------------------------------------


@pytest.fixture
def assigned(fake: FakeServiceNow) -> dict[str, str]:
    group = fake.add_group("Service Desk")
    caller = fake.add_user("beth.anglin", name="Beth Anglin", email="beth@example.com")
    return fake.insert("incident", short_description="VPN down", caller_id=caller, assignment_group=group, state="2")


def test_references_have_link_and_value(sn: requests.Session, assigned: dict[str, str]) -> None:
    record = result(sn.get(f"{TABLE}/incident/{assigned['sys_id']}"))
    assert record["caller_id"] == {
        "link": f"{TABLE}/sys_user/{assigned['caller_id']}",
        "value": assigned["caller_id"],
    }
    assert record["cmdb_ci"] == ""
    assert record["sys_domain"] == {"link": f"{TABLE}/sys_user_group/global", "value": "global"}
    plain = result(sn.get(f"{TABLE}/incident/{assigned['sys_id']}", params={"sysparm_exclude_reference_link": "true"}))
    assert plain["caller_id"] == assigned["caller_id"]


def test_display_value_true_and_all(sn: requests.Session, assigned: dict[str, str]) -> None:
    url = f"{TABLE}/incident/{assigned['sys_id']}"
    shown = result(sn.get(url, params={"sysparm_display_value": "true"}))
    assert shown["state"] == "In Progress"
    assert shown["priority"] == "5 - Planning"
    assert shown["caller_id"] == {"display_value": "Beth Anglin", "link": f"{TABLE}/sys_user/{assigned['caller_id']}"}
    assert shown["sys_class_name"] == "Incident"
    both = result(sn.get(url, params={"sysparm_display_value": "all", "sysparm_exclude_reference_link": "true"}))
    assert both["state"] == {"display_value": "In Progress", "value": "2"}
    assert both["assignment_group"] == {"display_value": "Service Desk", "value": assigned["assignment_group"]}
    assert both["number"] == {"display_value": assigned["number"], "value": assigned["number"]}
    linked = result(sn.get(url, params={"sysparm_display_value": "all"}))
    assert linked["caller_id"]["link"].endswith(assigned["caller_id"])


def test_fields_limit_the_response_with_dot_walking(sn: requests.Session, assigned: dict[str, str]) -> None:
    params = {"sysparm_fields": "number,caller_id.email,caller_id.name,assignment_group.name,nonsense,state"}
    record = result(sn.get(f"{TABLE}/incident/{assigned['sys_id']}", params=params))
    assert record == {
        "number": assigned["number"],
        "caller_id.email": "beth@example.com",
        "caller_id.name": "Beth Anglin",
        "assignment_group.name": "Service Desk",
        "state": "2",
    }
    walked_reference = result(
        sn.get(f"{TABLE}/incident/{assigned['sys_id']}", params={"sysparm_fields": "caller_id.manager,opened_by.name"})
    )
    assert walked_reference == {"caller_id.manager": "", "opened_by.name": ""}


def test_fields_apply_to_writes_and_lists(sn: requests.Session) -> None:
    created = result(sn.post(f"{TABLE}/incident", json={}, params={"sysparm_fields": "sys_id,number"}), 201)
    assert set(created) == {"sys_id", "number"}
    listed = result(sn.get(f"{TABLE}/incident", params={"sysparm_fields": "number"}))
    assert listed == [{"number": created["number"]}]


def test_input_display_value_resolves_labels_and_names(fake: FakeServiceNow, sn: requests.Session) -> None:
    beth = fake.add_user("beth.anglin", name="Beth Anglin")
    record = result(
        sn.post(
            f"{TABLE}/incident",
            json={"caller_id": "Beth Anglin", "state": "In Progress"},
            params={"sysparm_input_display_value": "true"},
        ),
        201,
    )
    assert (record["caller_id"]["value"], record["state"]) == (beth, "2")


# -- journal --------------------------------------------------------------------------------------


def test_journal_fields_write_sys_journal_field_and_read_empty(fake: FakeServiceNow, sn: requests.Session) -> None:
    record = result(sn.post(f"{TABLE}/incident", json={"comments": "Opened by the integration"}), 201)
    assert record["comments"] == ""
    patched = result(sn.patch(f"{TABLE}/incident/{record['sys_id']}", json={"work_notes": "Provisioning started"}))
    assert (patched["work_notes"], patched["sys_mod_count"]) == ("", "1")
    entries = result(
        sn.get(
            f"{TABLE}/sys_journal_field",
            params={"sysparm_query": f"element_id={record['sys_id']}^ORDERBYsys_created_on"},
        )
    )
    assert [(e["element"], e["value"], e["name"], e["sys_created_by"]) for e in entries] == [
        ("comments", "Opened by the integration", "incident", "admin"),
        ("work_notes", "Provisioning started", "incident", "admin"),
    ]
    assert [e["value"] for e in fake.journal(record["number"], "work_notes")] == ["Provisioning started"]
    shown = result(sn.get(f"{TABLE}/incident/{record['sys_id']}", params={"sysparm_display_value": "true"}))
    assert "System Administrator (Additional comments)\nOpened by the integration" in shown["comments"]


# -- queries --------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(fake: FakeServiceNow) -> list[dict[str, str]]:
    rows = [
        ("Email down", "1", "3", "hardware", "alpha-1"),
        ("VPN flaky", "2", "1", "network", "alpha-2"),
        ("Printer jam", "2", "2", "hardware", ""),
        ("New laptop", "3", "2", "inquiry", "beta-1"),
        ("email quota", "6", "3", "software", "beta-2"),
    ]
    return [
        fake.insert(
            "incident", short_description=text, state=state, urgency=urgency, category=category, correlation_id=key
        )
        for text, state, urgency, category, key in rows
    ]


def query(sn: requests.Session, encoded: str, table: str = "incident") -> list[str]:
    return [row["short_description"] for row in result(sn.get(f"{TABLE}/{table}", params={"sysparm_query": encoded}))]


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("state=2", ["VPN flaky", "Printer jam"]),
        ("state!=2", ["Email down", "New laptop", "email quota"]),
        ("stateIN1,6", ["Email down", "email quota"]),
        ("stateNOT IN1,6", ["VPN flaky", "Printer jam", "New laptop"]),
        ("short_descriptionLIKEemail", ["Email down", "email quota"]),
        ("short_descriptionNOT LIKEemail", ["VPN flaky", "Printer jam", "New laptop"]),
        ("short_descriptionSTARTSWITHe", ["Email down", "email quota"]),
        ("short_descriptionENDSWITHjam", ["Printer jam"]),
        ("correlation_idISEMPTY", ["Printer jam"]),
        ("correlation_idISNOTEMPTY", ["Email down", "VPN flaky", "New laptop", "email quota"]),
        ("urgency<2", ["VPN flaky"]),
        ("urgency<=2", ["VPN flaky", "Printer jam", "New laptop"]),
        ("urgency>2", ["Email down", "email quota"]),
        ("urgency>=2", ["Email down", "Printer jam", "New laptop", "email quota"]),
        ("stateBETWEEN2@3", ["VPN flaky", "Printer jam", "New laptop"]),
        ("state=2^urgency=1", ["VPN flaky"]),
        ("state=1^ORstate=3", ["Email down", "New laptop"]),
        ("category=hardware^state=1^ORstate=2", ["Email down", "Printer jam"]),
        ("state=1^NQcategory=inquiry", ["Email down", "New laptop"]),
        ("correlation_idSTARTSWITHalpha^NQcorrelation_id=beta-2", ["Email down", "VPN flaky", "email quota"]),
        ("short_description=email down", []),  # = is exact
        ("", ["Email down", "VPN flaky", "Printer jam", "New laptop", "email quota"]),
    ],
)
def test_encoded_query_operators(
    sn: requests.Session, catalogue: list[dict[str, str]], encoded: str, expected: list[str]
) -> None:
    assert query(sn, encoded) == expected


def test_state_ten_sorts_after_two_because_state_is_numeric(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.insert("incident", short_description="ten", urgency="10")
    fake.insert("incident", short_description="two", urgency="2")
    assert query(sn, "urgency>3") == ["ten"]
    assert query(sn, "ORDERBYurgency") == ["two", "ten"]


def test_order_by_and_desc_with_ties(sn: requests.Session, catalogue: list[dict[str, str]]) -> None:
    assert query(sn, "ORDERBYurgency^ORDERBYDESCshort_description") == [
        "VPN flaky",
        "Printer jam",
        "New laptop",
        "email quota",
        "Email down",
    ]
    assert query(sn, "state=2^ORDERBYDESCshort_description") == ["VPN flaky", "Printer jam"]


def test_unknown_fields_in_a_query_are_ignored(sn: requests.Session, catalogue: list[dict[str, str]]) -> None:
    assert query(sn, "nonsense=1^state=2") == ["VPN flaky", "Printer jam"]
    assert query(sn, "state=2^ORnonsense=1") == ["VPN flaky", "Printer jam"]
    assert query(sn, "ORDERBYnonsense^state=6") == ["email quota"]


def test_invalid_query_returns_no_rows_when_configured(clock: Clock) -> None:
    fake = FakeServiceNow(clock=clock, invalid_query_returns_no_rows=True)
    sn = session_for(fake)
    fake.insert("incident", short_description="x")
    assert query(sn, "nonsense=1") == []
    assert query(sn, "short_description=x") == ["x"]


def test_dot_walked_conditions(fake: FakeServiceNow, sn: requests.Session) -> None:
    beth = fake.add_user("beth.anglin", name="Beth Anglin", email="beth@example.com")
    fake.insert("incident", short_description="hers", caller_id=beth)
    fake.insert("incident", short_description="nobody's")
    assert query(sn, "caller_id.email=beth@example.com") == ["hers"]
    assert query(sn, "caller_id.nonsense=1") == ["hers", "nobody's"]
    assert query(sn, "caller_idLIKEbeth") == ["hers"]  # text operators match the display value


def test_script_values_for_the_current_user(fake: FakeServiceNow, sn: requests.Session) -> None:
    mine = result(sn.post(f"{TABLE}/incident", json={"short_description": "mine"}), 201)
    fake.insert("incident", short_description="system's")
    assert query(sn, "opened_by=javascript:gs.getUserID()") == [mine["short_description"]]
    assert query(sn, "sys_created_on>javascript:gs.dateGenerate('2023-11-14','00:00:00')") == ["mine", "system's"]


def test_name_value_pairs_filter_by_value_or_display_value(
    sn: requests.Session, catalogue: list[dict[str, str]]
) -> None:
    rows = result(sn.get(f"{TABLE}/incident", params={"state": "2", "category": "hardware"}))
    assert [r["short_description"] for r in rows] == ["Printer jam"]
    by_label = result(sn.get(f"{TABLE}/incident", params={"state": "Resolved"}))
    assert [r["short_description"] for r in by_label] == ["email quota"]
    assert len(result(sn.get(f"{TABLE}/incident", params={"not_a_field": "x"}))) == 5


def test_the_task_view_shows_every_task(fake: FakeServiceNow, sn: requests.Session) -> None:
    incident = fake.insert("incident", short_description="inc", correlation_id="k1")
    change = fake.insert("change_request", short_description="chg", correlation_id="k2")
    rows = result(sn.get(f"{TABLE}/task", params={"sysparm_query": "correlation_idINk1,k2"}))
    assert [(r["number"], r["sys_class_name"]) for r in rows] == [
        (incident["number"], "incident"),
        (change["number"], "change_request"),
    ]
    assert "caller_id" not in rows[0]  # the task view has task columns only
    assert result(sn.get(f"{TABLE}/task/{change['sys_id']}"))["number"] == change["number"]
    result(sn.patch(f"{TABLE}/task/{change['sys_id']}", json={"short_description": "edited"}))
    assert fake.get("change_request", change["sys_id"])["short_description"] == "edited"  # type: ignore[index]
    assert query(sn, "sys_class_nameINSTANCEOFtask", table="task") == ["inc", "edited"]


def test_related_list_queries_are_ignored_like_invalid_parts(
    sn: requests.Session, catalogue: list[dict[str, str]]
) -> None:
    assert query(sn, "state=6^RLQUERYincident.parent_incident,>=1^ENDRLQUERY") == ["email quota"]


# -- the algebra of encoded queries (property tests) -----------------------------------------------

_FIELDS = ("state", "urgency", "category")
_VALUES = {"state": ("1", "2", "6"), "urgency": ("1", "2", "3"), "category": ("hardware", "network", "")}
_condition = st.sampled_from(_FIELDS).flatmap(
    lambda field: st.tuples(
        st.just(field), st.sampled_from(("=", "!=", "<=", ">", "ISEMPTY")), st.sampled_from(_VALUES[field])
    )
)
_rows = st.lists(st.tuples(*(st.sampled_from(_VALUES[f]) for f in _FIELDS)), min_size=0, max_size=12)


def _encode(condition: tuple[str, str, str]) -> str:
    field, operator, value = condition
    return f"{field}{operator}" if operator == "ISEMPTY" else f"{field}{operator}{value}"


def _seeded(rows: list[tuple[str, str, str]]) -> requests.Session:
    fake = FakeServiceNow(seed=1)
    for state, urgency, category in rows:
        fake.insert("incident", state=state, urgency=urgency, category=category)
    return session_for(fake)


def _ids(sn: requests.Session, encoded: str, **params: Any) -> list[str]:
    rows = result(sn.get(f"{TABLE}/incident", params={"sysparm_query": encoded, "sysparm_fields": "sys_id", **params}))
    return [row["sys_id"] for row in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows, a=_condition, b=_condition)
def test_query_algebra(rows: list[tuple[str, str, str]], a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    sn = _seeded(rows)
    everything = set(_ids(sn, ""))
    only_a, only_b = set(_ids(sn, _encode(a))), set(_ids(sn, _encode(b)))
    assert set(_ids(sn, f"{_encode(a)}^{_encode(b)}")) == only_a & only_b
    assert set(_ids(sn, f"{_encode(a)}^OR{_encode(b)}")) == only_a | only_b
    assert set(_ids(sn, f"{_encode(a)}^NQ{_encode(b)}")) == only_a | only_b
    field, _, value = a
    equal = set(_ids(sn, f"{field}={value}"))
    assert set(_ids(sn, f"{field}!={value}")) == everything - equal
    other = _VALUES[field][0]
    assert set(_ids(sn, f"{field}IN{value},{other}")) == equal | set(_ids(sn, f"{field}={other}"))
    assert set(_ids(sn, f"{field}NOT IN{value},{other}")) == everything - set(_ids(sn, f"{field}IN{value},{other}"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows, limit=st.integers(min_value=1, max_value=5), descending=st.booleans())
def test_paging_concatenates_to_the_sorted_result(
    rows: list[tuple[str, str, str]], limit: int, descending: bool
) -> None:
    sn = _seeded(rows)
    order = "ORDERBYDESCurgency" if descending else "ORDERBYurgency"
    everything = _ids(sn, order)
    paged: list[str] = []
    for offset in range(0, len(everything) + limit, limit):
        paged += _ids(sn, order, sysparm_limit=limit, sysparm_offset=offset)
    assert paged == everything
    urgencies = [row["urgency"] for row in result(sn.get(f"{TABLE}/incident", params={"sysparm_query": order}))]
    assert urgencies == sorted(urgencies, key=int, reverse=descending)


# -- paging headers -------------------------------------------------------------------------------


def _links(response: requests.Response) -> dict[str, dict[str, list[str]]]:
    links = {}
    for part in response.headers["Link"].split(","):
        match = re.fullmatch(r'<([^>]+)>;rel="(\w+)"', part)
        assert match, part
        url = urlsplit(match.group(1))
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{TABLE}/incident"
        links[match.group(2)] = parse_qs(url.query)
    return links


def test_total_count_and_link_header(fake: FakeServiceNow, sn: requests.Session) -> None:
    for i in range(7):
        fake.insert("incident", short_description=f"n{i}")
    params = {"sysparm_query": "active=true", "sysparm_limit": "3", "sysparm_offset": "3"}
    response = sn.get(f"{TABLE}/incident", params=params)
    assert len(result(response)) == 3
    assert response.headers["X-Total-Count"] == "7"
    links = _links(response)
    assert {rel: (q["sysparm_offset"][0], q["sysparm_limit"][0]) for rel, q in links.items()} == {
        "first": ("0", "3"),
        "prev": ("0", "3"),
        "next": ("6", "3"),
        "last": ("6", "3"),
    }
    assert links["next"]["sysparm_query"] == ["active=true"]  # the query travels with the links
    first_page = _links(sn.get(f"{TABLE}/incident", params={"sysparm_limit": "3"}))
    assert set(first_page) == {"first", "next", "last"}
    last_page = _links(sn.get(f"{TABLE}/incident", params={"sysparm_limit": "3", "sysparm_offset": "6"}))
    assert set(last_page) == {"first", "prev", "last"}


def test_no_count_and_suppressed_pagination_header(fake: FakeServiceNow, sn: requests.Session) -> None:
    for _ in range(4):
        fake.insert("incident")
    response = sn.get(f"{TABLE}/incident", params={"sysparm_limit": "2", "sysparm_no_count": "true"})
    assert "X-Total-Count" not in response.headers
    assert set(_links(response)) == {"first", "next"}
    quiet = sn.get(f"{TABLE}/incident", params={"sysparm_suppress_pagination_header": "true"})
    assert "Link" not in quiet.headers
    assert quiet.headers["X-Total-Count"] == "4"


def test_offset_past_the_end_and_default_limit(fake: FakeServiceNow, sn: requests.Session) -> None:
    for _ in range(3):
        fake.insert("incident")
    assert result(sn.get(f"{TABLE}/incident", params={"sysparm_offset": "10"})) == []
    assert len(result(sn.get(f"{TABLE}/incident", params={"sysparm_limit": "bad", "sysparm_offset": "-4"}))) == 3


def test_paging_ten_thousand_records(fake: FakeServiceNow, sn: requests.Session) -> None:
    """Linear paging: one filter-and-sort per query, then slices (no timing assertion, just correctness)."""
    for i in range(10_000):
        fake.insert("incident", correlation_id=f"plan-{i}")
    seen: list[str] = []
    offset = 0
    while True:
        response = sn.get(
            f"{TABLE}/incident",
            params={
                "sysparm_query": "active=true^ORDERBYnumber",
                "sysparm_fields": "sys_id,number",
                "sysparm_limit": "500",
                "sysparm_offset": str(offset),
            },
        )
        page = result(response)
        assert response.headers["X-Total-Count"] == "10000"
        if not page:
            break
        seen += [row["number"] for row in page]
        offset += len(page)
    assert len(seen) == len(set(seen)) == 10_000
    assert seen == sorted(seen)
    hit = result(sn.get(f"{TABLE}/incident", params={"sysparm_query": "correlation_id=plan-9876"}))
    assert [row["correlation_id"] for row in hit] == ["plan-9876"]


def test_records_inserted_between_pages_show_up(fake: FakeServiceNow, sn: requests.Session) -> None:
    for _ in range(4):
        fake.insert("incident")
    first = _ids(sn, "ORDERBYnumber", sysparm_limit=2)
    late = fake.insert("incident")
    rest = _ids(sn, "ORDERBYnumber", sysparm_limit=10, sysparm_offset=2)
    assert late["sys_id"] in rest
    assert len(first) + len(rest) == 5


# -- ACLs -----------------------------------------------------------------------------------------


def test_denied_operations(fake: FakeServiceNow) -> None:
    fake.add_user("itil", "pw")
    fake.deny("incident", ["create", "write", "delete"], user="itil")
    fake.deny("change_request", ["read"])
    itil, admin = session_for(fake, "itil", "pw"), session_for(fake, "admin", "admin")
    refused = error(itil.post(f"{TABLE}/incident", json={}), 403)
    assert refused == {
        "message": "Operation Failed",
        "detail": "ACL Exception Insert Failed due to security constraints",
    }
    record = result(admin.post(f"{TABLE}/incident", json={}), 201)
    assert "Update Failed" in str(error(itil.patch(f"{TABLE}/incident/{record['sys_id']}", json={}), 403)["detail"])
    assert "Delete Failed" in str(error(itil.delete(f"{TABLE}/incident/{record['sys_id']}"), 403)["detail"])
    assert result(itil.get(f"{TABLE}/incident/{record['sys_id']}"))["sys_id"] == record["sys_id"]
    change = fake.insert("change_request")
    hidden = admin.get(f"{TABLE}/change_request")
    assert result(hidden) == []
    assert hidden.headers["X-Total-Count"] == "1"  # counted before the ACLs, as on an instance
    error(admin.get(f"{TABLE}/change_request/{change['sys_id']}"), 404)


def test_record_acls_leave_pages_short_because_the_limit_comes_first(fake: FakeServiceNow) -> None:
    ids = [fake.insert("incident", short_description=f"n{i}")["sys_id"] for i in range(9)]
    fake.deny("incident", ["read"], records=ids[3:6])
    fake.deny("incident", ["write"], records=ids[:1], user="admin")
    sn = session_for(fake)
    pages = [_ids(sn, "ORDERBYshort_description", sysparm_limit=3, sysparm_offset=offset) for offset in (0, 3, 6)]
    assert pages == [ids[:3], [], ids[6:]]
    response = sn.get(f"{TABLE}/incident", params={"sysparm_limit": "3", "sysparm_offset": "3"})
    assert response.headers["X-Total-Count"] == "9"
    assert 'rel="next"' in response.headers["Link"]
    error(sn.get(f"{TABLE}/incident/{ids[4]}"), 404)
    error(sn.patch(f"{TABLE}/incident/{ids[0]}", json={"short_description": "x"}), 403)
    assert result(sn.patch(f"{TABLE}/incident/{ids[1]}", json={"short_description": "x"}))["short_description"] == "x"


# -- custom tables and inspection ----------------------------------------------------------------


def test_custom_tables(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.add_table("u_access_request", ["u_account", "u_source"], extends_task=True, number_prefix="UAR")
    fake.add_table("u_lookup", ["name", "u_code"])
    record = result(sn.post(f"{TABLE}/u_access_request", json={"u_account": "jdoe", "state": "3"}), 201)
    assert (record["number"], record["u_account"], record["active"], record["sys_class_name"]) == (
        "UAR0010001",
        "jdoe",
        "false",
        "u_access_request",
    )
    assert result(sn.get(f"{TABLE}/task/{record['sys_id']}"))["number"] == "UAR0010001"
    plain = result(sn.post(f"{TABLE}/u_lookup", json={"name": "x", "u_code": "7"}), 201)
    assert "number" not in plain
    assert "u_lookup" in fake.tables()
    with pytest.raises(ValueError, match="already exists"):
        fake.add_table("incident")
    with pytest.raises(LookupError, match="add_table"):
        fake.records("u_missing")


def test_sys_choice_is_seeded_with_state_choices(sn: requests.Session) -> None:
    rows = result(
        sn.get(
            f"{TABLE}/sys_choice",
            params={
                "sysparm_query": "name=sc_request^element=request_state^inactive=false",
                "sysparm_fields": "value,label",
            },
        )
    )
    assert {"value": "in_process", "label": "Approved"} in rows
    states = result(sn.get(f"{TABLE}/sys_choice", params={"sysparm_query": "name=incident^element=state"}))
    assert [(r["value"], r["label"]) for r in states] == [
        ("1", "New"),
        ("2", "In Progress"),
        ("3", "On Hold"),
        ("6", "Resolved"),
        ("7", "Closed"),
        ("8", "Canceled"),
    ]


def test_inspection_helpers_return_copies(fake: FakeServiceNow) -> None:
    record = fake.insert("incident", {"short_description": "x"}, correlation_id="k")
    copy = fake.get("incident", record["number"])
    assert copy is not None
    assert copy["correlation_id"] == "k"
    copy["short_description"] = "tampered"
    assert fake.records("incident")[0]["short_description"] == "x"
    assert fake.update("incident", record["number"], state="7")["active"] == "false"
    assert fake.delete("incident", record["sys_id"]) is True
    assert fake.get("incident", record["sys_id"]) is None


def test_seeded_fakes_are_reproducible() -> None:
    first, second = FakeServiceNow(seed=3), FakeServiceNow(seed=3)
    assert first.insert("incident")["sys_id"] == second.insert("incident")["sys_id"]


def test_basic_credentials_with_a_colon_in_the_password() -> None:
    fake = FakeServiceNow(users={"svc": "pa:ss"})
    header = "Basic " + base64.b64encode(b"svc:pa:ss").decode()
    response = mount(requests.Session(), BASE, fake).get(f"{TABLE}/incident", headers={"Authorization": header})
    assert response.status_code == 200
