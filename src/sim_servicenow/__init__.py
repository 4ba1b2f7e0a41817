"""sim-servicenow: identity-provisioning actions become ServiceNow tickets, and the loop is closed.

The public surface is re-exported here. Names are imported lazily on first use so that
``import sim_servicenow`` stays cheap for command-line tools and scripts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
    DecodeError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SimServiceNowError,
    StatusMappingError,
    TemplateError,
    TransportError,
    ValidationProblem,
)

if TYPE_CHECKING:
    from .auth import (
        BasicAuth,
        BearerToken,
        OAuth2ClientCredentials,
        OAuth2PasswordGrant,
        OAuth2RefreshToken,
    )
    from .engine import CycleReport, IntegrationEngine
    from .http import RetryPolicy, Timeout
    from .identitynow import IdentityNowClient
    from .mapping import (
        AccountRequest,
        AttributeRequest,
        IntegrationConfig,
        ProvisioningPlan,
        ProvisioningStatus,
        RequestTemplate,
        StatusMap,
    )
    from .servicenow import ServiceNowClient

_LAZY: dict[str, str] = {
    "BasicAuth": "auth",
    "BearerToken": "auth",
    "OAuth2ClientCredentials": "auth",
    "OAuth2PasswordGrant": "auth",
    "OAuth2RefreshToken": "auth",
    "CycleReport": "engine",
    "IntegrationEngine": "engine",
    "RetryPolicy": "http",
    "Timeout": "http",
    "IdentityNowClient": "identitynow",
    "AccountRequest": "mapping",
    "AttributeRequest": "mapping",
    "IntegrationConfig": "mapping",
    "ProvisioningPlan": "mapping",
    "ProvisioningStatus": "mapping",
    "RequestTemplate": "mapping",
    "StatusMap": "mapping",
    "ServiceNowClient": "servicenow",
}

__all__ = [
    "AccountRequest",
    "ApiError",
    "AttributeRequest",
    "AuthenticationError",
    "BadRequestError",
    "BasicAuth",
    "BearerToken",
    "ConfigError",
    "ConflictError",
    "CycleReport",
    "DecodeError",
    "ForbiddenError",
    "IdentityNowClient",
    "IntegrationConfig",
    "IntegrationEngine",
    "NotFoundError",
    "OAuth2ClientCredentials",
    "OAuth2PasswordGrant",
    "OAuth2RefreshToken",
    "ProvisioningPlan",
    "ProvisioningStatus",
    "RateLimitError",
    "RequestTemplate",
    "RetryPolicy",
    "ServerError",
    "ServiceNowClient",
    "SimServiceNowError",
    "StatusMap",
    "StatusMappingError",
    "TemplateError",
    "Timeout",
    "TransportError",
    "ValidationProblem",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("sim-servicenow")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim_servicenow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
