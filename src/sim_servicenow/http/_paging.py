"""Lazy offset/limit paging that never silently truncates."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

import attrs

__all__ = ["Page", "iter_offset_pages"]

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: the records of this page.
        total: the number of records matching the query, when the server said (``X-Total-Count``).
    """

    items: Sequence[T]
    total: int | None = None


def iter_offset_pages(
    fetch: Callable[[int, int], Page[T]],
    *,
    page_size: int,
    offset: int = 0,
    short_page_is_last: bool = True,
) -> Iterator[T]:
    """Yield every item of an offset/limit collection, fetching one page at a time on demand.

    ``fetch(offset, limit)`` returns a `Page`. Paging stops once the offset reaches the reported total,
    or, when no total is known, at an empty page. A page shorter than ``page_size`` ends the collection only when
    ``short_page_is_last`` is true and no total says otherwise: ServiceNow may return short pages in the
    middle of a result set (records hidden by ACLs still consume the offset), IdentityNow does not.
    The offset always advances by ``page_size``, matching both servers' arithmetic.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    while True:
        page = fetch(offset, page_size)
        yield from page.items
        offset += page_size
        if page.total is not None:
            # Trust the total: a page emptied by ACLs in the middle of a result set is not its end.
            if offset >= page.total:
                return
        elif not page.items or (short_page_is_last and len(page.items) < page_size):
            return
