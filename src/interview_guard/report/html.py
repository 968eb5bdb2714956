"""Self-contained HTML pages: one per report, and a ranked index for a batch.

:func:`render_report` turns a :class:`~interview_guard.report.model.Report` into one
HTML page that works offline: inline CSS, no script, no external URL; the
timeline plot and the key frames are embedded as base64 ``data:`` URIs. The
page shows, top to bottom:

* the fused risk score (``<span id="risk-score" data-score="...">``, the
  attribute holding ``repr`` of the JSON's ``risk.score``, empty when there
  is none) and the band (``id="risk-band"``);
* what drove it: one sentence per analyzer with its score, confidence, the
  log-odds it added in the fusion and the measurements behind it;
* what was not checked: absent modalities, skipped and failed analyzers
  with their reasons;
* a timeline of every analyzer's per-window scores with the evidence marked;
* the evidence, analyzer by analyzer, with the key frames (before, during,
  after) of video evidence.

Key frames come from the files the scan wrote (``details.key_frames``, from
``scan --frames DIR``), else from ``frames_dir``, else they are decoded from
the video (``video_path`` or the video recorded in the report) at
``details.key_frame_times``, seeking to each time rather than decoding the
whole file. Every string taken from the report is escaped.

:func:`render_index` ranks many reports (highest risk first) on one page
linking each session's page. Heavy libraries (matplotlib, PyAV, OpenCV) are
imported inside the functions that need them. Layout: ``docs/html-report.md``.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from interview_guard.atomic import atomic_write_text

__all__ = [
    "IndexEntry",
    "render_report",
    "render_index",
    "write_report_html",
    "write_index_html",
    "timeline_png",
    "index_href",
]

#: Longer side of thumbnails decoded from the video (the scan's key frames are this size too).
THUMB_SIDE = 320
#: At most this many evidence items per analyzer are shown (the JSON has them all).
MAX_EVIDENCE_PER_ANALYZER = 25
#: At most this many key frames are embedded in one page (about 20 kB each).
MAX_KEY_FRAMES = 60

_LABELS = {
    "keystroke_relay": "Keystroke relay",
    "face_occlusion": "Hand over face",
    "av_sync": "Lip sync",
    "acoustic_keystroke": "Key clicks vs key log",
}
_MODALITY_WORDS = {"keystrokes": "keystroke log", "audio": "audio", "video": "video"}
_BAND_WORDS = {
    "high": "high risk",
    "medium": "medium risk",
    "low": "low risk",
    "unassessed": "not assessed: nothing could be checked",
}
# Matplotlib colours of the analyzers on the timeline (unknown analyzers cycle through the rest).
_COLOURS = {
    "keystroke_relay": "#2563eb",
    "face_occlusion": "#9333ea",
    "av_sync": "#0d9488",
    "acoustic_keystroke": "#ca8a04",
}
_SPARE_COLOURS = ("#db2777", "#4b5563", "#65a30d", "#ea580c")


def _e(value) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def analyzer_label(name: str) -> str:
    """Human name of an analyzer (``keystroke_relay`` -> ``Keystroke relay``)."""
    return _LABELS.get(name) or name.replace("_", " ").strip().capitalize() or "?"


_KIND_LABELS = {
    "av_offset": "Audio/video offset",
    "lips_do_not_follow": "Lips do not follow the speech",
    "offset_drift": "Audio/video offset drifts",
    "occlusion_event": "Hand over the face",
    "catch_up_bursts": "Catch-up bursts",
    "collapsed_keydowns": "Collapsed key-downs",
}


def _kind_label(kind: str) -> str:
    return _KIND_LABELS.get(kind) or kind.replace("_", " ").strip().capitalize() or "Finding"


def _status(r) -> str:
    return getattr(r.status, "value", r.status)


def _num(v, nd: int = 2) -> str:
    """A metric value for a person: integers as is, floats to ``nd`` decimals (or 3 significant digits)."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and abs(v) < 10 ** (-nd):
            return f"{v:.2g}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{nd}f}".rstrip("0").rstrip(".")
    return str(v)


def _times(a: float, b: float) -> str:
    return f"{a:.1f} s" if abs(b - a) < 0.05 else f"{a:.1f}–{b:.1f} s"


def _score_class(score) -> str:
    if score is None:
        return "s-none"
    if score >= 0.5:
        return "s-high"
    if score >= 0.2:
        return "s-mid"
    return "s-low"


# --------------------------------------------------------------------------- what drove it


def _ratio(count, expected) -> str:
    if not expected or expected <= 0:
        return ""
    ratio = count / expected
    return (
        f", {ratio:.0f}x the {_num(float(expected))} expected from a genuine typist"
        if ratio >= 10
        else (f", {ratio:.1f}x the {_num(float(expected))} expected from a genuine typist")
    )


