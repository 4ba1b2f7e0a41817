"""ManualClock: one hand-moved time for the fakes (epoch seconds) and the engine (aware datetimes)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sim_servicenow.testing import FakeServiceNow, ManualClock

START = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)


def test_moves_only_when_told_and_both_views_agree() -> None:
    clock = ManualClock(START)
    assert clock() == START
    assert clock.epoch() == START.timestamp()
    assert clock.advance(minutes=30, seconds=15) == START + timedelta(minutes=30, seconds=15)
    assert clock.advance(timedelta(days=1)) == START + timedelta(days=1, minutes=30, seconds=15)
    assert clock.epoch() == clock().timestamp()


def test_refuses_naive_starts_and_going_back() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 5, 4, 12, 0))
    with pytest.raises(ValueError, match="only moves forward"):
        ManualClock(START).advance(seconds=-1)


def test_a_fake_stamps_records_with_it() -> None:
    clock = ManualClock(START)
    fake = FakeServiceNow(clock=clock.epoch)
    first = fake.insert("incident", short_description="x")
    clock.advance(hours=2)
    second = fake.insert("incident", short_description="y")
    assert first["sys_created_on"] == "2026-05-04 12:00:00"
    assert second["sys_created_on"] == "2026-05-04 14:00:00"
