"""A job's result file: the body the run returned, its status, spec and provenance."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.store.results import provenance, result_record, write_result
from benchmark.train.job_context import device_name


def record_result(
    job, folder: Path, status: str, error: str | None, body: dict[str, Any], started: float
) -> str:
    """Write `result.json` for a `launch.job.Job` (atomically); returns the status."""
    run = job.spec.trained_run
    where = {
        **provenance(run.seed, device_name(job.ctx.torch_device())),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    result = result_record(job.spec, job.name, run.profile, status, error, body, where, started)
    try:
        write_result(job.ctx.results_dir, result)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS):
            raise UserError(f"cannot write results to {folder}: {exc.strerror}") from exc
        raise
    if status == "failed":
        print(f"  FAILED {job.name} [{job.hash}]: {error}")
    return status
