"""A decoding generator on a helper thread, its frames handed over through a bounded queue.

Used by the video scan (:mod:`interview_guard.extract.scanner`) so that decoding overlaps with the landmarkers
on a machine with several cores: PyAV releases the GIL while it decodes, MediaPipe while it infers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["BackgroundFrames"]

_T = TypeVar("_T")


class BackgroundFrames(Generic[_T]):
    """Run an iterator (a decoding generator) on a helper thread; its items come out through a bounded queue.

    Decoding then overlaps with whatever the consumer does with the items (PyAV releases the GIL while it
    decodes, MediaPipe while it infers). At most ``max_items`` items wait in the queue (the producer blocks
    beyond that), so memory stays bounded; once it has had to wait, it resumes when the consumer has taken a
    quarter of them (``resume_len``), not at every item: one wake-up per few items instead of a ping-pong of
    thread switches per item while the consumer is the slower side. Iterating gives the items in order; an
    exception raised by the iterator is raised in the consumer once the items produced before it are consumed.
    :meth:`close` (also on leaving a ``with`` block) stops the producer, drops the queued items and joins the
    thread: call it before closing the container the iterator reads.

    Attributes
    ----------
    cap : int
        ``max_items``.
    resume_len : int
        The queue length at or below which a waiting producer resumes.
    max_len : int
        Most items that waited in the queue at once.
    consumer_wait_s, producer_wait_s : float
        Time the consumer waited for an item, and the producer for room in the queue.
    producer_waits : int
        How many times the producer waited for room.
    """

    def __init__(self, items: Iterator[_T], max_items: int, *, name: str = "ig-decode") -> None:
        self._items = items
        self.cap = max(int(max_items), 1)
        self.resume_len = self.cap - max(self.cap // 4, 1)
        self._queue: deque[_T] = deque()
        self._cond = threading.Condition()
        self._done = self._stop = False
        self._error: BaseException | None = None
        self.max_len = 0
        self.consumer_wait_s = self.producer_wait_s = 0.0
        self.producer_waits = 0
        self._producer_waits = self._consumer_waits = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        cond, queue = self._cond, self._queue
        try:
            for item in self._items:
                with cond:
                    if len(queue) >= self.cap and not self._stop:
                        t0 = time.perf_counter()
                        self._producer_waits = True
                        self.producer_waits += 1
                        while not self._stop and len(queue) > self.resume_len:
                            cond.wait()
                        self._producer_waits = False
                        self.producer_wait_s += time.perf_counter() - t0
                    if self._stop:
                        break
                    queue.append(item)
                    self.max_len = max(self.max_len, len(queue))
                    if self._consumer_waits:
                        cond.notify_all()
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                try:
                    close()  # a generator's clean-up runs here, on its own thread
                except BaseException as exc:  # pragma: no cover - a clean-up error after the real one
                    self._error = self._error or exc
            with cond:
                self._done = True
                cond.notify_all()

    def __iter__(self) -> BackgroundFrames[_T]:
        return self

    def __next__(self) -> _T:
        cond, queue = self._cond, self._queue
        with cond:
            if not queue and not self._done:
                t0 = time.perf_counter()
                self._consumer_waits = True
                while not queue and not self._done:
                    cond.wait()
                self._consumer_waits = False
                self.consumer_wait_s += time.perf_counter() - t0
            if queue:
                item = queue.popleft()
                if self._producer_waits and len(queue) <= self.resume_len:
                    cond.notify_all()
                return item
            if self._error is not None and not self._stop:
                error, self._error = self._error, None
                raise error
            raise StopIteration

    def close(self) -> None:
        """Stop the producer, drop the queued items and wait for the thread (safe to call twice)."""
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> BackgroundFrames[_T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
