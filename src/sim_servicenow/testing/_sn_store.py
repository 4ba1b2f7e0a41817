"""The records of FakeServiceNow: tables, indexes, business rules, rendering and catalog orders.

Not thread-safe by itself: `FakeServiceNow` calls it under its lock.
Values are stored as ServiceNow stores them (strings; references as sys_ids); rendering turns them
into the Table API's JSON shapes. Standard library only.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ._sn_query import Condition, EncodedQuery, compare, resolve_script, sort_key
from ._sn_schema import (
    INTEGER,
    JOURNAL,
    JOURNAL_LIST,
    REFERENCE,
    VARIABLE_TYPES,
    FieldSpec,
    TableSpec,
    builtin_tables,
)

__all__ = [
    "OUTCOMES",
    "SYSTEM",
    "URL_FILTER",
    "Caller",
    "FieldPath",
    "Outcome",
    "Store",
    "StoreError",
    "format_time",
    "money",
]

Record = dict[str, str]
Outcome = Literal["complete", "incomplete", "cancelled", "rejected", "skipped"]
#: How a ticket can end.
OUTCOMES: tuple[Outcome, ...] = ("complete", "incomplete", "cancelled", "rejected", "skipped")
DisplayMode = Literal["false", "true", "all"]

#: Fields with an equality index: the lookups clients make constantly stay O(1) on big tables.
INDEXED_FIELDS = frozenset(
    {"number", "correlation_id", "request", "request_item", "element_id", "cat_item", "user_name"}
)
_JOURNAL_LABELS = {"comments": "Additional comments", "work_notes": "Work notes"}
_QUERY_CACHE_SIZE = 64
#: The operator of conditions made from ``name=value`` URL parameters (not valid in encoded queries).
URL_FILTER = "=~"


def format_time(timestamp: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, ServiceNow's stored date-time format."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Caller:
    """Who a write is made as.

    Attributes:
        user_name: the ``sys_user.user_name`` written to ``sys_created_by`` / ``sys_updated_by``.
        sys_id: the user's sys_id (``opened_by`` of new tasks); empty for the system.
    """

    user_name: str
    sys_id: str = ""


SYSTEM = Caller("system")


class StoreError(Exception):
    """A write the instance refuses; the fake answers it with ``status`` and the error envelope.

    Attributes:
        status: the HTTP status to answer with.
        message: the envelope's ``message``.
        detail: the envelope's ``detail``.
    """

    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class _Step:
    table: TableSpec
    field: FieldSpec


@dataclass(frozen=True)
class FieldPath:
    """A field, possibly dot-walked, resolved against the dictionary.

    Attributes:
        steps: the reference fields walked and the final field.
        variable: for ``variables.<x>``, the variable name (fields) or sys_id (queries).
    """

    steps: tuple[_Step, ...]
    variable: str | None = None

    @property
    def last(self) -> FieldSpec:
        return self.steps[-1].field

    @property
    def numeric(self) -> bool:
        return self.variable is None and self.last.type == INTEGER


def _text(value: Any) -> str:
    """A JSON value as ServiceNow stores it: everything is a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        inner = value.get("value", value.get("display_value", ""))
        return _text(inner)
    if isinstance(value, (list, tuple)):
        return ",".join(_text(item) for item in value)
    return str(value)


