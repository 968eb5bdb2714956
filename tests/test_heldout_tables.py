"""The held-out evaluation's tables: intervals that resample faces, and the paired comparison of two runs."""

from __future__ import annotations

import sys

import numpy as np

from conftest import REPO

sys.path.insert(0, str(REPO / "evaluation"))

import face_occlusion_heldout as ev  # noqa: E402


def _rows(rng: np.random.Generator) -> list[dict]:
    rows = []
    for f in range(5):
        for kind in ("genuine", "genuine", "pasted", "dropout"):
            for m in range(2):
                s = float(rng.uniform(0.0, 0.6))
                rows.append(
                    {"id": f"tune__face{f}__{kind}__{m}__{len(rows)}", "split": "tune", "face": f"face{f}",
                     "hand": "h", "hand_source": "hagrid", "kind": kind, "score": min(s, 1.0),
                     "req_score": min(s, 1.0), "baseline": 0.0, "band": "low", "req_band": "low"}
                )  # fmt: skip
    return rows


def test_table_a_gives_each_auc_an_interval():
    rows = _rows(np.random.default_rng(3))
    text = ev.tables(rows, [], [])
    line = next(x for x in text.splitlines() if x.startswith("| tune | pasted |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    auc, interval = float(cells[2]), cells[3]
    lo, hi = (float(v) for v in interval.split("-"))
    assert 0.0 <= lo <= auc <= hi <= 1.0 and hi - lo > 0.05


def test_compare_table_pairs_the_same_clips():
    old = _rows(np.random.default_rng(3))
    new = [{**r, "score": min(r["score"] + (0.5 if r["kind"] == "pasted" else 0.0), 1.0)} for r in old]
    same = ev.compare_table(old, old, "old")
    assert "| tune | pasted | " in same and "+0.00 | +0.00 to +0.00" in same
    better = ev.compare_table(new, old, "old")
    line = next(x for x in better.splitlines() if x.startswith("| tune | pasted |"))
    diff, interval = [c.strip() for c in line.strip("|").split("|")][4:6]
    lo = float(interval.split(" to ")[0])
    assert float(diff) > 0.2 and lo > 0
    # dropout did not change: its difference is exactly zero
    assert next(x for x in better.splitlines() if x.startswith("| tune | dropout |")).count("+0.00") == 3


def test_the_grid_of_one_kind_is_that_kind_of_the_whole_grid():
    hands = {"handoverface": [f"hof_{i}" for i in range(21, 31)], "hagrid": ["hagrid_0", "hagrid_1"]}
    kw = {"quick": False, "seed": 1, "hands_per_face": 2, "splits": ("tune", "heldout")}
    whole = ev.build_grid(hands, **kw)
    genuine = ev.build_grid(hands, **kw, kinds=("genuine",))
    assert genuine == [s for s in whole if s["kind"] == "genuine"]
    assert len(genuine) == (len(ev.TUNE_FACES) + len(ev.HELDOUT_FACES)) * 2 * len(ev.MOTIONS)
    # another seed: other hands or paths, the same faces and motions
    other = ev.build_grid(hands, **{**kw, "seed": 2}, kinds=("genuine",))
    assert {(s["face"], s["motion"]) for s in other} == {(s["face"], s["motion"]) for s in genuine}
    assert [s["seed"] for s in other] != [s["seed"] for s in genuine]
    # ... and other ids, so two runs never pair (or resume) each other's clips; seed 0 keeps the ids it always had
    assert not {s["id"] for s in other} & {s["id"] for s in genuine}
    assert all(s["id"].endswith("__seed1") for s in genuine)
    assert not any("__seed" in s["id"] for s in ev.build_grid(hands, **{**kw, "seed": 0}))


def test_artifact_table_splits_the_fakes_by_how_much_there_is_to_see():
    rng = np.random.default_rng(5)
    rows = _rows(rng)
    for r in rows:  # the score follows the artifact: the larger half is caught, the smaller is not
        r["artifact_sum"] = 0.0 if r["kind"] == "genuine" else float(rng.uniform(0.1, 10.0))
        if r["kind"] != "genuine":
            r["score"] = r["req_score"] = min(1.0, r["artifact_sum"] / 10.0 + 0.1)
    text = ev.tables(rows, [], [])
    assert "### (g)" in text
    line = next(x for x in text.split("### (g)")[1].splitlines() if x.startswith("| tune | pasted |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    n, small, large = int(cells[2]), cells[3], cells[5]
    auc_small, auc_large, rho = float(cells[4]), float(cells[6]), float(cells[7])
    assert n == 10 and float(small.split("-")[1]) <= float(large.split("-")[0])
    assert auc_large > auc_small and auc_large > 0.9 and rho > 0.9
    # results made before the artifact measures print no such table
    assert "### (g)" not in ev.tables(_rows(np.random.default_rng(5)), [], [])


def test_motion_table_gives_each_motion_its_auc_and_its_fakes_without_a_crossing():
    rows = _rows(np.random.default_rng(7))
    for i, r in enumerate(rows):
        r["motion"] = ("sweep", "cover")[i % 2]
        r["crossings"] = [] if (r["kind"] != "genuine" and r["motion"] == "cover") else [{"t": [1.0, 2.0]}]
        if r["kind"] != "genuine" and r["motion"] == "sweep":
            r["score"] = 1.0  # every sweep fake caught
    text = ev.tables(rows, [], [])
    line = next(x for x in text.split("### (h)")[1].splitlines() if x.startswith("| tune |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "1.00" and cells[2] == "0/10"  # sweep: AUC, fakes without a crossing
    assert cells[6] == "10/10"  # cover: no fake got a crossing
    assert cells[3] == "-" and cells[7] == "-"  # no wave or fast clips (order of occlusion_fakes.MOTIONS)


def test_sigterm_stops_the_pool_workers_too(tmp_path):
    # a killed evaluation (`kill PID`) left its spawned workers scanning for the rest of the run; run in a fresh
    # interpreter, as the evaluation is, so nothing an earlier test left in this process (handlers, pools) counts
    import os
    import signal
    import subprocess
    import sys
    import time

    from test_batch import _alive  # a live (not zombie) process, from /proc

    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(REPO / 'evaluation')!r})\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from multiprocessing import get_context\n"
        "import face_occlusion_heldout as ev\n"
        "if __name__ == '__main__':\n"
        "    ex = ProcessPoolExecutor(max_workers=2, mp_context=get_context('spawn'))\n"
        "    futs = [ex.submit(time.sleep, 60) for _ in range(2)]\n"
        "    while len(ex._processes or {}) < 2:\n"
        "        time.sleep(0.05)\n"
        "    print(' '.join(str(p) for p in ex._processes), flush=True)\n"
        "    try:\n"
        "        with ev.stop_pool_on_sigterm(ex):\n"
        "            time.sleep(60)\n"
        "    except KeyboardInterrupt:\n"
        "        print('interrupted', flush=True)\n"
    )
    script = tmp_path / "driver.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert "interrupted" in out

    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, "the pool's workers outlived the terminated run"


def test_loss_table_names_the_clips_that_cost_the_auc():
    rows = _rows(np.random.default_rng(5))
    # one genuine wave above every fake: it alone costs its share of all the pairs
    loud = next(r for r in rows if r["kind"] == "genuine")
    loud.update(score=0.95, crossings=[{"scores": {"face_flash": 0.95, "face_warp": 0.1}}])
    g_loss, f_loss = ev.auc_losses(rows, "tune")
    n_g = sum(r["kind"] == "genuine" for r in rows)
    n_f = len(rows) - n_g
    assert g_loss[loud["id"]] == 1.0 / n_g
    # the losses add up to one minus the split's pooled AUC, counted from either side
    fakes = [r["score"] for r in rows if r["kind"] != "genuine"]
    gens = [r["score"] for r in rows if r["kind"] == "genuine"]
    pooled = ev.auc(fakes, gens)
    assert abs((1.0 - sum(g_loss.values())) - pooled) < 1e-9 and abs(sum(f_loss.values()) - sum(g_loss.values())) < 1e-9
    assert len(f_loss) == n_f
    text = ev.loss_table(rows)
    first = next(x for x in text.splitlines() if x.startswith("| tune | genuine |"))
    assert loud["id"].removeprefix("tune__") in first and "face_flash" in first
    assert any(x.startswith("| tune | fake |") for x in text.splitlines())
    assert ev._top_verdict({"crossings": []}) == "no crossing"
    # a clip without a score counts as 0, as table (a) counts it: the losses still add up to its AUC
    rows[-1]["score"] = None
    g_loss, _ = ev.auc_losses(rows, "tune")
    fakes = [r["score"] for r in rows if r["kind"] != "genuine"]
    gens = [r["score"] for r in rows if r["kind"] == "genuine"]
    assert abs((1.0 - sum(g_loss.values())) - ev.auc(fakes, gens)) < 1e-9
    assert ev._top_verdict({"crossings": [{"scores": {}}]}) == "not judged"
