"""The analyzer contract as a public suite of checks (like scikit-learn's ``check_estimator``).

A new analyzer passes the suite before it is registered::

    from interview_guard.analyzers.checks import check_analyzer
    check_analyzer(MyAnalyzer, example_tracks)          # raises AssertionError naming the failed check

or, in a pytest file, one test per check and analyzer::

    from interview_guard.analyzers.checks import parametrize_with_checks

    @parametrize_with_checks([MyAnalyzer], tracks=make_example_tracks)
    def test_contract(analyzer, check):
        check(analyzer)

``example_tracks`` (or the ``tracks`` factory) is a small but real-shaped :class:`~interview_guard.tracks.Tracks`
holding every stream the analyzer requires or uses. The checks:

* **declaration**: a name, a description, ``requires`` and ``uses`` made of :class:`Stream` s, every parameter a
  :class:`Param` whose default passes its own range;
* **parameters**: ``__init__`` stores values as given and refuses unknown names; an out-of-range value is refused
  with :class:`~interview_guard.errors.ParameterError` when the work runs;
* **skips**: no tracks, or a required stream taken away or empty, gives ``skipped`` with a reason and no score
  (absence is never evidence);
* **result**: a valid result on the example (score and confidence in [0, 1], evidence inside the session with a
  summary, windows inside the session, no NaN or infinity anywhere: score, confidence, metrics, evidence and its
  details, windows), which round-trips through strict JSON;
* **determinism**: the same tracks give the same result;
* **declared streams**: the analyzer reads no stream of the tracks beyond ``requires`` and ``uses``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from typing import Any

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Param, Status, find_non_finite
from interview_guard.errors import ParameterError
from interview_guard.tracks import Stream, Tracks

__all__ = ["check_analyzer", "analyzer_checks", "parametrize_with_checks", "StreamAccessRecorder"]

Check = Callable[[type[Analyzer], Tracks], None]
_STREAM_FIELDS = {s.value for s in Stream}


def _fail(cls: type[Analyzer], what: str) -> AssertionError:
    return AssertionError(f"{cls.__name__} ({cls.name or 'unnamed'}): {what}")


def check_declaration(cls: type[Analyzer], tracks: Tracks) -> None:
    """Name, description, declared streams and parameter declarations."""
    if not (isinstance(cls.name, str) and cls.name.isidentifier() and cls.name == cls.name.lower()):
        raise _fail(cls, f"name {cls.name!r} is not a lower-case identifier")
    if not cls.description:
        raise _fail(cls, "no description")
    if not cls.requires or not all(isinstance(s, Stream) for s in cls.requires):
        raise _fail(cls, "requires must be a non-empty set of Stream members")
    if not all(isinstance(s, Stream) for s in cls.uses):
        raise _fail(cls, "uses must hold Stream members")
    if cls.requires & cls.uses:
        raise _fail(cls, f"streams both required and used: {sorted(s.value for s in cls.requires & cls.uses)}")
    for pname, spec in cls.parameters.items():
        if not isinstance(spec, Param):
            raise _fail(cls, f"parameter {pname} is not declared with Param")
        if not spec.doc:
            raise _fail(cls, f"parameter {pname} has no documentation")
        try:
            spec.check(cls.name, pname, spec.default)
        except ParameterError as exc:
            raise _fail(cls, f"default of {pname} fails its own range: {exc}") from None


def check_parameters(cls: type[Analyzer], tracks: Tracks) -> None:
    """``__init__`` stores values; unknown names are refused; out-of-range values are refused at use."""
    an = cls()
    if an.get_params() != {p: spec.default for p, spec in cls.parameters.items()}:
        raise _fail(cls, "get_params() of a default instance differs from the declared defaults")
    try:
        cls(no_such_parameter_xyz=1)
    except ParameterError:
        pass
    else:
        raise _fail(cls, "an unknown parameter was accepted")
    for pname, spec in cls.parameters.items():
        if isinstance(spec.default, bool) or not isinstance(spec.default, int | float) or spec.low is None:
            continue
        bad_value = spec.low - 1 if spec.low > -math.inf else math.nan
        bad = cls(**{pname: bad_value})
        if bad.get_params()[pname] != bad_value:
            raise _fail(cls, f"__init__ did not store {pname}={bad_value!r} as given")
        try:
            bad.analyze(tracks)
        except ParameterError as exc:
            if pname not in str(exc):
                raise _fail(cls, f"the error for {pname}={bad_value!r} does not name it: {exc}") from None
        else:
            raise _fail(cls, f"analyze() ran with {pname}={bad_value!r} below its minimum {spec.low}")


def _empty_like(tracks: Tracks, stream: Stream) -> Tracks | None:
    """``tracks`` with ``stream`` present but empty, where the stream's type has an ``empty()`` constructor."""
    value = getattr(tracks, stream.value, None)
    make_empty = getattr(type(value), "empty", None)
    if value is None or make_empty is None:
        return None
    return replace(tracks, **{stream.value: make_empty()})


def check_skips_without_required_streams(cls: type[Analyzer], tracks: Tracks) -> None:
    """No tracks, a required stream removed, or a required stream empty: skipped with a reason, never a score."""
    cases: list[tuple[str, Tracks]] = [("no tracks at all", Tracks())]
    for stream in sorted(cls.requires, key=lambda s: s.value):
        if stream is Stream.METADATA:
            continue
        if stream.value in {f.name for f in fields(Tracks)}:
            without: dict[str, Any] = {stream.value: None}
            cases.append((f"no {stream.value}", replace(tracks, **without)))
        empty = _empty_like(tracks, stream)
        if empty is not None:
            cases.append((f"empty {stream.value}", empty))
    for what, t in cases:
        r = cls().analyze(t)
        if r.status is not Status.SKIPPED or r.score is not None or not r.reason:
            raise _fail(cls, f"{what}: expected skipped with a reason and no score, got {r.status.value} ({r.reason})")


