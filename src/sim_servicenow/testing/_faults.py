"""Fault injection and request logging shared by every fake.

A fake consults `Faults.pick` for each request it receives and acts out the chosen
`Fault` in its own vendor's dialect (error envelope, headers). Standard library only.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["Fault", "FaultKind", "Faults", "LoggedRequest", "RequestLog"]


class FaultKind(str, enum.Enum):
    """What a fault does to a request."""

    #: Answer with an error status (``status``, default 503) in the vendor's error envelope, without acting.
    ERROR = "error"
    #: Answer 429 with ``Retry-After`` (``retry_after`` seconds) and the vendor's rate-limit headers.
    RATE_LIMIT = "rate_limit"
    #: Answer 429 with no ``Retry-After`` and no rate-limit headers (ServiceNow semaphore exhaustion).
    SEMAPHORE = "semaphore"
    #: Drop the connection without answering; ``after=True`` drops it after the request took effect.
    DROP = "drop"
    #: Sleep ``delay`` seconds, then answer normally (past a client's read timeout, a timeout).
    LATENCY = "latency"
    #: Answer 200 with an HTML page (a hibernating ServiceNow developer instance).
    HTML = "html"
    #: Answer 401 as if the bearer token had expired (tokens expiring mid-paging).
    EXPIRE_TOKEN = "expire_token"


@dataclass
class Fault:
    """One fault rule. It matches requests by method and path prefix, with a probability, a number of times.

    Attributes:
        kind: what to do.
        probability: chance in [0, 1] that a matching request is hit.
        times: how many requests to hit at most (``None``: unlimited).
        method: only requests with this method (``None``: any).
        path: only requests whose path starts with this (``None``: any).
        status: the status for ``ERROR`` faults.
        retry_after: seconds for ``RATE_LIMIT`` faults.
        delay: seconds for ``LATENCY`` faults.
        after: for ``DROP``: act on the request first, then drop the connection.
        hits: how many requests this rule has hit so far.
    """

    kind: FaultKind
    probability: float = 1.0
    times: int | None = None
    method: str | None = None
    path: str | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float = 0.0
    after: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or path.startswith(self.path)


class Faults:
    """The fault rules of one fake. Thread-safe; deterministic for a given ``seed``.

    >>> fake.faults.add(FaultKind.ERROR, status=503, probability=0.1)        # doctest: +SKIP
    >>> fake.faults.add("rate_limit", retry_after=2, times=3, path="/api/now/table")  # doctest: +SKIP
    """

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._rng = random.Random(seed)
        #: How many requests each kind of fault hit.
        self.counts: Counter[str] = Counter()

    def add(
        self,
        kind: FaultKind | str,
        *,
        probability: float = 1.0,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int = 503,
        retry_after: float = 1.0,
        delay: float = 0.0,
        after: bool = False,
    ) -> Fault:
        """Add a rule; rules are tried in the order they were added, the first hit wins."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {probability}")
        rule = Fault(
            FaultKind(kind),
            probability=probability,
            times=times,
            method=method,
            path=path,
            status=status,
            retry_after=retry_after,
            delay=delay,
            after=after,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule and reset the counts."""
        with self._lock:
            self._rules.clear()
            self.counts.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault to act out for this request, if any (and count it)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and self._rng.random() < rule.probability:
                    rule.hits += 1
                    self.counts[rule.kind.value] += 1
                    return rule
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)


@dataclass(frozen=True)
class LoggedRequest:
    """One request a fake received, and how it answered (``status`` 0: the connection was dropped).

    Attributes:
        method: the HTTP method.
        path: the path, without the query string.
        query: the decoded query parameters (each name to its list of values).
        headers: the request headers (``Authorization`` masked).
        body: the raw request body.
        status: the status the fake answered (0 when it dropped the connection).
        at: when it arrived (``time.time()``).
        fault: the kind of fault acted out, if any.
    """

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    status: int
    at: float = field(default_factory=time.time)
    fault: str | None = None


class RequestLog:
    """Every request a fake received, in order; thread-safe. Iterate it, filter it, or clear it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def filter(
        self,
        method: str | None = None,
        path: str | None = None,
        predicate: Callable[[LoggedRequest], bool] | None = None,
    ) -> list[LoggedRequest]:
        """Requests matching a method, a path prefix and a predicate (each optional)."""
        return [
            e
            for e in self
            if (method is None or e.method.upper() == method.upper())
            and (path is None or e.path.startswith(path))
            and (predicate is None or predicate(e))
        ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests match a method and a path prefix."""
        return len(self.filter(method, path))
