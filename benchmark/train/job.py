"""One unit of work — train a RunSpec or evaluate an EvalSpec — and its result file.

`execute` is what every executor calls (in this process, under torchrun, or on a Slurm node):
it takes the run's lock, skips work already done, runs, and writes `result.json` atomically as
`done` or `failed`. A failure is recorded with its reason and never cached as done.
"""

from __future__ import annotations

import errno
import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.results import load_result, provenance, run_dir, write_result
from benchmark.spec import EvalSpec, RunSpec
from benchmark.train.context import RunContext

LOCK = ".lock"
POLL_S = 1.0


@dataclass(frozen=True)
class Job:
    kind: str  # train | eval
    spec: RunSpec | EvalSpec
    ctx: RunContext

    @property
    def hash(self) -> str:
        return self.spec.hash

    @property
    def name(self) -> str:
        return self.spec.name


def is_done(results_dir: Path, spec_hash: str) -> bool:
    loaded = load_result(results_dir, spec_hash)
    return loaded.problem is None and loaded.data["status"] == "done"


class RunLock:
    """A lock file holding the owner's PID; a lock whose owner is dead is taken over."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if self._owner_alive():
                return False
            # Stale: replace it atomically; if two processes race, the rename's winner holds it
            # and the loser sees a live owner on its next try.
            tmp = self.path.with_name(f"{LOCK}.{os.getpid()}")
            tmp.write_text(f"{os.getpid()}\n")
            os.replace(tmp, self.path)
            return self._mine()
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        return True

    def release(self) -> None:
        if self._mine():
            self.path.unlink(missing_ok=True)

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _mine(self) -> bool:
        return self._owner() == os.getpid()

    def _owner_alive(self) -> bool:
        pid = self._owner()
        if pid is None:
            return False
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def execute(job: Job) -> str:
    """Run one job to a result file; returns `done`, `failed` or `skipped` (already done)."""
    results_dir = Path(job.ctx.results_dir)
    folder = run_dir(results_dir, job.hash)
    if is_done(results_dir, job.hash):
        return "skipped"
    lock = RunLock(folder)
    waited = False
    while not lock.try_acquire():
        if not waited:
            print(f"  {job.name} [{job.hash}] is running in another process; waiting for it")
            waited = True
        time.sleep(POLL_S)
    try:
        if is_done(results_dir, job.hash):  # finished by the other process while we waited
            return "skipped"
        return _run_locked(job, folder)
    finally:
        lock.release()


def _run_locked(job: Job, folder: Path) -> str:
    handler = _attach_log(folder)
    device = job.ctx.torch_device()
    started = time.time()
    body: dict[str, Any] = {}
    status, error = "done", None
    try:
        if job.kind == "train":
            from benchmark.train.loop import fit

            body = fit(job.spec, job.ctx, folder)
        else:
            from benchmark.train.evaluate import run_evaluation

            body = run_evaluation(job.spec, job.ctx, folder)
    except KeyboardInterrupt:
        raise
    except UserError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 — any crash becomes a failed result, not a lost run
        status, error = "failed", _describe(exc, job)
        logging.getLogger("benchmark.train").error("%s", traceback.format_exc())
    finally:
        _detach_log(handler)
    seed = job.spec.seed if job.kind == "train" else job.spec.run.seed
    result = {
        "kind": job.kind,
        "hash": job.hash,
        "name": job.name,
        "profile": (job.spec if job.kind == "train" else job.spec.run).profile,
        "status": status,
        "error": error,
        "spec": job.spec.to_dict(),
        **body,
        "provenance": {
            **provenance(seed, _device_name(device)),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        },
        "timings": {**body.get("timings", {}), "wall_s": time.time() - started},
    }
    try:
        write_result(job.ctx.results_dir, result)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS):
            raise UserError(f"cannot write results to {folder}: {exc.strerror}") from exc
        raise
    if status == "failed":
        print(f"  FAILED {job.name} [{job.hash}]: {error}")
    return status


def _describe(exc: Exception, job: Job) -> str:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        batch = (job.spec if job.kind == "train" else job.spec.run).batch_size
        return (
            f"CUDA out of memory at batch size {batch}: use a GPU with more memory, or "
            f"run it with more GPUs (--nproc)"
        )
    from benchmark.train.loop import NonFiniteLoss

    if isinstance(exc, NonFiniteLoss):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (traceback in the run's log.txt)"


def _device_name(device) -> str:
    import platform

    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _attach_log(folder: Path) -> logging.Handler:
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "log.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("benchmark")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def _detach_log(handler: logging.Handler) -> None:
    logging.getLogger("benchmark").removeHandler(handler)
    handler.close()
