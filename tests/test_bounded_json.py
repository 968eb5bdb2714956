"""io.bounded_json: hostile JSON is one clear InputError, never ValueError/RecursionError/inf."""

from __future__ import annotations

import pytest

from interview_guard.errors import InputError, KeystrokeLogError
from interview_guard.io.bounded_json import loads_bounded, read_json_file


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"t": ' + "9" * 5001 + "}", "5001 characters"),
        ('{"t": 1e400}', "out of range"),
        ('{"t": NaN}', "NaN"),
        ('{"t": -Infinity}', "Infinity"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested deeper"),
        ('{"t": 1', "not valid JSON"),
        (b'{"k": "\xff"}', "not UTF-8"),
    ],
)
def test_hostile_json_is_one_input_error(text, needle):
    with pytest.raises(InputError, match=needle) as info:
        loads_bounded(text, path="x.json", line=3)
    assert str(info.value).startswith("x.json: line 3: ")
    assert "\n" not in str(info.value)


def test_ordinary_json_and_a_bom_pass_and_brackets_inside_strings_do_not_count():
    assert loads_bounded('\ufeff{"t": 12.5, "k": "[[[[", "n": -3}') == {"t": 12.5, "k": "[[[[", "n": -3}
    assert loads_bounded('{"s": "' + "{" * 1000 + '"}') == {"s": "{" * 1000}
    assert loads_bounded(b"\xef\xbb\xbf[1, 2]") == [1, 2]


def test_the_error_class_can_be_the_callers():
    with pytest.raises(KeystrokeLogError, match="line 7"):
        loads_bounded("{", line=7, error=KeystrokeLogError)


def test_read_json_file_bounds_size_and_names_the_file(tmp_path):
    p = tmp_path / "session.json"
    p.write_text('{"a": 1}')
    assert read_json_file(p) == {"a": 1}
    with pytest.raises(InputError, match="larger than"):
        read_json_file(p, max_bytes=4)
    with pytest.raises(InputError, match="cannot read the JSON file"):
        read_json_file(tmp_path / "missing.json")