def _explain_keystroke_relay(m: dict) -> str:
    inc = m.get("relay_incidents") or {}
    count = int(inc["count"])
    presses = int(m["key_presses"])
    exp = inc.get("expected_genuine")
    if count:
        s = f"{count} relay incident{'s' if count != 1 else ''} in {presses:,} key presses{_ratio(count, exp)}"
    else:
        s = f"no relay incident in {presses:,} key presses"
        if exp:
            s += f" (about {_num(float(exp))} expected by chance)"
    rules = {k: v for k, v in (inc.get("by_rule") or {}).items() if v}
    if rules:
        s += " (" + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in rules.items()) + ")"
    lag = m.get("transport_lag")
    if isinstance(lag, dict) and lag.get("median_ms") is not None:
        if lag.get("synced"):
            s += f"; keys reached the server a median {lag['median_ms']:.0f} ms after they were typed"
        if lag.get("jitter_ms") is not None:
            s += f" (transport jitter {lag['jitter_ms']:.1f} ms)"
    if m.get("coarse_clock"):
        s += f"; the browser clock is coarse ({_num(m.get('clock_resolution_ms'))} ms grid)"
    return s


def _explain_face_occlusion(m: dict, evidence) -> str:
    n = int(m["occlusion_events"])
    frames = int(m["analysed_frames"])
    presence = m.get("face_presence")
    seen = f" (face visible in {presence:.0%} of them)" if isinstance(presence, (int, float)) else ""
    if n == 0:
        s = (
            f"no hand crossed the face in {frames:,} analysed frames{seen}, so the hand-over-face test did not happen"
            f" (largest overlap {float(m.get('max_overlap') or 0.0):.0%})"
        )
    else:
        s = f"{n} hand-over-face event{'s' if n != 1 else ''} in {frames:,} analysed frames{seen}"
        occ = [e for e in evidence if e.kind == "occlusion_event"]
        if occ:
            worst = max(occ, key=lambda e: e.score)
            s += f"; the worst, at {_times(worst.start_s, worst.end_s)}, scored {worst.score:.2f}"
    missed = [e for e in evidence if e.kind == "challenge_not_performed"]
    if missed:
        s += f"; {len(missed)} requested hand wave{'s' if len(missed) != 1 else ''} not performed"
    return s


def _explain_av_sync(m: dict) -> str:
    off = float(m["offset_ms"])
    side = "late" if off > 0 else "early"
    s = f"audio {abs(off):.0f} ms {side} against the lips"
    if m.get("offset_se_ms") is not None:
        s += f" (±{float(m['offset_se_ms']):.0f} ms)"
    if m.get("sync_z") is not None:
        s += f", lip–speech correlation z = {float(m['sync_z']):.1f}"
    if m.get("not_following_share") is not None:
        s += f", {float(m['not_following_share']):.0%} of speech windows not following the lips"
    if m.get("speech_with_face_s") is not None:
        s += f", over {float(m['speech_with_face_s']):.0f} s of speech with a visible face"
    return s


def _explain_acoustic_keystroke(m: dict) -> str:
    presses = int(m["key_presses"])
    if m.get("offset_found"):
        s = f"{int(m['matched']):,} of {presses:,} key presses have a click in the audio ({float(m['match_rate']):.0%})"
        if m.get("spread_ms") is not None:
            s += f", click-to-key lag spread {float(m['spread_ms']):.1f} ms"
        if m.get("idle_train_clicks"):
            s += f", {int(m['idle_train_clicks'])} clicks heard while the key log was idle"
        return s
    return (
        f"{presses:,} key presses logged but no train of clicks in the audio lines up with them "
        f"({int(m.get('clicks') or 0):,} click-like sounds)"
    )


def _explain_generic(m: dict) -> str:
    parts = []
    for k, v in m.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        parts.append(f"{k.replace('_', ' ')} {_num(v)}")
        if len(parts) == 4:
            break
    return ", ".join(parts)


def explain_result(result) -> str:
    """One clause with the numbers behind an ``ok`` analyzer result (empty when there are none).

    Known analyzers get their own wording from their ``metrics``; unknown ones
    (or metrics missing a field) get the first few numeric metrics.
    """
    m = result.metrics or {}
    try:
        if result.name == "keystroke_relay":
            return _explain_keystroke_relay(m)
        if result.name == "face_occlusion":
            return _explain_face_occlusion(m, result.evidence)
        if result.name == "av_sync":
            return _explain_av_sync(m)
        if result.name == "acoustic_keystroke":
            return _explain_acoustic_keystroke(m)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return _explain_generic(m)


def _contribution_words(dz) -> str:
    if dz is None:
        return ""
    if dz > 0.005:
        return f"raised the risk by {dz:+.2f} log-odds"
    if dz < -0.005:
        return f"lowered the risk by {abs(dz):.2f} log-odds"
    return "left the risk unchanged"


