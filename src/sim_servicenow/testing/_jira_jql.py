"""A JQL subset for the fake Jira: tokenizer, parser and evaluator. Standard library only.

Supported: clauses ``field op value`` joined with ``AND`` / ``OR`` / ``NOT`` and parentheses (``AND`` binds
tighter than ``OR``), the operators ``=  !=  IN  NOT IN  IS [NOT] EMPTY|NULL  ~  !~  >  >=  <  <=``,
quoted strings (``"..."`` or ``'...'`` with backslash escapes), lists ``(a, b, "c d")`` and
``ORDER BY field [ASC|DESC], ...``. The fields are the ones an integration asks about: ``key`` (``issuekey``),
``id``, ``labels``, ``status``, ``statusCategory``, ``resolution``, ``project``, ``summary``, ``description``,
``text``, ``created``, ``updated``, ``reporter``. Anything else, ``cf[...]`` and ``issue.property[...]``
included, is refused the way Jira refuses a field it does not know.

Errors carry Jira's message texts; the caller turns them into a 400 ``errorMessages`` envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

__all__ = [
    "And",
    "Catalog",
    "Clause",
    "Evaluation",
    "JqlError",
    "JqlIssue",
    "JqlQuery",
    "Matcher",
    "Not",
    "Or",
    "OrderBy",
    "parse_jql",
]

#: Characters JQL refuses in an unquoted word (Jira's "reserved JQL character" list, minus ``.``,
#: which Jira accepts in practice in values such as ``1.5``).
_RESERVED = set("+,;?|*/%^$#@[]")
#: Words that may not be used unquoted as a value.
_RESERVED_WORDS = frozenset({"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc", "was"})
_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-([0-9]+)$")
_RELATIVE_RE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_TEXT_FIELDS = ("summary", "description", "text")
_DATE_FIELDS = ("created", "updated")
_FIELD_ALIASES = {"issuekey": "key", "issue": "key", "statuscategory": "statusCategory", "category": "statusCategory"}
_KNOWN_FIELDS = frozenset(
    {
        "key",
        "id",
        "labels",
        "status",
        "statusCategory",
        "resolution",
        "project",
        "reporter",
        *_TEXT_FIELDS,
        *_DATE_FIELDS,
    }
)
_OPERATORS_BY_FIELD: dict[str, frozenset[str]] = {
    "key": frozenset({"=", "!=", "in", "not in", ">", ">=", "<", "<="}),
    "id": frozenset({"=", "!=", "in", "not in", ">", ">=", "<", "<="}),
    "labels": frozenset({"=", "!=", "in", "not in", "is", "is not"}),
    "status": frozenset({"=", "!=", "in", "not in"}),
    "statusCategory": frozenset({"=", "!=", "in", "not in"}),
    "resolution": frozenset({"=", "!=", "in", "not in", "is", "is not"}),
    "project": frozenset({"=", "!=", "in", "not in"}),
    "reporter": frozenset({"=", "!=", "in", "not in", "is", "is not"}),
    "summary": frozenset({"~", "!~", "is", "is not"}),
    "description": frozenset({"~", "!~", "is", "is not"}),
    "text": frozenset({"~"}),
    "created": frozenset({"=", "!=", ">", ">=", "<", "<="}),
    "updated": frozenset({"=", "!=", ">", ">=", "<", "<="}),
}
_ORDERABLE = frozenset({"key", "id", "created", "updated", "summary", "status", "resolution"})


class JqlError(Exception):
    """The query is not valid JQL (for this fake); ``messages`` are Jira's ``errorMessages``."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = tuple(messages)


