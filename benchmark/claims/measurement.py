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
from benchmark.claims.matched import matched_mode, matched_spec, not_applicable, side_condition
from benchmark.claims.recipe_rule import BaselineCheck, check_baselines, untestable_reasons
from benchmark.claims.regime_rule import check_regime, claim_regimes
from benchmark.claims.verdicts import MIN_SEEDS, consistent_with, seeded_verdict, verdict
from benchmark.errors import DataError
from benchmark.experiment.plan import Plan, PlanOptions, check_seeds, run_command
from benchmark.experiment.profiles import resolve_eval, resolve_run
from benchmark.experiment.registry import Registry
from benchmark.scoring.bootstrap import DEFAULT_RESAMPLES, full_score, paired_bootstrap
from benchmark.spec import EvalSpec, RunSpec
from benchmark.store.predictions import (
    Predictions,
    file_problem,
    load_predictions,
    predictions_key,
)
from benchmark.store.results import load_result


@dataclass
class ClaimResult:
    """One claim measured: the difference per seed, its interval and the verdict."""

    claim: Claim
    status: str  # measured | pending | invalid | damaged (a side's predictions file)
    seeds: tuple[int, ...] = ()  # the seeds both sides have predictions for
    # the seeds the claim should have: those asked for, or (seeds read from the results) the
    # most any claim of its group (table; the controls) was measured on
    expected_seeds: int | None = None
    images: int | None = None
    per_seed: tuple[float, ...] = ()
    mean: float | None = None
    sd: float | None = None
    low: float | None = None
    high: float | None = None
    a_mean: float | None = None
    b_mean: float | None = None
    verdict: str | None = None  # the rule's, "one seed" with fewer than two (verdicts.py)
    interval_verdict: str | None = None  # the sign rule alone, whatever the seeds
    consistent: bool | None = None  # the claimed difference inside our interval (≥ 2 seeds)
    resamples: int | None = None
    reason: str = ""
    missing: list[str] = field(default_factory=list)
    # why the profile's recipe or regime rule makes this claim not testable, or ""
    untestable: str = ""
    damaged: tuple[str, ...] = ()  # <hash>/<file> of each damaged predictions file it reads
    repair: str = ""  # damaged: the command that redoes the damaged results
    # BatchNorm-matched (docs/claims.md, benchmark.claims.matched): the same claim measured on
    # predictions made after both sides' BatchNorm statistics were re-estimated on the same
    # images (mode clean | mixed); None where that does not apply, and matched_reason says why.
    matched: ClaimResult | None = None
    matched_mode: str | None = None
    matched_reason: str = ""

    @property
    def seed_note(self) -> str:
        """What the verdict cell says about the seeds: one seed measures image noise only; a
        claim measured on fewer seeds than it should have says how many."""
        if self.status != "measured":
            return ""
        notes = []
        if len(self.seeds) < MIN_SEEDS:
            notes.append("image noise only")
        if self.expected_seeds is not None and len(self.seeds) < self.expected_seeds:
            notes.append(f"{len(self.seeds)} of {self.expected_seeds} seeds")
        return "; ".join(notes)

    @property
    def verdict_cell(self) -> str:
        """The verdict as a table shows it, with what limits it: the claims table of
        `benchmark claims` and of the report, and claims.csv's verdict_text."""
        if self.status == "damaged":
            return f"damaged: {', '.join(self.damaged)} — repair: `{self.repair}`"
        if self.status != "measured":
            return self.status
        if self.untestable:  # the interval is shown, but a failing baseline voids the verdict
            text = f"not testable (interval: {self.interval_verdict})"
        elif self.consistent is None:
            text = self.verdict
        else:
            text = f"{self.verdict} ({'consistent' if self.consistent else 'not consistent'})"
        return f"{text}; {self.seed_note}" if self.seed_note else text

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
            "expected_seeds": self.expected_seeds,
            "seed_note": self.seed_note,
            "images": self.images,
            "per_seed": list(self.per_seed),
            "mean": self.mean,
            "sd": self.sd,
            "ci95": [self.low, self.high] if self.low is not None else None,
            "a_mean": self.a_mean,
            "b_mean": self.b_mean,
            "verdict": self.verdict,
            "interval_verdict": self.interval_verdict,
            "verdict_text": self.verdict_cell,
            "testable": not self.untestable,
            "untestable_reason": self.untestable or None,
            "consistent": self.consistent,
            "resamples": self.resamples,
            "reason": self.reason,
            "damaged": list(self.damaged),
            "repair": self.repair or None,
            "bn_matched": self.matched_dict(),
        }

    def matched_dict(self) -> dict[str, Any]:
        """The BatchNorm-matched measurement: applicable, mode, and the same fields as the
        as-trained one (the claim's own description left out), or the reason it is absent."""
        if self.matched is None:
            return {
                "applicable": False,
                "mode": None,
                "status": "not applicable",
                "verdict": None,
                "reason": self.matched_reason,
            }
        data = self.matched.to_dict()
        for key in CLAIM_KEYS:
            data.pop(key, None)
        return {"applicable": True, "mode": self.matched_mode, **data}


