"""Credentials that never change during a run: HTTP Basic and a fixed bearer token."""

from __future__ import annotations

import base64

import attrs
import requests
import requests.auth

from .._errors import ConfigError, ValidationProblem

__all__ = ["BasicAuth", "BearerToken", "is_header_safe"]


def is_header_safe(value: str) -> bool:
    """Whether ``value`` can be sent in a header as is: visible ASCII, no spaces or line breaks."""
    return bool(value) and value.isascii() and value.isprintable() and " " not in value


@attrs.frozen
class BasicAuth(requests.auth.AuthBase):
    """HTTP Basic authentication: a ServiceNow user name and password on every request.

    Credentials are encoded as UTF-8 (RFC 7617). A ``401`` is final: retrying a refused password
    cannot succeed and counts towards the account's lockout.

    Attributes:
        username: the user name; must not contain ``:``.
        password: the password; hidden from ``repr``.
    """

    username: str
    password: str = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        problems = []
        if not self.username:
            problems.append(ValidationProblem("username", "must not be empty"))
        elif ":" in self.username:
            problems.append(ValidationProblem("username", "must not contain ':' (RFC 7617)"))
        if problems:
            raise ConfigError("invalid BasicAuth", problems)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        request.headers["Authorization"] = f"Basic {credentials}"
        return request


@attrs.frozen
class BearerToken(requests.auth.AuthBase):
    """A fixed bearer token obtained elsewhere (a script's argument, a secrets manager).

    It is never refreshed; when it expires the server answers ``401`` and that is final. For tokens
    the library should obtain and renew itself, use the ``OAuth2*`` classes.

    Attributes:
        token: the access token; hidden from ``repr``.
    """

    token: str = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if not is_header_safe(self.token):
            raise ConfigError(
                "invalid BearerToken",
                [ValidationProblem("token", "must be non-empty visible ASCII without spaces or line breaks")],
            )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request
