"""batch on a Dask cluster: a real scheduler and two workers, started here as subprocesses (dask scheduler /
dask worker, as a user would on several machines), against the local process pool.

The cluster's processes run in their own process groups, with their logs in the test's temporary directory
(printed when start-up fails); every process started here is stopped at the end of its test or module.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from interview_guard.cli import main
from interview_guard.pipeline.batch import run_batch

try:
    import distributed
except ImportError:  # the test extra brings the cluster extra: in CI a missing Dask is a failure, not a skip
    if os.environ.get("CI"):
        raise
    pytest.skip(
        "Dask is not installed: pip install -e '.[test]' (it includes the cluster extra)", allow_module_level=True
    )

START_TIMEOUT_S = 90.0  # a scheduler and two workers start in a few seconds; CI machines are busy
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TYPING = sorted(p for p in SAMPLES.glob("typing_*") if p.is_dir())
VIDEO = sorted(p for p in SAMPLES.glob("video_*") if p.is_dir())
SCORE_COLUMNS = ("rank", "session", "path", "risk_score", "band", "status", "error", "duration_s", "modalities")


class Cluster:
    """``dask scheduler`` and ``n`` ``dask worker`` processes (one thread each, no nanny) on 127.0.0.1."""

    def __init__(self, tmp: Path, n_workers: int = 2, scheduler_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        tmp.mkdir(parents=True, exist_ok=True)
        sched_file = tmp / "scheduler.json"
        # Dask's scratch (the scheduler's too) in the test's directory, not in /tmp/dask-scratch-space
        env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(tmp / "scratch"), **(scheduler_env or {})}
        self._start(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
            "scheduler",
            env,
        )
        try:
            self.address = self._wait_for_file(sched_file)
            # workers as interview-guard's docs start them, minus the nanny (so a kill is the worker itself) and
            # without the BLAS variables the nanny would set: the batch must limit BLAS threads on its own
            wenv = {k: v for k, v in env.items() if k not in BLAS_VARS}
            for i in range(n_workers):
                argv = ["worker", self.address, "--nthreads", "1", "--no-nanny", "--name", f"w{i}"]
                argv += ["--no-dashboard", "--local-directory", str(tmp / f"w{i}"), "--death-timeout", "60"]
                self.workers.append(self._start(argv, f"worker{i}", wenv))
            self.client = distributed.Client(self.address, timeout=30, set_as_default=False)
            if n_workers:
                self.client.wait_for_workers(n_workers, timeout=START_TIMEOUT_S)
        except BaseException as exc:
            logs = self.logs()
            self.stop()
            pytest.fail(f"the Dask cluster did not start ({exc}):\n{logs}")

    def _start(self, argv: list[str], name: str, env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,  # its own process group: stopped as a whole, never by name
        )
        log.close()
        self.procs.append(proc)
        return proc

    def _wait_for_file(self, path: Path) -> str:
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            if self.procs[0].poll() is not None:
                raise RuntimeError(f"dask scheduler exited with {self.procs[0].returncode}")
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
                return str(json.loads(path.read_text())["address"])
            time.sleep(0.2)
        raise TimeoutError(f"no {path.name} after {START_TIMEOUT_S:.0f} s")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def stop(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=5)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask-cluster"))
    yield c
    c.stop()


def read_summary(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def scores(path: Path) -> list[tuple]:
    """The summary without the report column (the output directories differ)."""
    return [tuple(r[c] for c in SCORE_COLUMNS) for r in read_summary(path)]


def copy_sessions(dirs: list[Path], root: Path) -> Path:
    root.mkdir(parents=True)
    for d in dirs:
        shutil.copytree(d, root / d.name)
    return root


def reports(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "sessions").glob("*.json"))}


def comparable(report: dict) -> dict:
    """A report without what differs between two runs of one scan (times, the report's own path)."""
    return {k: v for k, v in report.items() if k not in ("created_at", "timings")}


def test_keystroke_sessions_on_the_cluster_equal_the_local_pool(cluster, tmp_path):
    root = copy_sessions(TYPING, tmp_path / "root")
    bad = root / "broken"
    bad.mkdir()
    (bad / "keystrokes.jsonl").write_text('{"t": 5, "type": "down"}\n{"t": 6, "type": "press"}\n')
    run_batch(root, tmp_path / "local", jobs=2)
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(tmp_path / "dask")]
        + ["--scheduler", cluster.address, "--html"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 3, proc.stderr  # finished, with the broken session failed
    assert "scanning on Dask scheduler" in proc.stderr and "scanning" not in proc.stdout  # progress on stderr
    assert "Traceback" not in proc.stderr
    assert scores(tmp_path / "dask" / "summary.csv") == scores(tmp_path / "local" / "summary.csv")
    local, dask = reports(tmp_path / "local"), reports(tmp_path / "dask")
    assert set(dask) == {p.name for p in TYPING} | {"broken"}
    for sid in local:
        assert comparable(dask[sid]) == comparable(local[sid]), sid
    assert "line 2: 'type' must be one of" in dask["broken"]["error"]
    # the driver wrote the pages and the index; the workers left nothing in OUT
    assert all((tmp_path / "dask" / "sessions" / f"{sid}.html").is_file() for sid in dask)
    assert not list((tmp_path / "dask").rglob("*.tmp")) and not (tmp_path / "dask" / ".tmp").exists()
    from interview_guard.io.identity_index import IdentityIndex

    with (
        IdentityIndex(tmp_path / "local" / "identity.sqlite") as a,
        IdentityIndex(tmp_path / "dask" / "identity.sqlite") as b,
    ):
        assert a.indexed_sessions() == b.indexed_sessions() and len(a.indexed_sessions()) == len(TYPING)
    assert (tmp_path / "dask" / "matches.csv").read_text() == (tmp_path / "local" / "matches.csv").read_text()
    # a re-run on the cluster skips every finished session and re-tries the failed one
    res = run_batch(root, tmp_path / "dask", scheduler=cluster.address)
    assert (res.total, res.skipped, res.scanned, res.failed) == (len(TYPING) + 1, len(TYPING), 1, 1)


def test_workers_scan_with_one_blas_thread(cluster, tmp_path):
    """The workers were started without the BLAS variables: the batch's tasks limit the threads themselves."""
    root = copy_sessions(TYPING[:2], tmp_path / "root")
    run_batch(root, tmp_path / "out", scheduler=cluster.address)

    def blas_threads():
        from threadpoolctl import threadpool_info

        return sorted({(p["user_api"], p["num_threads"]) for p in threadpool_info()})

    per_worker = cluster.client.run(blas_threads)
    assert len(per_worker) == 2
    for pools in per_worker.values():
        assert pools and all(n == 1 for _, n in pools), pools


def test_workers_report_their_runtime_and_a_different_one_is_a_warning(cluster):
    """Each worker tells its library versions at connect; the same environment gives no note, another one a
    warning naming a worker and what differs (not an error: the worker still scans)."""
    from interview_guard.io.runtime import runtime_versions
    from interview_guard.pipeline.dask_executor import runtime_note, worker_facts

    mine = runtime_versions()
    facts = cluster.client.run(worker_facts)
    assert len(facts) == 2 and all(f["runtime"] == mine for f in facts.values())
    assert runtime_note(mine, facts) is None
    w = sorted(facts)[1]
    other = {**facts, w: {**facts[w], "runtime": {**mine, "mediapipe": "0.10.14"}}}
    del other[w]["runtime"]["librosa"]
    note = runtime_note(mine, other)
    assert note is not None and note.startswith("1 of 2 Dask worker(s) run other library versions")
    assert f"{w}: librosa missing (here {mine['librosa']}), mediapipe 0.10.14 (here {mine['mediapipe']})" in note


@pytest.mark.video
def test_sample_sessions_summary_is_the_same_on_the_cluster(cluster, tmp_path):
    """Every bundled sample session: the summary from two Dask workers equals the local pool's."""
    run_batch(SAMPLES, tmp_path / "local", jobs=2)
    res = run_batch(SAMPLES, tmp_path / "dask", scheduler=cluster.address)
    assert (res.total, res.scanned, res.failed) == (len(TYPING) + len(VIDEO), len(TYPING) + len(VIDEO), 0)
    assert scores(tmp_path / "dask" / "summary.csv") == scores(tmp_path / "local" / "summary.csv")
    assert (tmp_path / "dask" / "matches.csv").read_text() == (tmp_path / "local" / "matches.csv").read_text()
    local, dask = reports(tmp_path / "local"), reports(tmp_path / "dask")
    assert set(local) == set(dask)
    for sid in local:
        assert comparable(dask[sid])["risk"] == comparable(local[sid])["risk"], sid


def _kill_a_busy_worker_mid_batch(tmp_path, scheduler_env=None):
    """Start a cluster, run the batch (CLI, own process) on it, SIGKILL a worker while it holds a session."""
    root = copy_sessions(VIDEO[:3] + TYPING, tmp_path / "root")
    c = Cluster(tmp_path / "cluster", scheduler_env=scheduler_env)
    try:
        pids = c.worker_pids()
        proc = subprocess.Popen(
            [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(tmp_path / "out")]
            + ["--scheduler", c.address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        held: list = []
        end = time.monotonic() + 300
        while not held and time.monotonic() < end and proc.poll() is None:
            processing = c.client.processing()
            busy = sorted(w for w, keys in processing.items() if keys and w in pids)
            if busy:
                held = list(processing[busy[0]])
                victim = next(p for p in c.workers if p.pid == pids[busy[0]])
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait(timeout=30)
            else:
                time.sleep(0.05)
        out, err = proc.communicate(timeout=600)
    finally:
        c.stop()
    assert held, f"no worker ever held a session:\n{c.logs()}"
    assert "Traceback" not in err, err
    rows = read_summary(tmp_path / "out" / "summary.csv")
    names = sorted(p.name for p in root.iterdir())
    # every session exactly once: reported or failed, none lost, none doubled
    assert sorted(r["session"] for r in rows) == names
    assert sorted(p.stem for p in (tmp_path / "out" / "sessions").glob("*.json")) == names
    return proc.returncode, rows, held, err


@pytest.mark.video
def test_a_killed_worker_s_sessions_are_rescanned_elsewhere(tmp_path):
    code, rows, held, err = _kill_a_busy_worker_mid_batch(tmp_path)
    assert code == 0, err  # the scheduler gave the killed worker's sessions to the other worker
    assert all(r["status"] == "ok" for r in rows), rows


@pytest.mark.video
def test_a_session_whose_workers_keep_dying_is_recorded_failed(tmp_path):
    """With no retry allowed (allowed-failures 0), the sessions the killed worker held fail, named."""
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    code, rows, held, err = _kill_a_busy_worker_mid_batch(tmp_path, scheduler_env=env)
    failed = [r for r in rows if r["status"] == "failed"]
    # the killed worker held one session or two (one thread: one running, one queued at most, the scheduler's
    # worker-saturation 1.1 rounded up); the snapshot of what it held may be one behind
    assert code == 3 and 1 <= len(failed) <= 2, (rows, held)
    for r in failed:
        want = f"{tmp_path / 'root' / r['path']}: the Dask worker scanning this session died once"
        assert r["error"].startswith(want), r["error"]  # the session's path first, as every failure's
    assert all(r["status"] == "ok" for r in rows if r not in failed)
    assert f"session {failed[0]['session']} failed" in err


@pytest.mark.video
def test_a_lost_scheduler_stops_the_batch_in_one_line_and_a_re_run_resumes(tmp_path):
    root = copy_sessions(VIDEO[:3] + TYPING, tmp_path / "root")
    out = tmp_path / "out"
    c = Cluster(tmp_path / "cluster")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(out)]
            + ["--scheduler", c.address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        end = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < end and not any(c.client.processing().values()):
            time.sleep(0.05)
        os.killpg(c.procs[0].pid, signal.SIGKILL)  # the scheduler, while the workers scan
        _, err = proc.communicate(timeout=300)
    finally:
        c.stop()
    assert proc.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"interview-guard: error: {c.address}: lost the connection to the Dask scheduler; "), err
    assert "Traceback" not in err
    done = read_summary(out / "summary.csv")  # what finished before is kept, and listed
    assert all(r["status"] == "ok" for r in done) and len(done) < len(list(root.iterdir()))
    res = run_batch(root, out, jobs=2)  # the re-run (here on the local pool) scans only the rest
    assert (res.skipped, res.scanned, res.failed) == (len(done), len(list(root.iterdir())) - len(done), 0)


def test_a_scheduler_without_workers_is_one_line(tmp_path):
    from interview_guard.errors import InterviewGuardError
    from interview_guard.pipeline.dask_executor import DaskExecutor

    c = Cluster(tmp_path / "cluster", n_workers=0)
    try:
        with pytest.raises(InterviewGuardError, match="no Dask worker connected to the scheduler within 2 s"):
            DaskExecutor(c.address, no_workers_timeout_s=2)
    finally:
        c.stop()


def test_unreachable_scheduler_is_one_line_naming_it(tmp_path):
    import socket

    root = copy_sessions(TYPING[:1], tmp_path / "root")
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word, like a web server
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        cases = {
            "tcp://127.0.0.1:9": "cannot connect to the Dask scheduler (",  # nothing listens there
            f"tcp://127.0.0.1:{silent.getsockname()[1]}": "nothing there answers as one within 2 s",
            "nonsense://nowhere:1": "not a Dask scheduler address (unknown address scheme 'nonsense'",
            "tcp://host-without-port": "not a Dask scheduler address (missing port number",
        }
        for address, why in cases.items():
            proc = subprocess.run(
                [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(tmp_path / "o")]
                + ["--scheduler", address],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert proc.returncode == 1
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"interview-guard: error: {address}: "), proc.stderr
            assert why in lines[0] and "Traceback" not in proc.stderr
            assert not (tmp_path / "o" / "sessions").exists()  # nothing was started


def test_scheduler_without_the_cluster_extra_says_how_to_install(tmp_path, monkeypatch):
    root = copy_sessions(TYPING[:1], tmp_path / "root")
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(tmp_path / "o"), "--scheduler", "tcp://h:1"])
    assert r.exit_code == 1
    assert "tcp://h:1: a Dask scheduler needs the cluster extra: pip install 'interview-guard[cluster]'" in r.output


