"""The local executor: every job in this process, one by one.

An executor takes a list of jobs, runs them in order, and returns one status per job. The
torchrun and Slurm executors have the same `run` method, so the runner never branches on where
work runs.
"""

from __future__ import annotations

from benchmark.launch.job import Job, execute


class LocalExecutor:
    name = "local"

    def run(self, jobs: list[Job]) -> list[str]:
        statuses = []
        for index, job in enumerate(jobs, 1):
            print(f"[{index}/{len(jobs)}] {job.kind} {job.name} [{job.hash}]")
            statuses.append(execute(job))
        return statuses
