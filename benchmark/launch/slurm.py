"""The whole suite over a Slurm cluster, through submitit.

Trainings go out as one job array; each evaluation is its own job that starts `afterok` of the
training it reads. A job that times out or is preempted is requeued by submitit's checkpoint
hook and resumes from the run's `last.pt`. The job id is written beside the run
(`slurm.json`) for `benchmark status`, and into the result's provenance by the job itself.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import submitit

from benchmark.errors import UserError
from benchmark.launch.job import Job, execute
from benchmark.launch.jobfile import job_from_dict, job_to_dict
from benchmark.launch.torchrun import TorchrunExecutor
from benchmark.results import SLURM_FILE, atomic_write_json, run_dir


class SlurmTask:
    """What a Slurm job runs; callable and checkpointable (requeue → resume from last.pt)."""

    def __init__(self, nproc: int):
        self.nproc = nproc

    def __call__(self, job_dict: dict) -> str:
        job = job_from_dict(job_dict)
        if self.nproc > 1:
            status = TorchrunExecutor(self.nproc).execute_one(job)
        else:
            status = execute(job)
        if status == "failed":
            raise RuntimeError(f"{job.name} [{job.hash}] failed: see its result.json")
        return status

    def checkpoint(self, job_dict: dict):
        return submitit.helpers.DelayedSubmission(SlurmTask(self.nproc), job_dict)


class SlurmExecutor:
    name = "slurm"

    def __init__(
        self,
        folder: Path,
        nproc: int = 1,
        partition: str | None = None,
        gpus_per_run: int | None = None,
        time_min: int = 24 * 60,
        extra: list[str] | None = None,
        wait: bool = False,
    ):
        if shutil.which("sbatch") is None:
            raise UserError("--executor slurm: sbatch is not on PATH (no Slurm client here)")
        self.folder = Path(folder)
        self.nproc = nproc
        self.partition = partition
        self.gpus_per_run = gpus_per_run
        self.time_min = time_min
        self.extra = _parse_extra(extra or [])
        self.wait = wait
        self.submitted: dict[str, object] = {}  # run hash → submitit job, for dependencies

    def _executor(self, name: str, dependency: str | None = None):
        # Without accounting, submitit warns on every poll that sacct is off; squeue suffices.
        logging.getLogger("submitit").setLevel(logging.ERROR)
        executor = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster="slurm")
        extra = dict(self.extra)
        if dependency:
            extra["dependency"] = dependency
        params = {
            "name": name,
            "timeout_min": self.time_min,
            "tasks_per_node": 1,
            "nodes": 1,
            "cpus_per_task": max(1, self.nproc),
            "slurm_additional_parameters": extra,
        }
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.gpus_per_run:
            params["gpus_per_node"] = self.gpus_per_run
        executor.update_parameters(**params)
        return executor

    def execute(self, jobs: list[Job]) -> list[str]:
        if not jobs:
            return []
        trains = [j for j in jobs if j.kind == "train"]
        evals = [j for j in jobs if j.kind == "eval"]
        submitted: list[tuple[Job, object]] = []
        if trains:
            executor = self._executor("msl-train")
            with executor.batch():  # one job array for the independent trainings
                handles = [executor.submit(SlurmTask(self.nproc), job_to_dict(j)) for j in trains]
            submitted += list(zip(trains, handles, strict=True))
            for job, handle in zip(trains, handles, strict=True):
                self.submitted[job.hash] = handle
        for job in evals:
            upstream = self.submitted.get(job.spec.run.hash)
            dependency = f"afterok:{upstream.job_id}" if upstream is not None else None
            executor = self._executor("msl-eval", dependency)
            submitted.append((job, executor.submit(SlurmTask(self.nproc), job_to_dict(job))))
        for job, handle in submitted:
            atomic_write_json(
                run_dir(job.ctx.results_dir, job.hash) / SLURM_FILE,
                {"job_id": handle.job_id, "name": job.name},
            )
            print(f"  submitted {job.kind} {job.name} [{job.hash}] as Slurm job {handle.job_id}")
        if not self.wait:
            return ["submitted"] * len(jobs)
        return [_outcome(handle) for _, handle in submitted]


def _outcome(handle) -> str:
    try:
        return handle.result()
    except Exception:  # noqa: BLE001 — the job's own result.json says why
        return "failed"


def _parse_extra(items: list[str]) -> dict[str, str]:
    extra = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--slurm-arg {item!r}: expected KEY=VALUE")
        extra[key.strip()] = value.strip()
    return extra
