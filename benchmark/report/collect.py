"""Reading the result store for a report: each file once, through the plan's hashes.

The plan is the same one `status` and the runner use, so the report looks up exactly the
hashes the runner writes; files outside the plan only matter when they record a failure.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.experiment.plan import Plan, run_command
from benchmark.spec import PRECISION_MEANING, EvalSpec, RunSpec
from benchmark.store.fingerprint import NO_FINGERPRINT_NOTE, check_code
from benchmark.store.predictions import listed_damage
from benchmark.store.results import (
    RESULT_FILE,
    LoadedResult,
    git_state,
    iter_result_files,
    load_result,
    read_result,
)

FAILURE_COLUMNS = ("name", "kind", "seed", "hash", "cells", "status", "reason")
SUBSET_COLUMNS = (
    "name", "kind", "seed", "dataset", "method", "condition", "mAP", "mAP_small", "mAP_occluded",
    "positives_small", "positives_occluded",
)  # fmt: skip
THROUGHPUT_COLUMNS = (
    "name", "kind", "seed", "hash", "train_samples_per_s", "eval_samples_per_s", "global_batch",
    "world_size", "wall_s", "device",
)  # fmt: skip


class ResultIndex:
    """The plan's result files, loaded lazily and at most once."""

    def __init__(self, results_dir: Path, plan: Plan):
        self.results_dir = Path(results_dir)
        self.plan = plan
        self._loaded: dict[str, LoadedResult] = {}

    def get(self, spec_hash: str) -> LoadedResult:
        if spec_hash not in self._loaded:
            self._loaded[spec_hash] = load_result(self.results_dir, spec_hash)
        return self._loaded[spec_hash]

    def done(self, spec_hash: str) -> dict[str, Any] | None:
        """The result's content when it is valid and done, else None."""
        loaded = self.get(spec_hash)
        if loaded.done:
            return loaded.data
        return None

    def specs(self) -> list[tuple[str, RunSpec | EvalSpec]]:
        """Every training then every evaluation of the plan, in first-use order."""
        return [*self.plan.runs.items(), *self.plan.evals.items()]

    def cells_for(self, spec_hash: str) -> list[str]:
        """Cells that read this result, directly or through an evaluation of it."""
        evals = {h for h, ev in self.plan.evals.items() if ev.run.hash == spec_hash}
        return [
            cell for cell, hashes in self.plan.cell_hashes.items()
            if spec_hash in hashes or evals.intersection(hashes)
        ]  # fmt: skip


def _distinct(values: list[str]) -> str:
    """Distinct values, most frequent first; a dash when there are none."""
    if not values:
        return "— (no results yet)"
    return "; ".join(v for v, _ in Counter(values).most_common())


def header_fields(index: ResultIndex) -> dict[str, str]:
    """Commit, device and creation dates as recorded in the results' provenance, and the
    commit of the checkout rendering the report."""
    commits, devices, created = [], [], []
    for spec_hash, _ in index.specs():
        data = index.done(spec_hash)
        if data is None:
            continue
        prov = data.get("provenance") or {}
        if prov.get("git_commit"):
            commits.append(prov["git_commit"][:12] + (" (dirty)" if prov.get("git_dirty") else ""))
        if prov.get("device"):
            devices.append(str(prov["device"]))
        if prov.get("created"):
            created.append(str(prov["created"]))
    if not created:
        span = "— (no results yet)"
    else:
        span = min(created) if min(created) == max(created) else f"{min(created)} … {max(created)}"
    commit, dirty = git_state()
    return {
        "code": code_summary(index),
        "precision": precision_summary(index),
        "commit": _distinct(commits),
        "report_commit": (commit[:12] + (" (dirty)" if dirty else "")) if commit else "unknown",
        "device": _distinct(devices),
        "created": span,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def precision_summary(index: ResultIndex) -> str:
    """The precision the plan's results are identified by, what it means, and how the finished
    results computed it (a tf32 run on a CPU or a pre-Ampere GPU computes in fp32)."""
    parts = [f"{p} — {PRECISION_MEANING[p]}" for p in index.plan.precisions()]
    computed = Counter(
        computed_precision(data)
        for data in (index.done(h) for h, _ in index.specs())
        if data is not None
    )
    if computed:
        counts = [f"{name} in {n} result{'s' if n != 1 else ''}" for name, n in computed.items()]
        parts.append("computed as " + ", ".join(counts))
    return "; ".join(parts) or "—"


def computed_precision(result: dict[str, Any]) -> str:
    """The arithmetic a result was computed in: as it records it, or, for a result made before
    precision was recorded, what that code did (fp32 on a CPU, bf16 autocast on CUDA)."""
    recorded = result.get("precision")
    if recorded:
        return recorded["computed"]
    device = str((result.get("provenance") or {}).get("device") or "")
    made = "fp32" if device.startswith("cpu") else "bf16"
    return f"{made} (inferred: made before precision was recorded)"


def code_summary(index: ResultIndex) -> str:
    """How the finished results' code fingerprints compare with this checkout's code."""
    states = Counter(
        check_code(data).state
        for data in (index.done(h) for h, _ in index.specs())
        if data is not None
    )
    parts = []
    if states["current"]:
        parts.append(f"{_results(states['current'])} made by this checkout's code")
    if states["stale"]:
        parts.append(f"{_results(states['stale'])} stale: made by other code (Appendix A)")
    if states["unrecorded"]:
        parts.append(f"{_results(states['unrecorded'])} with {NO_FINGERPRINT_NOTE}")
    return "; ".join(parts) or "— (no results yet)"


def _results(n: int) -> str:
    return f"{n} result{'s' if n != 1 else ''}"


def failures(index: ResultIndex, others: set[str] = frozenset()) -> pd.DataFrame:
    """Failed, invalid, damaged and stale results: the plan's first, then stray ones (those of a
    training or evaluation named in ``others`` left out: they concern no cell of this report)."""
    rows = []
    seen = set()
    for spec_hash, spec in index.specs():
        seen.add(spec_hash)
        row = _failure_row(index.get(spec_hash), index.results_dir)
        if row is not None and row["status"] == "damaged" and index.cells_for(spec_hash):
            options = index.plan.options
            command = run_command(index.cells_for(spec_hash)[0], (spec.trained_run.seed,),
                                  options.profile, options.epochs, index.results_dir)  # fmt: skip
            row["reason"] += f" — repair: `{command}`"
        if row is not None:
            cells = ", ".join(index.cells_for(spec_hash))
            rows.append(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "seed": spec.trained_run.seed,
                    "hash": spec_hash,
                    "cells": cells,
                    **row,
                }
            )
    for path in iter_result_files(index.results_dir):
        if path.parent.name in seen:
            continue
        loaded = read_result(path, path.parent.name)
        row = _failure_row(loaded, index.results_dir)
        if row is not None and (loaded.data or {}).get("name") not in others:
            data = loaded.data or {}
            spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
            seed = spec.get("seed", (spec.get("run") or {}).get("seed"))
            rows.append(
                {
                    "name": data.get("name", "?"),
                    "kind": data.get("kind", "?"),
                    "seed": seed,
                    "hash": path.parent.name,
                    "cells": "(not in this report's plan)",
                    **row,
                }
            )
    return pd.DataFrame(rows, columns=list(FAILURE_COLUMNS))


