"""Build the generated video sample sessions in sample_sessions/ with ``interview_guard.synth.generate``.

Only redistributable inputs go in (``--permissive-only``): face clips and
speech whose ``../shared/data/SOURCES.md`` licence is Apache-2.0, MIT or CC BY,
the two MIT keystroke logs of indutny/gradtype already in sample_sessions/,
and, for the hand-wave kinds, hands segmented by the project from the CC BY-SA
HaGRID photo collages (never the HandOverFace masks, whose licence is not
stated). Deterministic (fixed seed)::

    .venv/bin/python tools/make_video_samples.py [--shared ../shared] [--check]

Each kind becomes ``sample_sessions/video_<kind>/`` (video.mp4 with audio,
keystrokes.jsonl, session.json, label.json). The inputs and licences of every
session are written between the ``<!-- video-samples -->`` markers of
``sample_sessions/SOURCES.md``. ``--check`` regenerates into a temporary
directory and reports whether the committed labels and keystroke logs match.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
import tempfile
from pathlib import Path

from interview_guard.atomic import atomic_write_text
from interview_guard.synth.generate import KINDS, generate
from interview_guard.synth.inputs import default_inputs, is_permissive

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_sessions"
SEED = 2026
MAX_SECONDS = 6.0
TYPING_SECONDS = 30.0
HAND_KINDS = ("handwave_genuine", "handwave_faceswap")
BEGIN, END = "<!-- video-samples -->", "<!-- /video-samples -->"

GRADTYPE = {
    "gradtype_a.jsonl": SAMPLES / "typing_genuine_a" / "keystrokes.jsonl",
    "gradtype_b.jsonl": SAMPLES / "typing_genuine_b" / "keystrokes.jsonl",
}


def keystroke_inputs(tmp: Path) -> Path:
    """The two gradtype logs with a SOURCES.md stating their licence, as synth reads it."""
    d = tmp / "keystrokes"
    d.mkdir()
    lines = ["# gradtype logs (copies of sample_sessions/typing_genuine_a and _b)", ""]
    for name, src in GRADTYPE.items():
        shutil.copyfile(src, d / name)
        lines.append(
            f"- {name} | indutny/gradtype via sample_sessions/{src.parent.name} | "
            "MIT (Copyright Fedor Indutny, 2019) | |"
        )
    (d / "SOURCES.md").write_text("\n".join(lines) + "\n")
    return d


def build(out: Path, shared: Path | None, kinds) -> list[Path]:
    d = default_inputs(shared)
    with tempfile.TemporaryDirectory() as t:
        ks = keystroke_inputs(Path(t))
        return generate(
            out,
            n=len(kinds),
            seed=SEED,
            kinds=kinds,
            faces_dir=d["faces_dir"],
            speech_dir=d["speech_dir"],
            hands_dir=d["hands_dir"],
            keystrokes_dir=ks,
            max_seconds=MAX_SECONDS,
            typing_seconds=TYPING_SECONDS,
            permissive_only=True,
            progress=lambda step, completed, total: print(f"{step} {completed}/{total}", file=sys.stderr),
        )


def sources_block(dirs: list[Path]) -> str:
    L = [
        BEGIN,
        "",
        "## video_*/ (generated)",
        "",
        "Made by the project with `.venv/bin/python tools/make_video_samples.py` (`interview_guard.synth.generate`,",
        f"seed {SEED}, videos cut at {MAX_SECONDS:g} s, {TYPING_SECONDS:g} s of typing, `--permissive-only`).",
        "The manipulations (face swap, relayed typing, audio offset, foreign audio, a hand waved in",
        "front of the face) are the project's own work (Apache-2.0); each session's `label.json` says",
        "what was done, where, and which input files went in. Key clicks in the audio are synthetic",
        "(`interview_guard.synth.keyboard_sound`) at the real key times of the gradtype logs.",
        "Inputs (paths relative to `../shared/data/`; licences as their SOURCES.md states them):",
        "",
    ]
    for p in dirs:
        lab = json.loads((p / "label.json").read_text())
        L.append(f"### {p.name}/ — {lab['label']}, kind `{lab['kinds'][0]}`")
        L.append("")
        for key, val in lab["inputs"].items():
            if val is None:
                continue
            lic = lab["licences"].get(key) or "not stated"
            L.append(f"- {key}: `{val}` — {lic}")
        if any(k == "hand_image" and v for k, v in lab["inputs"].items()):
            L.append(
                "- the hand was segmented by `interview_guard.synth.hand_segment` (the cut-out is a derivative of a "
                "CC BY-SA 4.0 photo and stays under CC BY-SA 4.0: attribution hukenovs/hagrid)"
            )
        L.append("")
    L.append(END)
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None, help="the shared/ folder (default: ../shared)")
    ap.add_argument("--check", action="store_true", help="regenerate to a temp dir and compare labels/keystrokes")
    ap.add_argument("--no-hands", action="store_true", help="leave out the hand-wave kinds")
    args = ap.parse_args(argv)
    kinds = tuple(k for k in KINDS if not (args.no_hands and k in HAND_KINDS))
    with tempfile.TemporaryDirectory() as t:
        made = build(Path(t) / "out", args.shared, kinds)
        for p in made:
            lab = json.loads((p / "label.json").read_text())
            if not lab["permissive"]:
                print(f"{p.name}: an input without a permissive licence: {lab['licences']}", file=sys.stderr)
                return 1
            assert all(is_permissive(v) for k, v in lab["licences"].items() if lab["inputs"][k])
        if args.check:
            bad = 0
            for p in made:
                q = SAMPLES / ("video_" + p.name.split("-", 3)[3])
                for f in ("label.json", "keystrokes.jsonl", "session.json"):
                    same = (q / f).is_file() and filecmp.cmp(p / f, q / f, shallow=False)
                    bad += not same
                    print(f"{q.name}/{f}: {'same' if same else 'DIFFERS'}")
            return 1 if bad else 0
        final = []
        for p in made:
            q = SAMPLES / ("video_" + p.name.split("-", 3)[3])
            if q.exists():
                shutil.rmtree(q)
            shutil.copytree(p, q)
            final.append(q)
            size = sum(f.stat().st_size for f in q.iterdir())
            print(f"{q.relative_to(REPO)}: {size / 1e6:.2f} MB")
    src = (SAMPLES / "SOURCES.md").read_text()
    block = sources_block(final)
    if BEGIN in src and END in src:
        src = src[: src.index(BEGIN)] + block + src[src.index(END) + len(END) :]
    else:
        src = src.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(SAMPLES / "SOURCES.md", src)
    total = sum(f.stat().st_size for f in SAMPLES.rglob("*") if f.is_file())
    print(f"sample_sessions/: {total / 1e6:.2f} MB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
