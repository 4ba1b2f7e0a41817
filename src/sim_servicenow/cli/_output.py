"""Terminal output: rich tables and colours on a terminal when rich is installed, plain text otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["emit_json", "plain_table", "print_table", "rich_console", "shorten"]


def rich_console(stream: IO[str] | None = None) -> Console | None:
    """A rich console writing to ``stream`` when it is a terminal and rich (the ``cli`` extra) is installed."""
    stream = stream or sys.stdout
    if not stream.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream, highlight=False)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of aligned columns under a header and a rule, for logs, pipes and terminals without rich."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)])


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    wrap: Sequence[int] = (),
    stream: IO[str] | None = None,
) -> None:
    """Print a table: with rich on a terminal, as `plain_table` otherwise.

    On a narrow terminal only the columns at the indices in ``wrap`` wrap; the others are cut with an ellipsis.
    """
    stream = stream or sys.stdout
    console = rich_console(stream)
    if console is None:
        if title:
            print(title, file=stream)
        print(plain_table(headers, rows), file=stream)
        return
    from rich.table import Table

    table = Table(title=title, box=None, padding=(0, 2, 0, 0), header_style="bold", title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, no_wrap=index not in wrap)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def emit_json(data: Any, stream: IO[str] | None = None) -> None:
    """Print ``data`` as indented JSON (for ``--json``)."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str), file=stream or sys.stdout)


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"
