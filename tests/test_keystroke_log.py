import json

import numpy as np
import pytest

from conftest import AALTO, needs_shared, typing_events, write_jsonl
from interview_guard.errors import KeystrokeLogError
from interview_guard.io.keystroke_log import (
    dumps_jsonl,
    keystroke_log_from_presses,
    parse_keystroke_lines,
    read_keystroke_log,
)
from interview_guard.tracks.keystrokes import COMPOSITION, DOWN, PASTE, UP, KeystrokeLog


def lines(*recs):
    return [json.dumps(r) for r in recs]


def test_jsonl_basic_fields_and_aliases():
    log = parse_keystroke_lines(
        lines(
            {"t": 10.5, "type": "keydown", "key": "a", "code": "KeyA", "recv_t": 50.0},
            {"t": 90, "type": "keyup", "key": "a", "code": "KeyA"},
            {"t": 100, "type": "paste", "length": 42},
            {"t": 120, "type": "compositionupdate", "data": "한"},
        )
    )
    assert log.t_ms.tolist() == [10.5, 90, 100, 120]
    assert log.kind.tolist() == [DOWN, UP, PASTE, COMPOSITION]
    assert log.recv_ms[0] == 50.0 and np.isnan(log.recv_ms[1])
    assert log.length.tolist() == [-1, -1, 42, -1]
    assert log.key[3] == "한"
    assert log.has_recv


@pytest.mark.parametrize(
    "bad, line, words",
    [
        (['{"t": 1, "type": "down"}', "not json"], 2, "not valid JSON"),
        (['{"t": 1, "type": "down"}', '{"type": "down"}'], 2, "missing field 't'"),
        (['{"t": "x", "type": "down"}'], 1, "must be a number"),
        (['{"t": 1, "type": "press"}'], 1, "'type' must be one of"),
        (['{"t": 5, "type": "down", "code": "KeyA"}', '{"t": ' + "9" * 5001 + ', "type": "up"}'], 2, "characters"),
        (['{"t": 5, "type": "paste", "length": 1e400}'], 1, "out of range"),
        (["[" * 100_000 + "]" * 100_000], 1, "nested deeper"),
        (["[1, 2]"], 1, "JSON object"),
        (['{"t": NaN, "type": "down"}'], 1, "NaN"),
    ],
)
def test_jsonl_errors_name_the_line(bad, line, words, tmp_path):
    p = tmp_path / "keystrokes.jsonl"
    p.write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(KeystrokeLogError) as ei:
        read_keystroke_log(p)
    msg = str(ei.value)
    assert str(p) in msg and f"line {line}" in msg and words in msg
    assert ei.value.line == line


def test_same_time_distinct_events_are_allowed():
    log = parse_keystroke_lines(lines({"t": 5, "type": "up", "code": "KeyA"}, {"t": 5, "type": "down", "code": "KeyB"}))
    assert len(log) == 2


def test_events_logged_out_of_order_are_sorted_with_a_warning():
    """A logger that writes events as the server receives them leaves ``t`` out of order: read, sorted, warned."""
    recs = [
        {"t": 100, "type": "down", "code": "KeyA", "recv_t": 140},
        {"t": 160, "type": "down", "code": "KeyB", "recv_t": 190},
        {"t": 130, "type": "up", "code": "KeyA", "recv_t": 195},  # sent late
        {"t": 200, "type": "up", "code": "KeyB", "recv_t": 230},
    ]
    log = parse_keystroke_lines(lines(*recs))
    assert log.t_ms.tolist() == [100, 130, 160, 200]
    assert log.code.tolist() == ["KeyA", "KeyA", "KeyB", "KeyB"] and log.recv_ms.tolist() == [140, 195, 190, 230]
    assert log.kind.tolist() == [DOWN, UP, DOWN, UP]
    assert any("1 event(s) came before an earlier one, by up to 30 ms (first at line 3)" in w for w in log.warnings)
    presses = log.presses()
    assert presses.hold_ms.tolist() == [30, 40]


