"""Whole-file writes (interview_guard.atomic): what is not a plain file is written into, not replaced."""

import json
import os
import stat
import threading

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from interview_guard.atomic import atomic_write_text
from interview_guard.cli import main

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")


def _pipe_with_reader(path):
    """A named pipe at ``path`` and a thread reading it: (list the text read will be in, the thread)."""
    os.mkfifo(path)
    got: list[str] = []

    def read():
        with open(path, encoding="utf-8") as fh:
            got.append(fh.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return got, t


def test_a_regular_file_is_replaced_whole(tmp_path):
    p = tmp_path / "a" / "r.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two" and [x.name for x in p.parent.iterdir()] == ["r.json"]


@needs_fifo
def test_a_named_pipe_is_written_into_and_stays_a_pipe(tmp_path):
    fifo = tmp_path / "out.fifo"
    got, t = _pipe_with_reader(fifo)
    atomic_write_text(fifo, '{"a": 1}\n')
    t.join(10)
    assert got == ['{"a": 1}\n']
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # it was renamed over and became a plain file before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.fifo"]


def test_a_link_to_a_file_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


@needs_fifo
def test_scan_output_to_a_named_pipe(tmp_path):
    """``scan -o PIPE`` (a reader on the other end, as with ``-o >(jq ...)``) hands the report to the reader."""
    fifo = tmp_path / "report.fifo"
    got, t = _pipe_with_reader(fifo)
    r = CliRunner().invoke(main, ["scan", str(SAMPLES / "typing_genuine_a"), "-o", str(fifo), "-q"])
    t.join(30)
    assert r.exit_code == 0, r.output
    assert json.loads(got[0])["risk"]["band"] in ("low", "medium", "high", "unassessed")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
