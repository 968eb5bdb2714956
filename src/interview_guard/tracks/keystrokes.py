"""Keystroke events as arrays: what keystroke analyzers read.

:class:`KeystrokeLog` holds one session's keyboard events as parallel numpy
arrays (times in milliseconds, event kind, key, code, optional server receive
time); :class:`KeyPresses` pairs its key-downs with their key-ups. The file
formats that produce a log are read by :mod:`interview_guard.io.keystroke_log`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DOWN", "UP", "PASTE", "COMPOSITION", "KeystrokeLog", "KeyPresses"]

DOWN, UP, PASTE, COMPOSITION = 0, 1, 2, 3


@dataclass(frozen=True)
class KeyPresses:
    """Key-down events paired with their key-up events.

    Attributes
    ----------
    press_ms : np.ndarray [shape=(n,)]
        Key-down time, ms.
    release_ms : np.ndarray [shape=(n,)]
        Matching key-up time, ms; NaN when the log has no key-up for the press.
    code, key : np.ndarray [shape=(n,), dtype=object]
        ``KeyboardEvent.code`` and ``.key`` of the press.
    recv_press_ms : np.ndarray [shape=(n,)]
        Server receive time of the key-down (NaN when absent).
    event_index : np.ndarray [shape=(n,), dtype=int]
        Index of the key-down in the log's event arrays.
    key_id : np.ndarray [shape=(n,), dtype=int]
        The log's :attr:`KeystrokeLog.key_ids` of the press.
    """

    press_ms: np.ndarray
    release_ms: np.ndarray
    code: np.ndarray
    key: np.ndarray
    recv_press_ms: np.ndarray
    event_index: np.ndarray
    key_id: np.ndarray

    def __len__(self) -> int:
        return int(self.press_ms.shape[0])

    @property
    def hold_ms(self) -> np.ndarray:
        """Hold (dwell) time of each press, NaN where the release is unknown."""
        hold: np.ndarray = self.release_ms - self.press_ms
        return hold


@dataclass(frozen=True)
class KeystrokeLog:
    """One session's keyboard events as parallel arrays, in time order.

    Attributes
    ----------
    t_ms : np.ndarray [shape=(n,), dtype=float64]
        Event time in milliseconds on the client clock (after :meth:`shifted`,
        milliseconds since the start of the session).
    kind : np.ndarray [shape=(n,), dtype=int8]
        :data:`DOWN`, :data:`UP`, :data:`PASTE` or :data:`COMPOSITION`.
    key, code : np.ndarray [shape=(n,), dtype=object]
        ``KeyboardEvent.key`` and ``.code`` (empty strings where not given).
    recv_ms : np.ndarray [shape=(n,), dtype=float64]
        Server receive time in ms on the server clock, NaN where absent.
        :meth:`shifted` moves it with ``t_ms`` so ``recv_ms - t_ms`` is kept.
    repeat : np.ndarray [shape=(n,), dtype=bool]
        Auto-repeat flag as logged (False where not given).
    length : np.ndarray [shape=(n,), dtype=int64]
        Pasted length for paste events, -1 otherwise.
    source : str or None
        File the log came from, for messages.
    warnings : tuple of str
        Non-fatal oddities met while reading (e.g. duplicate Aalto rows dropped).
    keycode : np.ndarray [shape=(n,), dtype=int32]
        The legacy ``KeyboardEvent.keyCode`` as logged (229 while an IME composes), -1 where not given;
        built as -1 everywhere when omitted.
    """

    t_ms: np.ndarray
    kind: np.ndarray
    key: np.ndarray
    code: np.ndarray
    recv_ms: np.ndarray
    repeat: np.ndarray
    length: np.ndarray
    source: str | None = None
    warnings: tuple[str, ...] = field(default=())
    keycode: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def __post_init__(self) -> None:
        n = self.t_ms.shape[0]
        if self.keycode.shape != (n,) and self.keycode.size == 0:
            object.__setattr__(self, "keycode", np.full(n, -1, np.int32))
        for name in ("kind", "key", "code", "recv_ms", "repeat", "length", "keycode"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"KeystrokeLog.{name} must have shape ({n},)")

    def __len__(self) -> int:
        return int(self.t_ms.shape[0])

    @classmethod
    def empty(cls, source: str | None = None) -> KeystrokeLog:
        """A log with no events."""
        return cls.from_arrays(t_ms=np.zeros(0), kind=np.zeros(0, np.int8), source=source)

    @classmethod
    def from_arrays(
        cls,
        *,
        t_ms: Any,
        kind: Any,
        key: Any = None,
        code: Any = None,
        recv_ms: Any = None,
        repeat: Any = None,
        length: Any = None,
        source: str | None = None,
        warnings: tuple[str, ...] = (),
        keycode: Any = None,
    ) -> KeystrokeLog:
        """Build a log from array-likes; missing columns get neutral defaults."""
        t = np.asarray(t_ms, dtype=np.float64)
        n = t.shape[0]

        def _obj(values: Any) -> np.ndarray:
            if values is None:
                return np.full(n, "", dtype=object)
            out = np.empty(n, dtype=object)
            out[:] = list(values)
            return out

        return cls(
            t_ms=t,
            kind=np.asarray(kind, dtype=np.int8),
            key=_obj(key),
            code=_obj(code),
            recv_ms=np.full(n, np.nan) if recv_ms is None else np.asarray(recv_ms, dtype=np.float64),
            repeat=np.zeros(n, bool) if repeat is None else np.asarray(repeat, dtype=bool),
            length=np.full(n, -1, np.int64) if length is None else np.asarray(length, dtype=np.int64),
            source=source,
            warnings=tuple(warnings),
            keycode=np.full(n, -1, np.int32) if keycode is None else np.asarray(keycode, dtype=np.int32),
        )

    # ------------------------------------------------------------------ views
    @functools.cached_property
    def key_ids(self) -> np.ndarray:
        """Integer id of each event's key identity (``code``, or ``key`` where code is empty).

        Ids number the distinct identities in order of first appearance;
        computed once per log (a dict pass, far cheaper than sorting strings).
        """
        table: dict[str, int] = {}
        ident = (c if c != "" else ("\0" + k) for c, k in zip(self.code.tolist(), self.key.tolist()))
        return np.fromiter((table.setdefault(v, len(table)) for v in ident), dtype=np.int64, count=len(self))

    @property
    def has_recv(self) -> bool:
        """True when at least one event carries a server receive time."""
        return bool(np.isfinite(self.recv_ms).any())

    @property
    def n_keydown(self) -> int:
        return int(np.count_nonzero(self.kind == DOWN))

    @property
    def span_ms(self) -> float:
        """Time from the first to the last event (0 for fewer than two events)."""
        return float(self.t_ms[-1] - self.t_ms[0]) if len(self) > 1 else 0.0

    def shifted(self, offset_ms: float) -> KeystrokeLog:
        """The same log with ``offset_ms`` added to ``t_ms`` and ``recv_ms``."""
        return KeystrokeLog(
            t_ms=self.t_ms + offset_ms,
            kind=self.kind,
            key=self.key,
            code=self.code,
            recv_ms=self.recv_ms + offset_ms,
            repeat=self.repeat,
            length=self.length,
            source=self.source,
            warnings=self.warnings,
            keycode=self.keycode,
        )

    def select(self, mask: np.ndarray) -> KeystrokeLog:
        """The events where ``mask`` is true (order kept)."""
        return KeystrokeLog(
            t_ms=self.t_ms[mask],
            kind=self.kind[mask],
            key=self.key[mask],
            code=self.code[mask],
            recv_ms=self.recv_ms[mask],
            repeat=self.repeat[mask],
            length=self.length[mask],
            source=self.source,
            warnings=self.warnings,
            keycode=self.keycode[mask],
        )

    def presses(self) -> KeyPresses:
        """Pair every key-down with its key-up (vectorised, per ``code``).

        A key-down followed, for the same code, by another key-down before any
        key-up (browser auto-repeat, or a lost key-up) starts a run (in a log
        that records no key-up at all, every key-down is a press of its own); the key-up
        that ends the run is paired with the *first* down of the run, and the
        repeated downs are left out of the presses. Downs flagged ``repeat`` are
        left out too. Events with an empty code are paired by ``key``.
        """
        is_key = (self.kind == DOWN) | (self.kind == UP)
        idx = np.flatnonzero(is_key)
        if idx.size == 0:
            e = np.zeros(0)
            eo = np.zeros(0, dtype=object)
            return KeyPresses(e, e, eo, eo, e, np.zeros(0, np.int64), np.zeros(0, np.int64))
        group = self.key_ids[idx]
        order = np.lexsort((idx, group))  # by group, then by time order within group
        ev = idx[order]
        grp = group[order]
        is_down = self.kind[ev] == DOWN
        pos = np.arange(ev.size)
        same_prev = np.r_[False, grp[1:] == grp[:-1]]
        prev_down = np.r_[False, is_down[:-1]] & same_prev
        if not (~is_down).any():
            # a down-only log (some loggers record key-down alone): every down is a press
            prev_down[:] = False
        run_start = is_down & ~prev_down
        start_of_run = np.maximum.accumulate(np.where(run_start, pos, 0))
        # an up whose previous event (same key) is a down closes that run
        up_closes = ~is_down & prev_down
        release_ms_sorted = np.full(ev.size, np.nan)
        closing = np.flatnonzero(up_closes)
        release_ms_sorted[start_of_run[closing - 1]] = self.t_ms[ev[closing]]
        keep = run_start & ~self.repeat[ev]
        down_ev = ev[keep]
        rel = release_ms_sorted[keep]
        back = np.argsort(down_ev, kind="stable")
        down_ev = down_ev[back]
        return KeyPresses(
            press_ms=self.t_ms[down_ev],
            release_ms=rel[back],
            code=self.code[down_ev],
            key=self.key[down_ev],
            recv_press_ms=self.recv_ms[down_ev],
            event_index=down_ev,
            key_id=self.key_ids[down_ev],
        )


# ---------------------------------------------------------------------- parsing
