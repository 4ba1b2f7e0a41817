"""TokenInfo persistence, ``expires_in`` parsing and the renewal time: properties over many inputs."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.auth import TokenInfo
from sim_servicenow.auth._token import MAX_EXPIRES_IN, parse_expires_in, renewal_time
from sim_servicenow.errors import ConfigError

UTC = timezone.utc
aware_datetimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
token_text = st.text(min_size=1, max_size=80)


@given(
    access_token=token_text,
    expires_at=aware_datetimes,
    refresh_token=st.none() | token_text,
    scope=st.none() | st.text(max_size=40),
    token_type=st.sampled_from(["Bearer", "bearer"]),
)
def test_to_dict_from_dict_round_trip(
    access_token: str, expires_at: datetime, refresh_token: str | None, scope: str | None, token_type: str
) -> None:
    token = TokenInfo(access_token, expires_at, refresh_token, scope, token_type)
    assert TokenInfo.from_dict(token.to_dict()) == token


@given(access_token=token_text, refresh_token=token_text)
def test_repr_hides_both_tokens(access_token: str, refresh_token: str) -> None:
    token = TokenInfo(access_token, datetime(2026, 1, 1, tzinfo=UTC), refresh_token=refresh_token, scope="s")
    shown = repr(token)
    assert shown == "TokenInfo(expires_at=datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), " + (
        "scope='s', token_type='Bearer')"
    )


def test_expires_at_is_utc() -> None:
    naive = TokenInfo("at", datetime(2026, 1, 1, 12, 0))
    assert naive.expires_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    plus_two = TokenInfo("at", datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert plus_two.expires_at.tzinfo is UTC
    assert plus_two.expires_at == naive.expires_at


def test_from_dict_reports_problems_without_echoing_values() -> None:
    with pytest.raises(ConfigError) as caught:
        TokenInfo.from_dict({"access_token": 12345, "expires_at": "next tuesday", "refresh_token": ["rt-secret"]})
    assert [p.path for p in caught.value.problems] == ["access_token", "expires_at", "refresh_token"]
    assert "rt-secret" not in str(caught.value)


@given(st.floats(min_value=1e-3, max_value=1e300) | st.integers(min_value=1, max_value=10**30))
def test_positive_numbers_are_taken_as_given_up_to_a_year(seconds: float) -> None:
    expected = min(float(seconds), MAX_EXPIRES_IN)
    assert parse_expires_in(seconds) == expected
    assert parse_expires_in(f" {seconds} ") == expected
    assert datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=expected) > datetime(2026, 1, 1, tzinfo=UTC)


@given(
    st.none()
    | st.booleans()
    | st.integers(max_value=0)
    | st.floats(max_value=0)
    | st.just(math.inf)
    | st.just(math.nan)
    | st.text().filter(lambda s: not _is_positive_number(s))
    | st.lists(st.integers())
)
def test_unusable_expires_in_is_none(value: object) -> None:
    assert parse_expires_in(value) is None


def _is_positive_number(text: str) -> bool:
    try:
        number = float(text.strip())
    except ValueError:
        return False
    return math.isfinite(number) and number > 0


@given(
    obtained=aware_datetimes,
    lifetime=st.floats(min_value=0.001, max_value=10**7),
    margin=st.floats(min_value=0, max_value=10**6),
)
def test_renewal_is_within_the_lifetime_and_never_before_half_of_it(
    obtained: datetime, lifetime: float, margin: float
) -> None:
    expires_at = obtained + timedelta(seconds=lifetime)
    renew_at = renewal_time(obtained, expires_at, margin)
    real_lifetime = (expires_at - obtained).total_seconds()  # timedelta rounds to microseconds
    assert obtained < renew_at <= expires_at
    assert (renew_at - obtained).total_seconds() >= real_lifetime / 2 - 1e-6
    if margin <= real_lifetime / 2:
        assert abs((expires_at - renew_at).total_seconds() - margin) < 1e-5


@given(obtained=aware_datetimes, overdue=st.floats(min_value=0, max_value=10**6))
def test_expired_token_is_renewed_at_once(obtained: datetime, overdue: float) -> None:
    assert renewal_time(obtained, obtained - timedelta(seconds=overdue), 60) == obtained
