"""Detection quality of ``av_sync`` on real talking-face clips, with shifted and foreign audio.

Genuine: the clips of ../shared/data/faces_video whose audio is speech in
sync with the lips (SOURCES.md: retalking_face1/3/5, sadtalker_WDA_...), as
recorded. Positives, made from the same clips on the decoded arrays (no
re-encoding):

* shifted: the audio moved by +-80, 120, 200, 300, 400 ms (positive: audio
  late; the gap is filled with silence, the end cut);
* foreign: the audio of another recording (speech/*.wav and the other
  in-sync clips), cut or padded to the clip.

Face tracks come from ``interview_guard.extract.video_scan.scan_video`` (``mode="full"``, 960 px)
(MediaPipe FaceLandmarker, models/face_landmarker.task, every frame) and are
cached under --cache. Prints the Markdown tables of docs/audio-analyzers.md::

    .venv/bin/python evaluation/av_sync_eval.py [--cache /tmp/ig_faces] [--extra]

``--extra`` adds the clips whose sync SOURCES.md does not vouch for
(retalking_face2, liveportrait_d6/d10/d11) to the genuine set. ``--hour``
instead times the analyzer on a synthetic one-hour session (30 fps face
track, 16 kHz audio) and reports the peak memory it added.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from interview_guard.analyzers.av_sync import AVSync
from interview_guard.io.audio_decode import decode_audio
from interview_guard.signals.metrics import rates_at_threshold, roc_auc
from interview_guard.tracks import Tracks
from interview_guard.tracks.audio import AudioTrack

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SYNC = [
    "faces_video/retalking_face1.mp4",
    "faces_video/retalking_face3.mp4",
    "faces_video/retalking_face5.mp4",
    "faces_video/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4",
]
EXTRA = [
    "faces_video/retalking_face2.mp4",
    "faces_video/liveportrait_d6.mp4",
    "faces_video/liveportrait_d10.mp4",
    "faces_video/liveportrait_d11.mp4",
]
SHIFTS_MS = (-400, -300, -200, -120, -80, 80, 120, 200, 300, 400)


def face_track(video: Path, cache: Path):
    """The clip's face track, from the cache or extracted (every frame, blendshapes on)."""
    from interview_guard.extract.scan_results import load_track_npz, save_track_npz
    from interview_guard.extract.video_scan import scan_video
    from interview_guard.tracks.video import FaceTrack

    cache.mkdir(parents=True, exist_ok=True)
    f = cache / (video.stem + ".face.npz")
    if f.exists():
        return load_track_npz(f, FaceTrack)
    face = scan_video(video, mode="full", max_side=960).face
    save_track_npz(f, face)
    return face


def shifted(track: AudioTrack, shift_ms: float) -> AudioTrack:
    """The same audio moved later by ``shift_ms`` (earlier when negative), length kept."""
    k = int(round(shift_ms * track.sr / 1000.0))
    y = track.samples
    out = np.zeros_like(y)
    if k >= 0:
        out[k:] = y[: y.size - k] if k < y.size else 0.0
    else:
        out[: y.size + k] = y[-k:]
    return AudioTrack(out, track.sr, track.start_s, f"{track.source} shifted {shift_ms:+g} ms")


def foreign(track: AudioTrack, other: AudioTrack) -> AudioTrack:
    """``other``'s samples in place of ``track``'s (cut or zero-padded to its length)."""
    out = np.zeros_like(track.samples)
    m = min(out.size, other.samples.size)
    out[:m] = other.samples[:m]
    return AudioTrack(out, track.sr, track.start_s, f"{other.source} over {track.source}")


def concatenate(parts, gap_s: float = 0.5):
    """One longer session from several (face track, audio) clips, one after the other.

    Each clip keeps its own audio-video relation; ``gap_s`` of silence and no
    face separates them.
    """
    from interview_guard.tracks.video import FaceTrack

    sr = parts[0][1].sr
    t_off = 0.0
    faces, ys = [], []
    for face, audio in parts:
        f = face.select(np.arange(len(face)))
        f.t_s = f.t_s - audio.start_s + t_off
        faces.append(f)
        dur = max(float(face.t_s[-1] - audio.start_s) + 0.05, audio.duration_s)
        y = np.zeros(int(round((dur + gap_s) * sr)), np.float32)
        m = min(y.size, audio.samples.size)
        y[:m] = audio.samples[:m]
        ys.append(y)
        t_off += y.size / sr
    cat = {a: np.concatenate([getattr(f, a) for f in faces]) for a in FaceTrack._ARRAYS}
    face = FaceTrack(**cat, frame_size=faces[0].frame_size)
    return face, AudioTrack(np.concatenate(ys), sr, 0.0, "concatenated"), t_off


def run(face, audio: AudioTrack, duration: float, analyzer: AVSync):
    return analyzer.analyze(Tracks(duration_s=duration, face=face, audio=audio))


