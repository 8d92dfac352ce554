"""`benchmark run --runs-per-gpu 2`: its workers die with it. Killed (SIGKILL, SIGTERM), the
parent leaves no worker taking jobs and no job file behind, and the next run resumes; Ctrl-C
prints one line per run stopped and no traceback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import cli_env, results

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads process states in /proc")

SELECTOR = "t4.resnet-cut.*"  # two smoke trainings (VOC and COCO): one per worker
PACKED = ["--profile", "smoke", "--runs-per-gpu", "2", "--no-progress"]


def _foreground_signals() -> None:
    """SIGINT as a terminal's foreground command has it: a test suite started in the
    background by a non-interactive shell inherits SIGINT ignored, and so would the CLI."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], cwd: Path, cache: Path, log: Path) -> subprocess.Popen:
    """`benchmark ARGS` in its own process group, as a shell starts a foreground command."""
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "benchmark", *args],
            cwd=cwd,
            env=cli_env(cache),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_foreground_signals,
        )


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit status may wait for a reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _workers_training(folder: Path, parent: subprocess.Popen, log: Path) -> set[int]:
    """The workers' PIDs (from the runs' locks), once both hold a run and some run has a
    checkpoint to resume from."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and parent.poll() is None:
        holders = set()
        for lock in folder.glob("*/.lock"):
            fields = lock.read_text().split()
            if fields:
                holders.add(int(fields[0]))
        if len(holders) == 2 and list(folder.glob("*/checkpoints/last.pt")):
            return holders
        time.sleep(0.05)
    parent.kill()
    raise AssertionError(f"the two workers never got going:\n{log.read_text()}")


def _gone(pids: set[int], timeout: float = 90) -> set[int]:
    """The PIDs still running after ``timeout`` seconds (empty once all have exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(pid) for pid in pids):
        time.sleep(0.1)
    return {pid for pid in pids if _running(pid)}


def _kill_leftovers(pids: set[int]) -> None:
    for pid in pids:  # a failing test must not leave workers on the machine
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigkill_of_the_parent_stops_its_workers_and_a_rerun_resumes(
    workdir: Path, shared_cache: Path
) -> None:
    folder = workdir / "results"
    args = ["run", SELECTOR, *PACKED, "--epochs", "6", "--results-dir", str(folder)]
    log = workdir / "killed.log"
    parent = _start(args, workdir, shared_cache, log)
    workers = _workers_training(folder, parent, log)
    assert parent.pid not in workers
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        assert not _gone(workers), f"workers outlived their parent:\n{log.read_text()}"
    finally:
        _kill_leftovers(workers)
    assert not results(folder), "a worker went on after its parent was killed"
    assert log.read_text().count("  stopped ") == 2, log.read_text()  # each left its run
    assert not list((folder / ".pack").iterdir()), "job files left behind"
    assert "Traceback" not in log.read_text()
    checkpointed = [p.parent.parent.name for p in folder.glob("*/checkpoints/last.pt")]
    assert checkpointed

    rerun = subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=workdir,
        env=cli_env(shared_cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for spec_hash in checkpointed:  # from its checkpoint, not from scratch
        assert f"[{spec_hash}]" in rerun.stdout
        log_txt = (folder / spec_hash / "log.txt").read_text()
        assert "resuming" in log_txt and log_txt.count("epoch 1/6 ") == 1, log_txt
    assert len(results(folder)) == 2
    assert all(r["status"] == "done" for r in results(folder).values())
    assert not list((folder / ".pack").iterdir())


def test_ctrl_c_stops_each_run_with_one_line_and_sigterm_leaves_no_worker(
    workdir: Path, shared_cache: Path
) -> None:
    folder = workdir / "results"
    args = ["run", SELECTOR, *PACKED, "--epochs", "50", "--results-dir", str(folder)]
    log = workdir / "interrupted.log"
    parent = _start(args, workdir, shared_cache, log)
    try:
        workers = _workers_training(folder, parent, log)
        before = log.read_text()
        os.killpg(parent.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        assert parent.wait(timeout=120) == 130, log.read_text()
        assert not _gone(workers, timeout=10)
    finally:
        parent.kill()
    after = [line for line in log.read_text()[len(before) :].splitlines() if line.strip()]
    assert "Traceback" not in log.read_text()
    stopped = [line for line in after if line.strip().startswith("stopped ")]
    assert len(stopped) == 2, after  # both runs were in progress: one line each
    assert all("resumes from its last completed epoch" in line for line in stopped)
    assert after[-1] == "benchmark: interrupted"
    others = [line for line in after[:-1] if line not in stopped]
    # nothing else, and each epoch line names its run: two workers' lines interleave
    named = re.compile(r"  \[(voc|coco)-resnetcut-plain\] epoch ")
    assert all(named.match(line) for line in others), after
    epochs = [line for line in log.read_text().splitlines() if "/50: loss" in line]
    assert epochs and all(named.match(line) for line in epochs), epochs
    assert not list((folder / ".pack").iterdir()), "job files left behind"
    assert not list(folder.glob("*/.lock")), "a stopped run kept its lock"

    # SIGTERM of the parent (the default action ends it at once): the workers stop too.
    parent = _start(args, workdir, shared_cache, log)
    workers = _workers_training(folder, parent, log)
    parent.terminate()
    parent.wait()
    try:
        assert not _gone(workers), f"workers outlived their parent:\n{log.read_text()}"
    finally:
        _kill_leftovers(workers)
    assert not list((folder / ".pack").iterdir()), "job files left behind"
    assert "Traceback" not in log.read_text()
