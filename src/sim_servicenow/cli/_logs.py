"""Logging for the command: plain or JSON lines on stderr, or rich's handler on a terminal."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import IO, Any

__all__ = ["LOG_FORMATS", "configure_logging"]

LOG_FORMATS = ("text", "json")

#: Attributes the engine adds to its records (``extra=``) that are worth keeping in JSON lines.
_EXTRA_KEYS = ("plan_key", "ticket")


def _utc_time(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class TextFormatter(logging.Formatter):
    """``2026-03-02T09:00:00.000Z INFO    sim_servicenow.engine: message`` — UTC, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc_time(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, and ``plan_key``/``ticket``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _EXTRA_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(level: int, log_format: str = "text", stream: IO[str] | None = None) -> None:
    """Send sim-servicenow's log records at ``level`` and above to ``stream`` (stderr by default).

    Other libraries log at WARNING and above only. With the text format on a terminal and rich installed,
    rich's handler is used.
    """
    stream = stream or sys.stderr
    handler: logging.Handler
    if log_format == "text" and stream.isatty():
        handler = _rich_handler(stream) or logging.StreamHandler(stream)
    else:
        handler = logging.StreamHandler(stream)
    if not _is_rich(handler):
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("sim_servicenow").setLevel(level)
    logging.captureWarnings(True)


def _rich_handler(stream: IO[str]) -> logging.Handler | None:
    try:
        from rich.console import Console
        from rich.logging import RichHandler
    except ImportError:
        return None
    return RichHandler(console=Console(file=stream), show_path=False, log_time_format="%H:%M:%S")


def _is_rich(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith("rich")
