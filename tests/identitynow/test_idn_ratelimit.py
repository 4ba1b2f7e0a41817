"""The client-side rate limiter: never more than N starts in any window, in order, across threads."""

from __future__ import annotations

import threading
from bisect import bisect_left

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.errors import ConfigError
from sim_servicenow.identitynow import RateLimiter, WindowRateLimiter


class Timeline:
    """A clock the test moves, and the start time each ``acquire`` was granted (now + the wait it asked for)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.starts[-1] += seconds

    def acquire(self, limiter: WindowRateLimiter) -> None:
        with self._lock:
            self.starts.append(self.now)
        limiter.acquire()


def _max_in_any_window(starts: list[float], period: float) -> int:
    ordered = sorted(starts)
    # The window [s, s + period) starting at each start holds the most starts a window can. A start granted
    # as "now + wait" may land a rounding error (1e-12 s) before s + period; that is the same instant.
    return max((bisect_left(ordered, s + period - 1e-9) - i for i, s in enumerate(ordered)), default=0)


@given(
    max_requests=st.integers(1, 8),
    period=st.floats(0.5, 20.0),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=60),
)
def test_no_window_holds_more_than_the_budget(max_requests: int, period: float, gaps: list[float]) -> None:
    timeline = Timeline()
    limiter = WindowRateLimiter(max_requests, period, clock=timeline.clock, sleep=timeline.sleep)
    arrivals = []
    for gap in gaps:
        timeline.now = max(timeline.now + gap, timeline.starts[-1] if timeline.starts else 0.0)
        arrivals.append(timeline.now)
        timeline.acquire(limiter)
    starts = timeline.starts
    assert _max_in_any_window(starts, period) <= max_requests
    assert all(start >= arrival for start, arrival in zip(starts, arrivals, strict=True))
    # No wait is longer than needed: a request waits only for the request max_requests before it.
    for n, (start, arrival) in enumerate(zip(starts, arrivals, strict=True)):
        earliest = arrival if n < max_requests else max(arrival, starts[n - max_requests] + period)
        assert start == pytest.approx(earliest)


def test_a_burst_within_budget_does_not_wait() -> None:
    timeline = Timeline()
    limiter = WindowRateLimiter(100, 10.0, clock=timeline.clock, sleep=timeline.sleep)
    for _ in range(100):
        timeline.acquire(limiter)
    assert timeline.starts == [0.0] * 100
    timeline.acquire(limiter)
    assert timeline.starts[-1] == 10.0


def test_threads_are_granted_distinct_slots() -> None:
    # The clock stands still, so every grant is a reservation: 200 requests at 10 per second
    # must take exactly the slots 0, 1, ..., 19 seconds, ten each, whatever the interleaving.
    timeline = Timeline()
    granted: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            granted.append(seconds)

    limiter = WindowRateLimiter(10, 1.0, clock=timeline.clock, sleep=sleep)

    def worker() -> None:
        for _ in range(25):
            limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(granted) == [float(n // 10) for n in range(10, 200)]


@pytest.mark.parametrize(("max_requests", "period", "problem"), [(0, 10.0, "max_requests"), (5, 0.0, "period")])
def test_invalid_budgets_are_refused(max_requests: int, period: float, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        WindowRateLimiter(max_requests, period)
    assert [p.path for p in raised.value.problems] == [problem]


def test_the_default_is_identitynows_documented_budget() -> None:
    limiter = WindowRateLimiter()
    assert (limiter.max_requests, limiter.period) == (100, 10.0)
    assert isinstance(limiter, RateLimiter)
