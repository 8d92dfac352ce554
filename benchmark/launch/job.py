"""One unit of work — train a RunSpec or evaluate an EvalSpec — from lock to result file.

`execute` is what every executor calls (in this process, or on a Slurm node): it takes the
run's lock, skips work already done, runs, and writes `result.json` atomically as `done` or
`failed`. A failure is recorded with its reason and never cached as done.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.launch.core_share import CoreShare
from benchmark.launch.failure import describe, user_message
from benchmark.launch.lock import JobLock, take_lock
from benchmark.launch.logs import attach_log, detach_log
from benchmark.launch.record import record_result
from benchmark.spec import EvalSpec, RunSpec
from benchmark.store.results import is_done, job_dir
from benchmark.train import checkpoint
from benchmark.train import distributed as ddp
from benchmark.train.checkpoint_evaluation import evaluate_checkpoint
from benchmark.train.job_context import JobContext
from benchmark.train.loop import fit

log = logging.getLogger("benchmark.train")


@dataclass(frozen=True)
class Job:
    kind: str  # train | eval
    spec: RunSpec | EvalSpec
    ctx: JobContext

    @property
    def hash(self) -> str:
        return self.spec.hash

    @property
    def name(self) -> str:
        return self.spec.name


def execute(job: Job, wait: bool = True, cores: CoreShare | None = None) -> str:
    """Run one job to a result file; returns `done`, `failed`, `skipped` (done already, here
    or in another process), or `busy` (another process is running it and `wait` is False).
    ``cores``: the job's threads are taken from the results folder's runners (CPU jobs)."""
    results_dir = Path(job.ctx.results_dir)
    folder = job_dir(results_dir, job.hash)
    lock = JobLock(folder)

    def busy(lock: JobLock) -> None:
        print(
            f"  {job.name} [{job.hash}] is running in another process ({lock.holder()}); "
            f"waiting for it"
        )

    outcome = take_lock(lock, lambda: is_done(results_dir, job.hash), busy, wait)
    if outcome == "busy":
        print(
            f"  {job.name} [{job.hash}] is running in another process ({lock.holder()}); "
            f"taking other work first"
        )
        return "busy"
    if outcome == "done":
        return "skipped"
    try:
        with cores.hold() if cores is not None else nullcontext():
            return execute_locked(job, folder)
    finally:
        lock.release()


def execute_all(
    jobs: list[Job], execute_one: Callable[[Job, bool], str], where: str = ""
) -> list[str]:
    """Jobs in order, free work first: a job whose run another process holds is put back and
    waited for once the others are done, so two runners on one folder share a table's work
    (the job lock still makes each run train once). A status per job, in the jobs' order."""
    statuses: dict[int, str] = {}
    held: list[int] = []
    for index, job in enumerate(jobs):
        print(f"[{index + 1}/{len(jobs)}] {job.kind} {job.name} [{job.hash}]{where}")
        status = execute_one(job, False)
        if status == "busy":
            held.append(index)
        else:
            statuses[index] = status
    for index in held:
        job = jobs[index]
        print(f"[{index + 1}/{len(jobs)}] {job.kind} {job.name} [{job.hash}]{where}")
        statuses[index] = execute_one(job, True)
    return [statuses[i] for i in range(len(jobs))]


def execute_locked(job: Job, folder: Path, packed: dict[str, Any] | None = None) -> str:
    """Train or evaluate while holding the job's lock (on rank 0 under torchrun). ``packed``:
    which worker of `--runs-per-gpu` ran it, recorded in the result (not the identity)."""
    handler = attach_log(folder)
    started = time.time()
    body: dict[str, Any] = {}
    status, error = "done", None
    try:
        _recover_from_kill(job, folder)
        if job.kind == "train":
            body = fit(job.spec, job.ctx, folder)
        else:
            body = evaluate_checkpoint(job.spec, job.ctx, folder)
    except KeyboardInterrupt:  # Ctrl-C, or a packed worker stopped: one line, no traceback
        again = "resumes from its last completed epoch" if job.kind == "train" else "runs again"
        print(f"  stopped {job.name} [{job.hash}]: it {again} on the next `benchmark run`")
        raise
    except UserError as exc:
        status, error = "failed", user_message(exc)
        log.error("%s", error)
    except Exception as exc:  # noqa: BLE001 — any crash becomes a failed result, not a lost run
        batch = job.spec.trained_run.batch_size
        status, error = "failed", describe(exc, batch, job.ctx.results_dir)
        log.error("%s", traceback.format_exc())
    finally:
        detach_log(handler)
    if packed is not None:
        body["packed"] = packed
    if not ddp.is_main():  # under torchrun, rank 0 alone writes the result
        return status
    return record_result(job, folder, status, error, body, started)


def _recover_from_kill(job: Job, folder: Path) -> None:
    """Undo what a killed predecessor may have left (we hold the lock, so nobody else writes
    here): temp files of an interrupted atomic write are removed, and a `last.pt` that does
    not read is set aside so that training starts over instead of failing at resume."""
    if ddp.is_main():  # under torchrun, rank 0 alone writes in the job's folder
        temporary = (".*.tmp", "checkpoints/.*.tmp", "predictions/.*.tmp")
        for leftover in [p for pattern in temporary for p in folder.glob(pattern)]:
            leftover.unlink(missing_ok=True)
        last = folder / "checkpoints" / checkpoint.LAST
        reason = checkpoint.set_aside_if_unreadable(last) if job.kind == "train" else None
        if reason is not None:
            message = (
                f"warning: {job.name} [{job.hash}]: {reason}; set aside as "
                f"{last.name}{checkpoint.UNREADABLE}, training starts over"
            )
            log.warning("%s", message)
            print(f"  {message}")
    ddp.barrier()  # the other ranks look for last.pt only once rank 0 has dealt with it


def write_failure(job: Job, error: str) -> str:
    """Record a failure seen from outside the run (its process died before writing)."""
    folder = job_dir(job.ctx.results_dir, job.hash)
    return record_result(job, folder, "failed", error, {}, time.time())
