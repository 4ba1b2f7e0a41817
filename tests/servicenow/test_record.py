"""Records: typed reads over ServiceNow's all-strings wire format, in every display_value shape."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.errors import DecodeError
from sim_servicenow.servicenow import InvalidInputError, Record, Reference
from sim_servicenow.servicenow._values import format_datetime, parse_datetime, to_wire

UTC = dt.timezone.utc
USER = "5137153cc611227c000bbd1bd8cd2005"
LINK = f"https://dev1234.service-now.com/api/now/table/sys_user/{USER}"

# Shapes as the Table API documents them (c_TableAPI.md sample responses, c_RESTAPI.md dot-walk sample).
DATABASE_VALUES = {
    "sys_id": "04ce72c9c0a8016600b5b7f75ac67b5b",
    "number": "PRB0000050",
    "active": "false",
    "made_sla": "true",
    "state": "4",
    "sys_mod_count": "1",
    "sys_updated_on": "2016-01-19 04:52:04",
    "closed_at": "",
    "opened_by": {"link": LINK, "value": USER},
    "assigned_to": "",
    "company": USER,
    "u_vendor_ticket": "V-42",
    "u_cost_center": {"link": "https://x/api/now/table/cmn_cost_center/cc1", "value": "cc1"},
}


def test_typed_reads_of_database_values() -> None:
    record = Record("problem", DATABASE_VALUES)
    assert record.sys_id == "04ce72c9c0a8016600b5b7f75ac67b5b"
    assert record.get_str("number") == "PRB0000050"
    assert record.get_bool("active") is False
    assert record.get_bool("made_sla") is True
    assert record.get_int("state") == 4
    assert record.get_datetime("sys_updated_on") == dt.datetime(2016, 1, 19, 4, 52, 4, tzinfo=UTC)
    assert record.get_reference("opened_by") == Reference(value=USER, link=LINK)
    assert record.get_reference("opened_by").table == "sys_user"  # type: ignore[union-attr]
    assert record.get_reference("company") == Reference(value=USER)
    assert record.get_str("opened_by") == USER
    assert record.get_display("number") is None


def test_empty_and_absent_fields_read_as_none_but_indexing_is_strict() -> None:
    record = Record("problem", DATABASE_VALUES)
    for name in ("closed_at", "assigned_to", "not_a_field"):
        assert record.get_str(name) is None
        assert record.get_int(name) is None
        assert record.get_datetime(name) is None
        assert record.get_reference(name) is None
    assert record.get_str("closed_at", "never") == "never"
    assert record["closed_at"] == ""
    assert "closed_at" in record
    assert "not_a_field" not in record
    with pytest.raises(KeyError):
        record["not_a_field"]


def test_custom_fields_are_kept() -> None:
    record = Record("problem", DATABASE_VALUES)
    assert record.custom_fields == {
        "u_vendor_ticket": "V-42",
        "u_cost_center": {"link": "https://x/api/now/table/cmn_cost_center/cc1", "value": "cc1"},
    }
    assert record.get_reference("u_cost_center") == Reference(
        value="cc1", link="https://x/api/now/table/cmn_cost_center/cc1"
    )


def test_display_value_all_reads_both() -> None:
    raw = {
        "sys_id": {"display_value": "abc", "value": "abc"},
        "state": {"display_value": "Closed Complete", "value": "3"},
        "active": {"display_value": "false", "value": "false"},
        "opened_at": {"display_value": "19/01/2016 05:52:04", "value": "2016-01-19 04:52:04"},
        "requested_for": {"display_value": "Ada Lovelace", "value": USER, "link": LINK},
        "assigned_to": {"display_value": "", "value": ""},
    }
    record = Record("sc_req_item", raw, "all")
    assert record.sys_id == "abc"
    assert record.get_int("state") == 3
    assert record.get_display("state") == "Closed Complete"
    assert record.get_bool("active") is False
    assert record.get_datetime("opened_at") == dt.datetime(2016, 1, 19, 4, 52, 4, tzinfo=UTC)
    assert record.get_display("opened_at") == "19/01/2016 05:52:04"
    assert record.get_reference("requested_for") == Reference(value=USER, display_value="Ada Lovelace", link=LINK)
    assert record.get_reference("assigned_to") is None


def test_display_value_true_reads_labels_and_says_so_when_a_typed_read_fails() -> None:
    raw = {
        "sys_id": "abc",
        "state": "Closed Complete",
        "requested_for": {"display_value": "Ada Lovelace", "link": LINK},
        "assignment_group": "Service Desk",
    }
    record = Record("sc_req_item", raw, display_value=True)
    assert record.get_str("state") == "Closed Complete"
    assert record.get_display("state") == "Closed Complete"
    # The sys_id is recovered from the link; without a link only the display value is known.
    assert record.get_reference("requested_for") == Reference(value=USER, display_value="Ada Lovelace", link=LINK)
    assert record.get_reference("assignment_group") == Reference(value=None, display_value="Service Desk")
    with pytest.raises(DecodeError, match=r"sc_req_item abc field 'state': expected an integer.*display values"):
        record.get_int("state")


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("get_bool", "yes", "a boolean"),
        ("get_int", "four", "an integer"),
        ("get_datetime", "yesterday", "a date-time"),
        ("get_reference", 42, "a reference"),
    ],
)
def test_malformed_values_raise_decode_errors_naming_table_record_and_field(
    method: str, value: object, expected: str
) -> None:
    record = Record("incident", {"sys_id": "i1", "field": value})
    with pytest.raises(DecodeError, match=rf"incident i1 field 'field': expected {expected}"):
        getattr(record, method)("field")


def test_raw_mapping_is_read_only_and_repr_is_short() -> None:
    source = dict(DATABASE_VALUES)
    record = Record("problem", source)
    source["number"] = "changed"
    assert record.get_str("number") == "PRB0000050"
    with pytest.raises(TypeError):
        record.raw["number"] = "x"  # type: ignore[index]
    assert repr(record) == "Record(table='problem', sys_id='04ce72c9c0a8016600b5b7f75ac67b5b', fields=13)"
    assert record == Record("problem", DATABASE_VALUES)
    assert hash(record) == hash(Record("problem", DATABASE_VALUES))
    assert sorted(record) == sorted(DATABASE_VALUES)


def test_datetime_parsing_accepts_iso_forms_as_utc() -> None:
    assert parse_datetime("2016-01-19T04:52:04Z") == dt.datetime(2016, 1, 19, 4, 52, 4, tzinfo=UTC)
    assert parse_datetime("2016-01-19T06:52:04+02:00") == dt.datetime(2016, 1, 19, 4, 52, 4, tzinfo=UTC)
    assert parse_datetime("2016-01-19") == dt.datetime(2016, 1, 19, tzinfo=UTC)


@given(moment=st.datetimes(min_value=dt.datetime(1970, 1, 1), timezones=st.timezones()))
def test_datetimes_survive_the_wire_to_the_second(moment: dt.datetime) -> None:
    assert parse_datetime(format_datetime(moment)) == moment.replace(microsecond=0).astimezone(UTC)


def test_values_for_writes_use_the_wire_format() -> None:
    when = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert to_wire(
        {
            "active": True,
            "impact": 2,
            "due": when,
            "day": dt.date(2026, 3, 1),
            "cleared": None,
            "caller_id": Reference(value=USER),
            "tags": ["a", False],
        }
    ) == {
        "active": "true",
        "impact": "2",
        "due": "2026-03-01 17:00:00",
        "day": "2026-03-01",
        "cleared": "",
        "caller_id": USER,
        "tags": ["a", "false"],
    }
    with pytest.raises(InvalidInputError, match=r"values\.blob: bytes"):
        to_wire({"blob": b"x"}, where="values")
    with pytest.raises(InvalidInputError, match="no time zone"):
        to_wire(dt.datetime(2026, 1, 1))
