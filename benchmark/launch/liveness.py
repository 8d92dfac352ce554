"""Liveness: is a run being trained right now? Probes that `benchmark status` and `run` add to
the plan's picture from result files: the job's lock held by a live process, or its Slurm job
(squeue, then sacct). Planning and the report never call these, so their output depends only on
the registry and the results.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.experiment.plan import Plan, cell_statuses
from benchmark.experiment.registry import Cell
from benchmark.launch.lock import is_locked
from benchmark.store.results import SLURM_FILE, job_dir

SLURM_RUNNING = ("RUNNING", "COMPLETING", "CONFIGURING")


def live_state(
    results_dir: Path, spec_hash: str, missing: bool
) -> tuple[str, dict[str, Any] | None] | None:
    """("running", …) while a live process holds the job's lock; for a run without a result
    that was submitted to Slurm, "running" or "pending" by its job's state."""
    folder = job_dir(results_dir, spec_hash)
    if is_locked(folder):
        return "running", None
    path = folder / SLURM_FILE
    if not missing or not path.is_file():
        return None
    job_id = json.loads(path.read_text())["job_id"]
    state = slurm_state(job_id)
    return ("running" if state in SLURM_RUNNING else "pending"), {"job_id": job_id, "state": state}


def live_statuses(cells: Sequence[Cell], plan: Plan, results_dir: Path) -> list[dict[str, Any]]:
    """`plan.cell_statuses` with runs being trained now shown as running."""
    return cell_statuses(cells, plan, results_dir, probe=live_state)


def slurm_state(job_id: str) -> str | None:
    """The job's Slurm state (PENDING, RUNNING, …) from squeue, then sacct; None if unknown."""
    for command in (
        ["squeue", "-h", "-j", str(job_id), "-o", "%T"],
        ["sacct", "-n", "-X", "-j", str(job_id), "-o", "State"],
    ):
        if shutil.which(command[0]) is None:
            continue
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        state = out.strip().split("\n")[0].strip() if out.strip() else ""
        if state:
            return state.split()[0]
    return None
