"""A job's result file: the body the run returned, its status, spec and provenance."""

from __future__ import annotations

import errno
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import UserError
from benchmark.store.results import provenance, write_result


def record_result(
    job, folder: Path, status: str, error: str | None, body: dict[str, Any], started: float
) -> str:
    """Write `result.json` for a `launch.job.Job` (atomically); returns the status."""
    run = job.spec.trained_run
    result = {
        "kind": job.kind,
        "hash": job.hash,
        "name": job.name,
        "profile": run.profile,
        "status": status,
        "error": error,
        "spec": job.spec.to_dict(),
        **body,
        "provenance": {
            **provenance(run.seed, device_name(job.ctx.torch_device())),
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


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
