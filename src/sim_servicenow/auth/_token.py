"""Access tokens as the auth layer keeps them, reports them to ``on_token`` and accepts them back."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from dateutil.parser import isoparse

from .._errors import ConfigError, ValidationProblem

__all__ = ["MAX_EXPIRES_IN", "TokenInfo", "parse_expires_in", "renewal_time"]


def _as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@attrs.frozen
class TokenInfo:
    """An OAuth 2.0 access token, as a token endpoint issued it or as the caller saved it.

    Passed to ``on_token`` after every token request, and accepted back as ``token=`` so that a saved
    token is used until it expires. The tokens themselves never appear in ``repr``.

    Attributes:
        access_token: the bearer token sent in the ``Authorization`` header.
        expires_at: when the access token stops being valid (timezone-aware UTC; a naive value is taken as UTC).
        refresh_token: the refresh token issued with it, if any.
        scope: the scope the server granted, if it said.
        token_type: the type the server named (ServiceNow sends ``Bearer``, IdentityNow ``bearer``);
            requests always carry ``Authorization: Bearer ...``.
    """

    access_token: str = attrs.field(repr=False)
    expires_at: datetime = attrs.field(converter=_as_utc)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    scope: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready mapping (``expires_at`` as ISO 8601) for the caller to store; see `from_dict`."""
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at.isoformat(),
            "refresh_token": self.refresh_token,
            "scope": self.scope,
            "token_type": self.token_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenInfo:
        """Rebuild a token saved with `to_dict`.

        Raises:
            ConfigError: a field is missing or has the wrong type; values are never echoed.
        """
        problems: list[ValidationProblem] = []
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            problems.append(ValidationProblem("access_token", "expected a non-empty string"))
        raw_expires_at = data.get("expires_at")
        expires_at: datetime | None = None
        if isinstance(raw_expires_at, datetime):
            expires_at = raw_expires_at
        elif isinstance(raw_expires_at, str):
            try:
                expires_at = isoparse(raw_expires_at)
            except ValueError:
                problems.append(ValidationProblem("expires_at", "expected an ISO 8601 datetime"))
        else:
            problems.append(ValidationProblem("expires_at", "expected an ISO 8601 datetime"))
        optional: dict[str, str | None] = {}
        for key in ("refresh_token", "scope", "token_type"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                problems.append(ValidationProblem(key, "expected a string or null"))
            else:
                optional[key] = value
        if problems:
            raise ConfigError("invalid saved token", problems)
        assert isinstance(access_token, str)
        assert expires_at is not None
        return cls(
            access_token=access_token,
            expires_at=expires_at,
            refresh_token=optional["refresh_token"],
            scope=optional["scope"],
            token_type=optional["token_type"] or "Bearer",
        )


#: The longest lifetime believed from ``expires_in``: a longer one is a server's mistake, not a promise.
MAX_EXPIRES_IN = 365 * 24 * 3600.0


def parse_expires_in(value: object) -> float | None:
    """Seconds from a token response's ``expires_in``; ``None`` when it is absent or unusable.

    Accepts numbers and numeric strings (some servers quote it); caps it at `MAX_EXPIRES_IN`. Zero,
    negative, non-finite and non-numeric values are unusable: the caller then assumes its default
    lifetime rather than "forever".
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(seconds, MAX_EXPIRES_IN)


def renewal_time(obtained_at: datetime, expires_at: datetime, margin: float) -> datetime:
    """When a token obtained at ``obtained_at`` should be renewed: ``margin`` seconds before it expires.

    The margin never exceeds half the token's lifetime, so a 5-second token is used for 2.5 seconds
    instead of being renewed before every request. A token already expired is renewed at once.
    """
    lifetime = (expires_at - obtained_at).total_seconds()
    if lifetime <= 0:
        return obtained_at
    return expires_at - timedelta(seconds=min(max(margin, 0.0), lifetime / 2))
