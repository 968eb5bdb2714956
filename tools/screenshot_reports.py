"""Screenshots of the report page for the docs, taken the way a user gets there.

Starts ``interview-guard serve`` on a free loopback port with a temporary data
directory, uploads a face-swap and a genuine sample session (video, keystroke
log, session.json) through the upload form in headless Chromium, waits for
each report and saves full-page PNGs::

    .venv/bin/python tools/screenshot_reports.py            # -> docs/screenshots/report-{faceswap,genuine}.png

Needs /usr/bin/chromium and /usr/bin/chromedriver (``apt-get install -y
chromium chromium-driver``) and the test extra (selenium). Sessions are picked
from ``sample_sessions/``: the first directory with a ``video.*`` whose name
contains the kind (``faceswap``, ``genuine``); ``--session KIND=DIR`` overrides.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser_support import Browser, ServeProcess, browser_missing, full_page_screenshot, upload_and_wait  # noqa: E402

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
KINDS = ("faceswap", "genuine")


def _video(d: Path) -> Path | None:
    return next((f for f in sorted(d.iterdir()) if f.stem == "video" and f.suffix.lower() in VIDEO_EXTENSIONS), None)


PREFERRED = {
    # the face swap caught where it fails: a hand waved in front of the swapped face
    "faceswap": ("video_handwave_faceswap", "video_faceswap"),
    "genuine": ("video_genuine",),
}


def find_session(samples: Path, kind: str) -> Path | None:
    for name in PREFERRED.get(kind, ()):
        if (samples / name).is_dir() and _video(samples / name) is not None:
            return samples / name
    for d in sorted(p for p in samples.iterdir() if p.is_dir()):
        if kind in d.name.lower().replace("_", "").replace("-", "") and _video(d) is not None:
            if kind == "genuine" and "faceswap" in d.name.lower().replace("_", ""):
                continue
            return d
    return None


def upload_files(d: Path) -> dict:
    files = {"video": _video(d)}
    ks = next((d / n for n in ("keystrokes.jsonl", "keystrokes.csv", "keystrokes.tsv") if (d / n).is_file()), None)
    if ks is not None:
        files["keystrokes"] = ks
    if (d / "session.json").is_file():
        files["session"] = d / "session.json"
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=Path, default=REPO / "sample_sessions")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--session", action="append", default=[], metavar="KIND=DIR", help="use DIR for KIND")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each scan")
    args = ap.parse_args(argv)

    why = browser_missing()
    if why:
        print(f"screenshot_reports: {why}", file=sys.stderr)
        return 1
    chosen = {kind: find_session(args.samples, kind) for kind in KINDS}
    for spec in args.session:
        kind, _, path = spec.partition("=")
        chosen[kind] = Path(path)
    missing = [k for k, d in chosen.items() if d is None]
    if missing:
        print(
            f"screenshot_reports: no sample session with a video for: {', '.join(missing)} (looked in {args.samples})",
            file=sys.stderr,
        )
        return 1
    with (
        tempfile.TemporaryDirectory(prefix="ig-screens-") as tmp,
        ServeProcess(Path(tmp) / "data") as server,
        Browser(width=args.width, height=900) as driver,
    ):
        for kind, d in chosen.items():
            job_url = upload_and_wait(driver, server.base, timeout_s=args.timeout, **upload_files(d))
            if driver.find_elements("id", "job-error"):
                print(
                    f"screenshot_reports: the scan of {d} failed: {driver.find_element('id', 'job-error').text}",
                    file=sys.stderr,
                )
                return 1
            out = full_page_screenshot(driver, args.out / f"report-{kind}.png")
            score = driver.find_element("id", "risk-score").get_attribute("data-score")
            print(
                f"{kind}: {d.name} -> {out.relative_to(REPO) if out.is_relative_to(REPO) else out} "
                f"(risk {score}, {job_url})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