class JqlIssue(Protocol):
    """What the evaluator reads from an issue."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def project_key(self) -> str: ...
    @property
    def labels(self) -> Sequence[str]: ...
    @property
    def summary(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def created(self) -> datetime: ...
    @property
    def updated(self) -> datetime: ...
    @property
    def reporter(self) -> str: ...
    @property
    def resolution(self) -> str | None: ...
    @property
    def status_name(self) -> str: ...
    @property
    def status_id(self) -> str: ...
    @property
    def status_category(self) -> str: ...


class Catalog(Protocol):
    """What the evaluator asks the fake about names it must validate."""

    def issue_id_for_key(self, key: str) -> int | None: ...
    def status_ids(self, value: str) -> frozenset[str] | None: ...
    def resolution_names(self, value: str) -> frozenset[str] | None: ...
    def project_keys(self, value: str) -> frozenset[str] | None: ...
    def now(self) -> datetime: ...


# ----------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "string", "op", "(", ")", ",", "end"
    text: str
    position: int  # 1-based character position, as Jira reports it


def _tokenize(jql: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(jql)
    while i < n:
        char = jql[i]
        if char.isspace():
            i += 1
            continue
        if char in "\"'":
            quote = char
            start = i
            i += 1
            chunks: list[str] = []
            while True:
                if i >= n:
                    raise JqlError(
                        f"Error in the JQL Query: The quoted string starting at character {start + 1} "
                        f"is not terminated. (line 1, character {start + 1})"
                    )
                current = jql[i]
                if current == "\\" and i + 1 < n:
                    escaped = jql[i + 1]
                    if escaped == "u" and i + 5 < n:
                        chunks.append(chr(int(jql[i + 2 : i + 6], 16)))
                        i += 6
                        continue
                    chunks.append({"n": "\n", "t": "\t", "r": "\r"}.get(escaped, escaped))
                    i += 2
                    continue
                if current == quote:
                    i += 1
                    break
                chunks.append(current)
                i += 1
            tokens.append(_Token("string", "".join(chunks), start + 1))
            continue
        if char in "(),":
            tokens.append(_Token(char, char, i + 1))
            i += 1
            continue
        two = jql[i : i + 2]
        if two in ("!=", "!~", ">=", "<="):
            tokens.append(_Token("op", two, i + 1))
            i += 2
            continue
        if char in "=~<>":
            tokens.append(_Token("op", char, i + 1))
            i += 1
            continue
        if char == "!":
            tokens.append(_Token("word", "not", i + 1))
            i += 1
            continue
        start = i
        while i < n and not jql[i].isspace() and jql[i] not in "\"'(),=!~<>":
            # ``cf[10010]`` and ``issue.property[x].y`` keep their brackets as part of the field name.
            i += 1
        tokens.append(_Token("word", jql[start:i], start + 1))
    tokens.append(_Token("end", "", n + 1))
    return tokens


# -------------------------------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Clause:
    """``field op value(s)``; ``values`` is empty for ``IS [NOT] EMPTY``."""

    field: str
    operator: str
    values: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool


@dataclass(frozen=True)
class JqlQuery:
    """A parsed query: the condition (``None``: every issue) and the ordering."""

    where: Node | None
    order_by: tuple[OrderBy, ...]

    @property
    def bounded(self) -> bool:
        """Whether the query restricts the issues at all (Jira Cloud's enhanced search refuses unbounded ones)."""
        return self.where is not None

    def clauses(self) -> Iterable[Clause]:
        """Every clause of the condition."""
        stack: list[Node] = [self.where] if self.where is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, Clause):
                yield node
            elif isinstance(node, Not):
                stack.append(node.part)
            else:
                stack.extend(reversed(node.parts))  # left to right, as written


