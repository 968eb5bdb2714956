"""CSV cells of user-controlled text (interview_guard.io.csv_cells): formulas defused, control characters escaped."""

from __future__ import annotations

import pytest

from interview_guard.io.csv_cells import escape_controls, spreadsheet_safe, text_cell


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=cmd|" /C calc"!A0', '\'=cmd|" /C calc"!A0'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("cand-0042", "cand-0042"),
        ("", ""),
        (None, ""),
    ],
)
def test_spreadsheet_safe_is_the_jobs_csv_guard(value, cell):
    assert spreadsheet_safe(value) == cell


def test_text_cell_escapes_controls_then_defuses():
    assert escape_controls("a\x1b[31mb\nc\x00d\x7f\x9b") == "a\\x1b[31mb\\x0ac\\x00d\\x7f\\x9b"
    assert text_cell("\tx") == "\\x09x"  # escaped first: no longer a tab
    assert text_cell("=1+\x1b") == "'=1+\\x1b"
    assert text_cell("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"  # text is text
    assert text_cell(None) == ""
    # what a viewer breaks lines at or reorders is escaped too
    assert escape_controls("a\u2028b\u2029c\u202ed\u2066e") == "a\\u2028b\\u2029c\\u202ed\\u2066e"
