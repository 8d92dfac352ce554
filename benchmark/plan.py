"""From selected cells to the unique trainings and evaluations they need, and their status.

Many cells share a run (same resolved config → same hash): the plan holds each once, and
evaluations come after the trainings they read. Status and the report read results through the
same plan, so they always look up the hashes the runner writes.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.profiles import get_profile, resolve_eval, resolve_run
from benchmark.registry import Cell, Registry
from benchmark.results import load_result
from benchmark.spec import EvalSpec, RunSpec


@dataclass(frozen=True)
class PlanOptions:
    profile: str = "smoke"
    seeds: tuple[int, ...] = (0,)
    epochs: int | None = None
    masks_root: Path | None = None

    @property
    def mask_source(self) -> str:
        # Synthetic profiles (smoke, mini) never need files, so their results stay valid and
        # reproducible without the CC BY-NC-SA download; the paper profile uses the NVIDIA set
        # when it is given.
        if get_profile(self.profile).synthetic is None and self.masks_root is not None:
            return "nvidia"
        return "procedural"


@dataclass
class Plan:
    options: PlanOptions
    runs: dict[str, RunSpec] = field(default_factory=dict)  # hash → spec, in first-use order
    evals: dict[str, EvalSpec] = field(default_factory=dict)
    cell_hashes: dict[str, list[str]] = field(default_factory=dict)  # cell id → one per seed


def build_plan(registry: Registry, cells: list[Cell], options: PlanOptions) -> Plan:
    plan = Plan(options)
    kw = {"epochs": options.epochs, "mask_source": options.mask_source}
    for cell in cells:
        if not cell.runnable:
            plan.cell_hashes[cell.id] = []
            continue
        hashes = []
        for seed in options.seeds:
            if cell.run is not None:
                spec = resolve_run(registry, cell.run, options.profile, seed=seed, **kw)
                plan.runs.setdefault(spec.hash, spec)
            else:
                spec = resolve_eval(registry, cell.evaluation, options.profile, seed=seed, **kw)
                plan.runs.setdefault(spec.run.hash, spec.run)
                plan.evals.setdefault(spec.hash, spec)
            hashes.append(spec.hash)
        plan.cell_hashes[cell.id] = hashes
    return plan


def is_locked(results_dir: Path, spec_hash: str) -> bool:
    """Whether a live process (here, or on another host) holds the run's lock."""
    from benchmark.train.job import LOCK, lock_held

    lock = Path(results_dir) / spec_hash / LOCK
    try:
        stamp = lock.read_text()
    except OSError:
        return False
    return lock_held(stamp, lock)


def cell_metrics(cell: Cell, result: dict[str, Any], which: str = "best") -> dict[str, float]:
    """The cell's paper metrics read from one result (train: best/last; eval: one condition)."""
    if result["kind"] == "train":
        scores = result["metrics"][which]
    else:
        scores = {
            row["metric"]: row["value"]
            for row in result["rows"]
            if row["condition"] == cell.condition
        }
    return {name: scores[name] for name in cell.paper if name in scores}


def cell_status(registry: Registry, cell: Cell, plan: Plan, results_dir: Path) -> dict[str, Any]:
    """`{id, status, metrics, last, std, seeds, reason, hashes}` for one cell."""
    entry: dict[str, Any] = {
        "id": cell.id,
        "table": cell.table,
        "row": cell.row,
        "dataset": cell.dataset,
        "paper": cell.paper,
        "status": "cited",
        "metrics": None,
        "last": None,
        "std": None,
        "reason": None,
        "hashes": plan.cell_hashes.get(cell.id, []),
        "slurm": None,
    }
    if not cell.runnable:
        return entry
    states, best, last, reasons = [], [], [], []
    for spec_hash in entry["hashes"]:
        loaded = load_result(results_dir, spec_hash)
        if loaded.problem is None and loaded.data["status"] == "done":
            states.append("done")
            best.append(cell_metrics(cell, loaded.data, "best"))
            if loaded.data["kind"] == "train":
                last.append(cell_metrics(cell, loaded.data, "last"))
        elif is_locked(results_dir, spec_hash):
            states.append("running")
        elif loaded.problem is None and loaded.data["status"] == "failed":
            states.append("failed")
            reasons.append(loaded.data.get("error") or "failed")
        elif loaded.problem not in (None, "missing"):
            states.append("failed")
            reasons.append(f"invalid result {loaded.path}: {loaded.problem}")
        else:
            states.append(_queued_state(results_dir, spec_hash, entry))
    for state in ("failed", "running", "pending"):
        if state in states:
            entry["status"] = state
            break
    else:
        entry["status"] = "done"
    if reasons:
        entry["reason"] = "; ".join(reasons)
    if best and entry["status"] == "done":
        entry["metrics"] = _mean(best)
        entry["last"] = _mean(last) if last else None
        if len(best) > 1:
            entry["std"] = {k: statistics.stdev(m[k] for m in best) for k in best[0]}
    return entry


def _queued_state(results_dir: Path, spec_hash: str, entry: dict[str, Any]) -> str:
    """pending, or running when a submitted Slurm job for this run is running."""
    import json

    path = Path(results_dir) / spec_hash / "slurm.json"
    if not path.is_file():
        return "pending"
    from benchmark.launch.slurm import slurm_state

    job_id = json.loads(path.read_text())["job_id"]
    state = slurm_state(job_id)
    entry["slurm"] = {"job_id": job_id, "state": state}
    return "running" if state in ("RUNNING", "COMPLETING", "CONFIGURING") else "pending"


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
