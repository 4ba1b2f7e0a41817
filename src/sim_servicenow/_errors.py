"""The one exception tree of sim-servicenow.

Every error the library raises derives from :class:`SimServiceNowError`. Errors with no HTTP
response (connect, timeout, reset) are :class:`TransportError`; errors with one are :class:`ApiError`
and its status subclasses. Messages are one line, say what went wrong and where, and never carry a
secret: URLs are logged without query strings that could hold credentials, and bodies are truncated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "DecodeError",
    "ForbiddenError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "SimServiceNowError",
    "StatusMappingError",
    "TemplateError",
    "TransportError",
    "ValidationProblem",
]


class SimServiceNowError(Exception):
    """Root of every error sim-servicenow raises."""


class TransportError(SimServiceNowError):
    """No response was received: the connection failed, timed out or was reset."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class DecodeError(SimServiceNowError):
    """A response arrived but its body is not what the API promises (not JSON, wrong shape).

    A hibernating ServiceNow developer instance, for example, answers ``200`` with an HTML page.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        content_type: str | None = None,
        body_start: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url
        self.content_type = content_type
        self.body_start = body_start


class ApiError(SimServiceNowError):
    """The server answered with an error status.

    Attributes:
        status: the HTTP status code.
        method: the request method.
        url: the request URL (query string dropped).
        message: the server's one-line message, from either vendor's error envelope.
        detail: the server's longer detail, if any.
        tracking_id: IdentityNow's ``trackingId`` or a ServiceNow transaction id, for support cases.
        retry_after: seconds the server asked us to wait (``Retry-After``), if it said.
        body: the decoded error body (a mapping) or the first bytes of the text body.
    """

    def __init__(
        self,
        *,
        status: int,
        method: str,
        url: str,
        message: str = "",
        detail: str | None = None,
        tracking_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.message = message
        self.detail = detail
        self.tracking_id = tracking_id
        self.retry_after = retry_after
        self.body = body
        text = f"{method} {url} -> {status}"
        if message:
            text += f": {message}"
        if detail:
            text += f" ({detail})"
        if tracking_id:
            text += f" [tracking id {tracking_id}]"
        # The server's words, kept as sent in the attributes, must not break the message (or a log) into lines.
        super().__init__(_one_line(text))

    @staticmethod
    def class_for_status(status: int) -> type[ApiError]:
        """The most specific subclass for an HTTP status code."""
        if status >= 500:
            return ServerError
        return _BY_STATUS.get(status, ApiError)


class BadRequestError(ApiError):
    """400: the request was malformed (bad parameters, unknown table, invalid body)."""


class AuthenticationError(ApiError):
    """401: the credentials were refused, even after one token refresh."""


class ForbiddenError(ApiError):
    """403: authenticated, but not allowed (ACL, scope, user level, unsupported PATCH op)."""


class NotFoundError(ApiError):
    """404: the record does not exist, or an ACL hides it."""


class ConflictError(ApiError):
    """409: the request conflicts with the current state of the resource."""


class RateLimitError(ApiError):
    """429: too many requests; :attr:`retry_after` holds the server's advice when it gave one."""


class ServerError(ApiError):
    """5xx: the server failed; usually worth retrying for idempotent calls."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def _one_line(text: str) -> str:
    """``text`` with control characters (line breaks among them) escaped."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ValidationProblem:
    """One problem found while validating input: where (a dotted path) and what."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __str__(self) -> str:
        # Paths hold the input's own keys: a key with a line break must not break the message into lines.
        path, message = _one_line(self.path), _one_line(self.message)
        return f"{path}: {message}" if path else message

    def __repr__(self) -> str:
        return f"ValidationProblem(path={self.path!r}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValidationProblem):
            return NotImplemented
        return (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))


class _ProblemsError(SimServiceNowError):
    """An error that reports every problem found at once, each with its path."""

    def __init__(self, summary: str, problems: Sequence[ValidationProblem] = ()) -> None:
        self.problems: tuple[ValidationProblem, ...] = tuple(problems)
        if self.problems:
            listed = "; ".join(str(p) for p in self.problems)
            summary = f"{summary}: {listed}" if summary else listed
        super().__init__(summary)

    @classmethod
    def from_mapping(cls, summary: str, problems: Mapping[str, str]) -> _ProblemsError:
        return cls(summary, [ValidationProblem(path, msg) for path, msg in problems.items()])


class ConfigError(_ProblemsError):
    """The configuration is invalid; :attr:`problems` lists each problem with its path."""


class TemplateError(SimServiceNowError):
    """A request template failed to parse or render; the message names the field and position."""

    def __init__(
        self, message: str, *, field: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        self.field = field
        self.line = line
        self.column = column
        where = []
        if field is not None:
            where.append(f"field {field!r}")
        if line is not None:
            where.append(f"line {line}" + (f", column {column}" if column is not None else ""))
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class StatusMappingError(_ProblemsError):
    """A status map is invalid (no Committed value, an unknown target status, ...)."""
