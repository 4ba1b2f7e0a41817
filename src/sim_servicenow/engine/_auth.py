"""Auth objects from the connection settings of an `IntegrationConfig`."""

from __future__ import annotations

import requests

from .._errors import ConfigError, ValidationProblem
from ..auth import BasicAuth, BearerToken, OAuth2ClientCredentials, OAuth2PasswordGrant, OAuth2RefreshToken
from ..mapping import (
    IdentityNowSettings,
    JiraAuthType,
    JiraDeployment,
    JiraSettings,
    Secret,
    ServiceNowAuthType,
    ServiceNowSettings,
)

__all__ = ["identitynow_auth", "jira_auth", "servicenow_auth"]


def _reveal(secret: Secret | None, path: str) -> str:
    if secret is None:
        raise ConfigError("missing secret", [ValidationProblem(path, "required")])
    return secret.reveal()


def servicenow_auth(
    settings: ServiceNowSettings,
    *,
    session: requests.Session | None = None,
    verify: bool | str = True,
    cert: str | tuple[str, str] | None = None,
) -> requests.auth.AuthBase:
    """The auth object ServiceNow's settings describe (Basic or one of the OAuth 2.0 grants)."""
    if settings.auth is ServiceNowAuthType.BASIC:
        return BasicAuth(settings.username or "", _reveal(settings.password, "servicenow.password"))
    client_id = settings.client_id or ""
    secret = _reveal(settings.client_secret, "servicenow.client_secret")
    url = settings.effective_token_url
    if settings.auth is ServiceNowAuthType.OAUTH2_PASSWORD:
        password = _reveal(settings.password, "servicenow.password")
        return OAuth2PasswordGrant(
            url, client_id, secret, settings.username or "", password, session=session, verify=verify, cert=cert
        )
    if settings.auth is ServiceNowAuthType.OAUTH2_REFRESH_TOKEN:
        refresh = _reveal(settings.refresh_token, "servicenow.refresh_token")
        return OAuth2RefreshToken(url, client_id, secret, refresh, session=session, verify=verify, cert=cert)
    return OAuth2ClientCredentials(url, client_id, secret, session=session, verify=verify, cert=cert)


def identitynow_auth(
    settings: IdentityNowSettings,
    *,
    session: requests.Session | None = None,
    verify: bool | str = True,
    cert: str | tuple[str, str] | None = None,
) -> requests.auth.AuthBase:
    """Client credentials (a personal access token) against IdentityNow's token endpoint."""
    secret = _reveal(settings.client_secret, "identitynow.client_secret")
    return OAuth2ClientCredentials(
        settings.effective_token_url, settings.client_id or "", secret, session=session, verify=verify, cert=cert
    )


def jira_auth(settings: JiraSettings) -> requests.auth.AuthBase:
    """The auth object Jira's settings describe.

    Basic: the e-mail address and API token on Cloud, the user name and password on Data Center. Bearer: a Data
    Center personal access token.

    Raises:
        ConfigError: the secret the authentication type needs is missing or its environment variable is unset.
    """
    if settings.auth is JiraAuthType.BEARER:
        return BearerToken(_reveal(settings.personal_access_token, "jira.personal_access_token"))
    if settings.deployment is JiraDeployment.CLOUD:
        return BasicAuth(settings.username or "", _reveal(settings.api_token, "jira.api_token"))
    return BasicAuth(settings.username or "", _reveal(settings.password, "jira.password"))