class _Parser:
    def __init__(self, jql: str) -> None:
        self.tokens = _tokenize(jql)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def keyword(self, token: _Token, *words: str) -> bool:
        return token.kind == "word" and token.text.lower() in words

    def error(self, token: _Token, expected: str) -> JqlError:
        found = token.text if token.kind != "end" else "the end of the query"
        return JqlError(
            f"Error in the JQL Query: Expecting {expected} but got '{found}'. (line 1, character {token.position})"
            if token.kind != "end"
            else f"Error in the JQL Query: Expecting {expected} before {found}. (line 1, character {token.position})"
        )

    def parse(self) -> JqlQuery:
        where: Node | None = None
        if not (self.peek().kind == "end" or self.keyword(self.peek(), "order")):
            where = self.parse_or()
        order_by: list[OrderBy] = []
        if self.keyword(self.peek(), "order"):
            self.next()
            if not self.keyword(self.next(), "by"):
                raise self.error(self.tokens[self.index - 1], "'by'")
            while True:
                field_token = self.next()
                if field_token.kind not in ("word", "string"):
                    raise self.error(field_token, "a field name")
                name = _canonical_field(field_token.text)
                if name not in _ORDERABLE:
                    raise JqlError(
                        f"Field '{field_token.text}' does not exist or you do not have permission to view it."
                    )
                descending = False
                if self.keyword(self.peek(), "asc", "desc"):
                    descending = self.next().text.lower() == "desc"
                order_by.append(OrderBy(name, descending))
                if self.peek().kind == ",":
                    self.next()
                    continue
                break
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, "either 'OR' or 'AND'")
        return JqlQuery(where, tuple(order_by))

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.keyword(self.peek(), "or"):
            self.next()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.keyword(self.peek(), "and"):
            self.next()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not(self) -> Node:
        token = self.peek()
        if self.keyword(token, "not"):
            self.next()
            return Not(self.parse_not())
        if token.kind == "(":
            self.next()
            node = self.parse_or()
            closing = self.next()
            if closing.kind != ")":
                raise self.error(closing, "')'")
            return node
        return self.parse_clause()

    def parse_clause(self) -> Clause:
        field_token = self.next()
        if field_token.kind not in ("word", "string") or (
            field_token.kind == "word" and field_token.text.lower() in _RESERVED_WORDS
        ):
            raise self.error(field_token, "a field name")
        op_token = self.next()
        operator: str
        if op_token.kind == "op":
            operator = op_token.text
        elif self.keyword(op_token, "in"):
            operator = "in"
        elif self.keyword(op_token, "not"):
            if not self.keyword(self.next(), "in"):
                raise self.error(self.tokens[self.index - 1], "'IN'")
            operator = "not in"
        elif self.keyword(op_token, "is"):
            operator = "is"
            if self.keyword(self.peek(), "not"):
                self.next()
                operator = "is not"
        else:
            raise self.error(op_token, "operator")
        values: tuple[str, ...]
        if operator in ("is", "is not"):
            value_token = self.next()
            if not self.keyword(value_token, "empty", "null"):
                raise self.error(value_token, "EMPTY or NULL")
            values = ()
        elif operator in ("in", "not in"):
            opening = self.next()
            if opening.kind != "(":
                raise self.error(opening, "'('")
            items = [self.value()]
            while self.peek().kind == ",":
                self.next()
                items.append(self.value())
            closing = self.next()
            if closing.kind != ")":
                raise self.error(closing, "')'")
            values = tuple(items)
        else:
            values = (self.value(),)
        return Clause(field_token.text, operator, values, field_token.position)

    def value(self) -> str:
        token = self.next()
        if token.kind == "string":
            return token.text
        if token.kind != "word":
            raise self.error(token, "either a value, 'EMPTY' or a function")
        if token.text.lower() in _RESERVED_WORDS:
            raise JqlError(
                f"Error in the JQL Query: '{token.text}' is a reserved JQL word. You must surround it in quotation "
                f"marks to use it in a query. (line 1, character {token.position})"
            )
        for offset, char in enumerate(token.text):
            if char in _RESERVED:
                raise JqlError(
                    f"Error in the JQL Query: The character '{char}' is a reserved JQL character. You must enclose it "
                    f"in a string or use the escape '\\u{ord(char):04x}' instead. "
                    f"(line 1, character {token.position + offset})"
                )
        return token.text


