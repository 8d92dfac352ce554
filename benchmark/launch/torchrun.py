"""One run over several processes: each job is launched with torchrun (DDP).

`python -m benchmark.launch.torchrun JOB.json` is the per-rank entry point: rank 0 checks
whether the work is done and takes the run's lock, every rank trains, rank 0 writes the result.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import torch.distributed as dist

from benchmark import distributed as ddp
from benchmark.launch.job import Job, run_locked, write_failure
from benchmark.launch.jobfile import read_job, write_job
from benchmark.launch.lock import RunLock
from benchmark.results import is_done, load_result, run_dir


class TorchrunExecutor:
    name = "torchrun"

    def __init__(self, nproc: int):
        self.nproc = nproc

    def run(self, jobs: list[Job]) -> list[str]:
        statuses = []
        for index, job in enumerate(jobs, 1):
            print(
                f"[{index}/{len(jobs)}] {job.kind} {job.name} [{job.hash}] on {self.nproc} "
                f"processes"
            )
            statuses.append(self.run_one(job))
        return statuses

    def run_one(self, job: Job) -> str:
        folder = run_dir(job.ctx.results_dir, job.hash)
        path = write_job(job, folder / "job.json")
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={self.nproc}",
            "-m",
            "benchmark.launch.torchrun",
            str(path),
        ]
        proc = subprocess.run(command)
        loaded = load_result(job.ctx.results_dir, job.hash)
        if loaded.problem is None:
            return loaded.data["status"]
        write_failure(
            job,
            f"torchrun exited with status {proc.returncode} before a result "
            f"was written (see {folder / 'log.txt'})",
        )
        return "failed"


def worker(path: Path) -> int:
    job = read_job(path)
    ddp.init_from_env()
    folder = run_dir(job.ctx.results_dir, job.hash)
    decision, lock = ["run"], None
    if ddp.is_main():
        if is_done(job.ctx.results_dir, job.hash):
            decision = ["skipped"]
        else:
            lock = RunLock(folder)
            while not lock.try_acquire():
                time.sleep(1.0)
    if dist.is_initialized():
        dist.broadcast_object_list(decision, src=0)
    try:
        status = run_locked(job, folder) if decision[0] == "run" else "skipped"
    finally:
        if lock is not None:
            lock.release()
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0 if status in ("done", "skipped") else 1


if __name__ == "__main__":
    sys.exit(worker(Path(sys.argv[1])))