CLAIM_KEYS = ("id", "title", "metric", "dataset", "a", "b", "claimed", "source", "bn_matched")


@dataclass(frozen=True)
class MeasureOptions:
    profile: str
    seeds: tuple[int, ...] = (0,)
    epochs: int | None = None
    mask_source: str | None = "procedural"
    checkpoint: str = "best"  # which training checkpoint a cell side reads: best | last | val_best
    resamples: int = DEFAULT_RESAMPLES
    bootstrap_seed: int = 0
    precision: str | None = None  # RunSpec.precision; None = the profile's
    # seeds read from the results (no --seeds): a claim should have as many as the most of
    # its group, not every seed the folder holds (mini runs Tables 1–3 at seed 0 only)
    held_seeds: bool = False

    def __post_init__(self) -> None:
        check_seeds(self.seeds)


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
    kw = {"seed": seed, "epochs": options.epochs, "precision": options.precision}
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
        for seed in options.seeds:  # the BatchNorm-matched evaluations, where they apply
            for spec in matched_specs(registry, claim, seed, options).values():
                plan.runs.setdefault(spec.trained_run.hash, spec.trained_run)
                plan.evals.setdefault(spec.hash, spec)
    return plan


def matched_specs(
    registry: Registry, claim: Claim, seed: int, options: MeasureOptions | PlanOptions
) -> dict[str, EvalSpec]:
    """Side (a, b) → the evaluation of its BatchNorm-matched predictions; empty when the claim
    has none (see ``matched_reason``). `benchmark run claims:…` plans them at the paper's
    best-on-test checkpoint; `benchmark claims --checkpoint last` reads them at the last."""
    specs = {key: side_spec(registry, side, seed, options) for key, side in _sides(claim)}
    checkpoint = getattr(options, "checkpoint", "best")
    if not_applicable(specs, checkpoint) is not None:
        return {}
    mode = matched_mode(registry, claim)
    mask_source = options.mask_source or "nvidia"
    return {key: matched_spec(spec, mode, checkpoint, mask_source) for key, spec in specs.items()}


def matched_reason(
    registry: Registry, claim: Claim, options: MeasureOptions | PlanOptions
) -> str | None:
    """Why a claim has no BatchNorm-matched verdict (a side without BatchNorm), or None."""
    seed = options.seeds[0] if options.seeds else 0  # the architecture is the same at every seed
    specs = {key: side_spec(registry, side, seed, options) for key, side in _sides(claim)}
    return not_applicable(specs, getattr(options, "checkpoint", "best"))


def _sides(claim: Claim) -> tuple[tuple[str, Side], tuple[str, Side]]:
    return (("a", claim.a), ("b", claim.b))


@dataclass(frozen=True)
class Found:
    """A side's predictions for one seed, or why there are none."""

    preds: Predictions | None
    missing: str | None = None  # not made yet, or unusable result (pending)
    damage: str | None = None  # <hash>/<file> a done result lists, but missing or changed
    why_damaged: str | None = None