def _drivers_html(report) -> str:
    contributions = report.risk.get("contributions") or {}
    ok = [r for r in report.analyzers.values() if _status(r) == "ok" and r.score is not None]
    ok.sort(key=lambda r: (-(contributions.get(r.name) or 0.0), r.name))
    items = []
    for r in ok:
        text = f"score {r.score:.2f}, confidence {r.confidence:.2f}"
        words = _contribution_words(contributions.get(r.name))
        if words:
            text += f"; {words}"
        why = explain_result(r)
        line = f"<strong>{_e(analyzer_label(r.name))}</strong>: {_e(text)}"
        if why:
            line += f" — {_e(why)}."
        else:
            line += "."
        if r.reason:
            line += f' <span class="caveat">Caveat: {_e(r.reason)}.</span>'
        items.append(f'<li class="driver {_score_class(r.score)}">{line}</li>')
    if not items:
        return '<p class="muted">No analyzer could run on this session, so there is no risk score.</p>'
    head = ""
    positive = [r for r in ok if (contributions.get(r.name) or 0.0) > 0.005]
    if positive:
        names = ", ".join(analyzer_label(r.name) for r in positive)
        head = f"<p>The risk rests mostly on <strong>{_e(names)}</strong>.</p>"
    elif ok:
        head = "<p>No analyzer found more than a genuine session shows.</p>"
    return head + '<ul class="drivers">' + "".join(items) + "</ul>"


def _registry_needs() -> dict[str, list[str]]:
    try:
        from interview_guard.analyzers import registry

        return {
            n: sorted({s.modality for s in cls.requires if s.modality != "metadata"}) for n, cls in registry().items()
        }
    except Exception:  # pragma: no cover - the registry is plain Python; never let the page fail on it
        return {}


def _not_checked_html(report) -> str:
    lines = []
    absent = report.risk.get("absent_modalities")
    if absent is None:
        mods = report.session.get("modalities") or {}
        absent = sorted(m for m, present in mods.items() if not present)
    if absent:
        words = [_MODALITY_WORDS.get(m, m) for m in absent]
        listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and no " + words[-1]
        lines.append(
            f'<li class="nc-absent">The session has no {_e(listed)}: nothing about '
            f"{'it' if len(words) == 1 else 'them'} was checked.</li>"
        )
    needs = _registry_needs()
    for r in report.analyzers.values():
        st = _status(r)
        if st == "ok":
            continue
        what = needs.get(r.name)
        mod = f" ({_e(', '.join(what))})" if what else ""
        how = "was skipped" if st == "skipped" else "failed"
        reason = f": {_e(r.reason)}" if r.reason else ""
        lines.append(
            f'<li class="nc-{_e(st)}"><strong>{_e(analyzer_label(r.name))}</strong>{mod} was not checked — '
            f"it {how}{reason}.</li>"
        )
    if not lines:
        return ""
    return '<section id="not-checked"><h2>Not checked</h2><ul class="plain">' + "".join(lines) + "</ul></section>"


# --------------------------------------------------------------------------- timeline


def _colour(name: str, i: int) -> str:
    return _COLOURS.get(name) or _SPARE_COLOURS[i % len(_SPARE_COLOURS)]


