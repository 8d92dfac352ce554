"""The one lock-acquire loop, seen from both places that wait on a run's lock: `execute` (this
process, Slurm) and the torchrun worker's rank 0. A job that waited while another process
finished the run must keep that result, not train again and rewrite it."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.launch import job as job_module
from benchmark.launch import lock as lock_module
from benchmark.launch import torchrun
from benchmark.launch.job import Job, execute
from benchmark.launch.jobfile import write_job
from benchmark.launch.lock import LOCK
from benchmark.store.results import RESULT_FILE, job_dir, write_result
from benchmark.train.job_context import JobContext

REPO = Path(__file__).resolve().parents[2]


def _finished_result(spec) -> dict:
    metrics = {"best": {"mAP": 50.0}, "last": {"mAP": 50.0}}
    return {"kind": "train", "hash": spec.hash, "name": spec.name, "status": "done",
            "spec": spec.to_dict(), "metrics": metrics}  # fmt: skip


def _in_torchrun_worker(job: Job, monkeypatch: pytest.MonkeyPatch, calls: list) -> int:
    monkeypatch.setattr(torchrun, "execute_locked", lambda *a: calls.append(a) or "done")
    path = write_job(job, job_dir(job.ctx.results_dir, job.hash) / "job.json")
    return torchrun.worker(path)


def _in_this_process(job: Job, monkeypatch: pytest.MonkeyPatch, calls: list) -> str:
    monkeypatch.setattr(job_module, "execute_locked", lambda *a: calls.append(a) or "done")
    return execute(job)


@pytest.mark.parametrize("waiter", [_in_torchrun_worker, _in_this_process])
def test_a_job_that_waited_on_the_lock_keeps_the_result_finished_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waiter
) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)  # one process: ddp helpers are no-ops
    monkeypatch.setattr(lock_module, "POLL_S", 0.01)  # the one loop's poll: both waiters use it
    registry = load_registry(REPO / "experiments")
    spec = resolve_run(registry, "voc-resnetcut-csra", "smoke")
    job = Job("train", spec, JobContext(results_dir=tmp_path))
    folder = job_dir(tmp_path, spec.hash)
    folder.mkdir(parents=True)
    other = subprocess.Popen(["sleep", "60"])  # the process training this run elsewhere
    try:
        (folder / LOCK).write_text(f"{other.pid} {socket.gethostname()}\n")
        calls: list = []
        outcome: list = []
        thread = threading.Thread(target=lambda: outcome.append(waiter(job, monkeypatch, calls)))
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive(), "it did not wait for the lock's holder"
        # The other process finishes: it writes the result, then releases its lock.
        write_result(tmp_path, _finished_result(spec))
        written = (folder / RESULT_FILE).read_bytes()
        (folder / LOCK).unlink()
        thread.join(timeout=10)
        assert not thread.is_alive()
    finally:
        other.kill()
        other.wait()
    assert calls == [], "the run was trained again after it had finished"
    assert outcome in ([0], ["skipped"])
    assert (folder / RESULT_FILE).read_bytes() == written
    assert not (folder / LOCK).exists()
