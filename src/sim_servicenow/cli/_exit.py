"""Exit codes of the ``sim-servicenow`` command, and which error ends with which."""

from __future__ import annotations

import enum

from .._errors import (
    AuthenticationError,
    ConfigError,
    ForbiddenError,
    RateLimitError,
    ServerError,
    StatusMappingError,
    TemplateError,
    TransportError,
)

__all__ = ["ExitCode", "exit_code_for"]


class ExitCode(enum.IntEnum):
    """What the command's exit status means; scripts and service managers can rely on these.

    ``OK`` (0): done. ``FAILED`` (1): the command ran but its job failed (a check failed, a demo plan did not
    end as expected, a service refused a request). ``USAGE`` (2): the command line, the configuration or an
    input file is wrong; nothing was attempted. ``UNREACHABLE`` (3): a service could not be reached or refused
    the credentials (no connection, TLS failure, timeout, 401/403, 429 or 5xx after retries); worth retrying
    later. ``INTERRUPTED`` (130): stopped by Ctrl-C (or a second SIGTERM) before finishing.
    """

    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    INTERRUPTED = 130


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code a command ends with when ``error`` stops it."""
    from ..engine import StoreFormatError, StoreVersionError  # only when something failed: keeps start-up light

    # A state file that is not ours (or from a newer version) is a configuration error: restarting cannot help.
    if isinstance(error, (ConfigError, StatusMappingError, TemplateError, StoreFormatError, StoreVersionError)):
        return ExitCode.USAGE
    if isinstance(error, (TransportError, AuthenticationError, ForbiddenError, RateLimitError, ServerError)):
        return ExitCode.UNREACHABLE
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED
