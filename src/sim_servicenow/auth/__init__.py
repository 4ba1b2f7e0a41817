"""Authentication for both APIs: `requests` auth objects to pass to the clients or a session.

- `BasicAuth`: ServiceNow user and password.
- `OAuth2ClientCredentials`: IdentityNow personal access tokens (and ServiceNow where enabled).
- `OAuth2PasswordGrant`: ServiceNow's password grant, renewed with its refresh token.
- `OAuth2RefreshToken`: ServiceNow's refresh-token grant, as SailPoint's integration offers it.
- `BearerToken`: a fixed token obtained elsewhere.

OAuth tokens are cached, renewed before they expire (one token request however many threads need it),
and renewed once when a request is answered ``401``. Secrets never appear in a ``repr``, a log line or
an exception message; `TokenInfo` reaches the optional ``on_token`` callback for persistence.
"""

from ._oauth import (
    ClientAuthMethod,
    OAuth2ClientCredentials,
    OAuth2Options,
    OAuth2PasswordGrant,
    OAuth2RefreshToken,
)
from ._static import BasicAuth, BearerToken
from ._token import TokenInfo

__all__ = [
    "BasicAuth",
    "BearerToken",
    "ClientAuthMethod",
    "OAuth2ClientCredentials",
    "OAuth2Options",
    "OAuth2PasswordGrant",
    "OAuth2RefreshToken",
    "TokenInfo",
]