def timeline_png(report, *, width_in: float = 10.5, dpi: int = 110) -> bytes | None:
    """A PNG of each analyzer's per-window scores over the session, evidence marked; None when nothing ran.

    One row per analyzer that ran: its window scores as bars (hatched where a
    window held too little data), the 0.5 threshold dashed, and each evidence
    item as a shaded span (darker for higher scores) with a marker on top.
    """
    rows = [r for r in report.analyzers.values() if _status(r) == "ok" and (r.windows or r.evidence)]
    if not rows:
        return None
    from matplotlib.figure import Figure  # noqa: PLC0415 - heavy, only when a page is rendered

    ends = [w.end_s for r in rows for w in r.windows] + [e.end_s for r in rows for e in r.evidence]
    duration = float(report.session.get("duration_s") or 0.0) or max(ends + [1.0])
    fig = Figure(figsize=(width_in, 0.35 + 1.05 * len(rows)), dpi=dpi)
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, r) in enumerate(zip(axes, rows)):
        c = _colour(r.name, i)
        for w in r.windows:
            if w.end_s <= w.start_s:
                continue
            if w.score is None:
                ax.bar(
                    w.start_s,
                    1.0,
                    width=w.end_s - w.start_s,
                    align="edge",
                    color="none",
                    edgecolor="#d0d5dd",
                    hatch="///",
                    linewidth=0,
                )
            else:
                ax.bar(
                    w.start_s,
                    max(w.score, 0.015),
                    width=w.end_s - w.start_s,
                    align="edge",
                    color=c,
                    alpha=0.35,
                    edgecolor=c,
                    linewidth=1.0,
                )
        # evidence: a strip above the bars (each finding's extent, coloured by its score); short
        # findings also get a light full-height span and a marker so they stand out
        for ev in sorted(r.evidence, key=lambda e: e.score):
            colour = "#dc2626" if ev.score >= 0.5 else "#f59e0b" if ev.score >= 0.2 else "#9ca3af"
            width = max(ev.end_s - ev.start_s, duration * 0.003)
            ax.broken_barh([(ev.start_s, width)], (1.05, 0.1), facecolors=colour, alpha=0.45 + 0.5 * float(ev.score))
            if ev.end_s - ev.start_s < 0.25 * duration:
                ax.axvspan(
                    ev.start_s,
                    ev.start_s + width,
                    ymax=1.0 / 1.2,
                    color=colour,
                    alpha=0.05 + 0.1 * float(ev.score),
                    linewidth=0,
                    zorder=0,
                )
                ax.plot([ev.start_s + 0.5 * width], [1.18], marker="v", color=colour, markersize=5, clip_on=False)
        ax.axhline(0.5, color="#6b7280", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1.2)
        ax.set_yticks([0, 0.5, 1])
        ax.set_xlim(0, duration)
        ax.tick_params(labelsize=8, colors="#374151")
        ax.set_ylabel(
            textwrap.fill(analyzer_label(r.name), 12), rotation=0, ha="right", va="center", fontsize=9, color="#111827"
        )
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="x", color="#eef0f3", linewidth=0.8)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("session time (s)", fontsize=9, color="#374151")
    fig.subplots_adjust(left=0.14, right=0.985, top=0.96, bottom=0.12 if len(rows) > 1 else 0.3, hspace=0.35)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- key frames


def _data_uri(data: bytes) -> str:
    mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _thumbnail(data: bytes) -> bytes:
    """Shrink an image larger than a thumbnail (frames from elsewhere than the scan); as is otherwise."""
    if len(data) < 120_000:
        return data
    try:
        import cv2  # noqa: PLC0415
        import numpy as np

        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            return data
        h, w = img.shape[:2]
        s = THUMB_SIDE / max(h, w)
        if s < 1:
            img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return buf.tobytes() if ok else data
    except Exception:  # a thumbnail is a nicety: keep the original
        return data


