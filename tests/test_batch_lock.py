"""The batch lock lets go of itself when its holder record cannot be written (a full disk)."""

from __future__ import annotations

import errno
import os

import pytest

from interview_guard.errors import InputError
from interview_guard.pipeline.batch_output import LOCK_NAME, BatchLock


def _fds_on(path) -> list[int]:
    """This process's open descriptors on ``path`` (also once it is deleted). Not a count of all descriptors: other
    tests' threads open and close theirs meanwhile (a count went from 23 to 18 under a loaded run)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor, another thread's)
        if target == str(path) or target.startswith(f"{path} "):
            out.append(int(name))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open descriptors in /proc")
def test_a_holder_record_that_cannot_be_written_releases_the_lock_with_one_line_naming_it(tmp_path, monkeypatch):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    lock = BatchLock(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(os, "pwrite", full)
        with pytest.raises(InputError) as exc:
            lock.acquire()
    msg = str(exc.value)
    assert msg == f"{tmp_path / LOCK_NAME}: cannot write the batch lock's holder record (no space left on device)"
    assert "\n" not in msg
    assert _fds_on(tmp_path / LOCK_NAME) == [] and lock._fd is None  # the descriptor is closed
    assert not (tmp_path / LOCK_NAME).exists()
    with BatchLock(tmp_path):  # the flock went with it: the next batch takes the output
        assert (tmp_path / LOCK_NAME).read_text().startswith('{"pid": ')


def _fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_a_forked_pool_worker_does_not_keep_a_dead_drivers_output_locked(tmp_path):
    # flock holds while any copy of the descriptor is open: a worker forked after the lock was taken inherited one,
    # so a driver killed with kill -9 left its output locked until its last worker died
    from interview_guard.errors import InterviewGuardError
    from interview_guard.pipeline import batch_output
    from interview_guard.pipeline.executors import _one_worker

    lock = BatchLock(tmp_path)
    lock.acquire()
    fd = lock._fd
    assert fd is not None
    with _one_worker() as pool:
        assert pool.submit(_fd_is_open, fd).result(timeout=120) is False  # the worker closed its copy
        os.close(fd)  # the driver dies as kill -9 leaves it: its descriptor closed, the lock file left in place
        lock._fd = None
        batch_output._HELD.discard(fd)  # (this process lives on: its number may be reused)
        told: list[str] = []
        again = BatchLock(tmp_path, notify=told.append)
        try:
            again.acquire()  # while the worker still runs
        except InterviewGuardError as exc:  # pragma: no cover - the failure this test is for
            pytest.fail(f"the worker kept the lock: {exc}")
        assert told and "a batch that is gone" in told[0]
        again.release()


def test_the_index_lock_is_shared_by_batches_exclusive_for_forget_and_closed_in_forked_workers(tmp_path):
    from interview_guard.errors import InterviewGuardError
    from interview_guard.pipeline.batch_output import IndexLock
    from interview_guard.pipeline.executors import _one_worker

    index = tmp_path / "ix" / "all.sqlite"  # its directory is made, as the index's would be
    with IndexLock(index) as one, IndexLock(index):  # two batches on one index run side by side
        with pytest.raises(InterviewGuardError) as exc:
            IndexLock(index, exclusive=True).acquire()
        assert str(exc.value).startswith(f"{index}: a batch is using this identity index (lock .all.sqlite.lock")
        assert "\n" not in str(exc.value)
        with _one_worker() as pool:  # a forked worker does not keep a dead driver's index locked
            assert pool.submit(_fd_is_open, one._fd).result(timeout=120) is False
    with IndexLock(index, exclusive=True):  # the batches are over
        pass
    assert (tmp_path / "ix" / ".all.sqlite.lock").is_file()


def test_the_index_lock_is_the_same_through_a_symbolic_link_to_the_index(tmp_path):
    # an OUT whose identity.sqlite links to a shared index: `matches OUT --forget` locked OUT/.identity.sqlite.lock
    # while the batches given --index SHARED held SHARED's, and the forget went through while they ran
    from interview_guard.errors import InterviewGuardError
    from interview_guard.pipeline.batch_output import IndexLock

    shared = tmp_path / "shared" / "all.sqlite"
    shared.parent.mkdir()
    shared.touch()
    (tmp_path / "out").mkdir()
    link = tmp_path / "out" / "identity.sqlite"
    link.symlink_to(shared)
    with IndexLock(shared):
        with pytest.raises(InterviewGuardError) as exc:
            IndexLock(link, exclusive=True).acquire()
        assert str(exc.value).startswith(f"{link}: a batch is using this identity index")
    with IndexLock(link):
        with pytest.raises(InterviewGuardError):
            IndexLock(shared, exclusive=True).acquire()