def check_result(cls: type[Analyzer], tracks: Tracks) -> None:
    """A valid, JSON round-tripping result on the example tracks."""
    r = cls().analyze(tracks)
    if not isinstance(r, AnalyzerResult) or r.name != cls.name:
        raise _fail(cls, "analyze() did not return its own AnalyzerResult")
    if r.status is Status.FAILED:
        raise _fail(cls, f"failed on the example tracks: {r.reason}")
    if r.status is Status.OK:
        if r.score is None or not (0.0 <= r.score <= 1.0) or not (0.0 <= r.confidence <= 1.0):
            raise _fail(cls, f"score {r.score} / confidence {r.confidence} outside [0, 1]")
    tol = 1e-3
    for ev in r.evidence:
        if ev.analyzer != cls.name or not ev.kind or not ev.summary:
            raise _fail(cls, f"evidence {ev.kind!r} lacks its analyzer name, kind or summary")
        if not (-tol <= ev.start_s <= ev.end_s <= tracks.duration_s + tol) or not (0.0 <= ev.score <= 1.0):
            raise _fail(cls, f"evidence {ev.kind} at {ev.start_s}-{ev.end_s} s (score {ev.score}) is out of bounds")
    for w in r.windows:
        if not (-tol <= w.start_s <= w.end_s <= tracks.duration_s + tol):
            raise _fail(cls, f"window {w.start_s}-{w.end_s} s outside the session")
    bad = find_non_finite(r.to_dict(), "result")  # a report is strict JSON: no NaN, no infinity
    if bad:
        raise _fail(cls, f"{bad}: use None for a value that was not measured")
    again = AnalyzerResult.from_dict(cls.name, json.loads(json.dumps(r.to_dict(), allow_nan=False)))
    if again.to_dict() != r.to_dict():
        raise _fail(cls, "the result does not round-trip through JSON")


def check_deterministic(cls: type[Analyzer], tracks: Tracks) -> None:
    """The same tracks give the same result."""
    if cls().analyze(tracks).to_dict() != cls().analyze(tracks).to_dict():
        raise _fail(cls, "two runs on the same tracks differ")


class StreamAccessRecorder:
    """A read-only view of :class:`Tracks` that records which stream fields are read."""

    def __init__(self, tracks: Tracks) -> None:
        object.__setattr__(self, "_tracks", tracks)
        object.__setattr__(self, "read", set())

    def __getattr__(self, name: str) -> Any:
        if name in _STREAM_FIELDS:
            self.read.add(name)
        value = getattr(self._tracks, name)
        if callable(value) and name in ("has", "modalities"):
            tracks = self._tracks

            def bound(*args: Any, **kwargs: Any) -> Any:
                if name == "has":
                    self.read.add(Stream(args[0]).value)
                else:
                    self.read.update({"video", "audio", "keystrokes"})
                return getattr(tracks, name)(*args, **kwargs)

            return bound
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"analyzers must not change their tracks (set {name})")


def check_reads_only_declared_streams(cls: type[Analyzer], tracks: Tracks) -> None:
    """Every stream field the analyzer reads is in ``requires`` or ``uses``."""
    view = StreamAccessRecorder(tracks)
    cls().analyze(view)  # type: ignore[arg-type]  # duck-typed Tracks
    declared = {s.value for s in cls.requires | cls.uses}
    undeclared = sorted(view.read - declared)
    if undeclared:
        raise _fail(cls, f"reads undeclared stream(s) {undeclared}: declare them in requires or uses")


_CHECKS: tuple[Check, ...] = (
    check_declaration,
    check_parameters,
    check_skips_without_required_streams,
    check_result,
    check_deterministic,
    check_reads_only_declared_streams,
)


def analyzer_checks() -> tuple[Check, ...]:
    """The checks of the contract, in the order :func:`check_analyzer` runs them."""
    return _CHECKS


def check_analyzer(analyzer: type[Analyzer] | Analyzer, tracks: Tracks) -> None:
    """Run every check on ``analyzer`` (a class or an instance) with example ``tracks``; raise on the first failure."""
    cls = analyzer if isinstance(analyzer, type) else type(analyzer)
    for check in _CHECKS:
        check(cls, tracks)


def _cases(
    analyzers: list[type[Analyzer]], tracks: Callable[[], Tracks]
) -> Iterator[tuple[type[Analyzer], Callable[[type[Analyzer]], None], str]]:
    for cls in analyzers:
        for check in _CHECKS:

            def run(c: type[Analyzer], _check: Check = check) -> None:
                _check(c, tracks())

            yield cls, run, f"{cls.name}-{check.__name__.removeprefix('check_')}"


def parametrize_with_checks(analyzers: list[type[Analyzer]], *, tracks: Callable[[], Tracks]) -> Any:
    """A ``pytest.mark.parametrize`` over (analyzer, check) pairs; the test calls ``check(analyzer)``."""
    import pytest  # noqa: PLC0415 - only test code calls this

    cases = list(_cases(analyzers, tracks))
    return pytest.mark.parametrize(("analyzer", "check"), [(c, r) for c, r, _ in cases], ids=[i for *_, i in cases])
