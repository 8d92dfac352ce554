"""One run over several processes: each job is launched with torchrun (DDP).

`python -m benchmark.launch.torchrun JOB.json` is the per-rank entry point: rank 0 checks
whether the work is done and takes the job's lock, every rank trains, rank 0 writes the result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch.distributed as dist

from benchmark.launch.job import Job, execute_all, execute_locked, write_failure
from benchmark.launch.jobfile import read_job, write_job
from benchmark.launch.lock import JobLock, is_locked, take_lock
from benchmark.store.results import is_done, job_dir, load_result
from benchmark.train import distributed as ddp


class TorchrunExecutor:
    name = "torchrun"

    def __init__(self, nproc: int):
        self.nproc = nproc

    def execute(self, jobs: list[Job]) -> list[str]:
        return execute_all(jobs, self.execute_one, f" on {self.nproc} processes")

    def execute_one(self, job: Job, wait: bool = True) -> str:
        folder = job_dir(job.ctx.results_dir, job.hash)
        if is_done(job.ctx.results_dir, job.hash):
            return "skipped"
        if not wait and is_locked(folder):  # its rank 0 would only wait: take other work first
            print(
                f"  {job.name} [{job.hash}] is running in another process; taking other work first"
            )
            return "busy"
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
    folder = job_dir(job.ctx.results_dir, job.hash)
    decision, lock = ["execute"], None
    if ddp.is_main():
        lock = JobLock(folder)
        if take_lock(lock, lambda: is_done(job.ctx.results_dir, job.hash)) != "locked":
            decision, lock = ["skipped"], None  # done before or while we waited: keep it
    if dist.is_initialized():
        dist.broadcast_object_list(decision, src=0)
    try:
        status = execute_locked(job, folder) if decision[0] == "execute" else "skipped"
    finally:
        if lock is not None:
            lock.release()
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0 if status in ("done", "skipped") else 1


if __name__ == "__main__":
    sys.exit(worker(Path(sys.argv[1])))