def _failure_row(loaded: LoadedResult, results_dir: Path) -> dict[str, str] | None:
    if loaded.problem == "missing":
        return None
    if loaded.problem is not None:
        where = f"{loaded.path.parent.name}/{RESULT_FILE}"
        return {"status": "invalid", "reason": f"invalid result {where}: {loaded.problem}"}
    if loaded.data["status"] == "failed":
        return {"status": "failed", "reason": str(loaded.data.get("error") or "failed")}
    damage = listed_damage(loaded.path.parent, loaded.data, thorough=True)
    if damage:
        return {"status": "damaged", "reason": "; ".join(map(str, damage))}
    code = check_code(loaded.data)
    if code.state == "stale":
        return {"status": "stale", "reason": code.note}
    return None


def throughput(index: ResultIndex) -> pd.DataFrame:
    """Samples per second of every finished training and evaluation."""
    rows = []
    for spec_hash, spec in index.specs():
        data = index.done(spec_hash)
        if data is None:
            continue
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "seed": spec.trained_run.seed,
                "hash": spec_hash,
                "train_samples_per_s": data.get("train_samples_per_s"),
                "eval_samples_per_s": data.get("eval_samples_per_s"),
                "global_batch": data.get("global_batch"),
                "world_size": data.get("world_size"),
                "wall_s": (data.get("timings") or {}).get("wall_s"),
                "device": (data.get("provenance") or {}).get("device"),
            }
        )
    return pd.DataFrame(rows, columns=list(THROUGHPUT_COLUMNS))


def subsets(index: ResultIndex) -> pd.DataFrame:
    """mAP on all, small and occluded positives (benchmark.scoring.breakdown) of every finished run:
    trainings at their best-on-test epoch, evaluations clean and under the high pool."""
    rows = []
    for spec_hash, spec in index.specs():
        data = index.done(spec_hash)
        if data is None:
            continue
        run = spec.trained_run
        base = {"name": spec.name, "kind": spec.kind, "seed": run.seed,
                "dataset": run.dataset, "method": run.method}  # fmt: skip
        if data["kind"] == "train":
            best = data["metrics"]["best"]
            if "mAP_small" in best:  # results written before the breakdown existed lack it
                rows.append({**base, "condition": f"best epoch {best.get('epoch')}", **{
                    k: best.get(k) for k in SUBSET_COLUMNS[6:]}})  # fmt: skip
            continue
        values: dict[str, dict[str, float]] = {}
        for row in data["rows"]:
            values.setdefault(row["condition"], {})[row["metric"]] = row["value"]
        for condition in ("clean", "high"):
            if "mAP_small" in values.get(condition, {}):
                rows.append({**base, "condition": condition, **values[condition]})
    frame = pd.DataFrame(rows, columns=list(SUBSET_COLUMNS))
    # per dataset: trainings, then the masked evaluations, each in plan order
    order = frame["kind"].map({"train": 0, "eval": 1}).rename("order")
    return frame.join(order).sort_values(["dataset", "order"], kind="stable").drop(columns="order")
