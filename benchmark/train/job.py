"""One unit of work — train a RunSpec or evaluate an EvalSpec — and its result file.

`execute` is what every executor calls (in this process, under torchrun, or on a Slurm node):
it takes the run's lock, skips work already done, runs, and writes `result.json` atomically as
`done` or `failed`. A failure is recorded with its reason and never cached as done.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
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
FRESH_S = 10.0  # a lock file without a PID this young is being written, not abandoned


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
    """A lock file naming its owner, ``PID HOST``; a lock whose owner died is taken over.

    A lock from another host is respected, since its PID cannot be checked from here (Slurm
    jobs share one results folder); a lock without a PID counts as held while it is young (its
    owner is between creating and writing it). Take-overs are serialised by a second file, so
    two processes that both find the same stale lock cannot both take it.
    """

    def __init__(self, folder: Path):
        self.path = folder / LOCK
        self.stamp = f"{os.getpid()} {socket.gethostname()}\n"

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._create(self.path):
            return True
        seen = _read(self.path)
        if seen is None or lock_held(seen, self.path):  # None: just released; retry next poll
            return False
        guard = self.path.with_name(LOCK + ".takeover")
        if not self._create(guard):
            other = _read(guard)
            if other is not None and not lock_held(other, guard):
                guard.unlink(missing_ok=True)  # its taker died mid-takeover; retry next poll
            return False
        try:
            if _read(self.path) != seen:  # someone took it over while we looked
                return False
            tmp = self.path.with_name(f"{LOCK}.{os.getpid()}")
            tmp.write_text(self.stamp)
            os.replace(tmp, self.path)
            return True
        finally:
            guard.unlink(missing_ok=True)

    def release(self) -> None:
        if _read(self.path) == self.stamp:
            self.path.unlink(missing_ok=True)

    def holder(self) -> str:
        """Who holds it, for messages; how to clear it when that cannot be checked from here."""
        fields = (_read(self.path) or "").split()
        if len(fields) < 2:
            return "owner unknown"
        if fields[1] == socket.gethostname():
            return f"PID {fields[0]}"
        return f"PID {fields[0]} on {fields[1]}; if that run is gone, delete {self.path}"

    def _create(self, path: Path) -> bool:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(self.stamp)
        return True


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""


def lock_held(stamp: str, path: Path) -> bool:
    """Whether the owner a lock file names may still be running."""
    fields = stamp.split()
    try:
        pid = int(fields[0])
    except (IndexError, ValueError):
        try:  # no PID yet: held while young (being written), stale once old (garbage)
            return time.time() - path.stat().st_mtime < FRESH_S
        except FileNotFoundError:
            return False
    if len(fields) > 1 and fields[1] != socket.gethostname():
        return True
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
            print(
                f"  {job.name} [{job.hash}] is running in another process ({lock.holder()}); "
                f"waiting for it"
            )
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
    started = time.time()
    body: dict[str, Any] = {}
    status, error = "done", None
    try:
        _recover_from_kill(job, folder)
        if job.kind == "train":
            from benchmark.train.loop import fit

            body = fit(job.spec, job.ctx, folder)
        else:
            from benchmark.train.evaluate import run_evaluation

            body = run_evaluation(job.spec, job.ctx, folder)
    except KeyboardInterrupt:
        raise
    except UserError as exc:
        status, error = "failed", _user_message(exc)
        logging.getLogger("benchmark.train").error("%s", error)
    except Exception as exc:  # noqa: BLE001 — any crash becomes a failed result, not a lost run
        status, error = "failed", _describe(exc, job)
        logging.getLogger("benchmark.train").error("%s", traceback.format_exc())
    finally:
        _detach_log(handler)
    from benchmark.launch import distributed as ddp

    if not ddp.is_main():  # under torchrun, rank 0 alone writes the result
        return status
    return _record(job, folder, status, error, body, started)


def _recover_from_kill(job: Job, folder: Path) -> None:
    """Undo what a killed predecessor may have left (we hold the lock, so nobody else writes
    here): temp files of an interrupted atomic write are removed, and a `last.pt` that does
    not read is set aside so that training starts over instead of failing at resume."""
    from benchmark.launch import distributed as ddp
    from benchmark.train import checkpoint

    if ddp.is_main():  # under torchrun, rank 0 alone writes in the run's folder
        for leftover in [*folder.glob(".*.tmp"), *folder.glob("checkpoints/.*.tmp")]:
            leftover.unlink(missing_ok=True)
        last = folder / "checkpoints" / checkpoint.LAST
        reason = checkpoint.set_aside_if_unreadable(last) if job.kind == "train" else None
        if reason is not None:
            message = (
                f"warning: {job.name} [{job.hash}]: {reason}; set aside as "
                f"{last.name}{checkpoint.UNREADABLE}, training starts over"
            )
            logging.getLogger("benchmark.train").warning("%s", message)
            print(f"  {message}")
    ddp.barrier()  # the other ranks look for last.pt only once rank 0 has dealt with it


def _user_message(exc: UserError) -> str:
    """The error's own message. A DataLoader worker re-raises it with the worker's traceback
    in the text; keep only the original line, which names the file."""
    text = str(exc)
    marker = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    if "Original Traceback" in text and marker in text:
        return text.rsplit(marker, 1)[1].strip()
    return text


def write_failure(job: Job, error: str) -> str:
    """Record a failure seen from outside the run (its process died before writing)."""
    return _record(job, run_dir(job.ctx.results_dir, job.hash), "failed", error, {}, time.time())


def _record(
    job: Job, folder: Path, status: str, error: str | None, body: dict[str, Any], started: float
) -> str:
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
            **provenance(seed, _device_name(job.ctx.torch_device())),
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
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = Path(exc.filename).parent if exc.filename else Path(job.ctx.results_dir)
        return (
            f"no space left on device writing to {where}: free some space and run again "
            f"(training resumes from its last checkpoint)"
        )
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
