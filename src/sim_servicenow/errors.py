"""Every exception sim-servicenow raises; all derive from `SimServiceNowError`."""

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

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "DecodeError",
    "ForbiddenError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "SimServiceNowError",
    "StatusMappingError",
    "TemplateError",
    "TransportError",
    "ValidationProblem",
]