def bench_hour(seconds: float = 3600.0, fps: float = 30.0) -> int:
    """Time and peak memory of AVSync on a synthetic talking session of ``seconds``."""
    import resource
    from dataclasses import dataclass

    @dataclass
    class Face:
        t_s: np.ndarray
        present: np.ndarray
        landmarks: np.ndarray
        blendshapes: np.ndarray
        blendshape_names: tuple
        frame_size: tuple = (1280, 720)

    rng = np.random.default_rng(0)
    rate = 100.0
    n = int(seconds * rate)
    m = np.zeros(n)
    on = rng.random(n // 25) < 0.6  # 250 ms syllable slots, 60 % voiced
    bumps = np.sin(np.linspace(0, np.pi, 25)) ** 2
    m[: on.size * 25] = (on[:, None] * rng.uniform(0.4, 1.0, on.size)[:, None] * bumps[None, :]).ravel()
    t = np.arange(0.0, seconds, 1.0 / fps)
    mv = np.interp(t, np.arange(n) / rate, m)
    lm = np.full((t.size, 478, 3), 0.5, np.float32)
    lm[:, 10, 1], lm[:, 152, 1] = 0.2, 0.8
    lm[:, 13, 1] = 0.62 - (0.004 + 0.06 * mv) / 2
    lm[:, 14, 1] = 0.62 + (0.004 + 0.06 * mv) / 2
    names = tuple(f"b{i}" for i in range(25)) + ("jawOpen",) + tuple(f"b{i}" for i in range(26, 52))
    bs = np.zeros((t.size, 52), np.float32)
    bs[:, 25] = 0.8 * mv
    face = Face(t, np.ones(t.size, bool), lm, bs, names)
    sr = 16000
    y = np.empty(int(seconds * sr), np.float32)
    step = 60 * sr
    for i in range(0, y.size, step):
        ts = (np.arange(i, min(i + step, y.size)) / sr) - 0.08  # audio 80 ms late
        env = np.interp(ts, np.arange(n) / rate, m)
        y[i : i + ts.size] = rng.standard_normal(ts.size) * (0.003 + 0.25 * env)
    audio = AudioTrack(y, sr, 0.0, "synthetic hour")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    r = AVSync(reference_lag_ms=0.0).analyze(Tracks(duration_s=seconds, face=face, audio=audio))
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"av_sync on {seconds / 60:.0f} min ({t.size} frames, audio {y.nbytes / 2**20:.0f} MB, landmarks "
        f"{lm.nbytes / 2**20:.0f} MB): {dt:.1f} s, peak memory +{max(rss1 - rss0, 0):.0f} MB over the inputs; "
        f"status {r.status.value}, offset {r.metrics.get('offset_ms')} ms (true 80), score {r.score}"
    )
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ig_faces"))
    ap.add_argument("--extra", action="store_true", help="add the clips whose sync is not vouched for")
    ap.add_argument("--orders", type=int, default=5, help="orders of the concatenated longer sessions")
    ap.add_argument("--hour", action="store_true", help="time a synthetic one-hour session instead")
    args = ap.parse_args(argv)
    if args.hour:
        return bench_hour()
    clips = SYNC + (EXTRA if args.extra else [])
    if not all((args.data / c).exists() for c in clips):
        print(f"clips missing under {args.data}", file=sys.stderr)
        return 1
    analyzer = AVSync()
    t_start = time.perf_counter()
    faces, audios, durs = {}, {}, {}
    for c in clips:
        p = args.data / c
        faces[c] = face_track(p, args.cache)
        audios[c] = decode_audio(p)
        durs[c] = float(max(faces[c].t_s[-1], audios[c].end_s))
    speech = [decode_audio(p) for p in sorted((args.data / "speech").glob("*.wav"))]
    t_prep = time.perf_counter() - t_start

    rows = []  # (clip, case, shift, label_shift, label_foreign, result)
    t0 = time.perf_counter()
    n_runs = 0
    for c in clips:
        base = run(faces[c], audios[c], durs[c], analyzer)
        n_runs += 1
        rows.append((c, "genuine", 0, 0, 0, base))
        for s in SHIFTS_MS:
            r = run(faces[c], shifted(audios[c], s), durs[c], analyzer)
            n_runs += 1
            outside = s < -analyzer.audio_early_ms or s > analyzer.audio_late_ms
            rows.append((c, "shifted", s, int(outside), 0, r))
        others = [audios[o] for o in SYNC if o != c] + speech
        for o in others:
            r = run(faces[c], foreign(audios[c], o), durs[c], analyzer)
            n_runs += 1
            rows.append((c, "foreign", 0, 0, 1, r))
    t_an = time.perf_counter() - t0

    def score(r):
        return r.score if r.score is not None else 0.0

    print("### av_sync on real clips\n")
    print(
        f"{len(clips)} genuine clips, {len(SHIFTS_MS)} shifts each, {len(SYNC) - 1 + len(speech)} foreign audios each; "
        f"{n_runs} analyses in {t_an:.1f} s ({1000 * t_an / n_runs:.0f} ms each; decoding and face tracks "
        f"{t_prep:.1f} s)\n"
    )
    print("| clip | measured offset, ms (genuine) | +- | peak corr | sync z | score |")
    print("| --- | --- | --- | --- | --- | --- |")
    base_off = {}
    for c, case, _s, _, _, r in rows:
        if case == "genuine":
            m = r.metrics
            base_off[c] = m.get("offset_ms")
            print(
                f"| {Path(c).stem} | {m.get('offset_ms')} | {m.get('offset_se_ms')} | {m.get('peak_corr')} | "
                f"{m.get('sync_z')} | {score(r):.3f} |"
                if r.status.value == "ok"
                else f"| {Path(c).stem} | {r.status.value}: {r.reason} | | | | |"
            )
    print(
        "\n| shift (ms, + = audio late) | mean error vs nominal, ms | mean abs error vs nominal | mean abs error vs "
        "the clip's own measured offset | flagged (score >= 0.5) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for s in SHIFTS_MS:
        sel = [(c, r) for c, case, ss, _, _, r in rows if case == "shifted" and ss == s and r.status.value == "ok"]
        err = np.array([r.metrics["offset_ms"] - s for _, r in sel])
        rel = np.array([r.metrics["offset_ms"] - s - base_off[c] for c, r in sel if base_off.get(c) is not None])
        flagged = np.mean([score(r) >= 0.5 for _, r in sel])
        print(
            f"| {s:+d} | {err.mean():+.0f} | {np.abs(err).mean():.0f} | {np.abs(rel).mean():.0f} | "
            f"{100 * flagged:.0f} % |"
        )
    gen = [score(r) for _, case, _, _, _, r in rows if case == "genuine"]
    out_s = [score(r) for _, case, _, lab, _, r in rows if case == "shifted" and lab]
    in_s = [score(r) for _, case, _, lab, _, r in rows if case == "shifted" and not lab]
    forg = [score(r) for _, case, _, _, _, r in rows if case == "foreign"]
    print("\n| negatives | positives | n neg / pos | AUC | flagged at 0.5: genuine / positives |")
    print("| --- | --- | --- | --- | --- |")
    for name, pos in (
        ("shifted outside -45..+125 ms", out_s),
        ("foreign audio", forg),
        ("shifted or foreign", out_s + forg),
    ):
        y = np.r_[np.zeros(len(gen)), np.ones(len(pos))]
        sc = np.r_[gen, pos]
        auc = roc_auc(labels=y, scores=sc)
        rt = rates_at_threshold(labels=y, scores=sc, threshold=0.5)
        print(
            f"| genuine clips | {name} | {len(gen)} / {len(pos)} | {auc:.3f} | {100 * rt['fpr']:.0f} % / "
            f"{100 * rt['tpr']:.0f} % |"
        )
    print(
        f"\nshifted inside the tolerance (+80, +120 ms): flagged {100 * np.mean(np.array(in_s) >= 0.5):.0f} % of "
        f"{len(in_s)}"
    )

    # longer sessions: the genuine clips one after the other, in several orders
    rng = np.random.default_rng(7)
    long_rows = []
    speech_cat = AudioTrack(np.concatenate([a.samples for a in speech]), 16000, 0.0, "speech/*.wav")
    for _ in range(args.orders):
        order = rng.permutation(len(clips))
        face, audio, dur = concatenate([(faces[clips[i]], audios[clips[i]]) for i in order])
        long_rows.append(("genuine", 0, run(face, audio, dur, analyzer)))
        for s in SHIFTS_MS:
            long_rows.append(("shifted", s, run(face, shifted(audio, s), dur, analyzer)))
        long_rows.append(("foreign", 0, run(face, foreign(audio, speech_cat), dur, analyzer)))
    print(f"\n### Longer sessions: the {len(clips)} clips concatenated ({dur:.0f} s, {args.orders} orders)\n")
    print("| case | measured offset, ms (mean, sd over orders) | sync z (mean) | score (mean) | flagged |")
    print("| --- | --- | --- | --- | --- |")
    for case, s in [("genuine", 0)] + [("shifted", s) for s in SHIFTS_MS] + [("foreign", 0)]:
        sel = [r for c, ss, r in long_rows if c == case and ss == s and r.status.value == "ok"]
        off = np.array([r.metrics["offset_ms"] for r in sel])
        z = np.array([r.metrics["sync_z"] or 0.0 for r in sel])
        sc = np.array([score(r) for r in sel])
        label = case if case != "shifted" else f"shifted {s:+d} ms"
        print(
            f"| {label} | {off.mean():+.0f} ({off.std():.0f}) | {z.mean():.1f} | {sc.mean():.3f} | "
            f"{100 * np.mean(sc >= 0.5):.0f} % |"
        )
    neg = [score(r) for c, s, r in long_rows if c == "genuine"]
    pos_shift = [
        score(r)
        for c, s, r in long_rows
        if c == "shifted" and (s < -analyzer.audio_early_ms or s > analyzer.audio_late_ms)
    ]
    pos_for = [score(r) for c, s, r in long_rows if c == "foreign"]
    for name, pos in (("shifted outside the tolerance", pos_shift), ("foreign audio", pos_for)):
        y = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
        print(
            f"\nlonger sessions, genuine vs {name}: AUC {roc_auc(labels=y, scores=np.r_[neg, pos]):.3f} "
            f"({len(neg)} / {len(pos)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
