"""CSV cells from strings a user controls (candidate ids, file names, notes), safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is a formula to Excel,
LibreOffice and Google Sheets (``=cmd|" /C calc"!A0``): :func:`spreadsheet_safe` gives it a leading
apostrophe, which they show as text. The server's ``jobs.csv`` uses it as it is; the tables the CLI writes
(``summary.csv``, ``matches.csv``) use :func:`text_cell`, which also escapes control characters, so an
ANSI escape sequence or a newline in a name cannot reach a terminal or a spreadsheet raw.
"""

from __future__ import annotations

import re

__all__ = ["spreadsheet_safe", "escape_controls", "text_cell"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: C0 controls, DEL and the C1 controls (``\x9b`` is a one-byte ANSI escape introducer); the Unicode line and
#: paragraph separators (``str.splitlines`` and some editors break lines there) and the bidirectional
#: overrides and isolates (they reorder what a viewer shows).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def spreadsheet_safe(value: object) -> str:
    """A cell as text; one that a spreadsheet would take for a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _escaped(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with each control character written as ``\\xNN`` (ESC is ``\\x1b``, a newline ``\\x0a``), and each
    line separator or bidirectional override as ``\\uNNNN``."""
    return _CONTROL.sub(_escaped, text)


def text_cell(value: object) -> str:
    """A CSV cell of user-controlled text: control characters escaped, then :func:`spreadsheet_safe`."""
    return spreadsheet_safe(escape_controls("" if value is None else str(value)))
