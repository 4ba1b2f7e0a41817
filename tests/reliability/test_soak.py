"""The fault soak: plans through the full loop while both fakes misbehave at once (see ``_soak.py``).

The promise checked at the end: every plan terminal, exactly one ticket per plan (counted in the fake), each plan's
outcome the one its ticket closed with, every work item completed or forwarded exactly once, IdentityNow's rate
limit respected. A reduced run is part of the default suite; ``nox -s soak`` (``pytest -m slow -s``) runs 2,000
plans and prints the figures that ``docs/reliability.md`` reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._soak import FAULT_MIX, IDN_RATE_LIMIT, TOKEN_LIFETIME, SoakFigures, drive, soak_world

CONCURRENCY = 8


def _soak(plans: int, tmp_path: Path, budget: float) -> SoakFigures:
    with soak_world(plans, tmp_path / "soak.db", concurrency=CONCURRENCY) as world:
        figures = drive(world, budget=budget)
    print("\n" + "\n".join(figures.lines()))
    return figures


def _check(figures: SoakFigures) -> None:
    plans = figures.plans
    # Nothing lost, nothing duplicated, nothing told twice.
    assert figures.terminal == plans, figures.lines()
    assert figures.duplicate_keys == []
    assert figures.plans_without_ticket == []
    assert figures.tickets == plans
    assert figures.wrong_outcomes == []
    assert figures.told_not_once == []
    assert figures.completions + figures.forwards == plans
    assert sum(figures.outcomes.values()) == plans
    # The faults really happened, on both fakes, every kind of them.
    assert sum(figures.faults_servicenow.values()) > 0
    assert sum(figures.faults_identitynow.values()) > 0
    injected = figures.faults_servicenow + figures.faults_identitynow
    assert {kind.value for kind, _, _ in FAULT_MIX} <= set(injected)
    assert figures.http["retries"] > 0
    assert figures.http["transport_errors"] > 0
    # A create whose answer was lost was found again by its correlation key, not raised twice.
    assert figures.engine["found"] > 0
    # Tokens living a few seconds were renewed along the way.
    renewals = figures.seconds / TOKEN_LIFETIME / 2
    assert min(figures.token_requests.values()) >= min(2, renewals)
    # IdentityNow's window: each worker thread (and the cycle's own thread) is refused at most once per window,
    # because it waits out Retry-After before trying again.
    allowed, period = IDN_RATE_LIMIT
    windows = figures.seconds / period + 1
    assert figures.rate_limited <= (CONCURRENCY + 1) * windows, (figures.rate_limited, windows)
    assert allowed > 0


@pytest.mark.timeout(240)
def test_reduced_soak_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    _check(_soak(120, tmp_path, budget=180))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_soak_2000_plans_under_faults(tmp_path: Path) -> None:
    _check(_soak(2000, tmp_path, budget=3000))
