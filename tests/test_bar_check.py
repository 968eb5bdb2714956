"""evaluation/bar_check.py: issue #13's bar counted from the held-out evaluation's results, seeds pooled."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "evaluation"))

import bar_check as bc  # noqa: E402


def _clip(split, face, hand_source, kind, score, *, seed=0, motion="sweep", band="low", req=None, n=0):
    sid = "" if seed == 0 else f"__seed{seed}"
    return {
        "id": f"{split}__{face}__{hand_source}_1__{kind}__{motion}{n}{sid}", "split": split, "face": face,
        "hand": f"{hand_source}_1", "hand_source": hand_source, "kind": kind, "motion": motion, "score": score,
        "req_score": score if req is None else req, "band": band, "req_band": band, "status": "ok",
    }  # fmt: skip


def _run(seed):
    """One seed's run: face A (fakes all above its genuine waves), face B (its pasted fake below a genuine wave)."""
    rows = []
    for face, hand in (("A", "hagrid"), ("B", "handoverface")):
        rows += [_clip("test", face, hand, "genuine", 0.1, seed=seed, n=k) for k in range(2)]
        rows.append(_clip("test", face, hand, "dropout", 0.9, seed=seed))
        rows.append(_clip("test", face, hand, "pasted", 0.9 if face == "A" else 0.05, seed=seed, req=0.9))
    return rows


def test_cells_pool_the_seeds_per_face_and_hand_source():
    clips = _run(0) + _run(1)
    cs = {(c.source, c.kind): c for c in bc.cells(clips, ["test"])}
    # two faces and two hand sources, two fake kinds each
    assert len(cs) == 8
    a = cs[("A", "pasted")]
    assert (a.n_fake, a.n_genuine, a.auc) == (2, 4, 1.0) and a.met()
    b = cs[("B", "pasted")]
    assert b.auc == 0.0 and not b.met() and b.auc_request == 1.0 and b.met(request=True)
    # a hand source holds the clips of every face made with its photos (here one face each)
    assert cs[("hands: handoverface", "pasted")].auc == 0.0 and cs[("hands: hagrid", "dropout")].auc == 1.0
    # the cell's AUC is not rounded before it is held against the level
    assert not bc.Cell("test", "X", "pasted", 0.9499, None, 1, 1).met()


def test_report_counts_each_condition():
    clips = _run(0) + _run(1)
    clips.append(_clip("test", "C", "other", "genuine", 0.95, seed=2, band="high"))  # a face with no fakes: no cell
    clips.append(_clip("test", "A", "hagrid", "genuine", 0.7, seed=2, motion="rest"))  # everyday: not a wave
    clips.append(_clip("tune", "T", "hagrid", "genuine", 0.99, band="high"))  # a development face: not counted
    reals = [
        {"id": "real__x", "clip": "x", "label": "real", "score": 0.6},
        {"id": "real__y", "clip": "y", "label": "real (original half)", "score": 0.2},
        {"id": "real__z", "clip": "z", "label": "fake (DeepFaceLive, hand near mouth)", "score": 0.99},
    ]
    text = bc.report(clips, reals, ["test"])
    assert "| every source and fake kind at AUC 0.95+ | 6 of 8 cells | 8 of 8 cells | no |" in text
    assert "| no genuine wave in the high band | 1 of 9 | 1 of 9 | no |" in text
    assert "| no real clip of ../shared/data above 0.5 | 1 of 2 | - | no |" in text
    assert "Everyday genuine clips (not waves): 1 of 1 at 0.5+" in text
    assert "real clip above 0.5: real__x" in text and "real__z" not in text
    assert "seeds pooled: 0, 1, 2" in text
    # the cells under the level come first
    rows = [x for x in text.splitlines() if x.startswith("| test |")]
    assert "**under**" in rows[0] and "**under**" not in rows[-1]


def test_load_and_main_read_work_directories(tmp_path, capsys):
    for seed in (0, 1):
        res = tmp_path / f"s{seed}" / "results"
        res.mkdir(parents=True)
        for r in _run(seed):
            (res / f"{r['id']}.json").write_text(json.dumps(r))
    (tmp_path / "s0" / "results" / "real__x.json").write_text(
        json.dumps({"id": "real__x", "clip": "x", "label": "real", "score": 0.1})
    )
    assert bc.main(["--work", str(tmp_path / "s0"), str(tmp_path / "s1"), "--splits", "test"]) == 0
    out = capsys.readouterr().out
    assert "6 of 8 cells" in out and "| no real clip of ../shared/data above 0.5 | 0 of 1 | - | yes |" in out
    # one run given twice would count its clips twice
    with pytest.raises(SystemExit, match="is also in"):
        bc.load([tmp_path / "s0", tmp_path / "s0"])
    with pytest.raises(SystemExit, match="no results directory"):
        bc.load([tmp_path / "nothing"])
    with pytest.raises(SystemExit):
        bc.main(["--work", str(tmp_path / "s0"), "--splits", "test3"])
    with pytest.raises(SystemExit):
        bc.main(["--work", str(tmp_path / "s0"), "--splits", "tune"])  # no clip of that split