def test_client_clock_stepped_back_keeps_the_events_after_the_step_after():
    """Epoch-ms ``t`` and the client's clock set back 30 s by a time sync: the typing after it stays after."""
    before = [{"t": 1_000_000 + 150 * i, "type": k, "code": "KeyA"} for i, k in enumerate(["down", "up"] * 3)]
    after = [{"t": 970_000 + 150 * i, "type": k, "code": "KeyB"} for i, k in enumerate(["down", "up"] * 3)]
    log = parse_keystroke_lines(lines(*before, *after))
    t = log.t_ms
    assert np.all(np.diff(t) >= 0) and log.code.tolist() == ["KeyA"] * 6 + ["KeyB"] * 6
    assert np.allclose(np.diff(t[6:]), 150) and np.allclose(np.diff(t[:6]), 150)
    assert t[6] == t[5]  # the step is closed up, not sorted into the earlier typing
    assert any("stepped back 1 time(s), by up to 30.8 s (first at line 7)" in w for w in log.warnings)


def test_csv_out_of_order_is_read_too():
    rows = ["t,type,code", "10,down,KeyA", "5,down,KeyB", "20,up,KeyA"]
    log = parse_keystroke_lines(rows, fmt="csv")
    assert log.t_ms.tolist() == [5, 10, 20] and log.code.tolist() == ["KeyB", "KeyA", "KeyA"]
    assert log.warnings


def test_csv_reader_matches_jsonl(tmp_path):
    events = typing_events(30)
    j = read_keystroke_log(write_jsonl(tmp_path / "k.jsonl", events))
    csv_text = "t,type,key,code\n" + "".join(f"{e['t']},{e['type']},{e['key']},{e['code']}\n" for e in events)
    c = parse_keystroke_lines(csv_text.splitlines())
    assert np.array_equal(j.t_ms, c.t_ms) and np.array_equal(j.kind, c.kind)
    assert list(j.code) == list(c.code)


def test_csv_errors():
    with pytest.raises(KeystrokeLogError, match="header must name"):
        parse_keystroke_lines(["time,kind", "1,down"], fmt="csv")
    with pytest.raises(KeystrokeLogError, match="line 3: expected 4 columns"):
        parse_keystroke_lines(["t,type,key,code", "1,down,a,KeyA", "2,up,a"])


def test_a_csv_field_over_the_csv_modules_limit_names_the_file_and_line():
    import csv

    big = "x" * (csv.field_size_limit() + 1)
    with pytest.raises(KeystrokeLogError, match=r"^k.csv: line 3: a field longer than 131072 characters$"):
        parse_keystroke_lines(["t,type,key", "1,down,a", f"2,up,{big}"], path="k.csv")
    with pytest.raises(KeystrokeLogError, match=r"^k.csv: line 1: a field longer than 131072 characters$"):
        parse_keystroke_lines([f"t,type,{big}", "1,down,a"], path="k.csv", fmt="csv")


def test_non_utf8_file_is_rejected(tmp_path):
    p = tmp_path / "keystrokes.jsonl"
    p.write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(KeystrokeLogError, match="not UTF-8"):
        read_keystroke_log(p)


def test_empty_file_gives_empty_log(tmp_path):
    p = tmp_path / "keystrokes.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    assert len(read_keystroke_log(p)) == 0


def test_max_events_guard():
    recs = lines(*({"t": i, "type": "down", "code": f"K{i}"} for i in range(20)))
    with pytest.raises(KeystrokeLogError, match="more than 10 events"):
        parse_keystroke_lines(recs, max_events=10)