def find_predictions(results_dir: Path, spec_hash: str, key: str) -> Found:
    """The predictions a finished result lists under ``key``, or the reason there are none."""
    loaded = load_result(results_dir, spec_hash)
    if loaded.problem == "missing":
        return Found(None, "no result yet")
    if loaded.problem is not None:
        return Found(None, f"invalid result: {loaded.problem}")
    if loaded.data["status"] != "done":
        return Found(None, "its run failed")
    listed = (loaded.data.get("predictions") or {}).get(key)
    if listed is None:
        return Found(
            None, f"its result has no {key!r} predictions (written before they were kept?)"
        )
    path = loaded.path.parent / listed["file"]
    where = f"{spec_hash}/{listed['file']}"
    problem = file_problem(path, listed["sha256"])
    if problem is not None:
        return Found(None, damage=where, why_damaged=problem)
    try:
        return Found(load_predictions(path, listed["sha256"]))
    except DataError as exc:  # the recorded bytes, yet not valid predictions
        return Found(None, damage=where, why_damaged=str(exc).removeprefix(f"{path}: "))


def measure_claims(
    registry: Registry,
    claims: list[Claim],
    results_dir: str | Path,
    options: MeasureOptions,
    checks: list[BaselineCheck] | None = None,
) -> list[ClaimResult]:
    """Every claim, measured where both sides have per-image predictions for some seed. A claim
    a damaged predictions file touches is *damaged* (the others are measured as usual).
    ``checks``: the recipe rule's baseline checks when the caller has them (else made here)."""
    results_dir = Path(results_dir)
    cache: dict[tuple[str, str], Found] = {}

    def fetch(side: Side, seed: int) -> Found:
        spec_hash, key = side_source(registry, side, seed, options)
        if (spec_hash, key) not in cache:
            cache[(spec_hash, key)] = find_predictions(results_dir, spec_hash, key)
        return cache[(spec_hash, key)]

    def repair(claim: Claim, seeds: tuple[int, ...]) -> str:
        selector = f"claims:{claim.id}"
        return run_command(selector, seeds, options.profile, options.epochs, results_dir)

    replicates: dict = {}  # a model's bootstrap scores, shared by the claims it appears in
    results = [_measure(claim, options, fetch, replicates, repair) for claim in claims]
    results = _with_expected_seeds(results, options)
    results = [
        _with_matched(registry, r, options, results_dir, cache, replicates, repair) for r in results
    ]
    if checks is None:
        checks = check_baselines(registry, results_dir, options)
    sides = {c.id: {side_run(registry, s) for s in (c.a, c.b)} for c in claims}
    regime = check_regime(registry, results_dir, options, checks)
    if regime is not None:  # the regime rule holds the recipe rule's parts, per claim kind
        gates = claim_regimes(registry, claims, sides, regime, options.profile)
        untestable = {k: g.reason for k, g in gates.items() if g.failures}
    else:
        untestable = untestable_reasons(sides, checks)
    return [
        replace(
            r,
            untestable=untestable[r.claim.id],
            matched=r.matched and replace(r.matched, untestable=untestable[r.claim.id]),
        )
        if r.claim.id in untestable
        else r
        for r in results
    ]


