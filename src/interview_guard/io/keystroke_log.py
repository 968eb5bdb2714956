"""Keystroke log files: reading the three formats (and writing JSON lines).

The logs are read into a :class:`~interview_guard.tracks.keystrokes.KeystrokeLog` (one session's keyboard events
as parallel numpy arrays, defined in :mod:`interview_guard.tracks.keystrokes` and re-exported here): the analyzers
read that and never open files. :func:`read_keystroke_log` reads

* JSON lines (``keystrokes.jsonl``): one object per line, ``{"t": 1234.5, "type": "down", "key": "a", "code":
  "KeyA"}`` with optional ``recv_t`` (server receive time, ms, server clock), ``keyCode`` (legacy key code, 229
  while an IME composes; ``keycode`` and ``which`` too), ``repeat`` (the browser's auto-repeat flag),
  ``{"type": "paste", "length": N}`` and IME ``compositionstart`` / ``compositionupdate`` / ``compositionend``;
* CSV with the same column names and a header line;
* the Aalto 136M-keystrokes TSV format (``PARTICIPANT_ID ... PRESS_TIME, RELEASE_TIME, LETTER, KEYCODE``), which
  lists presses rather than events (sorted on import).

Events are put in time order, as a relay's or a client's logger can leave them otherwise (each with a warning): a
line whose ``t`` is earlier than the line before it by at most :data:`CLOCK_STEP_MS` is out of order (a logger that
writes events as the server receives them) and the events are sorted by ``t``; a larger step back is the client's
clock stepping back (epoch ms after a time sync), and the events after it are kept after the ones before it. Events
that share a time, one key's up, down and up included, are data (a relay that buffers keys during a stall releases
them on one tick). Only a line that repeats the line before it byte for byte is dropped, and counted in the log's
warnings. JSON is read with :func:`~interview_guard.io.bounded_json.loads_bounded` (bounded depth and number
length).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import KeystrokeLogError
from interview_guard.io.bounded_json import loads_bounded
from interview_guard.tracks.keystrokes import COMPOSITION, DOWN, PASTE, UP, KeyPresses, KeystrokeLog

__all__ = [
    "DOWN",
    "UP",
    "PASTE",
    "COMPOSITION",
    "KeystrokeLog",
    "KeyPresses",
    "read_keystroke_log",
    "parse_keystroke_lines",
    "keystroke_log_from_presses",
    "KEYSTROKE_FILE_NAMES",
]

_TYPE_CODES = {
    "down": DOWN,
    "keydown": DOWN,
    "up": UP,
    "keyup": UP,
    "paste": PASTE,
    "compositionstart": COMPOSITION,
    "compositionupdate": COMPOSITION,
    "compositionend": COMPOSITION,
}

_PathArg = str | PathLike[str]

#: File names (in a session directory) recognised as keystroke logs, in order of preference.
KEYSTROKE_FILE_NAMES = ("keystrokes.jsonl", "keystrokes.csv", "keystrokes.tsv", "keystrokes.txt")

#: A step back in ``t`` from one line to the next up to this long (ms) is an event logged out of order (sorted);
#: a longer one is the client's clock stepping back (the events after it are kept after the ones before it).
CLOCK_STEP_MS = 5000.0

#: Refuse logs with more events than this (about 10 hours of non-stop fast typing).
MAX_EVENTS = 20_000_000

#: Largest event time accepted (ms, either sign): about 3000 years, far above epoch milliseconds
#: (1.8e12 in 2027); a larger value is not a clock reading (microseconds, a corrupt field).
MAX_TIME_MS = 1e14

#: Largest pasted length accepted (characters).
MAX_PASTE_LENGTH = 1_000_000_000

# JavaScript keyCode -> KeyboardEvent.code on a US layout (used for the Aalto format).
_KEYCODE_TO_CODE = {
    8: "Backspace",
    9: "Tab",
    13: "Enter",
    16: "ShiftLeft",
    17: "ControlLeft",
    18: "AltLeft",
    20: "CapsLock",
    27: "Escape",
    32: "Space",
    37: "ArrowLeft",
    38: "ArrowUp",
    39: "ArrowRight",
    40: "ArrowDown",
    46: "Delete",
    186: "Semicolon",
    187: "Equal",
    188: "Comma",
    189: "Minus",
    190: "Period",
    191: "Slash",
    192: "Backquote",
    219: "BracketLeft",
    220: "Backslash",
    221: "BracketRight",
    222: "Quote",
}
_KEYCODE_TO_KEY = {
    8: "Backspace",
    9: "Tab",
    13: "Enter",
    16: "Shift",
    17: "Control",
    18: "Alt",
    20: "CapsLock",
    27: "Escape",
    32: " ",
    37: "ArrowLeft",
    38: "ArrowUp",
    39: "ArrowRight",
    40: "ArrowDown",
    46: "Delete",
}


def _code_for_keycode(keycode: int) -> str:
    if 65 <= keycode <= 90:
        return "Key" + chr(keycode)
    if 48 <= keycode <= 57:
        return "Digit" + chr(keycode)
    return _KEYCODE_TO_CODE.get(keycode, f"Keycode{keycode}")


def _finite_number(value: object, *, what: str, path: _PathArg | None, line: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KeystrokeLogError(f"'{what}' must be a number, got {value!r}", path=path, line=line)
    try:
        x = float(value)
    except OverflowError:  # an int too large for a float
        x = math.inf
    if not math.isfinite(x):
        raise KeystrokeLogError(f"'{what}' is not finite ({_short(value)})", path=path, line=line)
    return x


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _time_ms(value: object, *, what: str, path: _PathArg | None, line: int) -> float:
    """A finite time in ms within +-MAX_TIME_MS."""
    x = _finite_number(value, what=what, path=path, line=line)
    if abs(x) > MAX_TIME_MS:
        raise KeystrokeLogError(
            f"'{what}' = {x:.3g} ms is out of range (at most {MAX_TIME_MS:.0e} ms either way, about 3000 years)",
            path=path,
            line=line,
        )
    return x


class _EventBuilder:
    """Accumulates validated events (put in time order by :meth:`build`); drops a line that repeats the one before
    it byte for byte."""

    def __init__(self, path: _PathArg | None, max_events: int) -> None:
        self.path = path
        self.max_events = max_events
        self.t: list[float] = []
        self.kind: list[int] = []
        self.key: list[str] = []
        self.code: list[str] = []
        self.recv: list[float] = []
        self.repeat: list[bool] = []
        self.length: list[int] = []
        self.keycode: list[int] = []
        self._prev_raw: str | None = None  # the previous line as read
        self.repeated_lines = 0
        self._prev_line = 0
        # steps back in t: (count, first line, largest) for lines out of order and for clock steps
        self._late = [0, 0, 0.0]
        self._stepped = [0, 0, 0.0]

    def add(self, rec: dict[str, Any], line: int, raw: str | None = None) -> None:
        path = self.path
        if "t" not in rec:
            raise KeystrokeLogError("missing field 't' (event time in ms)", path=path, line=line)
        t = _time_ms(rec["t"], what="t", path=path, line=line)
        typ = rec.get("type")
        if not isinstance(typ, str) or typ.lower() not in _TYPE_CODES:
            raise KeystrokeLogError(
                f"'type' must be one of down, up, keydown, keyup, paste, composition*, got {typ!r}",
                path=path,
                line=line,
            )
        kind = _TYPE_CODES[typ.lower()]
        key = rec.get("key", "")
        code = rec.get("code", "")
        if key is None:
            key = ""
        if code is None:
            code = ""
        if not isinstance(key, str) or not isinstance(code, str):
            raise KeystrokeLogError("'key' and 'code' must be strings", path=path, line=line)
        if kind == COMPOSITION and not key:
            data = rec.get("data", "")
            key = data if isinstance(data, str) else ""
        recv = rec.get("recv_t")
        recv_ms = math.nan if recv in (None, "") else _time_ms(recv, what="recv_t", path=path, line=line)
        length = -1
        if kind == PASTE:
            raw_len = rec.get("length", -1)
            if raw_len in (None, ""):
                raw_len = -1
            n_chars = _finite_number(raw_len, what="length", path=path, line=line)
            if not -1 <= n_chars <= MAX_PASTE_LENGTH:
                raise KeystrokeLogError(
                    f"'length' = {n_chars:.3g} is out of range (0 to {MAX_PASTE_LENGTH} characters)",
                    path=path,
                    line=line,
                )
            length = int(n_chars)
        keycode = -1
        for name in ("keyCode", "keycode", "which"):
            raw_kc = rec.get(name)
            if raw_kc in (None, ""):
                continue
            kc = _finite_number(raw_kc, what=name, path=path, line=line)
            if not 0 <= kc <= 65535 or kc != int(kc):
                raise KeystrokeLogError(
                    f"'{name}' must be a whole number from 0 to 65535, got {kc:g}", path=path, line=line
                )
            keycode = int(kc)
            break
        rep = rec.get("repeat", False)
        if isinstance(rep, str):
            rep = rep.strip().lower() in ("1", "true", "yes")
        if self.t and t < self.t[-1]:
            back = self.t[-1] - t
            tally = self._stepped if back > CLOCK_STEP_MS else self._late
            tally[1] = tally[1] or line
            tally[0] += 1
            tally[2] = max(tally[2], back)
        if raw is not None:
            if raw == self._prev_raw:  # the line before, again, byte for byte: a logging repeat, not an event
                self.repeated_lines += 1
                return
            self._prev_raw = raw
        if len(self.t) >= self.max_events:
            raise KeystrokeLogError(
                f"log has more than {self.max_events} events; split the session", path=path, line=line
            )
        self.t.append(t)
        self.kind.append(kind)
        self.key.append(key)
        self.code.append(code)
        self.recv.append(recv_ms)
        self.repeat.append(bool(rep))
        self.length.append(length)
        self.keycode.append(keycode)
        self._prev_line = line

    def build(self, warnings: tuple[str, ...] = ()) -> KeystrokeLog:
        if self.repeated_lines:
            warnings += (f"{self.repeated_lines} line(s) repeating the line before byte for byte were dropped",)
        t = np.asarray(self.t, dtype=np.float64)
        n_step, step_line, step_max = self._stepped
        if n_step:  # the client's clock stepped back: what follows a step stays after what came before it
            d = np.diff(t)
            t = t + np.concatenate(([0.0], np.cumsum(np.where(d < -CLOCK_STEP_MS, -d, 0.0))))
            warnings += (
                f"the client's clock ('t') stepped back {n_step} time(s), by up to {step_max / 1000:.3g} s (first at"
                f" line {step_line}): the events after each step were kept after the ones before it",
            )
        n_late, late_line, late_max = self._late
        order = np.argsort(t, kind="stable") if n_late else None  # logged out of order (as the server got them)
        if order is not None:
            t = t[order]
            warnings += (
                f"{n_late} event(s) came before an earlier one, by up to {late_max:.6g} ms (first at line"
                f" {late_line}): the events were sorted by 't'",
            )

        def arr(values: list[Any]) -> Any:
            return values if order is None else np.asarray(values, dtype=object)[order]

        return KeystrokeLog.from_arrays(
            t_ms=t,
            kind=arr(self.kind),
            key=arr(self.key),
            code=arr(self.code),
            recv_ms=arr(self.recv),
            repeat=arr(self.repeat),
            length=arr(self.length),
            source=None if self.path is None else str(self.path),
            warnings=warnings,
            keycode=arr(self.keycode),
        )


def parse_keystroke_lines(
    lines: Iterable[str], *, path: _PathArg | None = None, fmt: str = "auto", max_events: int = MAX_EVENTS
) -> KeystrokeLog:
    """Parse keystroke-log text given as an iterable of lines.

    Parameters
    ----------
    lines : iterable of str
        The file's lines (with or without newlines).
    path : str or Path, optional
        Used in error messages only.
    fmt : {"auto", "jsonl", "csv", "aalto"}
        ``auto`` looks at the first non-blank line: ``{`` means JSON lines, a
        header with ``PRESS_TIME`` means Aalto, anything else CSV.
    max_events : int
        Refuse logs longer than this.

    Returns
    -------
    KeystrokeLog

    Raises
    ------
    KeystrokeLogError
        With the line number, for malformed lines.
    """
    it = iter(lines)
    first = None
    first_no = 0
    for no, raw in enumerate(it, start=1):
        if raw.strip():
            first, first_no = raw, no
            break
    if first is None:
        return KeystrokeLog.empty(source=None if path is None else str(path))
    if fmt == "auto":
        stripped = first.lstrip("\ufeff").lstrip()
        if stripped.startswith("{"):
            fmt = "jsonl"
        elif "PRESS_TIME" in stripped and "RELEASE_TIME" in stripped:
            fmt = "aalto"
        else:
            fmt = "csv"

    def chained() -> Iterator[tuple[int, str]]:
        yield first_no, first
        yield from enumerate(it, start=first_no + 1)

    if fmt == "jsonl":
        return _parse_jsonl(chained(), path, max_events)
    if fmt == "csv":
        return _parse_csv(chained(), path, max_events)
    if fmt == "aalto":
        return _parse_aalto(chained(), path, max_events)
    raise KeystrokeLogError(f"unknown keystroke log format {fmt!r}", path=path)


def _parse_jsonl(numbered: Iterable[tuple[int, str]], path: _PathArg | None, max_events: int) -> KeystrokeLog:
    b = _EventBuilder(path, max_events)
    for no, raw in numbered:
        text = raw.strip()
        if not text:
            continue
        rec = loads_bounded(text, path=path, line=no, error=KeystrokeLogError)
        if not isinstance(rec, dict):
            raise KeystrokeLogError("each line must be a JSON object", path=path, line=no)
        b.add(rec, no, raw=text)
    return b.build()


def _parse_csv(numbered: Iterable[tuple[int, str]], path: _PathArg | None, max_events: int) -> KeystrokeLog:
    numbered = iter(numbered)
    header_no, header_line = next(numbered)
    header = _csv_row(header_line.lstrip("\ufeff"), path, header_no)
    header = [h.strip().lower() for h in header]
    if "t" not in header or "type" not in header:
        raise KeystrokeLogError(
            f"CSV header must name columns 't' and 'type' (got {', '.join(header)!s})", path=path, line=header_no
        )
    numeric = {"t", "recv_t", "length", "keycode", "which"}
    b = _EventBuilder(path, max_events)
    for no, raw in numbered:
        if not raw.strip():
            continue
        row = _csv_row(raw, path, no)
        if len(row) != len(header):
            raise KeystrokeLogError(f"expected {len(header)} columns, found {len(row)}", path=path, line=no)
        rec: dict[str, Any] = {}
        for name, value in zip(header, row):
            if name in numeric:
                value = value.strip()
                if value == "":
                    rec[name] = None
                    continue
                try:
                    rec[name] = float(value)
                except ValueError:
                    raise KeystrokeLogError(f"'{name}' must be a number, got {value!r}", path=path, line=no) from None
            else:
                rec[name] = value
        if rec.get("t") is None:
            raise KeystrokeLogError("missing value for 't'", path=path, line=no)
        b.add(rec, no, raw=raw.strip())
    return b.build()


def _csv_row(raw: str, path: _PathArg | None, no: int) -> list[str]:
    """One CSV line's fields; the csv module's errors (a field over its size limit, ...) name the file and line."""
    try:
        return next(csv.reader([raw]))
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field limit" in str(exc):
            raise KeystrokeLogError(f"a field longer than {limit} characters", path=path, line=no) from None
        raise KeystrokeLogError(f"not a CSV line ({exc})", path=path, line=no) from None


def _parse_aalto(numbered: Iterable[tuple[int, str]], path: _PathArg | None, max_events: int) -> KeystrokeLog:
    numbered = iter(numbered)
    header_no, header_line = next(numbered)
    header = [h.strip() for h in header_line.rstrip("\r\n").split("\t")]
    try:
        i_press = header.index("PRESS_TIME")
        i_rel = header.index("RELEASE_TIME")
        i_letter = header.index("LETTER")
        i_code = header.index("KEYCODE")
    except ValueError:
        raise KeystrokeLogError(
            "Aalto header must have PRESS_TIME, RELEASE_TIME, LETTER and KEYCODE columns", path=path, line=header_no
        ) from None
    press, release, keys, codes, keycodes = [], [], [], [], []
    for no, raw in numbered:
        if not raw.strip():
            continue
        parts = raw.rstrip("\r\n").split("\t")
        if len(parts) != len(header):
            raise KeystrokeLogError(
                f"expected {len(header)} tab-separated fields, found {len(parts)}", path=path, line=no
            )
        try:
            p = float(parts[i_press])
            r = float(parts[i_rel]) if parts[i_rel].strip() else math.nan
            kc = int(float(parts[i_code]))
        except (ValueError, OverflowError):  # OverflowError: an infinite KEYCODE
            raise KeystrokeLogError(
                "PRESS_TIME, RELEASE_TIME and KEYCODE must be (finite) numbers", path=path, line=no
            ) from None
        if not math.isfinite(p):
            raise KeystrokeLogError("PRESS_TIME is not finite", path=path, line=no)
        if abs(p) > MAX_TIME_MS or (math.isfinite(r) and abs(r) > MAX_TIME_MS):
            raise KeystrokeLogError(
                f"PRESS_TIME or RELEASE_TIME is out of range (at most {MAX_TIME_MS:.0e} ms either way)",
                path=path,
                line=no,
            )
        letter = parts[i_letter]
        code = _code_for_keycode(kc)
        if letter in ("SHIFT", "CAPS_LOCK", "BKSP", "CTRL", "ALT", "TAB", "ENTER"):
            letter = _KEYCODE_TO_KEY.get(kc, letter)
        if not letter:
            letter = _KEYCODE_TO_KEY.get(kc, chr(kc).lower() if 65 <= kc <= 90 else "")
        press.append(p)
        release.append(r if math.isfinite(r) and r >= p else math.nan)
        keys.append(letter)
        codes.append(code)
        keycodes.append(kc if 0 <= kc <= 65535 else -1)
        if len(press) > max_events:
            raise KeystrokeLogError(f"log has more than {max_events} presses; split the session", path=path, line=no)
    return keystroke_log_from_presses(
        press_ms=press,
        release_ms=release,
        key=keys,
        code=codes,
        keycode=keycodes,
        source=None if path is None else str(path),
    )


def keystroke_log_from_presses(
    *,
    press_ms: Any,
    release_ms: Any,
    key: Iterable[str] | None = None,
    code: Iterable[str] | None = None,
    recv_press_ms: Any = None,
    recv_release_ms: Any = None,
    source: str | None = None,
    keycode: Any = None,
) -> KeystrokeLog:
    """Build an event log from presses (down time, up time), sorting by time.

    Exact duplicate presses (same code, press and release time) are dropped and
    reported in ``warnings``; releases that are NaN produce no key-up event.
    """
    p = np.asarray(press_ms, dtype=np.float64)
    r = np.asarray(release_ms, dtype=np.float64)
    n = p.shape[0]
    keys = np.empty(n, dtype=object)
    keys[:] = [""] * n if key is None else list(key)
    codes = np.empty(n, dtype=object)
    codes[:] = [""] * n if code is None else list(code)
    rp = np.full(n, np.nan) if recv_press_ms is None else np.asarray(recv_press_ms, dtype=np.float64)
    rr = np.full(n, np.nan) if recv_release_ms is None else np.asarray(recv_release_ms, dtype=np.float64)
    kcs = np.full(n, -1, np.int32) if keycode is None else np.asarray(keycode, dtype=np.int32)
    warnings = []
    if n:
        # drop exact duplicates
        _, first = np.unique(
            np.stack([p, np.nan_to_num(r, nan=-1.0), np.unique(codes.astype(str), return_inverse=True)[1]], axis=1),
            axis=0,
            return_index=True,
        )
        if first.size < n:
            warnings.append(f"dropped {n - first.size} duplicate press rows")
            keep = np.sort(first)
            p, r, keys, codes, rp, rr, kcs = p[keep], r[keep], keys[keep], codes[keep], rp[keep], rr[keep], kcs[keep]
            n = p.shape[0]
    has_up = np.isfinite(r)
    t = np.concatenate([p, r[has_up]])
    kind = np.concatenate([np.full(n, DOWN, np.int8), np.full(int(has_up.sum()), UP, np.int8)])
    k = np.concatenate([keys, keys[has_up]])
    c = np.concatenate([codes, codes[has_up]])
    recv = np.concatenate([rp, rr[has_up]])
    kcc = np.concatenate([kcs, kcs[has_up]])
    # time order; at equal times a down sorts before an up
    order = np.lexsort((kind, t))
    return KeystrokeLog(
        t_ms=t[order],
        kind=kind[order],
        key=k[order],
        code=c[order],
        recv_ms=recv[order],
        repeat=np.zeros(t.shape[0], bool),
        length=np.full(t.shape[0], -1, np.int64),
        source=source,
        warnings=tuple(warnings),
        keycode=kcc[order],
    )


def read_keystroke_log(path: _PathArg, *, fmt: str = "auto", max_events: int = MAX_EVENTS) -> KeystrokeLog:
    """Read a keystroke log file (JSON lines, CSV or Aalto TSV).

    Parameters
    ----------
    path : str or Path
    fmt : {"auto", "jsonl", "csv", "aalto"}
        ``auto`` goes by the extension (``.jsonl``, ``.csv``) and otherwise by
        the content (see :func:`parse_keystroke_lines`).
    max_events : int

    Raises
    ------
    KeystrokeLogError
        When the file is missing, not UTF-8 text, or has a bad line.
    """
    p = Path(path)
    if not p.is_file():
        raise KeystrokeLogError("keystroke log not found", path=p)
    if fmt == "auto":
        fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(p.suffix.lower(), "auto")
    try:
        with open(p, encoding="utf-8", newline="") as fh:
            return parse_keystroke_lines(fh, path=p, fmt=fmt, max_events=max_events)
    except UnicodeDecodeError:
        raise KeystrokeLogError("not UTF-8 text (is this really a keystroke log?)", path=p) from None


def dumps_jsonl(log: KeystrokeLog) -> str:
    """Serialise a log as JSON lines (the inverse of the JSONL reader)."""
    names = {DOWN: "down", UP: "up", PASTE: "paste", COMPOSITION: "compositionupdate"}
    out = io.StringIO()
    for i in range(len(log)):
        rec = {
            "t": round(float(log.t_ms[i]), 3),
            "type": names[int(log.kind[i])],
            "key": log.key[i],
            "code": log.code[i],
        }
        if np.isfinite(log.recv_ms[i]):
            rec["recv_t"] = round(float(log.recv_ms[i]), 3)
        if log.keycode[i] >= 0:
            rec["keyCode"] = int(log.keycode[i])
        if log.repeat[i]:
            rec["repeat"] = True
        if log.kind[i] == PASTE:
            rec["length"] = int(log.length[i])
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return out.getvalue()
