"""An optional client-side rate limiter, so bulk scripts stay under IdentityNow's request budget.

IdentityNow's gateway allows about 100 requests per client id per 10 seconds and answers ``429`` with
``Retry-After`` past that; the HTTP core always honours ``Retry-After``. A limiter avoids the 429s in the
first place. It is off by default: the budget is per client id, shared by every process using it, so a
per-process limiter cannot enforce it anyway, and the server's ``Retry-After`` is the authority.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs
import requests
import requests.auth

from .._errors import ConfigError, ValidationProblem

__all__ = ["RateLimiter", "WindowRateLimiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when the next request may start."""

    def acquire(self) -> None:
        """Block until one more request may be sent, and count it."""


@attrs.define
class WindowRateLimiter:
    """At most `max_requests` request starts in any `period`-second window. Thread-safe.

    Each caller reserves the earliest start that keeps the window within budget and then sleeps until
    then, outside the lock, so waiting threads start in order. Unlike a token bucket of the same size,
    which can let through twice its capacity in one window (a full bucket plus a window's refill), this
    matches a server that counts requests per window.

    ``WindowRateLimiter()`` is IdentityNow's documented budget: 100 requests per 10 seconds.

    Attributes:
        max_requests: requests allowed per window.
        period: the window, in seconds.
        clock: a monotonic clock (injectable for tests).
        sleep: how to wait (injectable for tests).
    """

    max_requests: int = 100
    period: float = 10.0
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    _starts: deque[float] = attrs.field(init=False, factory=deque, repr=False)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.max_requests < 1:
            problems.append(ValidationProblem("max_requests", f"must be at least 1, got {self.max_requests}"))
        if not self.period > 0:
            problems.append(ValidationProblem("period", f"must be positive, got {self.period}"))
        if problems:
            raise ConfigError("invalid WindowRateLimiter", problems)

    def acquire(self) -> None:
        """Block until one more request may be sent, and count it."""
        with self._lock:
            now = self.clock()
            start = now
            if len(self._starts) >= self.max_requests:
                start = max(now, self._starts[0] + self.period)
            self._starts.append(start)
            while len(self._starts) > self.max_requests:
                self._starts.popleft()
        if start > now:
            self.sleep(start - now)


class ThrottledAuth(requests.auth.AuthBase):
    """Applies a rate limiter to every attempt, then the real authentication.

    requests calls the auth object once per attempt the HTTP core makes, retries included, which is
    exactly what the server counts; the limiter therefore sits here rather than around a logical call.
    """

    def __init__(self, limiter: RateLimiter, inner: requests.auth.AuthBase | None) -> None:
        self.limiter = limiter
        self.inner = inner

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.limiter.acquire()
        return self.inner(request) if self.inner is not None else request

    def __repr__(self) -> str:
        return f"ThrottledAuth({type(self.inner).__name__})"
