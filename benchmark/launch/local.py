"""The local executor: every job on this machine — one by one, or K at a time per device.

An executor takes a list of jobs, runs them in order, and returns one status per job. The
torchrun and Slurm executors have the same `execute` method, so the runner never branches on
where work runs. With ``runs_per_device`` other than 1 (`--runs-per-gpu`), K worker processes
share each device (benchmark.launch.packing); K is checked against memory on the first call.
CPU jobs take their threads from the runners sharing the results folder
(benchmark.launch.core_share), so two terminals on one folder do not fight over the cores.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.launch import packing
from benchmark.launch.core_share import core_share
from benchmark.launch.job import Job, execute, execute_all


class LocalExecutor:
    name = "local"

    def __init__(self, runs_per_device: int | str = 1, folder: Path | None = None):
        self.option = runs_per_device
        self.folder = Path(folder) if folder is not None else Path(".pack")
        self.k: int | None = None  # sized on the first jobs (trainings), kept for evaluations

    def execute(self, jobs: list[Job]) -> list[str]:
        if jobs and self.k is None:
            device = packing.resolve_device(jobs[0].ctx.device)
            self.k = packing.runs_per_device(self.option, jobs, device)
        if self.k is not None and self.k > 1 and len(jobs) > 1:
            return packing.run_packed(jobs, self.k, self.folder)
        cores = core_share(jobs)
        try:
            return execute_all(jobs, lambda job, wait: execute(job, wait, cores))
        finally:
            if cores is not None:
                cores.leave()
