"""The bundled sample sessions: licences recorded, small, labelled, and each scans to what its label says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES

VIDEO = sorted(p for p in SAMPLES.glob("video_*") if p.is_dir())
ALL = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
EXPECTED = Path(__file__).parent / "data" / "expected_sample_scores.json"


def _label(p):
    return json.loads((p / "label.json").read_text())


def test_every_sample_is_in_sources_and_the_folder_is_small():
    sources = (SAMPLES / "SOURCES.md").read_text()
    dirs = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    assert len(dirs) >= 8
    for p in dirs:
        assert f"{p.name}/" in sources, p.name
    total = sum(f.stat().st_size for f in SAMPLES.rglob("*") if f.is_file())
    assert total < 15e6, total


def test_generated_samples_cover_every_kind_with_permissive_inputs():
    from interview_guard.synth.generate import KINDS
    from interview_guard.synth.inputs import is_permissive

    kinds = {_label(p)["kinds"][0] for p in VIDEO}
    assert {"genuine", "faceswap", "relay", "avoffset", "mismatched_audio"} <= kinds
    for p in VIDEO:
        lab = _label(p)
        assert lab["kinds"][0] in KINDS
        assert lab["permissive"] is True, p.name
        for key, val in lab["inputs"].items():
            if val:
                assert is_permissive(lab["licences"][key]), (p.name, key, lab["licences"][key])
                assert "handoverface" not in val.lower(), (p.name, val)  # no stated licence: never bundled
        for f in ("video.mp4", "keystrokes.jsonl", "session.json"):
            assert (p / f).is_file(), (p.name, f)


@pytest.fixture(scope="module")
def all_scanned():
    from interview_guard.pipeline.scan import scan_session

    return {p.name: scan_session(p).to_dict() for p in ALL}


def _score(d, analyzer):
    a = d["analyzers"][analyzer]
    return a["score"] if a["status"] == "ok" else None


@pytest.mark.video
def test_samples_scan_and_the_targeted_analyzer_sees_the_manipulation(all_scanned):
    scanned = {k.removeprefix("video_"): v for k, v in all_scanned.items() if k.startswith("video_")}
    for name, d in scanned.items():
        assert d["status"] == "ok", (name, d.get("error"))
        assert d["risk"]["score"] is not None, name
    g = scanned["genuine"]
    assert g["risk"]["band"] == "low"
    # relayed typing: the keystroke analyzer flags it, the genuine typist's is low
    assert _score(scanned["relay"], "keystroke_relay") >= 0.5 > _score(g, "keystroke_relay")
    assert scanned["relay"]["risk"]["score"] > g["risk"]["score"]
    # foreign audio: the keys in the log make no sound in it. A keyboard never heard is not evidence (a headset
    # or noise suppression does the same, #12), so the check is skipped, not scored; the genuine sample's
    # clicks line up with its log
    assert scanned["mismatched_audio"]["analyzers"]["acoustic_keystroke"]["status"] == "skipped"
    assert _score(g, "acoustic_keystroke") < 0.2
    # the hand wave: the real face under a real hand is not flagged, and the generated swap scores above it.
    # The generator's swap is no longer caught outright (0.28 < 0.5 since the second round of #13: its hand passes
    # mostly beside the face, and the crossing is judged from the first frame the hand is at the face); the
    # detector is measured on the independent compositor and real clips instead (docs/face-occlusion.md)
    assert _score(scanned["handwave_genuine"], "face_occlusion") < 0.5
    swap, real = (
        _score(scanned["handwave_faceswap"], "face_occlusion"),
        _score(scanned["handwave_genuine"], "face_occlusion"),
    )
    assert swap > real
    # lip sync ran on the samples with speech; on 3-6 s of speech it is too weak to separate a 175 ms shift
    # (docs/calibration.md: av_sync's own AUC on avoffset is about 0.7 on the generated set), so no order is asserted
    assert scanned["avoffset"]["analyzers"]["av_sync"]["status"] == "ok"


@pytest.mark.video
def test_every_sample_keeps_its_recorded_scores(all_scanned):
    """Restructuring must not move a score: risk, band and each analyzer's status, score and confidence."""
    expected = json.loads(EXPECTED.read_text())["sessions"]
    assert sorted(expected) == sorted(all_scanned)
    for name, want in expected.items():
        got = all_scanned[name]
        assert got["risk"]["band"] == want["band"], name
        assert got["risk"]["score"] == pytest.approx(want["risk"], abs=1e-4), name
        assert sorted(got["analyzers"]) == sorted(want["analyzers"]), name
        for analyzer, w in want["analyzers"].items():
            g = got["analyzers"][analyzer]
            assert g["status"] == w["status"], (name, analyzer)
            for key in ("score", "confidence"):
                if w[key] is None:
                    assert g[key] is None, (name, analyzer, key)
                else:
                    assert g[key] == pytest.approx(w[key], abs=1e-4), (name, analyzer, key, g[key], w[key])


@pytest.mark.video
def test_every_field_of_the_samples_reports_is_documented(all_scanned):
    """Each analyzer's ``metrics`` and evidence ``details`` keys in the samples' reports are listed in its doc's
    "Fields in the report" (on the scans the tests above make anyway; ``test_report_fields.py`` checks synthetic
    tracks)."""
    from report_fields import DOCS, undocumented

    missing = {
        f"{session} {name} (docs/{DOCS[name]})": m
        for session, report in all_scanned.items()
        for name, result in report["analyzers"].items()
        if (m := undocumented(name, result))
    }
    assert not missing, missing
