"""Errors the ServiceNow client raises before anything is sent (input it refuses to put on the wire)."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import SimServiceNowError, ValidationProblem

__all__ = ["CatalogVariablesError", "InvalidInputError", "QueryError"]


class InvalidInputError(SimServiceNowError, ValueError):
    """A value the client refuses to send: ServiceNow's wire format cannot carry it safely or correctly.

    Also a `ValueError`, so ``except ValueError`` in caller code keeps working.
    """


class QueryError(InvalidInputError):
    """An encoded query cannot be built safely (a value that would inject conditions, a bad field name, ...)."""


class CatalogVariablesError(InvalidInputError):
    """Catalog variables fail the client-side check against the item; `problems` lists each one.

    Attributes:
        problems: one `ValidationProblem` per variable, its path
            ``variables.<name>``.
    """

    def __init__(self, summary: str, problems: Sequence[ValidationProblem]) -> None:
        self.problems: tuple[ValidationProblem, ...] = tuple(problems)
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{summary}: {listed}" if listed else summary)
