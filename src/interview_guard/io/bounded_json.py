"""JSON from untrusted files with bounded work: size, nesting depth and number length are limited.

``json.loads`` alone lets a hostile or broken file cost more than its size suggests: a 5,001-digit
number raises ``ValueError`` (Python's integer-string limit) and a float such as ``1e400`` becomes
``inf``, deep nesting raises ``RecursionError``, and a huge file is read whole. :func:`loads_bounded`
checks all of this first and turns every problem into one :class:`~interview_guard.errors.InputError`
(or the subclass the caller names) that says what is wrong, with the file and line.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from interview_guard.errors import InputError

__all__ = ["loads_bounded", "read_json_file", "MAX_DEPTH", "MAX_NUMBER_CHARS"]

#: Deepest nesting of arrays and objects accepted (session.json needs 3, a keystroke event 1).
MAX_DEPTH = 32
#: Longest number literal accepted: 17 significant digits, sign, point and exponent fit in 40.
MAX_NUMBER_CHARS = 40
#: Largest JSON document read whole (session.json, a report): 64 MiB.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def _depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings."""
    depth = best = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def _number(literal: str, *, integer: bool, max_chars: int) -> float | int:
    if len(literal) > max_chars:
        raise ValueError(f"a number of {len(literal)} characters (at most {max_chars} are accepted)")
    value: float | int = int(literal) if integer else float(literal)
    if not integer and not math.isfinite(value):
        raise ValueError(f"the number {literal} is out of range")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_bounded(
    text: str | bytes,
    *,
    path: str | os.PathLike[str] | None = None,
    line: int | None = None,
    max_depth: int = MAX_DEPTH,
    max_number_chars: int = MAX_NUMBER_CHARS,
    error: type[InputError] = InputError,
) -> Any:
    """Parse ``text`` as JSON, refusing deep nesting, over-long numbers, NaN/Infinity and invalid UTF-8.

    A UTF-8 byte-order mark at the start is ignored. Errors are ``error(message, path=path, line=line)``.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"not UTF-8 text (byte {exc.start})", path=path, line=line) from None
    text = text.removeprefix("\ufeff")
    # nesting can only be deep where there are many brackets: count first (cheap), scan only then
    if text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth:
        raise error(f"JSON nested deeper than {max_depth} levels", path=path, line=line)
    try:
        return json.loads(
            text,
            parse_int=lambda s: _number(s, integer=True, max_chars=max_number_chars),
            parse_float=lambda s: _number(s, integer=False, max_chars=max_number_chars),
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno
        raise error(f"not valid JSON ({exc.msg})", path=path, line=where) from None
    except (ValueError, RecursionError) as exc:
        raise error(f"not acceptable JSON: {exc}", path=path, line=line) from None


def read_json_file(
    path: str | os.PathLike[str],
    *,
    what: str = "JSON file",
    max_bytes: int = MAX_DOCUMENT_BYTES,
    error: type[InputError] = InputError,
) -> Any:
    """Read and parse a whole JSON document with :func:`loads_bounded`; refuse files over ``max_bytes``."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise error(f"cannot read the {what} ({reason})", path=p) from None
    if len(raw) > max_bytes:
        raise error(f"the {what} is larger than {max_bytes // (1024 * 1024)} MiB", path=p)
    return loads_bounded(raw, path=p, error=error)