def test_presses_pair_down_and_up_with_autorepeat():
    log = KeystrokeLog.from_arrays(
        t_ms=[0, 10, 20, 30, 40, 50, 60],
        kind=[DOWN, DOWN, DOWN, UP, DOWN, UP, UP],
        code=["KeyA", "KeyA", "KeyB", "KeyA", "KeyB", "KeyB", "KeyC"],
    )
    p = log.presses()
    assert p.press_ms.tolist() == [0, 20]
    assert p.release_ms.tolist() == [30, 50]
    assert list(p.code) == ["KeyA", "KeyB"]


def test_presses_down_only_log_counts_every_down():
    log = KeystrokeLog.from_arrays(t_ms=[0, 100, 200], kind=[DOWN] * 3, code=["KeyA"] * 3)
    p = log.presses()
    assert len(p) == 3 and np.isnan(p.release_ms).all()


def test_presses_missing_release_is_nan():
    log = KeystrokeLog.from_arrays(t_ms=[0, 10, 20], kind=[DOWN, DOWN, UP], code=["KeyA", "KeyB", "KeyB"])
    p = log.presses()
    assert np.isnan(p.release_ms[0]) and p.release_ms[1] == 20


def test_jsonl_round_trip(tmp_path):
    events = typing_events(40)
    events[3]["recv_t"] = events[3]["t"] + 12.5
    log = read_keystroke_log(write_jsonl(tmp_path / "k.jsonl", events))
    again = parse_keystroke_lines(dumps_jsonl(log).splitlines())
    assert np.array_equal(log.t_ms, again.t_ms)
    assert np.array_equal(log.kind, again.kind)
    assert np.allclose(log.recv_ms, again.recv_ms, equal_nan=True)


def test_from_presses_sorts_and_drops_duplicates():
    log = keystroke_log_from_presses(press_ms=[100, 0, 0], release_ms=[150, 80, 80], code=["KeyB", "KeyA", "KeyA"])
    assert log.t_ms.tolist() == [0, 80, 100, 150]
    assert "duplicate" in log.warnings[0]


@needs_shared(AALTO)
def test_aalto_import_real_file():
    f = sorted(AALTO.glob("*_keystrokes.txt"))[0]
    log = read_keystroke_log(f)
    p = log.presses()
    assert len(p) > 500
    assert np.all(np.diff(log.t_ms) >= 0)
    holds = p.hold_ms[np.isfinite(p.hold_ms)]
    assert 40 < np.median(holds) < 200  # human hold times
    assert set(log.code) >= {"KeyE", "Space"}


def test_aalto_bad_row_names_line():
    header = (
        "PARTICIPANT_ID\tTEST_SECTION_ID\tSENTENCE\tUSER_INPUT\tKEYSTROKE_ID\tPRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE"
    )
    row = "1\t2\tHi\tHi\t3\tabc\t10\th\t72"
    with pytest.raises(KeystrokeLogError, match="line 2"):
        parse_keystroke_lines([header, row])


def test_same_time_events_of_one_key_are_data_and_only_byte_identical_repeats_are_dropped(tmp_path):
    """A relay releasing a stall on one tick: one key's up, down and up share a time (#12)."""
    lines = [
        '{"t": 7000, "type": "down", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "up", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "down", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "up", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "up", "key": "Backspace", "code": "Backspace"}',  # the line before, again
        '{"t": 7400, "type": "down", "key": "a", "code": "KeyA"}',
        '{"t":7400,"type":"down","key":"a","code":"KeyA"}',  # same event, other bytes: kept
    ]
    p = tmp_path / "keystrokes.jsonl"
    p.write_text("\n".join(lines) + "\n")
    log = read_keystroke_log(p)
    assert len(log) == 6
    assert list(log.kind[:4]) == [DOWN, UP, DOWN, UP]
    assert any("1 line(s) repeating the line before byte for byte" in w for w in log.warnings)
    pr = log.presses()  # Backspace 7000-7400, Backspace 7400-7400 (a zero hold: relay evidence), a (no release)
    assert list(pr.press_ms[:2]) == [7000.0, 7400.0] and list(pr.hold_ms[:2]) == [400.0, 0.0]