def test_batch_help_documents_scheduler():
    r = CliRunner().invoke(main, ["batch", "--help"])
    assert r.exit_code == 0 and "--scheduler tcp://HOST:PORT" in r.output and "docs/cluster.md" in r.output


def _echo_or_die(x: str) -> str:
    if x == "die":
        os._exit(1)  # a worker that crashes (segfault, out of memory)
    time.sleep(0.2)
    return x.upper()


def test_local_pool_executor_yields_every_task_once_when_a_worker_dies():
    """The local side of the executor interface: a dead worker's task is lost, never dropped or doubled, and
    only it (a dead worker broke the whole pool: every task not finished was lost, never-started ones too)."""
    from interview_guard.pipeline.executors import InProcessExecutor, LocalPoolExecutor, TaskLost

    keys = ["a", "b", "die", "c", "d", "e"]
    with LocalPoolExecutor(2) as ex:
        got = list(ex.run(_echo_or_die, [(k, (k,)) for k in keys]))
    assert sorted(k for k, _ in got) == sorted(keys)  # each once
    outcome = dict(got)
    assert isinstance(outcome["die"], TaskLost) and "worker process died" in outcome["die"].reason
    assert {k: v for k, v in outcome.items() if k != "die"} == {k: k.upper() for k in keys if k != "die"}
    with LocalPoolExecutor(2) as ex:  # every worker dies (a pool that cannot work): each lost, and it ends
        got = list(ex.run(_echo_or_die, [(k, ("die",)) for k in "xyz"]))
    assert sorted(k for k, _ in got) == ["x", "y", "z"] and all(isinstance(v, TaskLost) for _, v in got)
    got = dict(InProcessExecutor().run(lambda x: 1 / x, [("one", (1,)), ("zero", (0,))]))
    assert got["one"] == 1.0 and got["zero"] == TaskLost("internal error: ZeroDivisionError: division by zero")


def test_calibrate_on_the_cluster_fits_what_it_fits_locally(cluster, tmp_path):
    """calibrate --scheduler: the same executor choice as batch, the same parameters as the local fit."""
    from test_calibration import make_labelled_root

    root = make_labelled_root(tmp_path / "root", n_genuine=6, n_relay=6, n_keys=150)
    outs = {}
    for where, extra in (("local", ["-j", "2"]), ("dask", ["--scheduler", cluster.address])):
        out = tmp_path / where / "fusion.json"
        proc = subprocess.run(
            [sys.executable, "-m", "interview_guard.cli", "calibrate", str(root), "-o", str(out), "--folds", "3"]
            + extra,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert ("scanning on Dask scheduler" in proc.stderr) == (where == "dask"), proc.stderr
        outs[where] = json.loads(out.read_text())
    strip = ("created_at", "fitted_at", "created")
    assert {k: v for k, v in outs["dask"].items() if k not in strip} == {
        k: v for k, v in outs["local"].items() if k not in strip
    }
