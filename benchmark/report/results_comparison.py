"""Your results beside another folder's (by default the committed ones), cell by cell and metric
by metric, each difference judged against the stated reproducibility tolerance.

What is identical where (docs/mini.md, "Reproducibility"): the same code, seed and torch build
on a processor with the same CPU kernels (model, instruction set, threads) reproduce a result
bit for bit, so there the tolerance is zero. Elsewhere the kernels round differently from the
first step on and training drifts; the tolerances below are twice the largest differences seen
in reruns of the mini profile on other processors: 0.5 mAP in training runs, 2 points of CF1
in Table 6 (threshold metrics move more: an under-trained model's probabilities sit near the
0.5 threshold, and one image crossing it moves CR and CF1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.experiment.plan import PlanOptions, build_plan, cell_metrics
from benchmark.experiment.registry import Registry
from benchmark.scoring.metrics import METRIC_NAMES
from benchmark.store.machine import same_kernels
from benchmark.store.results import load_result

RANKING_TOLERANCE = 1.0  # mAP points: twice the 0.5 mAP seen across processors
THRESHOLD_TOLERANCE = 4.0  # CP/CR/CF1/OP/OR/OF1 points: twice the 2 CF1 points seen
THRESHOLD_METRICS = frozenset(METRIC_NAMES) - {"mAP"}


def tolerance(metric: str, same: bool | None) -> float:
    """Largest difference that still counts as a reproduction, in points."""
    if same:
        return 0.0
    return THRESHOLD_TOLERANCE if metric in THRESHOLD_METRICS else RANKING_TOLERANCE


@dataclass(frozen=True)
class Difference:
    cell: str
    seed: int
    metric: str
    mine: float
    reference: float
    same_kernels: bool | None  # None: a result predates the record of its kernels
    tolerance: float

    @property
    def delta(self) -> float:
        return self.mine - self.reference

    @property
    def within(self) -> bool:
        return abs(self.delta) <= self.tolerance + 1e-9


@dataclass(frozen=True)
class Comparison:
    differences: list[Difference]
    missing: dict[str, str]  # cell → which folder has no result for it yet (not compared)
    broken: dict[str, str]  # cell → the invalid or failed result file, and why (a failure)

    @property
    def outside(self) -> list[Difference]:
        return [d for d in self.differences if not d.within]

    @property
    def failed(self) -> bool:
        """A difference beyond its tolerance, or a result that is invalid or failed."""
        return bool(self.outside or self.broken)


def compare_results(
    registry: Registry, selector: str, options: PlanOptions, mine: Path, reference: Path
) -> Comparison:
    cells = [c for c in registry.select(selector) if c.runnable]
    plan = build_plan(registry, cells, options)
    differences, missing, broken = [], {}, {}
    for cell in cells:
        pairs = []
        for spec_hash in plan.cell_hashes.get(cell.id, []):
            a, b = load_result(mine, spec_hash), load_result(reference, spec_hash)
            bad = [
                f"{loaded.path}: {_why_broken(loaded)}" for loaded in (a, b) if _why_broken(loaded)
            ]
            if bad:
                broken[cell.id] = "; ".join(bad)
                break
            lacking = [
                str(folder) for folder, loaded in ((mine, a), (reference, b)) if not loaded.done
            ]
            if lacking:
                missing[cell.id] = "no result in " + " and ".join(lacking)
                break
            pairs.append((a.data, b.data))
        else:
            for a, b in pairs:
                same = same_kernels(_compute(a), _compute(b))
                ours, theirs = cell_metrics(cell, a), cell_metrics(cell, b)
                differences += [
                    Difference(cell.id, _seed(a), m, ours[m], theirs[m], same, tolerance(m, same))
                    for m in ours
                    if m in theirs
                ]
    return Comparison(differences, missing, broken)


def _why_broken(loaded) -> str | None:
    """Why a result file that exists cannot be compared (None: valid and done, or absent)."""
    if loaded.problem == "missing":
        return None
    if loaded.problem is not None:
        return f"invalid ({loaded.problem})"
    if loaded.data["status"] == "failed":
        return f"its run failed ({loaded.data.get('error') or 'no reason recorded'})"
    return None


def _seed(result: dict) -> int:
    spec = result["spec"]
    return int(spec["seed"] if "seed" in spec else spec["run"]["seed"])


def _compute(result: dict) -> dict | None:
    return (result.get("provenance") or {}).get("compute")
