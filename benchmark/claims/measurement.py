"""A claim measured from per-image predictions: its sides paired seed by seed on the same test
images, the paired two-level bootstrap (benchmark.scoring.bootstrap), and the verdict rule fixed
in advance (docs/claims.md, benchmark.claims.verdicts).

Like the rest of the core, this reads the registry and the result files and never trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.claims.claim_registry import Claim, Side, side_run, side_target
from benchmark.claims.recipe_rule import check_baselines, untestable_reasons
from benchmark.claims.verdicts import consistent_with, verdict
from benchmark.experiment.plan import Plan, PlanOptions
from benchmark.experiment.profiles import resolve_eval, resolve_run
from benchmark.experiment.registry import Registry
from benchmark.scoring.bootstrap import DEFAULT_RESAMPLES, full_score, paired_bootstrap
from benchmark.spec import EvalSpec, RunSpec
from benchmark.store.predictions import load_predictions, predictions_key
from benchmark.store.results import load_result


@dataclass
class ClaimResult:
    """One claim measured: the difference per seed, its interval and the verdict."""

    claim: Claim
    status: str  # measured | pending
    seeds: tuple[int, ...] = ()  # the seeds both sides have predictions for
    images: int | None = None
    per_seed: tuple[float, ...] = ()
    mean: float | None = None
    sd: float | None = None
    low: float | None = None
    high: float | None = None
    a_mean: float | None = None
    b_mean: float | None = None
    verdict: str | None = None
    consistent: bool | None = None  # the claimed difference inside our interval
    resamples: int | None = None
    reason: str = ""
    missing: list[str] = field(default_factory=list)
    # why the profile's recipe rule makes this claim not testable (a failing baseline), or ""
    untestable: str = ""

    def to_dict(self) -> dict[str, Any]:
        c = self.claim
        return {
            "id": c.id,
            "title": c.title,
            "metric": c.metric,
            "dataset": c.dataset,
            "a": c.a.label,
            "b": c.b.label,
            "claimed": c.claimed,
            "source": c.source,
            "status": self.status,
            "seeds": list(self.seeds),
            "images": self.images,
            "per_seed": list(self.per_seed),
            "mean": self.mean,
            "sd": self.sd,
            "ci95": [self.low, self.high] if self.low is not None else None,
            "a_mean": self.a_mean,
            "b_mean": self.b_mean,
            "verdict": self.verdict,
            "testable": not self.untestable,
            "untestable_reason": self.untestable or None,
            "consistent": self.consistent,
            "resamples": self.resamples,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MeasureOptions:
    profile: str
    seeds: tuple[int, ...] = (0,)
    epochs: int | None = None
    mask_source: str | None = "procedural"
    checkpoint: str = "best"  # which training checkpoint a cell side reads: best | last | val_best
    resamples: int = DEFAULT_RESAMPLES
    bootstrap_seed: int = 0


def side_source(
    registry: Registry, side: Side, seed: int, options: MeasureOptions
) -> tuple[str, str]:
    """(result hash, predictions key) that hold a side's predictions for one seed."""
    spec = side_spec(registry, side, seed, options)
    if spec.kind == RunSpec.kind:
        return spec.hash, options.checkpoint
    condition = side.condition if side.cell is None else registry.cell(side.cell).condition
    return spec.hash, predictions_key(condition)


def side_spec(
    registry: Registry, side: Side, seed: int, options: MeasureOptions | PlanOptions
) -> RunSpec | EvalSpec:
    """The training run or the evaluation whose result holds a side's predictions."""
    kw = {"seed": seed, "epochs": options.epochs}
    run, evaluation = side_target(registry, side)
    if run is not None:
        return resolve_run(registry, run, options.profile, mask_source=options.mask_source, **kw)
    return resolve_eval(
        registry, evaluation, options.profile, mask_source=options.mask_source or "nvidia", **kw
    )


def claims_plan(registry: Registry, claims: list[Claim], options: PlanOptions) -> Plan:
    """The trainings and evaluations that measuring ``claims`` needs (`benchmark run claims:…`):
    the cells' runs, and the controls' runs and evaluations that no table names."""
    plan = Plan(options)
    for claim in claims:
        for side in (claim.a, claim.b):
            hashes = []
            for seed in options.seeds:
                spec = side_spec(registry, side, seed, options)
                plan.runs.setdefault(spec.trained_run.hash, spec.trained_run)
                if spec.kind == EvalSpec.kind:
                    plan.evals.setdefault(spec.hash, spec)
                hashes.append(spec.hash)
            if side.cell is not None:
                plan.cell_hashes[side.cell] = hashes
    return plan


