"""Rows of a track by time: the nearest row, and a run of rows from a reported (rounded) start time."""

from __future__ import annotations

import numpy as np

from interview_guard.signals.timebase import nearest_rows, run_rows


def test_nearest_rows_ties_go_to_the_later_row():
    k, d = nearest_rows(np.array([0.0, 1.0, 2.0]), np.array([-5.0, 0.4, 0.5, 1.9, 9.0]))
    assert k.tolist() == [0, 0, 1, 2, 2]
    assert np.allclose(d, [5.0, 0.4, 0.5, 0.1, 7.0])


def test_a_run_starts_at_its_rounded_time():
    # 22.13 fps: frame 37 is at 1.67185 s, reported as 1.672; "the first row at or after 1.672" is frame 38
    t = np.arange(100) / 22.131147540983605
    at = round(float(t[37]), 3)
    assert at > t[37]
    assert run_rows(t, at, 3).tolist() == [37, 38, 39]
    assert run_rows(t, round(float(t[98]), 3), 4).tolist() == [98, 99]  # cut at the track's end
    assert run_rows(np.zeros(0), 1.0, 3).size == 0 and run_rows(t, 1.0, 0).size == 0