class Store:
    """Tables of records with indexes, ServiceNow's business rules, and the catalog's data."""

    def __init__(self, clock: Callable[[], float], rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self.tables: dict[str, TableSpec] = builtin_tables()
        self.rows: dict[str, dict[str, Record]] = {name: {} for name in self.tables}
        #: sys_id -> concrete table of every task record, in insertion order (the ``task`` view).
        self.task_rows: dict[str, str] = {}
        self.seq: dict[str, int] = {}
        self.created_at: dict[str, float] = {}
        self.indexes: dict[str, dict[str, dict[str, dict[str, None]]]] = {}
        self.counters: dict[str, int] = {}
        #: RITM sys_id -> {item_option_new sys_id: answer}.
        self.answers: dict[str, dict[str, str]] = {}
        #: Bumped by every write; cached query results are valid for one version.
        self.version = 0
        self._next_seq = 0
        self._query_cache: OrderedDict[tuple[Any, ...], tuple[int, list[str]]] = OrderedDict()
        #: Called with (table, sys_id) after a ticket is inserted (the work policy's scheduler).
        self.on_insert: Callable[[str, str], None] | None = None

    # -- identity, time -------------------------------------------------------------------------

    def new_sys_id(self) -> str:
        while True:
            candidate = f"{self.rng.getrandbits(128):032x}"
            if candidate not in self.seq:
                return candidate

    def now(self) -> str:
        return format_time(self.clock())

    def next_number(self, prefix: str) -> str:
        # New instances number from 0010001 (INC0010001), seven digits.
        value = self.counters.get(prefix, 10000) + 1
        self.counters[prefix] = value
        return f"{prefix}{value:07d}"

    # -- tables ---------------------------------------------------------------------------------

    def add_table(self, spec: TableSpec) -> None:
        self.tables[spec.name] = spec
        self.rows.setdefault(spec.name, {})

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def view_rows(self, table: str) -> Iterator[tuple[str, Record]]:
        """``(concrete table, record)`` of every record a table shows (``task`` shows every task)."""
        if table == "task":
            for sys_id, concrete in self.task_rows.items():
                yield concrete, self.rows[concrete][sys_id]
        else:
            for record in self.rows[table].values():
                yield table, record

    def find(self, table: str, sys_id: str) -> tuple[str, Record] | None:
        """The record ``sys_id`` as seen through ``table`` (``task`` finds any task)."""
        if table == "task":
            concrete = self.task_rows.get(sys_id)
            if concrete is None:
                return None
            return concrete, self.rows[concrete][sys_id]
        rows = self.rows.get(table)
        if rows is None or sys_id not in rows:
            return None
        return table, rows[sys_id]

    def lookup(self, table: str, field: str, value: str) -> list[tuple[str, Record]]:
        """Records of ``table`` whose indexed ``field`` equals ``value``, in insertion order."""
        tables = [name for name, spec in self.tables.items() if spec.is_task] if table == "task" else [table]
        found: list[tuple[str, Record]] = []
        for name in tables:
            if field == "sys_id":
                hit = self.rows[name].get(value)
                if hit is not None:
                    found.append((name, hit))
                continue
            for sys_id in self.indexes.get(name, {}).get(field, {}).get(value, {}):
                found.append((name, self.rows[name][sys_id]))
        if len(tables) > 1:
            found.sort(key=lambda item: self.seq[item[1]["sys_id"]])
        return found

    def locate_ticket(self, ref: str) -> tuple[str, Record]:
        """A task record by sys_id or number (``REQ0010001``)."""
        concrete = self.task_rows.get(ref)
        if concrete is not None:
            return concrete, self.rows[concrete][ref]
        hits = self.lookup("task", "number", ref)
        if not hits:
            raise LookupError(f"no ticket with sys_id or number {ref!r}")
        return hits[0]

    # -- indexes --------------------------------------------------------------------------------

    def _index(self, table: str, record: Record) -> None:
        fields = self.indexes.setdefault(table, {})
        for name in INDEXED_FIELDS:
            value = record.get(name)
            if value:
                fields.setdefault(name, {}).setdefault(value, {})[record["sys_id"]] = None

    def _unindex(self, table: str, record: Record) -> None:
        fields = self.indexes.get(table, {})
        for name in INDEXED_FIELDS:
            value = record.get(name)
            if value:
                bucket = fields.get(name, {}).get(value)
                if bucket is not None:
                    bucket.pop(record["sys_id"], None)
                    if not bucket:
                        del fields[name][value]

    # -- field paths ----------------------------------------------------------------------------

    def compile_path(self, table: str, path: str, *, variables_by: Literal["name", "sys_id"]) -> FieldPath | None:
        """Resolve ``path`` (``caller_id.email``, ``variables.x``) against ``table``; ``None`` if invalid."""
        spec = self.tables.get(table)
        if spec is None:
            return None
        parts = path.split(".")
        steps: list[_Step] = []
        for position, part in enumerate(parts):
            if part == "variables" and spec.name in ("sc_req_item", "sc_task") and position == len(parts) - 2:
                variable = parts[-1]
                if not self._variable_exists(variable, variables_by):
                    return None
                if spec.name == "sc_task":
                    # A catalog task shows the variables of its requested item.
                    steps.append(_Step(spec, spec.fields["request_item"]))
                    spec = self.tables["sc_req_item"]
                steps.append(_Step(spec, FieldSpec("variables")))
                return FieldPath(tuple(steps), variable)
            field = spec.field(part)
            if field is None:
                return None
            steps.append(_Step(spec, field))
            if position < len(parts) - 1:
                if field.type != REFERENCE or field.reference is None or field.reference not in self.tables:
                    return None
                spec = self.tables[field.reference]
        return FieldPath(tuple(steps))

    def _variable_exists(self, variable: str, by: Literal["name", "sys_id"]) -> bool:
        if by == "sys_id":
            return variable in self.rows["item_option_new"]
        return any(option["name"] == variable for option in self.rows["item_option_new"].values())

    def _walk(self, record: Record, path: FieldPath) -> tuple[Record | None, str]:
        """The record holding the final field, and its stored value (``""`` when a reference is empty)."""
        current: Record | None = record
        for step in path.steps[:-1]:
            assert current is not None
            target = current.get(step.field.name, "")
            found = self.find(step.field.reference or "", target) if target else None
            if found is None:
                return None, ""
            current = found[1]
        if current is None:
            return None, ""
        if path.variable is not None:
            return current, self._answer(current, path.variable)
        return current, current.get(path.last.name, "")

    def _answer(self, item: Record, variable: str) -> str:
        answers = self.answers.get(item["sys_id"], {})
        if variable in answers:
            return answers[variable]
        for option_id, value in answers.items():
            option = self.rows["item_option_new"].get(option_id)
            if option is not None and option["name"] == variable:
                return value
        return ""

    def value(self, record: Record, path: FieldPath) -> str:
        return self._walk(record, path)[1]

    def display(self, record: Record, path: FieldPath) -> str:
        holder, raw = self._walk(record, path)
        if holder is None or path.variable is not None:
            return raw
        return self._display_value(path.steps[-1].table, path.last, holder, raw)

    def _display_value(self, table: TableSpec, field: FieldSpec, holder: Record, raw: str) -> str:
        if field.type in (JOURNAL, JOURNAL_LIST):
            return self._journal_text(holder, field.name)
        if field.name == "sys_class_name" and raw in self.tables:
            return self.tables[raw].label
        if field.type == REFERENCE and raw:
            target_table = field.reference or ""
            if target_table not in self.tables:
                # A table the fake does not hold (cmdb_ci, the global domain ...): show the value.
                return raw
            found = self.find(target_table, raw)
            if found is None:
                # A dangling sys_id shows nothing; a name-like key (the "global" domain) shows itself.
                return "" if _looks_like_sys_id(raw) else raw
            target_spec = self.tables[found[0]] if target_table != "task" else self.tables["task"]
            return found[1].get(target_spec.display_field, "")
        if field.choices and raw:
            return field.label_of(raw)
        return raw

    def _journal_text(self, record: Record, element: str) -> str:
        elements = ("comments", "work_notes") if element == "comments_and_work_notes" else (element,)
        entries = [
            entry
            for _, entry in self.lookup("sys_journal_field", "element_id", record["sys_id"])
            if entry["element"] in elements
        ]
        parts = []
        for entry in reversed(entries):  # newest first, as the form shows them
            author = self.lookup("sys_user", "user_name", entry["sys_created_by"])
            name = author[0][1]["name"] if author else entry["sys_created_by"]
            label = _JOURNAL_LABELS.get(entry["element"], entry["element"])
            parts.append(f"{entry['sys_created_on']} - {name} ({label})\n{entry['value']}\n\n")
        return "".join(parts)

    # -- rendering ------------------------------------------------------------------------------

    def compile_fields(self, view: str, fields: Sequence[str] | None) -> list[tuple[str, FieldPath]]:
        """The fields to render (``sysparm_fields``, or every field of ``view``); invalid names are dropped."""
        names: Iterable[str] = fields if fields is not None else [f.name for f in self.tables[view].all_fields()]
        compiled: dict[str, FieldPath] = {}
        for name in names:
            if name not in compiled:
                path = self.compile_path(view, name, variables_by="name")
                if path is not None:
                    compiled[name] = path
        return list(compiled.items())

    def render(
        self,
        record: Record,
        fields: Sequence[tuple[str, FieldPath]],
        *,
        display: DisplayMode,
        exclude_links: bool,
        base_url: str,
    ) -> dict[str, Any]:
        """A record as the Table API returns it, with the fields of `compile_fields`."""
        result: dict[str, Any] = {}
        for name, path in fields:
            holder, raw = self._walk(record, path)
            last = path.last
            if last.type in (JOURNAL, JOURNAL_LIST):
                raw = ""
            if display == "false" and last.type != REFERENCE:
                result[name] = raw
                continue
            shown = raw
            if holder is not None and path.variable is None:
                shown = self._display_value(path.steps[-1].table, last, holder, raw)
            link = None
            if last.type == REFERENCE and path.variable is None and raw and not exclude_links:
                link = f"{base_url}/api/now/table/{last.reference}/{raw}"
            if display == "false":
                result[name] = {"link": link, "value": raw} if link else raw
            elif display == "true":
                result[name] = {"display_value": shown, "link": link} if link else shown
            else:
                both: dict[str, str] = {"display_value": shown, "value": raw}
                if link:
                    both["link"] = link
                result[name] = both
        return result

    def plain(self, table: str, record: Record) -> dict[str, str]:
        """A copy of a stored record with every field of its table (inspection helpers)."""
        spec = self.tables[table]
        copy = {f.name: record.get(f.name, "") for f in spec.all_fields()}
        if table == "sc_req_item":
            for option_id, value in self.answers.get(record["sys_id"], {}).items():
                option = self.rows["item_option_new"].get(option_id)
                if option is not None:
                    copy[f"variables.{option['name']}"] = value
        return copy

    # -- queries --------------------------------------------------------------------------------

    def select(
        self,
        view: str,
        query: EncodedQuery,
        extra: Sequence[Condition],
        *,
        caller: Caller,
        invalid_returns_no_rows: bool,
    ) -> list[str]:
        """The sys_ids of ``view``'s records matching ``query`` and ``extra`` (ANDed), in result order.

        The result is cached until the next write, so paging through a large result set costs one
        filter-and-sort, then a slice per page.
        """
        key = (view, query, tuple(extra), caller.sys_id, invalid_returns_no_rows)
        cached = self._query_cache.get(key)
        if cached is not None and cached[0] == self.version:
            self._query_cache.move_to_end(key)
            return cached[1]
        result = self._select(view, query, extra, caller=caller, invalid_returns_no_rows=invalid_returns_no_rows)
        self._query_cache[key] = (self.version, result)
        if len(self._query_cache) > _QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)
        return result

    def _select(
        self,
        view: str,
        query: EncodedQuery,
        extra: Sequence[Condition],
        *,
        caller: Caller,
        invalid_returns_no_rows: bool,
    ) -> list[str]:
        invalid = False

        def compiled(condition: Condition) -> tuple[Condition, FieldPath, FieldPath | None] | None:
            nonlocal invalid
            path = self.compile_path(view, condition.field, variables_by="sys_id")
            other = None
            if condition.operator in ("SAMEAS", "NSAMEAS"):
                other = self.compile_path(view, condition.value, variables_by="sys_id")
                if other is None:
                    invalid = True
                    return None
            if path is None:
                invalid = True
                return None
            value = resolve_script(condition.value, user_sys_id=caller.sys_id, user_name=caller.user_name)
            return Condition(condition.field, condition.operator, value), path, other

        groups: list[list[list[tuple[Condition, FieldPath, FieldPath | None]]]] = []
        for group in query.groups or ((),):
            terms = []
            for term in (*group, *((c,) for c in extra)):
                alternatives = [c for c in (compiled(cond) for cond in term) if c is not None]
                if alternatives:
                    terms.append(alternatives)
            groups.append(terms)
        if query.unparsed:
            invalid = True
        if invalid and invalid_returns_no_rows:
            return []

        candidates = self._candidates(view, groups)
        matched = [
            (concrete, record)
            for concrete, record in candidates
            if any(all(any(self._matches(record, c) for c in term) for term in terms) for terms in groups)
        ]
        for field_name, descending in reversed(query.order_by):
            path = self.compile_path(view, field_name, variables_by="sys_id")
            if path is None:
                continue

            def key(item: tuple[str, Record], p: FieldPath = path) -> tuple[int, float, str]:
                # References sort by their display value, as on an instance.
                text = self.display(item[1], p) if p.last.type == REFERENCE else self.value(item[1], p)
                return sort_key(text, p.numeric)

            matched.sort(key=key, reverse=descending)
        return [record["sys_id"] for _, record in matched]

    def _candidates(
        self, view: str, groups: list[list[list[tuple[Condition, FieldPath, FieldPath | None]]]]
    ) -> Iterable[tuple[str, Record]]:
        """All records of the view, or only those an indexed equality condition allows."""
        if len(groups) == 1:
            for term in groups[0]:
                if len(term) != 1:
                    continue
                condition, path, _ = term[0]
                name = path.last.name
                if len(path.steps) != 1 or path.variable is not None:
                    continue
                if name not in INDEXED_FIELDS and name != "sys_id":
                    continue
                if condition.operator == "=":
                    values = [condition.value]
                elif condition.operator == "IN":
                    values = list(dict.fromkeys(condition.value.split(",")))
                else:
                    continue
                hits: dict[str, tuple[str, Record]] = {}
                for value in values:
                    for concrete, record in self.lookup(view, name, value):
                        hits[record["sys_id"]] = (concrete, record)
                return sorted(hits.values(), key=lambda item: self.seq[item[1]["sys_id"]])
        return self.view_rows(view)

    def _matches(self, record: Record, compiled: tuple[Condition, FieldPath, FieldPath | None]) -> bool:
        condition, path, other = compiled
        operator = condition.operator
        if operator == "INSTANCEOF":
            actual = self.value(record, path)
            return actual == condition.value or (condition.value == "task" and actual in self.task_rows_tables())
        if operator == URL_FILTER:
            # name=value URL parameters accept the display value of choice and reference fields.
            return self.value(record, path) == condition.value or (
                self.display(record, path).lower() == condition.value.lower() != ""
            )
        if path.last.type == REFERENCE and operator in ("LIKE", "NOT LIKE", "STARTSWITH", "ENDSWITH"):
            # Text operators on a reference compare the referenced record's display value.
            actual = self.display(record, path)
        else:
            actual = self.value(record, path)
        return compare(
            operator,
            actual,
            condition.value,
            numeric=path.numeric,
            other=self.value(record, other) if other is not None else "",
        )

    def task_rows_tables(self) -> set[str]:
        return {name for name, spec in self.tables.items() if spec.is_task}

    # -- writes ---------------------------------------------------------------------------------

    def _coerce(self, spec: TableSpec, name: str, value: str, input_display: bool) -> str:
        field = spec.field(name)
        if not input_display or field is None or not value:
            return value
        if field.type == REFERENCE and field.reference in self.tables:
            if self.find(field.reference, value) is not None:
                return value
            target = self.tables[field.reference]
            for _, row in self.view_rows(target.name):
                if row.get(target.display_field) == value:
                    return row["sys_id"]
            return value
        if field.choices:
            return field.value_of_label(value) or value
        return value

    def _accepted(
        self, spec: TableSpec, values: Mapping[str, Any], *, inserting: bool, input_display: bool
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Split a write into field values and journal entries; unknown and system fields are dropped."""
        changes: dict[str, str] = {}
        journal: dict[str, str] = {}
        for name, raw in values.items():
            text = _text(raw)
            if name == "sys_id" and inserting and spec.field("sys_id") is not None:
                changes["sys_id"] = text.lower()
                continue
            if name.startswith("sys_"):
                continue
            field = spec.field(name)
            if field is None:
                continue
            if field.type == JOURNAL:
                if text:
                    journal[name] = text
                continue
            if field.type == JOURNAL_LIST:
                continue
            if name.startswith("u_") and name not in spec.fields and name not in spec.dynamic_fields:
                spec.dynamic_fields[name] = FieldSpec(name)
            changes[name] = self._coerce(spec, name, text, input_display)
        return changes, journal

    def insert(
        self,
        table: str,
        values: Mapping[str, Any],
        caller: Caller,
        *,
        input_display: bool = False,
    ) -> tuple[str, Record]:
        """Insert a record as ``caller`` with defaults and business rules; returns ``(table, record)``."""
        spec = self.tables[table]
        changes, journal = self._accepted(spec, values, inserting=True, input_display=input_display)
        sys_id = changes.pop("sys_id", "") or self.new_sys_id()
        if not _looks_like_sys_id(sys_id):
            raise StoreError(400, "Invalid sys_id", f"{sys_id!r} is not 32 hexadecimal digits")
        if sys_id in self.seq:
            raise StoreError(403, "Operation Failed", f"Error during insert of {table} ({sys_id})")
        now = self.now()
        record: Record = {f.name: f.default for f in spec.all_fields()}
        record.update(
            sys_id=sys_id,
            sys_created_on=now,
            sys_created_by=caller.user_name,
            sys_updated_on=now,
            sys_updated_by=caller.user_name,
            sys_mod_count="0",
        )
        if "sys_class_name" in spec.fields:
            record["sys_class_name"] = record["sys_class_name"] or table
        if spec.is_task:
            record["sys_class_name"] = table
            record["opened_at"] = now
            record["opened_by"] = caller.sys_id
            for name in ("requested_for", "requested_by"):
                if name in spec.fields:
                    record[name] = caller.sys_id
            if table == "sc_request":
                record["requested_date"] = now
        if spec.number_prefix and "number" not in changes:
            record["number"] = self.next_number(spec.number_prefix)
        record.update(changes)
        self.seq[sys_id] = self._next_seq
        self._next_seq += 1
        self.created_at[sys_id] = self.clock()
        self.rows[table][sys_id] = record
        if spec.is_task:
            self.task_rows[sys_id] = table
        self._apply_rules(table, record, set(changes), caller, inserting=True)
        self._index(table, record)
        for element, text in journal.items():
            self._journal(table, record, element, text, caller)
        self.version += 1
        if spec.is_task:
            self._after_ticket_change(table, record, caller)
            if self.on_insert is not None:
                self.on_insert(table, sys_id)
        return table, record

    def update(
        self,
        view: str,
        sys_id: str,
        values: Mapping[str, Any],
        caller: Caller,
        *,
        input_display: bool = False,
    ) -> tuple[str, Record] | None:
        """Update a record with business rules; ``None`` if ``view`` has no such record."""
        found = self.find(view, sys_id)
        if found is None:
            return None
        table, record = found
        spec = self.tables[view] if view == "task" else self.tables[table]
        changes, journal = self._accepted(spec, values, inserting=False, input_display=input_display)
        for name in changes:
            if name.startswith("u_"):
                # A custom field written through the task view belongs to the record's own table too.
                self.tables[table].dynamic_fields.setdefault(name, FieldSpec(name))
        changed = {name for name, value in changes.items() if record.get(name, "") != value}
        if not changed and not journal:
            return table, record
        before = dict(record)
        self._unindex(table, record)
        for name in changed:
            record[name] = changes[name]
        self._apply_rules(table, record, changed, caller, inserting=False)
        record["sys_updated_on"] = self.now()
        record["sys_updated_by"] = caller.user_name
        record["sys_mod_count"] = str(int(record.get("sys_mod_count") or "0") + 1)
        self._index(table, record)
        for element, text in journal.items():
            self._journal(table, record, element, text, caller)
        self.version += 1
        if self.tables[table].is_task:
            self._after_ticket_change(table, record, caller, before=before)
        return table, record

    def delete(self, view: str, sys_id: str) -> bool:
        found = self.find(view, sys_id)
        if found is None:
            return False
        table, record = found
        self._unindex(table, record)
        del self.rows[table][sys_id]
        self.task_rows.pop(sys_id, None)
        self.seq.pop(sys_id, None)
        self.created_at.pop(sys_id, None)
        self.answers.pop(sys_id, None)
        self.version += 1
        return True

    def _journal(self, table: str, record: Record, element: str, text: str, caller: Caller) -> None:
        self.insert(
            "sys_journal_field",
            {"element": element, "element_id": record["sys_id"], "name": table, "value": text},
            caller,
        )

    # -- business rules -------------------------------------------------------------------------

    def _apply_rules(self, table: str, record: Record, given: set[str], caller: Caller, *, inserting: bool) -> None:
        """The base system's business rules: active and closed fields follow state, priority follows impact.

        ``given`` names the fields the write changed; an insert counts as setting ``state``.
        """
        spec = self.tables[table]
        if not spec.is_task:
            return
        now = self.now()
        state_given = "state" in given
        if table == "incident":
            if "incident_state" in given and not state_given:
                record["state"] = record["incident_state"]
                state_given = True
            record["incident_state"] = record["state"]
            if ("impact" in given or "urgency" in given or inserting) and "priority" not in given:
                record["priority"] = _priority(record["impact"], record["urgency"])
            if record["state"] in ("6", "7"):
                record["resolved_at"] = record["resolved_at"] or now
                record["resolved_by"] = record["resolved_by"] or caller.sys_id
        if table == "sc_request":
            state_given = self._request_rules(record, given, state_given=state_given)
        if state_given or inserting:
            closed = record["state"] in spec.close_states
            record["active"] = "false" if closed else "true"
            if closed:
                record["closed_at"] = record["closed_at"] or now
                record["closed_by"] = record["closed_by"] or caller.sys_id
        closed_item = table == "sc_req_item" and state_given and record["state"] in spec.close_states
        if closed_item and "stage" not in given and record["stage"] != "Request Cancelled":
            record["stage"] = "complete"

    def _request_rules(self, record: Record, given: set[str], *, state_given: bool) -> bool:
        """``request_state`` and ``state`` of a request follow each other; returns whether state changed."""
        closed_states = self.tables["sc_request"].close_states
        if "request_state" in given and record["request_state"].startswith("closed_"):
            if not state_given:
                record["state"] = _REQUEST_CLOSE_STATE.get(record["request_state"], "4")
            if "stage" not in given:
                record["stage"] = record["request_state"]
            return True
        if state_given and record["state"] in closed_states and not record["request_state"].startswith("closed_"):
            record["request_state"] = _STATE_REQUEST_CLOSE.get(record["state"], "closed_incomplete")
            if "stage" not in given:
                record["stage"] = record["request_state"]
            return True
        if "request_state" in given and record["state"] in closed_states and not state_given:
            # Reopened through request_state.
            record["state"] = "1"
            return True
        return state_given

    def _after_ticket_change(self, table: str, record: Record, caller: Caller, before: Record | None = None) -> None:
        """Roll-ups: catalog tasks close their item, items close their request, cancelled requests cancel items."""
        was_active = before is None or before.get("active") == "true"
        closed_now = was_active and record.get("active") == "false"
        if not closed_now:
            return
        if table == "sc_task" and record.get("request_item"):
            self._roll_up_item(record["request_item"], caller)
        elif table == "sc_req_item" and record.get("request"):
            self._roll_up_request(record["request"], caller)
        elif table == "sc_request" and record["request_state"] in ("closed_cancelled", "closed_rejected"):
            outcome: Outcome = "cancelled" if record["request_state"] == "closed_cancelled" else "rejected"
            for _, item in self.lookup("sc_req_item", "request", record["sys_id"]):
                if item["active"] == "true":
                    self.close_ticket("sc_req_item", item, outcome, caller)

    def _roll_up_item(self, item_id: str, caller: Caller) -> None:
        found = self.find("sc_req_item", item_id)
        if found is None or found[1]["active"] != "true":
            return
        tasks = [task for _, task in self.lookup("sc_task", "request_item", item_id)]
        if any(task["active"] == "true" for task in tasks):
            return
        states = {task["state"] for task in tasks}
        state = "4" if "4" in states else "7" if states == {"7"} else "3"
        self.update("sc_req_item", item_id, {"state": state}, caller)

    def _roll_up_request(self, request_id: str, caller: Caller) -> None:
        found = self.find("sc_request", request_id)
        if found is None or found[1]["active"] != "true":
            return
        items = [item for _, item in self.lookup("sc_req_item", "request", request_id)]
        if not items or any(item["active"] == "true" for item in items):
            return
        outcomes = {_item_outcome(item) for item in items}
        if outcomes == {"rejected"}:
            request_state = "closed_rejected"
        elif outcomes <= {"cancelled", "rejected"}:
            request_state = "closed_cancelled"
        elif outcomes == {"skipped"}:
            request_state = "closed_skipped"
        elif outcomes & {"incomplete", "cancelled", "rejected"}:
            request_state = "closed_incomplete"
        else:
            request_state = "closed_complete"
        values = {"request_state": request_state}
        if request_state == "closed_rejected":
            values["approval"] = "rejected"
        self.update("sc_request", request_id, values, caller)

    # -- lifecycle ------------------------------------------------------------------------------

    def approve(self, table: str, record: Record, caller: Caller) -> None:
        if table == "sc_request":
            self.update(table, record["sys_id"], _approved_request(record), caller)
            for _, item in self.lookup("sc_req_item", "request", record["sys_id"]):
                if item["active"] == "true" and item["approval"] in ("requested", "not requested"):
                    self.update("sc_req_item", item["sys_id"], _approved_item(item), caller)
        elif table == "sc_req_item":
            parent = self.find("sc_request", record["request"]) if record["request"] else None
            if parent is not None and parent[1]["approval"] == "requested":
                self.update("sc_request", parent[1]["sys_id"], _approved_request(parent[1]), caller)
            self.update(table, record["sys_id"], _approved_item(record), caller)
        else:
            self.update(table, record["sys_id"], {"approval": "approved"}, caller)

    def start(self, table: str, record: Record, caller: Caller) -> None:
        """Work begins: approve what waits for approval, then the work-in-progress state."""
        if record["approval"] == "requested":
            self.approve(table, record, caller)
        if table == "sc_request":
            for _, item in self.lookup("sc_req_item", "request", record["sys_id"]):
                if item["active"] == "true":
                    self.start("sc_req_item", item, caller)
            if not self.lookup("sc_req_item", "request", record["sys_id"]):
                self.update(table, record["sys_id"], {"state": "2"}, caller)
            return
        state = {"incident": "2", "change_request": "-1"}.get(table, "2")
        self.update(table, record["sys_id"], {"state": state}, caller)

    def close_ticket(
        self, table: str, record: Record, outcome: Outcome, caller: Caller, *, close_notes: str | None = None
    ) -> None:
        """Close a ticket with an outcome, as a fulfiller would; roll-ups follow."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        values: dict[str, str] = {}
        if close_notes is not None:
            values["close_notes"] = close_notes
        if outcome == "rejected":
            values["approval"] = "rejected"
        if table == "sc_request":
            items = [item for _, item in self.lookup("sc_req_item", "request", record["sys_id"])]
            open_items = [item for item in items if item["active"] == "true"]
            if open_items:
                for item in open_items:
                    self.close_ticket("sc_req_item", item, outcome, caller, close_notes=close_notes)
                return
            values["request_state"] = _OUTCOME_REQUEST_STATE[outcome]
        elif table == "sc_req_item":
            values["state"] = _OUTCOME_TASK_STATE[outcome]
            values["stage"] = "Request Cancelled" if outcome in ("cancelled", "rejected") else "complete"
        elif table == "incident":
            values["state"] = "7" if outcome in ("complete", "skipped") else "8"
            if values["state"] == "7" and not record["close_code"]:
                values["close_code"] = "Solution provided"
        elif table == "change_request":
            values["state"] = "4" if outcome in ("cancelled", "rejected") else "3"
            if values["state"] == "3":
                values["close_code"] = "unsuccessful" if outcome == "incomplete" else "successful"
        else:
            values["state"] = _OUTCOME_TASK_STATE[outcome]
        self.update(table, record["sys_id"], values, caller)
        if table == "sc_req_item":
            for _, task in self.lookup("sc_task", "request_item", record["sys_id"]):
                if task["active"] == "true":
                    self.update("sc_task", task["sys_id"], {"state": values["state"]}, caller)

    # -- catalog --------------------------------------------------------------------------------

    def add_catalog_item(
        self,
        name: str,
        variables: Sequence[str | Mapping[str, Any]],
        *,
        sys_id: str | None,
        short_description: str | None,
        description: str,
        price: float,
        active: bool,
    ) -> str:
        values: dict[str, Any] = {
            "name": name,
            "short_description": short_description if short_description is not None else name,
            "description": description,
            "price": _money_value(price),
            "active": active,
        }
        if sys_id:
            values["sys_id"] = sys_id
        _, item = self.insert("sc_cat_item", values, SYSTEM)
        for order, variable in enumerate(variables, start=1):
            definition: Mapping[str, Any] = {"name": variable} if isinstance(variable, str) else variable
            kind = str(definition.get("type", "single_line_text"))
            if kind not in VARIABLE_TYPES:
                raise ValueError(f"unknown variable type {kind!r}; use one of {', '.join(VARIABLE_TYPES)}")
            if not definition.get("name"):
                raise ValueError(f"catalog variable {order} of {name!r} has no name")
            option: dict[str, Any] = {
                "cat_item": item["sys_id"],
                "name": definition["name"],
                "question_text": definition.get("label", str(definition["name"]).replace("_", " ").capitalize()),
                "type": VARIABLE_TYPES[kind][0],
                "mandatory": bool(definition.get("mandatory", False)),
                "read_only": bool(definition.get("read_only", False)),
                "order": definition.get("order", order * 100),
                "default_value": definition.get("default", ""),
                "help_text": definition.get("help_text", ""),
            }
            if definition.get("sys_id"):
                option["sys_id"] = definition["sys_id"]
            self.insert("item_option_new", option, SYSTEM)
        return item["sys_id"]

    def item_variables(self, item_id: str) -> list[Record]:
        options = [
            o for o in self.rows["item_option_new"].values() if o["cat_item"] == item_id and o["active"] == "true"
        ]
        return sorted(options, key=lambda o: int(o["order"] or "0"))

    def order(
        self,
        lines: Sequence[tuple[Record, int, Mapping[str, str], Sequence[str]]],
        caller: Caller,
        requested_for: str,
    ) -> Record:
        """Create one REQ with a RITM per (item, quantity, answers, recipients) line and recipient."""
        _, request = self.insert(
            "sc_request",
            {"requested_for": requested_for, "price": _money_value(sum(_price(i) * q for i, q, _, _ in lines))},
            caller,
        )
        for item, quantity, answers, recipients in lines:
            by_name = {option["name"]: option for option in self.item_variables(item["sys_id"])}
            for recipient in recipients:
                _, ritm = self.insert(
                    "sc_req_item",
                    {
                        "request": request["sys_id"],
                        "cat_item": item["sys_id"],
                        "quantity": str(quantity),
                        "requested_for": recipient,
                        "short_description": item["short_description"],
                        "price": item["price"],
                    },
                    caller,
                )
                stored: dict[str, str] = {}
                for name, option in by_name.items():
                    value = answers.get(name, option["default_value"])
                    if option["type"] == str(VARIABLE_TYPES["requested_for"][0]):
                        # Each item ordered for several people carries its own recipient.
                        value = recipient
                    stored[option["sys_id"]] = value
                    _, answer = self.insert(
                        "sc_item_option",
                        {"item_option_new": option["sys_id"], "value": value, "order": option["order"]},
                        caller,
                    )
                    self.insert(
                        "sc_item_option_mtom",
                        {"request_item": ritm["sys_id"], "sc_item_option": answer["sys_id"]},
                        caller,
                    )
                self.answers[ritm["sys_id"]] = stored
        return request


def _looks_like_sys_id(value: str) -> bool:
    return len(value) == 32 and all(ch in "0123456789abcdef" for ch in value)


def _priority(impact: str, urgency: str) -> str:
    """The incident priority matrix of the base system (impact 2 + urgency 2 -> 3 - Moderate)."""
    try:
        total = int(impact) + int(urgency)
    except ValueError:
        return "5"
    return str(min(5, max(1, total - 1)))


def _item_outcome(item: Record) -> Outcome:
    state = item["state"]
    if state == "7":
        return "skipped"
    if state == "3":
        return "complete"
    if item["approval"] == "rejected":
        return "rejected"
    if item["stage"] == "Request Cancelled":
        return "cancelled"
    return "incomplete"


def _approved_request(record: Record) -> dict[str, str]:
    values = {"approval": "approved"}
    if record["request_state"] == "requested":
        values["request_state"] = "in_process"
    if record["stage"] == "requested":
        values["stage"] = "fulfillment"
    return values


def _approved_item(record: Record) -> dict[str, str]:
    values = {"approval": "approved"}
    if record["stage"] in ("waiting_for_approval", "request_approved"):
        values["stage"] = "fulfillment"
    return values


def _price(item: Record) -> float:
    try:
        return float(item.get("price") or "0")
    except ValueError:
        return 0.0


def _money_value(amount: float) -> str:
    return f"{amount:.2f}".rstrip("0").rstrip(".") if amount else "0"


def money(amount: float) -> str:
    """A price as the catalog API shows it: ``$1,599.98``."""
    return f"${amount:,.2f}"


_OUTCOME_TASK_STATE: Mapping[str, str] = {
    "complete": "3",
    "incomplete": "4",
    "cancelled": "4",
    "rejected": "4",
    "skipped": "7",
}
_OUTCOME_REQUEST_STATE: Mapping[str, str] = {
    "complete": "closed_complete",
    "incomplete": "closed_incomplete",
    "cancelled": "closed_cancelled",
    "rejected": "closed_rejected",
    "skipped": "closed_skipped",
}
_REQUEST_CLOSE_STATE: Mapping[str, str] = {"closed_complete": "3", "closed_skipped": "7"}
_STATE_REQUEST_CLOSE: Mapping[str, str] = {"3": "closed_complete", "4": "closed_incomplete", "7": "closed_skipped"}