def decode_frames(video_path, times: Iterable[float], *, max_side: int = THUMB_SIDE) -> dict[float, bytes]:
    """JPEG thumbnails of the frames nearest to ``times`` (seconds on the video's clock).

    Seeks to each time and decodes only the few frames around it (PyAV via
    :func:`~interview_guard.io.video_decode.iter_frames`); never the whole file.
    A time with no frame within a quarter second is left out.

    Raises
    ------
    MediaError
        The video cannot be opened (missing, empty, not a video).
    """
    import cv2  # noqa: PLC0415 - heavy, only when frames are decoded

    from interview_guard.errors import MediaError
    from interview_guard.io.video_decode import iter_frames

    out: dict[float, bytes] = {}
    for t in sorted(set(float(x) for x in times)):
        best = None
        # the call itself raises when the file cannot be used at all; a window without a frame is skipped
        frames = iter_frames(video_path, max_side=max_side, start_s=max(0.0, t - 0.25), end_s=t + 0.25, rgb=False)
        try:
            for fr in frames:
                if best is None or abs(fr.t_s - t) < abs(best.t_s - t):
                    best = fr
                if fr.t_s >= t:
                    break
        except MediaError:
            continue
        finally:
            frames.close()
        if best is None:
            continue
        ok, buf = cv2.imencode(".jpg", best.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            out[t] = buf.tobytes()
    return out


def _frame_label(t: float, start: float, end: float) -> str:
    if t < start - 1e-6:
        return "before"
    if t > end + 1e-6:
        return "after"
    return "during"


def _file_for_time(paths: list[str], t: float, times: list[float]) -> str | None:
    suffix = f"_{t:09.3f}s.jpg"
    for p in paths:
        if str(p).endswith(suffix):
            return str(p)
    if len(paths) == len(times):
        return str(paths[times.index(t)])
    return None


class _FrameSource:
    """Finds the image of each key frame: scan's files, then ``frames_dir``, then the video."""

    def __init__(self, report, frames_dir, video_path) -> None:
        self.session_id = report.session_id
        self.frames_dir = None if frames_dir is None else Path(frames_dir)
        self.video_explicit = video_path is not None
        if video_path is not None:
            self.video = Path(video_path)
        else:
            v = (report.session.get("files") or {}).get("video")
            self.video = Path(v) if v else None
        self.decoded: dict[float, bytes] | None = None
        self.video_error: str | None = None
        self.embedded = 0
        self.wanted_times = sorted(
            {
                float(t)
                for r in report.analyzers.values()
                for ev in r.evidence
                for t in (ev.details.get("key_frame_times") or [])
                if isinstance(t, (int, float))
            }
        )

    def _from_files(self, ev, t, times) -> bytes | None:
        paths = [p for p in (ev.details.get("key_frames") or []) if isinstance(p, str)]
        candidates = []
        p = _file_for_time(paths, t, times) if paths else None
        if p:
            candidates.append(Path(p))
        if self.frames_dir is not None:
            from interview_guard.pipeline.scan import key_frame_filename  # noqa: PLC0415

            if p:
                candidates.append(self.frames_dir / Path(p).name)
            candidates.append(self.frames_dir / key_frame_filename(self.session_id, t))
        for c in candidates:
            try:
                if c.is_file():
                    return _thumbnail(c.read_bytes())
            except OSError:
                continue
        return None

    def _from_video(self, t) -> bytes | None:
        if self.video is None:
            return None
        if self.decoded is None:
            self.decoded = {}
            if not self.video.is_file():
                if self.video_explicit:
                    self.video_error = f"{self.video}: file not found"
                return None
            try:
                self.decoded = decode_frames(self.video, self.wanted_times[:MAX_KEY_FRAMES])
            except Exception as exc:  # MediaError, or a decoder bug: say so on the page, do not fail it
                self.video_error = str(exc) or exc.__class__.__name__
        return self.decoded.get(t)

    def frames(self, ev) -> list[tuple[float, bytes | None]]:
        times = [float(t) for t in (ev.details.get("key_frame_times") or []) if isinstance(t, (int, float))]
        out = []
        for t in times:
            if self.embedded >= MAX_KEY_FRAMES:
                out.append((t, None))
                continue
            img = self._from_files(ev, t, times) or self._from_video(t)
            if img is not None:
                self.embedded += 1
            out.append((t, img))
        return out


def _frames_html(ev, source: _FrameSource) -> str:
    frames = source.frames(ev)
    if not frames:
        return ""
    shown = [(t, img) for t, img in frames if img is not None]
    stamps = ", ".join(f"{t:.2f} s" for t, _ in frames)
    if not shown:
        if source.embedded >= MAX_KEY_FRAMES:
            why = f"not embedded: this page already holds {MAX_KEY_FRAMES} frames"
        elif source.video_error:
            why = f"were not saved, and decoding them from the video failed ({source.video_error})"
        else:
            why = "were not saved (scan with --frames DIR, or render with --video PATH)"
        return f'<p class="frames-missing">Key frames ({_e(stamps)}) {_e(why)}.</p>'
    cells = []
    for t, img in frames:
        label = _frame_label(t, ev.start_s, ev.end_s)
        if img is None:
            cells.append(
                f'<figure class="frame missing"><div class="nofr">not available</div>'
                f"<figcaption>{_e(label)} · {t:.2f} s</figcaption></figure>"
            )
        else:
            cells.append(
                f'<figure class="frame"><img class="key-frame" src="{_data_uri(img)}" '
                f'alt="{_e(label)} the event, at {t:.2f} s" data-t="{t:.3f}">'
                f"<figcaption>{_e(label)} · {t:.2f} s</figcaption></figure>"
            )
    return '<div class="frames">' + "".join(cells) + "</div>"


# --------------------------------------------------------------------------- evidence and measurements


def _evidence_html(report, source: _FrameSource) -> str:
    blocks = []
    for r in report.analyzers.values():
        if _status(r) != "ok":
            continue
        evs = sorted(r.evidence, key=lambda e: (-e.score, e.start_s))
        head = (
            f'<h3><span class="dot" style="background:{_colour(r.name, 0)}"></span>{_e(analyzer_label(r.name))}'
            f' <span class="pill {_score_class(r.score)}">score {r.score:.2f}</span>'
            f' <span class="conf">confidence {r.confidence:.2f}</span></h3>'
        )
        if not evs:
            body = '<p class="muted">No finding.</p>'
        else:
            items = []
            for ev in evs[:MAX_EVIDENCE_PER_ANALYZER]:
                items.append(
                    f'<div class="ev {_score_class(ev.score)}"><div class="ev-head">'
                    f'<span class="pill {_score_class(ev.score)}">{ev.score:.2f}</span> '
                    f'<span class="kind">{_e(_kind_label(ev.kind))}</span> '
                    f'<span class="when">{_e(_times(ev.start_s, ev.end_s))}</span></div>'
                    f'<p class="summary">{_e(ev.summary[:1].upper() + ev.summary[1:]) if ev.summary else ""}</p>'
                    f"{_frames_html(ev, source)}</div>"
                )
            more = len(evs) - MAX_EVIDENCE_PER_ANALYZER
            if more > 0:
                items.append(f'<p class="muted">{more} more finding(s) of lower score are in the JSON report.</p>')
            body = "".join(items)
        blocks.append(f'<div class="analyzer" id="an-{_e(r.name)}">{head}{body}{_metrics_html(r)}</div>')
    if not blocks:
        return ""
    return '<section id="evidence"><h2>Evidence</h2>' + "".join(blocks) + "</section>"


def _flatten(d: Mapping, prefix: str = "", depth: int = 0):
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and depth < 2:
            yield from _flatten(v, f"{key}.", depth + 1)
        elif isinstance(v, (list, tuple)):
            shown = ", ".join(_num(x) if not isinstance(x, (dict, list)) else "…" for x in list(v)[:8])
            yield key, shown + (", …" if len(v) > 8 else "")
        else:
            yield key, _num(v, 3)


def _metrics_html(r) -> str:
    if not r.metrics:
        return ""
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _flatten(r.metrics))
    return f'<details class="metrics"><summary>All measurements</summary><table>{rows}</table></details>'


