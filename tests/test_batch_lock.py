"""The batch lock lets go of itself when its holder record cannot be written (a full disk)."""

from __future__ import annotations

import errno
import os

import pytest

from interview_guard.errors import InputError
from interview_guard.pipeline.batch_output import LOCK_NAME, BatchLock


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open descriptors in /proc")
def test_a_holder_record_that_cannot_be_written_releases_the_lock_with_one_line_naming_it(tmp_path, monkeypatch):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = _open_fds()
    lock = BatchLock(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(os, "pwrite", full)
        with pytest.raises(InputError) as exc:
            lock.acquire()
    msg = str(exc.value)
    assert msg == f"{tmp_path / LOCK_NAME}: cannot write the batch lock's holder record (no space left on device)"
    assert "\n" not in msg
    assert _open_fds() == before and lock._fd is None  # the descriptor is closed
    assert not (tmp_path / LOCK_NAME).exists()
    with BatchLock(tmp_path):  # the flock went with it: the next batch takes the output
        assert (tmp_path / LOCK_NAME).read_text().startswith('{"pid": ')
