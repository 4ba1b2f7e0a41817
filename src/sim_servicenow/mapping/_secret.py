"""Secret values: masked in every repr, str, log line and error."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from .._errors import ConfigError, ValidationProblem

__all__ = ["Secret"]

_MASK = "********"


@attrs.frozen(repr=False)
class Secret:
    """A password, client secret or refresh token.

    ``repr()`` and ``str()`` never show the value; `reveal` does, for the one place that sends it.
    A secret usually comes from an environment variable (``Secret.from_env("SN_PASSWORD")``, or
    ``password = {env = "SN_PASSWORD"}`` in TOML): the configuration then records the variable's name, and
    writing the configuration back out writes the name, never the value.

    Attributes:
        env: the environment variable the value came from, if any.
    """

    _value: str | None = attrs.field(alias="value")
    env: str | None = None

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> Secret:
        """The secret held by environment variable ``name`` (read now; unset means not available).

        Args:
            name: the variable's name.
            environ: where to read it; ``os.environ`` by default.
        """
        source = os.environ if environ is None else environ
        return cls(value=source.get(name), env=name)

    @property
    def available(self) -> bool:
        """True when there is a value to reveal."""
        return self._value is not None

    def reveal(self) -> str:
        """The secret value itself. Use it only to authenticate; never log it.

        Raises:
            ConfigError: the value is not available (its environment variable was not set).
        """
        if self._value is None:
            where = f"environment variable {self.env} is not set" if self.env else "the value was not supplied"
            raise ConfigError("secret not available", [ValidationProblem("", where)])
        return self._value

    def __repr__(self) -> str:
        if self.env is not None:
            return f"Secret(env={self.env!r}{'' if self.available else ', unset'})"
        return f"Secret({_MASK!r})" if self.available else "Secret(unset)"

    def __str__(self) -> str:
        return _MASK
