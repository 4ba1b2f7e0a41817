"""A clock that tests move by hand, read by the fakes and by the engine alike."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

__all__ = ["ManualClock"]


class ManualClock:
    """Time that only moves when you say so: share one between the fakes and the engine.

    The engine (and the OAuth objects) call it for an aware UTC datetime; the fakes take :meth:`epoch`::

        clock = ManualClock()
        sn = FakeServiceNow(clock=clock.epoch)
        engine = IntegrationEngine.from_config(config, clock=clock)
        clock.advance(minutes=31)   # the next status check is due

    Thread-safe.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self().isoformat()})"

    def epoch(self) -> float:
        """The current time in seconds since the epoch (what the fakes' ``clock=`` takes)."""
        return self().timestamp()

    def advance(
        self,
        delta: timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move forward by ``delta`` or by the given amounts; returns the new time."""
        step = (delta or timedelta()) + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise ValueError(f"a clock only moves forward, got {step}")
        with self._lock:
            self._now += step
            return self._now
