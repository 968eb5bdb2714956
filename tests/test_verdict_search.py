"""evaluation/verdict_search.py: a run's cached crossings judged again with other verdict thresholds, and searched."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import REPO
from interview_guard.analyzers.face_occlusion import FaceOcclusion
from interview_guard.signals import crossing_verdicts as cv
from interview_guard.tracks import Tracks
from interview_guard.tracks.metadata import SessionMetadata
from synth_tracks import make_tracks

sys.path.insert(0, str(REPO / "evaluation"))

import face_occlusion_heldout as heldout  # noqa: E402
import verdict_search as vs  # noqa: E402


@pytest.mark.parametrize("swap_failure", [False, True])
def test_crossing_records_give_back_the_analyzers_score(swap_failure):
    face, hands, pixels = make_tracks(swap_failure=swap_failure)
    tracks = Tracks(duration_s=float(face.t_s[-1]), face=face, hands=hands, pixels=pixels, metadata=SessionMetadata())
    res = FaceOcclusion().analyze(tracks)
    records = heldout.crossing_records(res)
    assert records and all("series" not in r["pixels"] for r in records)
    json.dumps(records)  # stored in the evaluation's results
    assert vs.clip_score(records) == pytest.approx(res.score, abs=1e-9)
    for r, e in zip(records, (e for e in res.evidence if e.kind == "occlusion_event")):
        assert cv.crossing_verdicts(r["pixels"], r["mesh"]) == pytest.approx(e.details["scores"], abs=1e-4)


def test_constants_are_restored_and_checked():
    before = (cv.ENTRY_CUT, cv.MESH_STILL, cv.MESH_BENT)
    with pytest.raises(RuntimeError), vs.constants({"ENTRY_CUT": (0.9, 0.01), "MESH_STILL": (0.05, 0.01)}):
        assert cv.ENTRY_CUT == (0.9, 0.01) and cv.MESH_BENT == pytest.approx(0.08)
        raise RuntimeError
    assert (cv.ENTRY_CUT, cv.MESH_STILL, cv.MESH_BENT) == before
    with pytest.raises(KeyError), vs.constants({"pixel_verdicts": 1}):
        pass
    # the caps defined from NEVER_COVERED_CAP follow it, and come back
    caps = (cv.FLASH_REACH_CAP, cv.MESH_CAP)
    with vs.constants({"NEVER_COVERED_CAP": 0.7}):
        assert cv.FLASH_REACH_CAP == cv.MESH_CAP == 0.7
    assert (cv.FLASH_REACH_CAP, cv.MESH_CAP) == caps
    # the search's grid names constants that exist, each with its shipped value's shape
    for name, values in vs.GRID.items():
        shipped = getattr(cv, name)
        assert all(type(v) is type(shipped) and np.shape(v) == np.shape(shipped) for v in values), name


def _row(i: int, split: str, kind: str, cut: float) -> dict:
    # a crossing judged by painted_over alone: the hand cut at the outline in `cut` of 10 entry frames
    px = {"ok": True, "entry_frames": 10, "entry_ratio_mean": 0.9, "entry_cut_share": cut}
    crossings = [{"t": [1.0, 2.0], "score": 0.0, "pixels": px, "mesh": {}}]
    return {"id": f"{split}-{kind}-{i}", "split": split, "kind": kind, "face": f"face{i % 3}", "status": "ok",
            "score": vs.clip_score(crossings), "crossings": crossings}  # fmt: skip


def _rows() -> list[dict]:
    # genuine waves cut in 70 % of their entry frames, pasted faces in 90 %: the shipped centre (0.5) ranks them
    # right but puts every genuine wave at the decisive level; a centre of 0.8 does not
    return [
        _row(i, split, kind, cut)
        for split in ("tune", "test")
        for kind, cut in (("genuine", 0.7), ("pasted", 0.9))
        for i in range(6)
    ]


def test_search_keeps_genuine_waves_below_the_decisive_level():
    rows = _rows()
    assert vs.objective(rows, vs.scores(rows), ["tune"]) == -1.0
    chosen = vs.search(rows, ["tune"], grid={"ENTRY_CUT": [(0.5, 0.04), (0.8, 0.04)]})
    assert chosen == {"ENTRY_CUT": (0.8, 0.04)}
    assert vs.objective(rows, vs.scores(rows, chosen), ["tune"]) == 1.0
    table = vs.report(rows, chosen)
    assert "| test | 6 -> 0 of 6 | 6 -> 0 | 6 -> 6 of 6 |" in table


def test_the_command_checks_the_stored_scores(tmp_path, capsys):
    rows = _rows()
    (tmp_path / "results").mkdir()
    for r in rows:
        (tmp_path / "results" / f"{r['id']}.json").write_text(json.dumps(r))
    assert vs.main(["--work", str(tmp_path), "--tune-splits", "tune", "--set", "ENTRY_CUT=(0.8, 0.04)"]) == 0
    assert "| tune | pasted | 1.00 | 1.00 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not a constant"):
        vs.main(["--work", str(tmp_path), "--set", "NOPE=1"])
    bad = {**rows[0], "score": 0.5}
    (tmp_path / "results" / f"{rows[0]['id']}.json").write_text(json.dumps(bad))
    with pytest.raises(SystemExit, match="1 of 24 stored scores"):
        vs.main(["--work", str(tmp_path)])


def test_a_clip_id_in_two_work_directories_is_refused(tmp_path):
    # the paired tables match clips by id: two runs of other seeds under one id would pair the wrong clips
    rows = _rows()
    for name in ("a", "b"):
        (tmp_path / name / "results").mkdir(parents=True)
    for r in rows:
        (tmp_path / "a" / "results" / f"{r['id']}.json").write_text(json.dumps(r))
    (tmp_path / "b" / "results" / f"{rows[3]['id']}.json").write_text(json.dumps(rows[3]))
    assert len(vs.load_rows([tmp_path / "a"])) == len(rows)
    with pytest.raises(SystemExit, match=f"{rows[3]['id']} is also in"):
        vs.load_rows([tmp_path / "a", tmp_path / "b"])
