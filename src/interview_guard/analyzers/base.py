"""The analyzer contract.

Every analyzer is a small class with

* ``name`` — the stable identifier used in reports and ``models/fusion.json``;
* ``requires`` — the :class:`~interview_guard.tracks.Stream` s it cannot work without;
* ``uses`` — further streams it reads when they are present (an analyzer reads no other stream:
  :func:`interview_guard.analyzers.checks.check_analyzer` checks it);
* ``counts_own_coverage`` — required streams whose loss in a recording cut short the analyzer accounts for itself
  (else the scan scales its confidence by the share of the recording that decodes);
* ``parameters`` — its tunable parameters, declared as :class:`Param` class attributes with allowed ranges (stored by
  ``__init__``, checked when :meth:`Analyzer.analyze` runs, as scikit-learn does);
* ``_run(tracks)`` — the algorithm, from extracted tracks to an
  :class:`AnalyzerResult`.

:meth:`Analyzer.analyze` wraps ``_run``: a missing stream gives ``skipped``
with the reason, an :class:`~interview_guard.errors.InterviewGuardError` or an
unexpected exception gives ``failed`` with the reason, and the result is
checked (score in [0, 1], evidence inside the session, no NaN or infinity in
its numbers, metrics and evidence details included: a report is strict JSON)
before it is returned.
"""

from __future__ import annotations

import enum
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, overload

from interview_guard.errors import InterviewGuardError, ParameterError
from interview_guard.tracks import Stream, Tracks

__all__ = [
    "Status",
    "Evidence",
    "WindowScore",
    "AnalyzerResult",
    "Param",
    "Analyzer",
    "find_non_finite",
    "moments_words",
]

T = TypeVar("T")


def find_non_finite(value: Any, where: str) -> str | None:
    """Where the first NaN or infinite number in ``value`` (nested dicts, lists and tuples) is, or None.

    ``where`` names ``value`` (``"metrics"``); the answer extends it with the keys and indices, e.g.
    ``"metrics.measures.flicker.median is nan"``. A report is strict JSON, which has neither: a value that was
    not measured is None.
    """
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
            if not math.isfinite(v):
                return f"{path} is {v}"
        elif isinstance(v, dict):
            stack.extend((f"{path}.{k}", x) for k, x in reversed(list(v.items())))
        elif isinstance(v, list | tuple):
            stack.extend((f"{path}[{i}]", x) for i, x in reversed(list(enumerate(v))))
    return None


def moments_words(times: Any, total: int, *, show: int = 5) -> str:
    """Where a finding's instances are, for its sentence: "at 1.9, 21.2 and 23.6 s" or "the first at 1.9,
    5.5, 13.3, 14.8 and 16.2 s" ("" when there is no time). ``times`` in seconds, in time order (repeats and
    times within 0.05 s of the one before are shown once); ``total``: how many instances the finding counts."""
    shown: list[str] = []
    for t in times:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            continue
        word = f"{t:.1f}"
        if not shown or word != shown[-1]:
            shown.append(word)
    if not shown:
        return ""
    cut = shown[:show]
    listed = cut[0] if len(cut) == 1 else ", ".join(cut[:-1]) + " and " + cut[-1]
    return f"{'the first ' if len(shown) > len(cut) or total > len(times) else ''}at {listed} s"