def _canonical_field(name: str) -> str:
    lowered = name.lower()
    if lowered in _FIELD_ALIASES:
        return _FIELD_ALIASES[lowered]
    for known in _KNOWN_FIELDS:
        if known.lower() == lowered:
            return known
    return name


def parse_jql(jql: str) -> JqlQuery:
    """Parse ``jql``; raises `JqlError` with Jira's messages. Field names are checked, values are not."""
    query = _Parser(jql).parse()
    problems: list[str] = []
    for clause in query.clauses():
        name = _canonical_field(clause.field)
        if name not in _KNOWN_FIELDS:
            problems.append(f"Field '{clause.field}' does not exist or you do not have permission to view it.")
            continue
        allowed = _OPERATORS_BY_FIELD[name]
        if clause.operator not in allowed:
            problems.append(f"The operator '{clause.operator.upper()}' is not supported by the '{clause.field}' field.")
    if problems:
        raise JqlError(*problems)
    return query


# ----------------------------------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    """The outcome of checking a query's values against the fake's data.

    Attributes:
        errors: Jira's error messages (the search answers 400) in strict validation.
        warnings: the same messages when validation is ``warn`` (the search answers 200 with them).
    """

    errors: list[str]
    warnings: list[str]


def _parse_date(value: str, now: datetime) -> datetime:
    relative = _RELATIVE_RE.match(value.strip())
    if relative:
        sign = -1 if relative.group(1) == "-" else 1
        amount = int(relative.group(2)) * sign
        unit = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[relative.group(3)]
        return now + timedelta(**{unit: amount})
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(value)


class Matcher:
    """Compiles a parsed query against the fake's catalog into a predicate over issues."""

    def __init__(self, query: JqlQuery, catalog: Catalog, *, validation: str = "strict") -> None:
        self.query = query
        self.catalog = catalog
        self.validation = validation
        self.evaluation = Evaluation(errors=[], warnings=[])
        self._resolved: dict[Clause, Any] = {}
        for clause in query.clauses():
            self._resolved[clause] = self._resolve(clause)

    def _problem(self, message: str) -> None:
        if self.validation == "strict":
            self.evaluation.errors.append(message)
        elif self.validation == "warn":
            self.evaluation.warnings.append(message)

    def _resolve(self, clause: Clause) -> Any:
        name = _canonical_field(clause.field)
        catalog = self.catalog
        if name == "key":
            ids: set[int] = set()
            for value in clause.values:
                if not _KEY_RE.match(value):
                    self._problem(f"The issue key '{value}' for field '{clause.field}' is invalid.")
                    continue
                issue_id = catalog.issue_id_for_key(value)
                if issue_id is None:
                    self._problem(f"An issue with key '{value}' does not exist for field '{clause.field}'.")
                    continue
                ids.add(issue_id)
            return ids
        if name == "id":
            numbers: set[int] = set()
            for value in clause.values:
                if not value.isdigit():
                    self._problem(f"The issue id '{value}' for field '{clause.field}' is invalid.")
                    continue
                numbers.add(int(value))
            return numbers
        if name in ("status", "statusCategory", "resolution", "project"):
            lookup: Callable[[str], frozenset[str] | None]
            if name == "status":
                lookup = catalog.status_ids
            elif name == "resolution":
                lookup = catalog.resolution_names
            elif name == "project":
                lookup = catalog.project_keys
            else:
                lookup = _status_category_keys
            accepted: set[str] = set()
            for value in clause.values:
                if name == "resolution" and value.lower() == "unresolved":
                    accepted.add("")
                    continue
                found = lookup(value)
                if found is None:
                    self._problem(f"The value '{value}' does not exist for the field '{clause.field}'.")
                    continue
                accepted |= found
            return accepted
        if name in _DATE_FIELDS:
            try:
                return _parse_date(clause.values[0], catalog.now())
            except ValueError:
                self._problem(
                    f"Date value '{clause.values[0]}' for field '{clause.field}' is invalid. Valid formats include: "
                    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
                    "e.g. '-5d', '4w 2d'."
                )
                return None
        return clause.values

    def matches(self, issue: JqlIssue) -> bool:
        """Whether ``issue`` satisfies the condition."""
        return self.query.where is None or self._eval(self.query.where, issue)

    def _eval(self, node: Node, issue: JqlIssue) -> bool:
        if isinstance(node, And):
            return all(self._eval(part, issue) for part in node.parts)
        if isinstance(node, Or):
            return any(self._eval(part, issue) for part in node.parts)
        if isinstance(node, Not):
            return not self._eval(node.part, issue)
        return self._clause(node, issue)

    def _clause(self, clause: Clause, issue: JqlIssue) -> bool:
        name = _canonical_field(clause.field)
        op = clause.operator
        resolved = self._resolved[clause]
        if name in ("key", "id"):
            if op in ("=", "in"):
                return issue.id in resolved
            if op in ("!=", "not in"):
                return issue.id not in resolved
            if not resolved:
                return False
            (pivot,) = resolved
            return _compare(issue.id, op, pivot)
        if name == "labels":
            labels = set(issue.labels)
            if op == "is":
                return not labels
            if op == "is not":
                return bool(labels)
            wanted = set(clause.values)
            if op in ("=", "in"):
                return bool(labels & wanted)
            # Jira's quirk: issues without labels never match a negative labels clause.
            return bool(labels) and not labels & wanted
        if name == "reporter":
            if op == "is":
                return not issue.reporter
            if op == "is not":
                return bool(issue.reporter)
            hit = issue.reporter.lower() in {v.lower() for v in clause.values}
            return hit if op in ("=", "in") else not hit
        if name in ("status", "statusCategory", "resolution", "project"):
            if name == "status":
                value = issue.status_id
            elif name == "statusCategory":
                value = issue.status_category
            elif name == "resolution":
                value = issue.resolution or ""
            else:
                value = issue.project_key
            if op == "is":
                return value == ""
            if op == "is not":
                return value != ""
            hit = value in resolved
            return hit if op in ("=", "in") else not hit
        if name in _TEXT_FIELDS:
            texts = (
                [issue.summary, issue.description or ""]
                if name == "text"
                else [issue.summary if name == "summary" else (issue.description or "")]
            )
            if op == "is":
                return not any(texts)
            if op == "is not":
                return any(texts)
            needle = clause.values[0].lower().strip("*")
            hit = any(needle in text.lower() for text in texts)
            return hit if op == "~" else not hit
        if name in _DATE_FIELDS:
            if resolved is None:
                return False
            moment = issue.created if name == "created" else issue.updated
            return _compare(moment, op, resolved)
        return False  # pragma: no cover - parse_jql refuses other fields

    def sort(self, issues: Sequence[Any]) -> list[Any]:
        """``issues`` in the query's order; without ``ORDER BY`` newest first (as Jira's issue navigator)."""
        ordered = sorted(issues, key=lambda i: i.id, reverse=True)
        for order in reversed(self.query.order_by):
            ordered.sort(key=_sort_key(order.field), reverse=order.descending)
        return ordered


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _sort_key(field: str) -> Callable[[Any], Any]:
    if field == "key":
        return lambda i: (i.project_key, int(i.key.rsplit("-", 1)[1]))
    if field == "id":
        return lambda i: i.id
    if field == "status":
        return lambda i: i.status_name.lower()
    if field == "resolution":
        return lambda i: (i.resolution or "").lower()
    if field == "summary":
        return lambda i: i.summary.lower()
    return lambda i: getattr(i, field)


_CATEGORY_NAMES = {
    "new": "new",
    "to do": "new",
    "2": "new",
    "indeterminate": "indeterminate",
    "in progress": "indeterminate",
    "4": "indeterminate",
    "done": "done",
    "complete": "done",
    "3": "done",
}


def _status_category_keys(value: str) -> frozenset[str] | None:
    key = _CATEGORY_NAMES.get(value.strip().lower())
    return frozenset({key}) if key else None
