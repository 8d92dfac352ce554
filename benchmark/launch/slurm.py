"""The whole suite over a Slurm cluster, through submitit.

Trainings go out as one job array; each evaluation is its own job that starts `afterok` of the
training it reads. With ``runs_per_job`` K > 1 (`--runs-per-gpu K`), each array task holds K
trainings and runs them as K worker processes on its one GPU (benchmark.launch.packing, sized
against the node's free memory inside the job, where the GPU is). A job that times out or is
preempted is requeued by submitit's checkpoint hook and each of its runs resumes from its
`last.pt`. The job id is written beside the run
(`slurm.json`) for `benchmark status`, and into the result's provenance by the job itself.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import submitit

from benchmark.errors import UserError
from benchmark.launch import packing
from benchmark.launch.job import Job, execute
from benchmark.launch.jobfile import job_from_dict, job_to_dict
from benchmark.launch.torchrun import TorchrunExecutor
from benchmark.store.results import SLURM_FILE, atomic_write_json, job_dir, load_result


class SlurmTask:
    """What a Slurm job runs; callable and checkpointable (requeue → resume from last.pt).

    It takes one job, or a list of K trainings that share the job's GPU as K worker
    processes under the per-job lock (each resumes from its own last.pt after a requeue)."""

    def __init__(self, nproc: int, pack_folder: Path | None = None):
        self.nproc = nproc
        self.pack_folder = pack_folder

    def __call__(self, job_dicts: dict | list[dict]) -> str:
        if isinstance(job_dicts, dict):
            job_dicts = [job_dicts]
        jobs = [job_from_dict(d) for d in job_dicts]
        if len(jobs) > 1:
            device = packing.resolve_device(jobs[0].ctx.device)
            k = packing.runs_per_device(len(jobs), jobs, device)  # refuses what cannot fit
            statuses = packing.run_packed(jobs, k, self.pack_folder or Path(".pack"))
        elif self.nproc > 1:
            statuses = [TorchrunExecutor(self.nproc).execute_one(jobs[0])]
        else:
            statuses = [execute(jobs[0])]
        failed = [job for job, status in zip(jobs, statuses, strict=True) if status == "failed"]
        if failed:
            names = ", ".join(f"{job.name} [{job.hash}]" for job in failed)
            raise RuntimeError(f"{names} failed: see result.json")
        return statuses[0] if len(statuses) == 1 else "done"

    def checkpoint(self, job_dicts: dict | list[dict]):
        return submitit.helpers.DelayedSubmission(
            SlurmTask(self.nproc, self.pack_folder), job_dicts
        )


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
        runs_per_job: int = 1,
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
        self.runs_per_job = runs_per_job
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
            k = self.runs_per_job
            groups = [trains[i : i + k] for i in range(0, len(trains), k)]
            task = SlurmTask(self.nproc, self.folder / "pack")
            with executor.batch():  # one job array for the independent trainings
                handles = [
                    executor.submit(
                        task, [job_to_dict(j) for j in group] if k > 1 else job_to_dict(group[0])
                    )
                    for group in groups
                ]
            for group, handle in zip(groups, handles, strict=True):
                for job in group:
                    submitted.append((job, handle))
                    self.submitted[job.hash] = handle
        for job in evals:
            upstream = self.submitted.get(job.spec.run.hash)
            dependency = f"afterok:{upstream.job_id}" if upstream is not None else None
            executor = self._executor("msl-eval", dependency)
            submitted.append((job, executor.submit(SlurmTask(self.nproc), job_to_dict(job))))
        for job, handle in submitted:
            atomic_write_json(
                job_dir(job.ctx.results_dir, job.hash) / SLURM_FILE,
                {"job_id": handle.job_id, "name": job.name},
            )
            print(f"  submitted {job.kind} {job.name} [{job.hash}] as Slurm job {handle.job_id}")
        if not self.wait:
            return ["submitted"] * len(jobs)
        return [_outcome(job, handle) for job, handle in submitted]


def _outcome(job: Job, handle) -> str:
    """The job's own result once its Slurm job ended (several runs may share one Slurm job)."""
    try:
        handle.result()
    except Exception:  # noqa: BLE001 — the run's own result.json says why
        pass
    loaded = load_result(job.ctx.results_dir, job.hash)
    return loaded.data["status"] if loaded.problem is None else "failed"


def _parse_extra(items: list[str]) -> dict[str, str]:
    extra = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--slurm-arg {item!r}: expected KEY=VALUE")
        extra[key.strip()] = value.strip()
    return extra