def _with_matched(
    registry: Registry,
    result: ClaimResult,
    options: MeasureOptions,
    results_dir: Path,
    cache: dict[tuple[str, str], Found],
    replicates: dict,
    repair,
) -> ClaimResult:
    """The claim's BatchNorm-matched measurement beside the as-trained one: the same function
    (``_measure``) on the matched evaluations' predictions, after checking that both sides'
    statistics were re-estimated on the same images (their results' digests)."""
    claim = result.claim
    reason = matched_reason(registry, claim, options)
    if reason is not None:
        return replace(result, matched_reason=reason)
    specs = {seed: matched_specs(registry, claim, seed, options) for seed in options.seeds}
    digests: dict[int, dict[str, str]] = {}

    def fetch(side: Side, seed: int) -> Found:
        key = "a" if side == claim.a else "b"
        spec_hash = specs[seed][key].hash
        pred_key = predictions_key(side_condition(registry, side))  # a training run's: clean
        if (spec_hash, pred_key) not in cache:
            cache[(spec_hash, pred_key)] = find_predictions(results_dir, spec_hash, pred_key)
        found = cache[(spec_hash, pred_key)]
        if found.preds is None:
            return found
        digest, why = reestimation_digest(results_dir, spec_hash)
        if digest is None:
            return Found(None, why)
        digests.setdefault(seed, {})[key] = digest
        return found

    matched = _measure(claim, options, fetch, replicates, repair)
    matched = replace(matched, expected_seeds=result.expected_seeds)
    differ = [s for s, d in sorted(digests.items()) if len(d) == 2 and d["a"] != d["b"]]
    if differ:
        matched = ClaimResult(
            claim,
            "invalid",
            reason=f"seed {differ[0]}: the sides' BatchNorm statistics were re-estimated on "
            "different images",
        )
    return replace(result, matched=matched, matched_mode=matched_mode(registry, claim))


def reestimation_digest(results_dir: Path, spec_hash: str) -> tuple[str | None, str | None]:
    """(digest of the images a matched evaluation re-estimated BatchNorm on, None), or (None,
    why it cannot be used)."""
    batchnorm = (load_result(results_dir, spec_hash).data or {}).get("batchnorm") or {}
    if not batchnorm.get("layers"):
        return None, "its model had no BatchNorm layer to re-estimate"
    if not batchnorm.get("images_sha256"):
        return None, "its result does not record the images it was re-estimated on: rerun it"
    return batchnorm["images_sha256"], None


def _with_expected_seeds(results: list[ClaimResult], options: MeasureOptions) -> list[ClaimResult]:
    """How many seeds each claim should have: those asked for, or with seeds read from the
    results, the most any measured claim of its group (a table; the controls) has."""
    if not options.held_seeds:
        return [replace(r, expected_seeds=len(options.seeds)) for r in results]
    most: dict[int | None, int] = {}
    for r in results:
        if r.status == "measured":
            most[r.claim.table] = max(most.get(r.claim.table, 0), len(r.seeds))
    return [replace(r, expected_seeds=most.get(r.claim.table)) for r in results]


def _measure(claim: Claim, options: MeasureOptions, fetch, replicates: dict, repair) -> ClaimResult:
    pairs, seeds, missing, damaged, why, damaged_seeds = [], [], [], [], [], []
    for seed in options.seeds:
        a, b = fetch(claim.a, seed), fetch(claim.b, seed)
        for side, found in ((claim.a, a), (claim.b, b)):
            if found.damage:
                damaged.append(found.damage)
                why.append(f"seed {seed}: {side.label}: {found.damage}: {found.why_damaged}")
                damaged_seeds.append(seed)
            elif found.missing:
                missing.append(f"seed {seed}: {side.label}: {found.missing}")
        if a.preds is None or b.preds is None:
            continue
        try:
            aligned = b.preds.aligned_to(a.preds.image_ids)
        except ValueError as exc:
            return ClaimResult(claim, "invalid", reason=f"seed {seed}: test images differ: {exc}")
        if a.preds.targets_sha256 != aligned.targets_sha256:
            return ClaimResult(
                claim, "invalid", reason=f"seed {seed}: the sides' test targets differ"
            )
        pairs.append((a.preds, aligned))
        seeds.append(seed)
    if damaged:
        command = repair(claim, tuple(dict.fromkeys(damaged_seeds)))
        reason = "; ".join(why) + f" — repair: `{command}`"
        return ClaimResult(
            claim, "damaged", reason=reason, missing=missing, repair=command,
            damaged=tuple(dict.fromkeys(damaged)),
        )  # fmt: skip
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
    consistent = None
    if claim.claimed is not None and len(seeds) >= MIN_SEEDS:
        consistent = consistent_with(claim.claimed, result.low, result.high)
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
        verdict=seeded_verdict(result.low, result.high, len(seeds)),
        interval_verdict=verdict(result.low, result.high),
        consistent=consistent,
        resamples=result.resamples,
        reason=reason,
        missing=missing,
    )