class Status(str, enum.Enum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


@dataclass(frozen=True)
class Evidence:
    """One checkable finding.

    Attributes
    ----------
    analyzer : str
        Name of the analyzer that found it.
    kind : str
        Machine-readable finding type (e.g. ``catch_up_bursts``).
    start_s, end_s : float
        Where in the session (seconds) it was seen.
    score : float
        How suspicious this finding is on its own, in [0, 1].
    summary : str
        One sentence with the numbers, for a human.
    details : dict
        The measurements behind it (JSON-serialisable).
    """

    analyzer: str
    kind: str
    start_s: float
    end_s: float
    score: float
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "kind": self.kind,
            "start_s": _r(self.start_s),
            "end_s": _r(self.end_s),
            "score": _r(self.score, 4),
            "summary": self.summary,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        return cls(
            analyzer=d["analyzer"],
            kind=d["kind"],
            start_s=float(d["start_s"]),
            end_s=float(d["end_s"]),
            score=float(d["score"]),
            summary=d.get("summary", ""),
            details=dict(d.get("details", {})),
        )


@dataclass(frozen=True)
class WindowScore:
    """An analyzer's score over one stretch of the session (for the timeline)."""

    start_s: float
    end_s: float
    score: float | None
    n: int = 0  # how many observations (keys, frames, ...) the window holds

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": _r(self.start_s),
            "end_s": _r(self.end_s),
            "score": None if self.score is None else _r(self.score, 4),
            "n": int(self.n),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WindowScore:
        return cls(
            float(d["start_s"]),
            float(d["end_s"]),
            None if d["score"] is None else float(d["score"]),
            int(d.get("n", 0)),
        )


@dataclass(frozen=True)
class AnalyzerResult:
    """What one analyzer says about one session.

    ``score`` is in [0, 1], higher is more suspicious, and is ``None`` unless
    ``status`` is ok. ``confidence`` in [0, 1] says how much data stood behind
    the score (few keys, short video: low); the fusion weighs by it.
    """

    name: str
    status: Status
    score: float | None = None
    confidence: float = 0.0
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()
    windows: tuple[WindowScore, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def skipped(cls, name: str, reason: str) -> AnalyzerResult:
        return cls(name=name, status=Status.SKIPPED, reason=reason)

    @classmethod
    def failed(cls, name: str, reason: str) -> AnalyzerResult:
        return cls(name=name, status=Status.FAILED, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "score": None if self.score is None else _r(self.score, 4),
            "confidence": _r(self.confidence, 3),
            "reason": self.reason,
            "evidence": [e.to_dict() for e in self.evidence],
            "windows": [w.to_dict() for w in self.windows],
            "metrics": self.metrics,
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> AnalyzerResult:
        return cls(
            name=name,
            status=Status(d["status"]),
            score=None if d.get("score") is None else float(d["score"]),
            confidence=float(d.get("confidence", 0.0)),
            reason=d.get("reason", ""),
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence", [])),
            windows=tuple(WindowScore.from_dict(w) for w in d.get("windows", [])),
            metrics=dict(d.get("metrics", {})),
        )


class Param(Generic[T]):
    """Declaration of one tunable parameter: default, allowed range and a line of documentation.

    Declared as a class attribute of an analyzer (``window_s = Param(30.0, 5.0, 3600.0, "window length (s)")``),
    it is also the typed attribute through which the analyzer reads the value: ``self.window_s`` is a float.
    ``__init__`` stores values as given; :meth:`check` refuses bad ones when the work runs (as scikit-learn does).
    """

    def __init__(self, default: T, low: float | None = None, high: float | None = None, doc: str = "") -> None:
        self.default = default
        self.low = low
        self.high = high
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Param[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Param[T] | T:
        if obj is None:
            return self
        value: T = obj.__dict__.get(self.name, self.default)
        return value

    def __set__(self, obj: object, value: T) -> None:
        obj.__dict__[self.name] = value

    def __repr__(self) -> str:
        return f"Param({self.default!r}, {self.low!r}, {self.high!r}, {self.doc!r})"

    def check(self, owner: str, name: str, value: Any) -> None:
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ParameterError(f"{owner}: {name} must be True or False, got {value!r}")
            return
        if isinstance(self.default, int | float):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ParameterError(f"{owner}: {name} must be a finite number, got {value!r}")
            if self.low is not None and value < self.low:
                raise ParameterError(f"{owner}: {name}={value!r} is below its minimum {self.low}")
            if self.high is not None and value > self.high:
                raise ParameterError(f"{owner}: {name}={value!r} is above its maximum {self.high}")


#: What an empty stream extracted from a recording that is present means, for a skip reason.
_EMPTY_STREAM_WORDS = {
    Stream.FACE: "no face found in the video",
    Stream.HANDS: "no hand track from the video",
    Stream.IDENTITY: "no face in the video clear enough to describe (identity descriptors)",
    Stream.BLENDING: "no face in the video large enough to measure (blending traces)",
    Stream.PIXELS: "no pixel measurements around the face in the video",
    Stream.MOTION: "no motion measurements from the video",
    Stream.KEY_FRAMES: "no key frames from the video",
}

#: The stream whose absence means a recorded modality is missing from the session.
_MODALITY_STREAM = {"video": Stream.VIDEO, "audio": Stream.AUDIO, "keystrokes": Stream.KEYSTROKES}


def missing_streams_reason(missing: list[Stream], tracks: Tracks) -> str:
    """The skip reason for required ``missing`` streams, in the words of what the session lacks.

    A stream extracted from a modality the session does not have at all names the modality ("no video in
    this session", not "no identity"); a stream that is empty although its recording is there says what
    the recording lacked ("no face found in the video").
    """
    absent: list[str] = []
    empty: list[str] = []
    # Tracks built without the container facts (tests, tools) still came from a video when a track of it is there.
    video_streams = [s for s in Stream if s.modality == "video" and s is not Stream.VIDEO]
    has_video = tracks.has(Stream.VIDEO) or any(getattr(tracks, s.value) is not None for s in video_streams)
    for stream in missing:
        source = _MODALITY_STREAM.get(stream.modality)
        present = has_video if source is Stream.VIDEO else source is not None and tracks.has(source)
        if source is not None and (stream is source or not present):
            if stream.modality not in absent:
                absent.append(stream.modality)
        else:
            words = _EMPTY_STREAM_WORDS.get(stream, f"no {stream.value}")
            if words not in empty:
                empty.append(words)
    parts = ([f"no {' or '.join(absent)} in this session"] if absent else []) + empty
    return "; ".join(parts)


class Analyzer:
    """Base class of all analyzers (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    requires: ClassVar[frozenset[Stream]] = frozenset()
    uses: ClassVar[frozenset[Stream]] = frozenset()  # streams read when present (never a reason to skip)
    # required streams whose loss in a recording cut short the analyzer counts itself (what it could not check
    # lowers its confidence); for the others the scan scales its confidence by the share that decodes
    counts_own_coverage: ClassVar[frozenset[Stream]] = frozenset()
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Param[Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collect the :class:`Param` attributes (the base classes' first, in declaration order)."""
        super().__init_subclass__(**kwargs)
        params: dict[str, Param[Any]] = {}
        for klass in reversed(cls.__mro__):
            params.update({k: v for k, v in vars(klass).items() if isinstance(v, Param)})
        cls.parameters = params

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.parameters)
        if unknown:
            raise ParameterError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}")
        for pname, spec in self.parameters.items():
            setattr(self, pname, params.get(pname, spec.default))

    def get_params(self) -> dict[str, Any]:
        """Current parameter values, by name."""
        return {p: getattr(self, p) for p in self.parameters}

    def validate_params(self) -> None:
        for pname, spec in self.parameters.items():
            spec.check(self.name, pname, getattr(self, pname))

    @property
    def modality(self) -> str:
        """The modality this analyzer checks (first required stream's modality)."""
        mods = sorted({s.modality for s in self.requires if s is not Stream.METADATA})
        return mods[0] if mods else "metadata"

    def analyze(self, tracks: Tracks) -> AnalyzerResult:
        """Run the analyzer on ``tracks``; never raises for bad data.

        Returns ``skipped`` when a required stream is absent and ``failed``
        (with the reason) when the analysis raised.
        """
        self.validate_params()
        missing = [s for s in sorted(self.requires, key=lambda s: s.value) if not tracks.has(s)]
        if missing:
            return AnalyzerResult.skipped(self.name, missing_streams_reason(missing, tracks))
        try:
            result = self._run(tracks)
        except InterviewGuardError as exc:
            return AnalyzerResult.failed(self.name, str(exc))
        except Exception as exc:  # a bug or a data case we did not foresee: keep the scan going
            return AnalyzerResult.failed(self.name, f"internal error: {exc.__class__.__name__}: {exc}")
        problem = self._contract_problem(result, tracks)
        if problem:
            return AnalyzerResult.failed(self.name, f"contract violation: {problem}")
        return result

    def _run(self, tracks: Tracks) -> AnalyzerResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def _contract_problem(self, result: AnalyzerResult, tracks: Tracks) -> str | None:
        """What is wrong with ``result`` under the contract, or None."""
        if result.name != self.name:
            return f"result named {result.name!r}"
        if result.status is Status.OK:
            if result.score is None or not (0.0 <= result.score <= 1.0):
                return f"score {result.score!r} outside [0, 1]"
        elif result.score is not None:
            return f"a {result.status.value} result carries a score"
        if not (0.0 <= result.confidence <= 1.0):
            return f"confidence {result.confidence!r} outside [0, 1]"
        tol = 1e-3
        for ev in result.evidence:
            if not (-tol <= ev.start_s <= ev.end_s <= tracks.duration_s + tol):
                return f"evidence {ev.kind} at {ev.start_s}-{ev.end_s} s outside the session (0-{tracks.duration_s} s)"
            if not (0.0 <= ev.score <= 1.0):
                return f"evidence score {ev.score} outside [0, 1]"
            bad = find_non_finite(ev.details, f"evidence {ev.kind} details")
            if bad:
                return bad
        for w in result.windows:
            if not (-tol <= w.start_s <= w.end_s <= tracks.duration_s + tol):
                return f"window {w.start_s}-{w.end_s} s outside the session"
            if w.score is not None and not (0.0 <= w.score <= 1.0):
                return f"window score {w.score} outside [0, 1]"
        return find_non_finite(result.metrics, "metrics")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