# --------------------------------------------------------------------------- page


_CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;
--high:#b91c1c;--medium:#b45309;--low:#15803d;--none:#6b7280}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}
h1{font-size:24px;margin:2px 0 6px;word-break:break-all}
h2{font-size:17px;margin:0 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:4px 0 10px;display:flex;align-items:center;gap:8px;flex-wrap:wrap}
section,header.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:0 0 18px}
header.top{display:flex;justify-content:space-between;gap:24px;align-items:center}
.eyebrow{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
.meta{color:var(--muted);font-size:13px;word-break:break-all}
.verdict{text-align:right;min-width:210px}
.verdict .label{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
#risk-score{display:block;font-size:46px;font-weight:700;line-height:1.1;font-variant-numeric:tabular-nums}
#risk-score.none{font-size:22px;font-weight:600;color:var(--none)}
.band{display:inline-block;margin-top:6px;padding:4px 12px;border-radius:999px;color:#fff;font-weight:700;
font-size:16px;line-height:1.2;letter-spacing:.06em;font-variant-caps:all-small-caps}
.band-high{background:var(--high)}.band-medium{background:var(--medium)}.band-low{background:var(--low)}
.band-unassessed{background:var(--none)}
.bandnote{font-size:12px;color:var(--muted);margin-top:4px}
.failed{border-left:5px solid var(--high)}
.failed pre{white-space:pre-wrap;word-break:break-word;background:#fef2f2;color:#7f1d1d;padding:10px 12px;border-radius:6px}
ul.drivers,ul.plain{margin:0;padding-left:20px}
ul.drivers li{margin:0 0 8px}
li.s-high::marker{color:var(--high)}li.s-mid::marker{color:var(--medium)}li.s-low::marker{color:var(--low)}
.caveat{color:var(--muted);font-size:13px}
.muted{color:var(--muted)}
.pill{display:inline-block;min-width:42px;text-align:center;padding:1px 8px;border-radius:999px;font-size:12px;
font-weight:700;font-variant-numeric:tabular-nums}
.s-high.pill{background:#fee2e2;color:var(--high)}.s-mid.pill{background:#fef3c7;color:var(--medium)}
.s-low.pill{background:#dcfce7;color:var(--low)}.s-none.pill{background:#f3f4f6;color:var(--none)}
.conf{font-size:12px;color:var(--muted);font-weight:400}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%}
.analyzer{padding:6px 0 10px;border-bottom:1px solid var(--line);margin-bottom:10px}
.analyzer:last-child{border-bottom:0;margin-bottom:0}
.ev{border-left:3px solid var(--line);padding:4px 0 4px 12px;margin:0 0 12px}
.ev.s-high{border-left-color:var(--high)}.ev.s-mid{border-left-color:#f59e0b}
.ev-head{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.kind{font-weight:600}.when{color:var(--muted);font-size:13px;font-variant-numeric:tabular-nums}
.summary{margin:4px 0 6px}
.frames{display:flex;gap:10px;flex-wrap:wrap;margin:6px 0 4px}
.frame{margin:0;background:#f9fafb;border:1px solid var(--line);border-radius:6px;padding:6px}
.frame img{display:block;width:240px;max-width:100%;height:auto;border-radius:4px}
.frame figcaption{font-size:12px;color:var(--muted);text-align:center;margin-top:4px}
.frame.missing .nofr{width:240px;height:135px;display:flex;align-items:center;justify-content:center;color:var(--muted)}
.frames-missing{font-size:13px;color:var(--muted);font-style:italic;margin:2px 0}
#timeline img{display:block;width:100%;height:auto}
details.metrics{margin-top:6px}
details.metrics summary{cursor:pointer;color:var(--muted);font-size:13px}
table{border-collapse:collapse;font-size:13px}
details.metrics th{font-weight:400;text-align:left;color:var(--muted);padding:2px 18px 2px 0;font-family:ui-monospace,
SFMono-Regular,Menlo,Consolas,monospace}
details.metrics td{padding:2px 0;font-variant-numeric:tabular-nums}
.warn li{color:#92400e}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px;word-break:break-all}
table.index{width:100%;font-size:14px}
table.index th{text-align:left;font-size:12px;letter-spacing:.05em;text-transform:uppercase;color:var(--muted);
border-bottom:1px solid var(--line);padding:8px 10px}
table.index td{border-bottom:1px solid var(--line);padding:9px 10px;vertical-align:top}
table.index td.num{font-variant-numeric:tabular-nums;font-weight:700;text-align:right}
table.index tr.failed-row td{background:#fef2f2}
table.index .band{margin:0;font-size:11px;padding:2px 9px}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
.err{color:var(--high)}
@media print{body{background:#fff}section,header.top{border:0;padding:8px 0}}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _verdict_html(report) -> str:
    score = report.risk_score
    band = report.band or "unassessed"
    band_cls = band if band in _BAND_WORDS else "unassessed"
    data = "" if score is None else repr(score)
    if score is None:
        shown = '<span id="risk-score" class="none" data-score="">not assessed</span>'
    else:
        shown = f'<span id="risk-score" data-score="{_e(data)}">{score:.2f}</span>'
    note = _BAND_WORDS.get(band, "")
    if report.status != "ok":
        note = "the scan failed: nothing was checked"
    return (
        f'<div class="verdict"><div class="label">Fused risk</div>{shown}'
        f'<span id="risk-band" class="band band-{_e(band_cls)}">{_e(band)}</span>'
        f'<div class="bandnote">{_e(note)}</div></div>'
    )


def _header_html(report) -> str:
    s = report.session
    bits = []
    if s.get("path"):
        bits.append(_e(s["path"]))
    if s.get("duration_s") is not None:
        bits.append(f"{float(s['duration_s']):.1f} s")
    mods = s.get("modalities") or {}
    present = [_MODALITY_WORDS.get(m, m) for m, v in mods.items() if v]
    if mods:
        bits.append(_e(", ".join(present) or "no usable modality"))
    cand = (s.get("metadata") or {}).get("candidate_id")
    if cand:
        bits.append(f"candidate {_e(cand)}")
    if report.created_at:
        bits.append(f"scanned {_e(report.created_at)}")
    meta = " · ".join(bits)
    return (
        f'<header class="top"><div class="who"><div class="eyebrow">interview-guard session report</div>'
        f'<h1 id="session-id">{_e(report.session_id)}</h1><div class="meta">{meta}</div></div>'
        f"{_verdict_html(report)}</header>"
    )


def _footer_html(report) -> str:
    fusion = report.risk.get("fusion") or {}
    parts = [f"interview-guard {_e(report.tool_version)}", f"report schema {_e(report.schema_version)}"]
    if fusion.get("version"):
        sha = str(fusion.get("sha256") or "")[:12]
        parts.append(f"fusion parameters {_e(fusion['version'])}" + (f" (sha256 {_e(sha)}…)" if sha else ""))
    parts.append("scores are in [0, 1]; 0.5 is each analyzer's own threshold; the fused risk is a probability")
    return "<footer>" + " · ".join(parts) + "</footer>"


def render_report(report, *, frames_dir=None, video_path=None, title: str | None = None) -> str:
    """Render one report as a self-contained HTML page.

    Parameters
    ----------
    report : Report
        A scanned (or failed) session report.
    frames_dir : path, optional
        Where the key frames were written (``scan --frames DIR``), used when
        the paths in ``details.key_frames`` do not resolve (the frames were
        moved, or the report was read elsewhere).
    video_path : path, optional
        The session's video, to decode key frames that were not saved; by
        default the video recorded in the report (``session.files.video``)
        when it is still readable.
    title : str, optional
        The page title (default ``interview-guard: <session id>``).

    Returns
    -------
    str
        The HTML document: inline CSS, no script, images as ``data:`` URIs.
    """
    title = title or f"interview-guard: {report.session_id}"
    parts = [_header_html(report)]
    if report.status != "ok":
        parts.append(
            f'<section class="failed" id="scan-error"><h2>The scan failed</h2>'
            f"<p>The session could not be read, so nothing in it was checked.</p><pre>{_e(report.error or 'unknown error')}</pre></section>"
        )
    else:
        parts.append(f'<section id="drivers"><h2>What drove the score</h2>{_drivers_html(report)}</section>')
        parts.append(_not_checked_html(report))
        png = timeline_png(report)
        if png is not None:
            parts.append(
                '<section id="timeline"><h2>Timeline</h2><p class="muted">Each analyzer\'s score per window of the session '
                "(bars; hatched: too little data in the window) with its 0.5 threshold (dashed); above the bars, "
                "the stretch each finding covers (red: score ≥ 0.5, amber: ≥ 0.2, grey: below; ▼ marks short ones).</p>"
                f'<img id="timeline-plot" src="{_data_uri(png)}" alt="per-window scores of each analyzer over the session"></section>'
            )
        source = _FrameSource(report, frames_dir, video_path)
        parts.append(_evidence_html(report, source))
    if report.warnings:
        parts.append(
            '<section id="warnings"><h2>Warnings</h2><ul class="plain warn">'
            + "".join(f"<li>{_e(w)}</li>" for w in report.warnings)
            + "</ul></section>"
        )
    parts.append(_footer_html(report))
    return _page(title, "\n".join(p for p in parts if p))


def write_report_html(path, report, **options) -> Path:
    """Render ``report`` (options as :func:`render_report`) and write it to ``path`` atomically."""
    return atomic_write_text(path, render_report(report, **options))


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class IndexEntry:
    """One session on the index page: its report and the (relative) link to its page."""

    report: object
    href: str | None = None


def index_href(session_id: str, *, subdir: str = "sessions") -> str:
    """Relative link from an index page to ``<subdir>/<session_id>.html`` (URL-quoted)."""
    name = urllib.parse.quote(f"{session_id}.html")
    return f"{subdir}/{name}" if subdir else name


def _rank_key(entry: IndexEntry):
    r = entry.report
    if r.status != "ok":
        return (2, 0.0, r.session_id)
    if r.risk_score is None:
        return (1, 0.0, r.session_id)
    return (0, -float(r.risk_score), r.session_id)


def render_index(entries, *, title: str = "interview-guard: sessions ranked by risk") -> str:
    """Render many reports as one page ranking the sessions by risk, highest first.

    Parameters
    ----------
    entries : iterable of IndexEntry or (Report, href) pairs
        ``href`` is the link to the session's page (relative to the index),
        or None for no link.
    title : str

    Returns
    -------
    str
        A self-contained HTML page: rank, session (linked), risk, band, the
        top evidence item and the status (with the error of failed sessions).
    """
    items = [e if isinstance(e, IndexEntry) else IndexEntry(*e) for e in entries]
    items.sort(key=_rank_key)
    counts: dict[str, int] = {}
    rows = []
    for i, it in enumerate(items, 1):
        r = it.report
        key = "failed" if r.status != "ok" else (r.band or "unassessed")
        counts[key] = counts.get(key, 0) + 1
        name = _e(r.session_id)
        session = f'<a href="{_e(it.href)}">{name}</a>' if it.href else name
        risk = "—" if r.risk_score is None else f"{r.risk_score:.2f}"
        band = r.band or "unassessed"
        band_cls = band if band in _BAND_WORDS else "unassessed"
        if r.status != "ok":
            top = '<span class="muted">—</span>'
            status = f'<span class="err">failed: {_e(r.error or "unknown error")}</span>'
        else:
            evs = r.evidence()
            if evs:
                ev = evs[0]
                text = ev.summary if len(ev.summary) <= 180 else ev.summary[:177] + "…"
                top = (
                    f'<span class="pill {_score_class(ev.score)}">{ev.score:.2f}</span> '
                    f"<strong>{_e(analyzer_label(ev.analyzer))}</strong>: {_e(text)}"
                )
            else:
                top = '<span class="muted">no finding</span>'
            checked = len(r.risk.get("checked") or [])
            status = f'ok <span class="muted">({checked} of {len(r.analyzers)} analyzers ran)</span>'
        rows.append(
            f'<tr class="{"failed-row" if r.status != "ok" else ""}" data-session="{name}">'
            f'<td class="num">{i}</td><td>{session}</td><td class="num" data-score="{"" if r.risk_score is None else _e(repr(r.risk_score))}">{risk}</td>'
            f'<td><span class="band band-{_e(band_cls)}">{_e(band)}</span></td><td>{top}</td><td>{status}</td></tr>'
        )
    order = ["high", "medium", "low", "unassessed", "failed"]
    tally = ", ".join(f"{counts[k]} {k}" for k in order + sorted(set(counts) - set(order)) if counts.get(k))
    body = (
        f'<header class="top"><div class="who"><div class="eyebrow">interview-guard batch report</div>'
        f'<h1>{_e(title)}</h1><div class="meta">{len(items)} session(s){": " + _e(tally) if tally else ""}</div></div></header>'
        '<section><table class="index"><thead><tr><th>#</th><th>Session</th><th>Risk</th><th>Band</th>'
        "<th>Top evidence</th><th>Status</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
        "<footer>Highest risk first; sessions with no score (nothing could be checked), then failed scans, last.</footer>"
    )
    return _page(title, body)


def write_index_html(path, entries, **options) -> Path:
    """Render the index (options as :func:`render_index`) and write it to ``path`` atomically."""
    return atomic_write_text(path, render_index(entries, **options))
