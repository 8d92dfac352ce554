"""The local executor: every job in this process, one by one.

An executor takes a list of jobs, runs them in order, and returns one status per job. The
torchrun and Slurm executors have the same `execute` method, so the runner never branches on where
work runs.
"""

from __future__ import annotations

from benchmark.launch.job import Job, execute, execute_all


class LocalExecutor:
    name = "local"

    def execute(self, jobs: list[Job]) -> list[str]:
        return execute_all(jobs, lambda job, wait: execute(job, wait))
