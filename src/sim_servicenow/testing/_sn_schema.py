"""The dictionary of FakeServiceNow: tables, their fields, defaults, choices and number prefixes.

Field lists and defaults follow the sample records in ServiceNow's Table API documentation (an
``incident`` inserted with no other values comes back with ``impact "3"``, ``approval "not requested"``,
``upon_reject "cancel"`` ...). Choice values follow the task state model (``TaskStateUtil``), the
incident and change state models and the commonly used catalog values. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "CLOSE_STATES",
    "TASK_TABLES",
    "VARIABLE_TYPES",
    "FieldSpec",
    "TableSpec",
    "builtin_tables",
    "custom_table",
]

#: Field types the fake distinguishes (ServiceNow has many more; the rest behave like ``string``).
STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
DATETIME = "glide_date_time"
REFERENCE = "reference"
JOURNAL = "journal"
JOURNAL_LIST = "journal_list"
GUID = "GUID"


@dataclass(frozen=True)
class FieldSpec:
    """One column of a table.

    Attributes:
        name: the column name.
        type: one of the type constants of this module.
        reference: the referenced table, for references.
        default: the value a new record gets when the caller gives none.
        choices: ``(value, label)`` pairs of a choice field, in display order.
    """

    name: str
    type: str = STRING
    reference: str | None = None
    default: str = ""
    choices: tuple[tuple[str, str], ...] = ()

    def label_of(self, value: str) -> str:
        for choice_value, label in self.choices:
            if choice_value == value:
                return label
        return value

    def value_of_label(self, label: str) -> str | None:
        for choice_value, choice_label in self.choices:
            if choice_label.lower() == label.lower():
                return choice_value
        return None


@dataclass
class TableSpec:
    """A table the fake knows.

    Attributes:
        name: the table name.
        label: its display name (the display value of ``sys_class_name``).
        fields: the columns, by name, in the order records list them.
        number_prefix: the prefix of the ``number`` field (``INC``), if the table numbers its records.
        is_task: whether the table extends ``task`` (its records show in the ``task`` view).
        display_field: the field whose value is the display value of a reference to a record.
        close_states: the ``state`` values that make a record inactive.
        dynamic_fields: ``u_*`` fields seen on writes, returned on every record from then on.
    """

    name: str
    label: str
    fields: dict[str, FieldSpec]
    number_prefix: str | None = None
    is_task: bool = False
    display_field: str = "sys_id"
    close_states: frozenset[str] = frozenset()
    dynamic_fields: dict[str, FieldSpec] = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec | None:
        spec = self.fields.get(name)
        if spec is None:
            spec = self.dynamic_fields.get(name)
        if spec is None and name.startswith("u_"):
            # Custom fields are accepted by name; they read as "" until written.
            return FieldSpec(name)
        return spec

    def all_fields(self) -> list[FieldSpec]:
        return [*self.fields.values(), *self.dynamic_fields.values()]


def _choices(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return pairs


TASK_STATE = _choices(
    ("-5", "Pending"),
    ("1", "Open"),
    ("2", "Work in Progress"),
    ("3", "Closed Complete"),
    ("4", "Closed Incomplete"),
    ("7", "Closed Skipped"),
)
INCIDENT_STATE = _choices(
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
)
CHANGE_STATE = _choices(
    ("-5", "New"),
    ("-4", "Assess"),
    ("-3", "Authorize"),
    ("-2", "Scheduled"),
    ("-1", "Implement"),
    ("0", "Review"),
    ("3", "Closed"),
    ("4", "Canceled"),
)
APPROVAL = _choices(
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
    ("not_required", "No Longer Required"),
    ("duplicate", "Duplicate"),
)
REQUEST_STATE = _choices(
    ("requested", "Pending Approval"),
    ("in_process", "Approved"),
    ("closed_complete", "Closed Complete"),
    ("closed_incomplete", "Closed Incomplete"),
    ("closed_cancelled", "Closed Cancelled"),
    ("closed_rejected", "Closed Rejected"),
    ("closed_skipped", "Closed Skipped"),
)
REQUEST_STAGE = _choices(
    ("requested", "Requested"),
    ("fulfillment", "Fulfillment"),
    ("delivery", "Delivery"),
    ("closed_complete", "Closed Complete"),
    ("closed_incomplete", "Closed Incomplete"),
    ("closed_cancelled", "Closed Cancelled"),
    ("closed_rejected", "Closed Rejected"),
    ("closed_skipped", "Closed Skipped"),
)
ITEM_STAGE = _choices(
    ("waiting_for_approval", "Waiting for Approval"),
    ("request_approved", "Request Approved"),
    ("fulfillment", "Fulfillment"),
    ("delivery", "Delivery"),
    ("complete", "Completed"),
    ("Request Cancelled", "Request Cancelled"),
)
IMPACT = _choices(("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low"))
PRIORITY = _choices(
    ("1", "1 - Critical"), ("2", "2 - High"), ("3", "3 - Moderate"), ("4", "4 - Low"), ("5", "5 - Planning")
)
ESCALATION = _choices(("0", "Normal"), ("1", "Moderate"), ("2", "High"), ("3", "Overdue"))
INCIDENT_CLOSE_CODE = _choices(
    ("Duplicate", "Duplicate"),
    ("Known error", "Known error"),
    ("No resolution provided", "No resolution provided"),
    ("Resolved by caller", "Resolved by caller"),
    ("Resolved by change", "Resolved by change"),
    ("Resolved by problem", "Resolved by problem"),
    ("Solution provided", "Solution provided"),
    ("Workaround provided", "Workaround provided"),
    ("User error", "User error"),
)
CHANGE_CLOSE_CODE = _choices(
    ("successful", "Successful"),
    ("successful_issues", "Successful with issues"),
    ("unsuccessful", "Unsuccessful"),
)
HOLD_REASON = _choices(
    ("1", "Awaiting Caller"), ("3", "Awaiting Problem"), ("4", "Awaiting Vendor"), ("5", "Awaiting Change")
)
INCIDENT_CATEGORY = _choices(
    ("inquiry", "Inquiry / Help"),
    ("software", "Software"),
    ("hardware", "Hardware"),
    ("network", "Network"),
    ("database", "Database"),
)
CHANGE_TYPE = _choices(("standard", "Standard"), ("normal", "Normal"), ("emergency", "Emergency"))

#: ``state`` values that make a record of each table inactive (``TaskStateUtil`` close states).
CLOSE_STATES: Mapping[str, frozenset[str]] = {
    "task": frozenset({"3", "4", "7"}),
    "incident": frozenset({"7", "8"}),
    "change_request": frozenset({"3", "4"}),
}

#: ServiceNow catalog variable types: friendly name -> (type number, display type).
VARIABLE_TYPES: Mapping[str, tuple[int, str]] = {
    "yes_no": (1, "Yes / No"),
    "multi_line_text": (2, "Multi Line Text"),
    "multiple_choice": (3, "Multiple Choice"),
    "numeric_scale": (4, "Numeric Scale"),
    "select_box": (5, "Select Box"),
    "single_line_text": (6, "Single Line Text"),
    "check_box": (7, "CheckBox"),
    "reference": (8, "Reference"),
    "date": (9, "Date"),
    "date_time": (10, "Date/Time"),
    "label": (11, "Label"),
    "wide_single_line_text": (16, "Wide Single Line Text"),
    "lookup_select_box": (18, "Lookup Select Box"),
    "list_collector": (21, "List Collector"),
    "masked": (25, "Masked"),
    "email": (26, "Email"),
    "url": (27, "URL"),
    "ip_address": (28, "IP Address"),
    "requested_for": (31, "Requested For"),
}


def _f(name: str, kind: str = STRING, *, default: str = "", choices: tuple[tuple[str, str], ...] = ()) -> FieldSpec:
    return FieldSpec(name, kind, None, default, choices)


def _ref(name: str, table: str, default: str = "") -> FieldSpec:
    return FieldSpec(name, REFERENCE, table, default)


def _sys_fields() -> list[FieldSpec]:
    return [
        _f("sys_id", GUID),
        _f("sys_created_on", DATETIME),
        _f("sys_created_by"),
        _f("sys_updated_on", DATETIME),
        _f("sys_updated_by"),
        _f("sys_mod_count", INTEGER, default="0"),
        _f("sys_tags"),
    ]


def _task_fields(state_choices: tuple[tuple[str, str], ...], state_default: str) -> list[FieldSpec]:
    # In the order of the Table API documentation's sample records.
    return [
        _ref("parent", "task"),
        _f("made_sla", BOOLEAN, default="true"),
        _f("watch_list"),
        _f("upon_reject", default="cancel"),
        _f("sys_updated_on", DATETIME),
        _f("approval_history", JOURNAL),
        _f("number"),
        _f("sys_updated_by"),
        _ref("opened_by", "sys_user"),
        _f("user_input"),
        _f("sys_created_on", DATETIME),
        _ref("sys_domain", "sys_user_group", "global"),
        _f("state", INTEGER, default=state_default, choices=state_choices),
        _f("sys_created_by"),
        _f("knowledge", BOOLEAN, default="false"),
        _f("order", INTEGER),
        _f("closed_at", DATETIME),
        _ref("cmdb_ci", "cmdb_ci"),
        _ref("delivery_plan", "sc_cat_item_delivery_plan"),
        _f("impact", INTEGER, default="3", choices=IMPACT),
        _f("active", BOOLEAN, default="true"),
        _f("work_notes_list"),
        _ref("business_service", "cmdb_ci_service"),
        _f("priority", INTEGER, default="4", choices=PRIORITY),
        _f("sys_domain_path", default="/"),
        _f("time_worked"),
        _f("expected_start", DATETIME),
        _f("opened_at", DATETIME),
        _f("business_duration"),
        _f("group_list"),
        _f("work_end", DATETIME),
        _f("approval_set", DATETIME),
        _ref("wf_activity", "wf_activity"),
        _f("work_notes", JOURNAL),
        _f("short_description"),
        _f("correlation_display"),
        _ref("delivery_task", "sc_cat_item_delivery_task"),
        _f("work_start", DATETIME),
        _ref("assignment_group", "sys_user_group"),
        _f("additional_assignee_list"),
        _f("description"),
        _f("calendar_duration"),
        _f("close_notes"),
        _f("sys_class_name"),
        _ref("closed_by", "sys_user"),
        _f("follow_up", DATETIME),
        _f("sys_id", GUID),
        _f("contact_type"),
        _f("urgency", INTEGER, default="3", choices=IMPACT),
        _ref("company", "core_company"),
        _f("reassignment_count", INTEGER, default="0"),
        _f("activity_due", DATETIME),
        _ref("assigned_to", "sys_user"),
        _f("comments", JOURNAL),
        _f("approval", default="not requested", choices=APPROVAL),
        _f("sla_due", DATETIME),
        _f("comments_and_work_notes", JOURNAL_LIST),
        _f("due_date", DATETIME),
        _f("sys_mod_count", INTEGER, default="0"),
        _f("sys_tags"),
        _f("escalation", INTEGER, default="0", choices=ESCALATION),
        _f("upon_approval", default="proceed"),
        _f("correlation_id"),
        _ref("location", "cmn_location"),
        _ref("rejection_goto", "task"),
    ]


def _table(
    name: str,
    label: str,
    fields: Iterable[FieldSpec],
    *,
    number_prefix: str | None = None,
    is_task: bool = False,
    display_field: str = "sys_id",
) -> TableSpec:
    by_name: dict[str, FieldSpec] = {}
    for spec in fields:
        # A later spec of the same name overrides (state choices of incident, change ...).
        by_name[spec.name] = spec
    close_states = CLOSE_STATES.get(name, CLOSE_STATES["task"]) if is_task else frozenset()
    return TableSpec(
        name=name,
        label=label,
        fields=by_name,
        number_prefix=number_prefix,
        is_task=is_task,
        display_field=display_field,
        close_states=close_states,
    )


def _task_table(
    name: str,
    label: str,
    prefix: str,
    extra: Iterable[FieldSpec] = (),
    *,
    state_choices: tuple[tuple[str, str], ...] = TASK_STATE,
    state_default: str = "1",
) -> TableSpec:
    return _table(
        name,
        label,
        [*_task_fields(state_choices, state_default), *extra],
        number_prefix=prefix,
        is_task=True,
        display_field="number",
    )


TASK_TABLES = ("task", "sc_request", "sc_req_item", "sc_task", "incident", "change_request")


def builtin_tables() -> dict[str, TableSpec]:
    """A fresh copy of the tables every FakeServiceNow starts with."""
    tables = [
        _task_table("task", "Task", "TASK"),
        _task_table(
            "sc_request",
            "Request",
            "REQ",
            [
                _f("request_state", default="requested", choices=REQUEST_STATE),
                _ref("requested_for", "sys_user"),
                _f("requested_date", DATETIME),
                _f("special_instructions"),
                _f("delivery_address"),
                _f("price", default="0"),
                _f("calendar_stc", INTEGER),
                _f("stage", default="requested", choices=REQUEST_STAGE),
                _f("approval", default="requested", choices=APPROVAL),
            ],
        ),
        _task_table(
            "sc_req_item",
            "Requested Item",
            "RITM",
            [
                _ref("request", "sc_request"),
                _ref("cat_item", "sc_cat_item"),
                _f("quantity", INTEGER, default="1"),
                _ref("requested_for", "sys_user"),
                _f("stage", default="waiting_for_approval", choices=ITEM_STAGE),
                _f("price", default="0"),
                _f("recurring_price", default="0"),
                _f("billable", BOOLEAN, default="false"),
                _ref("order_guide", "sc_cat_item_guide"),
                _ref("configuration_item", "cmdb_ci"),
                _f("estimated_delivery", DATETIME),
                _f("backordered", BOOLEAN, default="false"),
                _ref("sc_catalog", "sc_catalog"),
                _f("approval", default="requested", choices=APPROVAL),
            ],
        ),
        _task_table(
            "sc_task",
            "Catalog Task",
            "SCTASK",
            [
                _ref("request", "sc_request"),
                _ref("request_item", "sc_req_item"),
                _ref("sc_catalog", "sc_catalog"),
                _f("calendar_stc", INTEGER),
            ],
        ),
        _task_table(
            "incident",
            "Incident",
            "INC",
            [
                _f("reopen_count", INTEGER, default="0"),
                _f("priority", INTEGER, default="5", choices=PRIORITY),
                _f("calendar_stc", INTEGER),
                _f("category", default="inquiry", choices=INCIDENT_CATEGORY),
                _f("subcategory"),
                _f("incident_state", INTEGER, default="1", choices=INCIDENT_STATE),
                _ref("caller_id", "sys_user"),
                _f("child_incidents", INTEGER, default="0"),
                _ref("parent_incident", "incident"),
                _ref("rfc", "change_request"),
                _f("notify", INTEGER, default="1"),
                _ref("resolved_by", "sys_user"),
                _ref("problem_id", "problem"),
                _f("close_code", choices=INCIDENT_CLOSE_CODE),
                _ref("caused_by", "change_request"),
                _f("severity", INTEGER, default="3", choices=IMPACT),
                _f("resolved_at", DATETIME),
                _f("business_stc", INTEGER),
                _f("hold_reason", INTEGER, choices=HOLD_REASON),
            ],
            state_choices=INCIDENT_STATE,
        ),
        _task_table(
            "change_request",
            "Change Request",
            "CHG",
            [
                _f("type", default="normal", choices=CHANGE_TYPE),
                _f("category", default="Other"),
                _f("risk", INTEGER, default="3"),
                _f("phase", default="requested"),
                _ref("requested_by", "sys_user"),
                _f("start_date", DATETIME),
                _f("end_date", DATETIME),
                _f("close_code", choices=CHANGE_CLOSE_CODE),
                _f("justification"),
                _f("implementation_plan"),
                _f("backout_plan"),
                _f("test_plan"),
                _f("reason"),
                _f("on_hold", BOOLEAN, default="false"),
                _f("conflict_status", default="Not Run"),
                _ref("chg_model", "chg_model"),
            ],
            state_choices=CHANGE_STATE,
            state_default="-5",
        ),
        _table(
            "sys_user",
            "User",
            [
                *_sys_fields(),
                _f("user_name"),
                _f("name"),
                _f("first_name"),
                _f("last_name"),
                _f("email"),
                _f("active", BOOLEAN, default="true"),
                _f("locked_out", BOOLEAN, default="false"),
                _f("title"),
                _ref("department", "cmn_department"),
                _ref("manager", "sys_user"),
                _f("phone"),
                _f("employee_number"),
                _f("sys_class_name", default="sys_user"),
                _ref("sys_domain", "sys_user_group", "global"),
                _f("sys_domain_path", default="/"),
            ],
            display_field="name",
        ),
        _table(
            "sys_user_group",
            "Group",
            [
                *_sys_fields(),
                _f("name"),
                _f("description"),
                _f("active", BOOLEAN, default="true"),
                _ref("manager", "sys_user"),
                _f("email"),
            ],
            display_field="name",
        ),
        _table(
            "sys_choice",
            "Choices",
            [
                *_sys_fields(),
                _f("name"),
                _f("element"),
                _f("value"),
                _f("label"),
                _f("sequence", INTEGER),
                _f("inactive", BOOLEAN, default="false"),
                _f("language", default="en"),
                _f("dependent_value"),
                _f("hint"),
            ],
            display_field="label",
        ),
        _table(
            "sys_journal_field",
            "Journal Entry",
            [
                _f("sys_id", GUID),
                _f("sys_created_on", DATETIME),
                _f("sys_created_by"),
                _f("element"),
                _f("element_id"),
                _f("name"),
                _f("value"),
            ],
            display_field="value",
        ),
        _table(
            "sc_cat_item",
            "Catalog Item",
            [
                *_sys_fields(),
                _f("name"),
                _f("short_description"),
                _f("description"),
                _f("active", BOOLEAN, default="true"),
                _ref("category", "sc_category"),
                _f("price", default="0"),
                _f("recurring_price", default="0"),
                _f("order", INTEGER, default="0"),
                _f("sys_class_name", default="sc_cat_item"),
                _f("type", default="item"),
            ],
            display_field="name",
        ),
        _table(
            "item_option_new",
            "Variable",
            [
                *_sys_fields(),
                _ref("cat_item", "sc_cat_item"),
                _f("name"),
                _f("question_text"),
                _f("type", INTEGER),
                _f("mandatory", BOOLEAN, default="false"),
                _f("read_only", BOOLEAN, default="false"),
                _f("order", INTEGER, default="0"),
                _f("default_value"),
                _f("help_text"),
                _f("active", BOOLEAN, default="true"),
            ],
            display_field="question_text",
        ),
        _table(
            "sc_item_option",
            "Options",
            [
                *_sys_fields(),
                _ref("item_option_new", "item_option_new"),
                _f("value"),
                _f("order", INTEGER, default="0"),
            ],
            display_field="value",
        ),
        _table(
            "sc_item_option_mtom",
            "Variable Ownership",
            [
                *_sys_fields(),
                _ref("request_item", "sc_req_item"),
                _ref("sc_item_option", "sc_item_option"),
            ],
        ),
    ]
    return {table.name: table for table in tables}


def custom_table(
    name: str,
    fields: Iterable[str | FieldSpec] = (),
    *,
    label: str | None = None,
    number_prefix: str | None = None,
    extends_task: bool = False,
    display_field: str | None = None,
) -> TableSpec:
    """A table a test registers: plain (system fields + ``fields``) or extending ``task``."""
    specs = [spec if isinstance(spec, FieldSpec) else FieldSpec(spec) for spec in fields]
    title = label or name.replace("_", " ").title()
    if extends_task:
        table = _task_table(name, title, number_prefix or "TASK", specs)
        if display_field:
            table.display_field = display_field
        return table
    base = _sys_fields()
    if number_prefix:
        base.append(_f("number"))
    chosen = display_field or (
        "number" if number_prefix else "name" if any(s.name == "name" for s in specs) else "sys_id"
    )
    return _table(name, title, [*base, *specs], number_prefix=number_prefix, display_field=chosen)
