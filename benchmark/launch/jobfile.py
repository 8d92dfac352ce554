"""A job as a JSON file, so another process (torchrun, a Slurm node) can run it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from benchmark.launch.job import Job
from benchmark.spec import spec_from_dict
from benchmark.store.results import atomic_write_json
from benchmark.train.job_context import JobContext

PATH_FIELDS = ("results_dir", "data_root", "weights_root", "masks_root", "cache_dir")


def job_to_dict(job: Job) -> dict:
    ctx = dataclasses.asdict(job.ctx)
    for key in PATH_FIELDS:
        if ctx[key] is not None:
            ctx[key] = str(Path(ctx[key]).resolve())
    return {"kind": job.kind, "spec": job.spec.to_dict(), "ctx": ctx}


def job_from_dict(data: dict) -> Job:
    ctx = dict(data["ctx"])
    for key in PATH_FIELDS:
        if ctx[key] is not None:
            ctx[key] = Path(ctx[key])
    return Job(data["kind"], spec_from_dict(data["kind"], data["spec"]), JobContext(**ctx))


def write_job(job: Job, path: Path) -> Path:
    atomic_write_json(path, job_to_dict(job))
    return path


def read_job(path: Path) -> Job:
    return job_from_dict(json.loads(Path(path).read_text()))