def find_predictions(results_dir: Path, spec_hash: str, key: str):
    """The predictions a finished result lists under ``key``, or the reason there are none."""
    loaded = load_result(results_dir, spec_hash)
    if loaded.problem == "missing":
        return None, "no result yet"
    if loaded.problem is not None:
        return None, f"invalid result: {loaded.problem}"
    if loaded.data["status"] != "done":
        return None, "its run failed"
    listed = (loaded.data.get("predictions") or {}).get(key)
    if listed is None:
        return None, f"its result has no {key!r} predictions (written before they were kept?)"
    folder = Path(results_dir) / spec_hash
    return load_predictions(folder / listed["file"], listed["sha256"]), None


def measure_claims(
    registry: Registry, claims: list[Claim], results_dir: str | Path, options: MeasureOptions
) -> list[ClaimResult]:
    """Every claim, measured where both sides have per-image predictions for some seed."""
    results_dir = Path(results_dir)
    cache: dict[tuple[str, str], tuple[Any, str | None]] = {}

    def fetch(side: Side, seed: int):
        spec_hash, key = side_source(registry, side, seed, options)
        if (spec_hash, key) not in cache:
            cache[(spec_hash, key)] = find_predictions(results_dir, spec_hash, key)
        return cache[(spec_hash, key)]

    replicates: dict = {}  # a model's bootstrap scores, shared by the claims it appears in
    results = [_measure(claim, options, fetch, replicates) for claim in claims]
    checks = check_baselines(registry, results_dir, options)
    sides = {c.id: {side_run(registry, s) for s in (c.a, c.b)} for c in claims}
    untestable = untestable_reasons(sides, checks)
    return [
        replace(r, untestable=untestable[r.claim.id]) if r.claim.id in untestable else r
        for r in results
    ]


def _measure(claim: Claim, options: MeasureOptions, fetch, replicates: dict) -> ClaimResult:
    pairs, seeds, missing = [], [], []
    for seed in options.seeds:
        (a, why_a), (b, why_b) = fetch(claim.a, seed), fetch(claim.b, seed)
        if a is None or b is None:
            for side, why in ((claim.a, why_a), (claim.b, why_b)):
                if why:
                    missing.append(f"seed {seed}: {side.label}: {why}")
            continue
        try:
            b = b.aligned_to(a.image_ids)
        except ValueError as exc:
            return ClaimResult(claim, "invalid", reason=f"seed {seed}: test images differ: {exc}")
        if a.targets_sha256 != b.targets_sha256:
            return ClaimResult(
                claim, "invalid", reason=f"seed {seed}: the sides' test targets differ"
            )
        pairs.append((a, b))
        seeds.append(seed)
    if not pairs:
        return ClaimResult(claim, "pending", reason="; ".join(missing), missing=missing)
    result = paired_bootstrap(
        [(a.probs, a.targets) for a, _ in pairs],
        [(b.probs, b.targets) for _, b in pairs],
        claim.metric,
        resamples=options.resamples,
        seed=options.bootstrap_seed,
        cache=replicates,
    )
    a_scores = [full_score(a.probs, a.targets, claim.metric) for a, _ in pairs]
    b_scores = [full_score(b.probs, b.targets, claim.metric) for _, b in pairs]
    reason = ""
    if missing:
        reason = f"measured on {len(seeds)} of {len(options.seeds)} seeds; " + "; ".join(missing)
    return ClaimResult(
        claim,
        "measured",
        seeds=tuple(seeds),
        images=result.images,
        per_seed=result.per_seed,
        mean=result.mean,
        sd=result.sd,
        low=result.low,
        high=result.high,
        a_mean=float(np.mean(a_scores)),
        b_mean=float(np.mean(b_scores)),
        verdict=verdict(result.low, result.high),
        consistent=None
        if claim.claimed is None
        else consistent_with(claim.claimed, result.low, result.high),
        resamples=result.resamples,
        reason=reason,
        missing=missing,
    )
