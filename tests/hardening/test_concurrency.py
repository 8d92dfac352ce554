"""Two `benchmark run` processes on one results folder with overlapping plans: the shared run
trains once, the second process waits for it instead of training it again, both succeed."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from faults import CELL, ONE_EPOCH, REPO, dead_pid, results, start_benchmark, wait_for_text

from benchmark.cli import main
from benchmark.launch.lock import JobLock
from benchmark.store.results import load_result


def test_overlapping_runs_train_the_shared_run_once(workdir: Path, shared_cache: Path) -> None:
    folder = workdir / "results"
    # Different selectors, one training run: Table 4's CSRA cell and Table 2's baseline row.
    first_args = ["run", CELL, *ONE_EPOCH, "--results-dir", str(folder)]
    second_args = ["run", "t2.resnet-cut.voc2007", *ONE_EPOCH, "--results-dir", str(folder)]
    go_first, go_second = workdir / "go-first", workdir / "go-second"
    log_first, log_second = workdir / "first.log", workdir / "second.log"
    # Both import at once; the first holds the run's lock until the second is seen waiting on it.
    first = start_benchmark(
        first_args, workdir, shared_cache, log_first, FAULT_HOLD_LOCK=str(go_first)
    )
    second = start_benchmark(
        second_args, workdir, shared_cache, log_second, FAULT_START_AFTER=str(go_second)
    )
    procs = [first, second]
    try:
        wait_for_text(log_first, "fault: holding", procs)
        go_second.touch()
        wait_for_text(log_second, "is running in another process (PID ", procs)
        go_first.touch()
        assert first.wait(timeout=300) == 0, log_first.read_text()
        assert second.wait(timeout=300) == 0, log_second.read_text()
    finally:
        for proc in procs:  # a failed assertion must not leave them running
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    (run_hash,) = results(folder)
    log = (folder / run_hash / "log.txt").read_text()
    assert log.count("epoch 1/1 ") == 1, f"trained more than once:\n{log}"
    assert "resuming" not in log_second.read_text()  # it found the result, not a checkpoint
    assert load_result(folder, run_hash).problem is None
    assert main(["check", "--results-dir", str(folder)]) == 0


def _stale(lock: JobLock, text: str) -> None:
    lock.path.write_text(text)
    old = time.time() - 3600
    os.utime(lock.path, (old, old))


def test_stale_locks_are_taken_over_and_live_or_remote_ones_are_not(tmp_path: Path) -> None:
    lock = JobLock(tmp_path)
    me = socket.gethostname()
    for stale in (f"{dead_pid()}\n", f"{dead_pid()} {me}\n", "", "not a pid\n"):
        _stale(lock, stale)
        assert lock.try_acquire(), f"lock holding {stale!r} was not taken over"
        assert lock.path.read_text() == f"{os.getpid()} {me}\n"
        lock.release()
        assert not lock.path.exists()

    lock.path.write_text("")  # just created by its owner, PID not written yet: held
    assert not lock.try_acquire()
    # On another machine: its PID means nothing here, so it is never judged dead from here.
    lock.path.write_text(f"{dead_pid()} another-node\n")
    assert not lock.try_acquire() and "delete" in lock.holder()

    holder = subprocess.Popen(["sleep", "30"])
    try:
        lock.path.write_text(f"{holder.pid} {me}\n")
        assert not lock.try_acquire()
        lock.release()  # not ours: must stay
        assert lock.path.read_text() == f"{holder.pid} {me}\n"
    finally:
        holder.kill()
        holder.wait()
    assert lock.try_acquire()  # its holder died
    lock.release()


def test_two_processes_finding_one_stale_lock_do_not_both_take_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import benchmark.launch.lock as job

    first, second = JobLock(tmp_path), JobLock(tmp_path)
    second.stamp = f"{dead_pid()} {socket.gethostname()}\n"  # stands for another live process
    monkeypatch.setattr(job, "lock_held", lambda stamp, path: stamp == first.stamp)
    _stale(first, f"{dead_pid()}\n")
    real_read, calls = job._read, []

    def read(path: Path):
        seen = real_read(path)
        calls.append(path)
        if len(calls) == 1:  # `second` has just seen the stale lock: `first` takes it now
            assert first.try_acquire()
        return seen

    monkeypatch.setattr(job, "_read", read)
    assert not second.try_acquire(), "both processes hold the lock"
    assert real_read(first.path) == first.stamp


def test_a_second_runner_takes_free_work_while_the_first_holds_a_run(
    workdir: Path, shared_cache: Path
) -> None:
    """Two terminals finish a table faster: while another process trains the plan's first run,
    `benchmark run` trains the next one, then waits for the first (and takes it over here, its
    holder having died)."""
    from benchmark.experiment.plan import PlanOptions, build_plan
    from benchmark.experiment.registry import load_registry

    folder = workdir / "results"
    selector = "t2.resnet-cut*.voc2007"  # two trainings: the baseline, then its MSL twin
    registry = load_registry(REPO / "experiments")
    plan = build_plan(registry, registry.select(selector), PlanOptions("smoke", epochs=1))
    held, free = list(plan.runs)
    (folder / held).mkdir(parents=True)
    other = subprocess.Popen(["sleep", "300"])  # the first runner, training `held`
    (folder / held / ".lock").write_text(f"{other.pid} {socket.gethostname()}\n")
    log = workdir / "second.log"
    second = start_benchmark(["run", selector, *ONE_EPOCH, "--results-dir", str(folder)],
                             workdir, shared_cache, log)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while free not in results(folder) and time.monotonic() < deadline:
            assert second.poll() is None, log.read_text()
            time.sleep(0.2)
        assert free in results(folder), f"the free run was not trained:\n{log.read_text()}"
        assert held not in results(folder)
        assert "taking other work first" in log.read_text()
        other.kill()  # the first runner dies: its run is taken over and trained here
        other.wait()
        assert second.wait(timeout=300) == 0, log.read_text()
    finally:
        for proc in (other, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert {h: r["status"] for h, r in results(folder).items()} == {held: "done", free: "done"}
