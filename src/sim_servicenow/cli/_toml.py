"""A small TOML writer for configuration files (``tomllib`` only reads).

It writes what `IntegrationConfig.to_dict` produces: nested tables of text, numbers, booleans and lists.
Small leaf tables inside a section (``password = { env = "SN_PASSWORD" }``) are written inline; every other
table gets a ``[section]`` header. Text with line breaks is written as a multi-line string so Velocity templates
stay readable. ``None`` values are left out (TOML has no null).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dumps"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
#: A leaf table with at most this many entries is written inline inside its section.
_INLINE_ENTRIES = 2


def dumps(data: Mapping[str, Any], *, header: str = "") -> str:
    """``data`` as TOML text; ``header`` (one or more lines) is written first as ``#`` comments.

    Raises:
        TypeError: a value is not text, a number, a boolean, a list or a table.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _write_table(lines, data, ())
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(lines: list[str], table: Mapping[str, Any], path: tuple[str, ...]) -> None:
    entries = [(str(key), value) for key, value in table.items() if value is not None]
    plain = [(key, value) for key, value in entries if not _is_section(value, path)]
    sections = [(key, value) for key, value in entries if _is_section(value, path)]
    if path and (plain or not sections):
        lines += ["", f"[{'.'.join(_key(part) for part in path)}]"]
    lines += [f"{_key(key)} = {_value(value)}" for key, value in plain]
    for key, value in sections:
        _write_table(lines, value, (*path, key))


def _is_section(value: Any, path: tuple[str, ...]) -> bool:
    """Tables get a header, except small leaf tables inside a section."""
    if not isinstance(value, Mapping):
        return False
    if not path:
        return True
    leaf = not any(isinstance(item, (Mapping, list, tuple)) for item in value.values())
    return not (leaf and len(value) <= _INLINE_ENTRIES)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _multiline(value) if "\n" in value else _string(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items() if v is not None)
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _escape(char: str, *, keep_newline: bool) -> str:
    if keep_newline and char == "\n":
        return char
    if char in _ESCAPES:
        return _ESCAPES[char]
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04X}"
    return char


def _string(text: str) -> str:
    return '"' + "".join(_escape(char, keep_newline=False) for char in text) + '"'


def _multiline(text: str) -> str:
    # The line break right after the opening quotes is dropped by TOML readers; the text's own lines follow.
    # A quote needs escaping only where it would start three in a row or touch the closing quotes.
    chars = []
    for index, char in enumerate(text):
        if char == '"' and text[index + 1 : index + 3] != '""' and index != len(text) - 1:
            chars.append(char)
        else:
            chars.append(_escape(char, keep_newline=True))
    return '"""\n' + "".join(chars) + '"""'
