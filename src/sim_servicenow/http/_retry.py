"""Retry policy: which failures are retried, and how long to wait between attempts."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

import attrs

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "parse_retry_after"]

#: Methods that may be repeated without changing the result (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _no_sleep(_seconds: float) -> None:
    return None


@attrs.frozen
class RetryPolicy:
    """When and how requests are retried.

    Retried: responses whose status is in `statuses` and failures with no response at all
    (connect errors, timeouts, resets), but only for idempotent methods or calls marked idempotent.
    A ``429`` is retried for any method: both vendors refuse a rate-limited request before acting on it.

    The wait before attempt *n + 1* is the server's ``Retry-After`` when it sent one (capped at
    `max_retry_after`), otherwise a full-jitter exponential backoff
    ``uniform(0, min(max_backoff, initial_backoff * multiplier ** (n - 1)))``.
    No attempt starts after `deadline` seconds from the first.

    ``RetryPolicy(sleep=lambda s: None)`` (or `without_sleeping`) keeps the schedule but removes
    the waiting, for tests.
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    multiplier: float = 2.0
    max_retry_after: float = 120.0
    deadline: float | None = 300.0
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False, eq=False)
    rng: random.Random = attrs.field(factory=random.Random, repr=False, eq=False)

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def without_sleeping(self) -> RetryPolicy:
        """The same policy, with the waits computed but not slept (for tests)."""
        return attrs.evolve(self, sleep=_no_sleep)

    def may_retry(self, method: str, *, idempotent: bool | None, status: int | None) -> bool:
        """Whether a failed attempt of ``method`` with ``status`` (``None``: no response) may be repeated."""
        if status is not None and status not in self.statuses:
            return False
        if status == 429:
            return True
        return idempotent if idempotent is not None else method.upper() in IDEMPOTENT_METHODS

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header given as delay-seconds or an HTTP-date; ``None`` if absent or bad."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())
