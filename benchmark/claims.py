"""The paper's claims (experiments/claims.yaml), validated, and measured from per-image predictions.

A claim compares two sides — table cells, or conditions of a test-time masking evaluation — on
one metric: "a beats b by `claimed` points". Measuring it pairs the sides seed by seed on the
same test images and runs the paired two-level bootstrap of benchmark.stats; the verdict rule is
fixed in advance (docs/claims.md, ``benchmark.stats.verdict``).

Like the rest of the core, this reads the registry and the result files and never trains.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import RegistryError, UserError
from benchmark.metrics import METRIC_NAMES
from benchmark.plan import Plan, PlanOptions
from benchmark.predictions import load_predictions, predictions_key
from benchmark.profiles import resolve_eval, resolve_run
from benchmark.recipe_rule import check_baselines, untestable_reasons
from benchmark.regime_rule import check_regime, claim_regimes
from benchmark.registry import ID_PATTERN, Registry, _check_fields, _read_yaml
from benchmark.results import load_result
from benchmark.spec import EvalSpec, RunSpec
from benchmark.stats import (
    DEFAULT_RESAMPLES,
    consistent_with,
    full_score,
    paired_bootstrap,
    verdict,
)

CLAIMS_FILE = "claims.yaml"
CLAIM_FIELDS = {
    "id": str,
    "title": str,
    "metric": str,
    "a": dict,
    "b": dict,
    "claimed": (int, float, type(None)),
    "source": str,
    "notes": list,
}
CLAIM_REQUIRED = ("id", "title", "metric", "a", "b", "source")  # and "claimed", null allowed
SIDE_FIELDS = {"cell": str, "run": str, "evaluation": str, "condition": str}


@dataclass(frozen=True)
class Side:
    """One side of a claim: a table cell, a training run, or one condition of an evaluation."""

    cell: str | None = None
    run: str | None = None
    evaluation: str | None = None
    condition: str | None = None

    @property
    def label(self) -> str:
        if self.evaluation is not None:
            return f"{self.evaluation} [{self.condition}]"
        return self.cell or f"run {self.run}"


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    metric: str
    a: Side
    b: Side
    claimed: float | None  # the paper's a − b; None where the paper gives no number
    source: str
    dataset: str
    table: int | None  # the paper table both sides belong to (for selectors); None: a control
    notes: tuple[str, ...] = ()


def load_claims(registry: Registry, path: str | Path | None = None) -> list[Claim]:
    """Every claim of ``claims.yaml`` (beside the registry), checked against the registry."""
    path = Path(path) if path is not None else Path(registry.root) / CLAIMS_FILE
    data = _read_yaml(path)
    _check_fields(path, "top level", data, {"claims": list}, ("claims",))
    claims: list[Claim] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["claims"]):
        name = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        where = f"claim {name}"
        _check_fields(path, where, raw, CLAIM_FIELDS, CLAIM_REQUIRED)
        if "claimed" not in raw:
            raise RegistryError(
                f"{path}: {where}: field 'claimed': missing (the paper's a − b, or null)"
            )
        if not ID_PATTERN.fullmatch(raw["id"]):
            raise RegistryError(f"{path}: {where}: field 'id': use a-z, 0-9, '.', '_' and '-'")
        if raw["id"] in seen:
            raise RegistryError(f"{path}: {where}: field 'id': duplicate id")
        seen.add(raw["id"])
        if raw["metric"] not in METRIC_NAMES:
            raise RegistryError(
                f"{path}: {where}: field 'metric': {raw['metric']!r} is not one of "
                f"{', '.join(METRIC_NAMES)}"
            )
        a = _side(path, where, "a", raw["a"], registry)
        b = _side(path, where, "b", raw["b"], registry)
        if a == b:
            raise RegistryError(f"{path}: {where}: field 'b': the same as 'a'")
        dataset_a, dataset_b = _dataset(a, registry), _dataset(b, registry)
        if dataset_a != dataset_b:
            raise RegistryError(
                f"{path}: {where}: field 'b': on {dataset_b}, but 'a' is on {dataset_a}: a "
                f"paired comparison needs the same test images"
            )
        claimed = None if raw["claimed"] is None else float(raw["claimed"])
        _check_claimed(path, where, raw["metric"], a, b, claimed, registry)
        claims.append(
            Claim(
                id=raw["id"],
                title=raw["title"],
                metric=raw["metric"],
                a=a,
                b=b,
                claimed=claimed,
                source=raw["source"],
                dataset=dataset_a,
                table=_table(a, registry) if _table(a, registry) == _table(b, registry) else None,
                notes=tuple(str(n) for n in raw.get("notes", ())),
            )
        )
    return claims


def _side(path: Path, where: str, key: str, raw: Any, registry: Registry) -> Side:
    _check_fields(path, f"{where}.{key}", raw, SIDE_FIELDS)
    if sum(k in raw for k in ("cell", "run", "evaluation")) != 1:
        raise RegistryError(
            f"{path}: {where}: field {key!r}: give exactly one of cell, run or evaluation+condition"
        )
    if "condition" in raw and "evaluation" not in raw:
        raise RegistryError(
            f"{path}: {where}: field '{key}.condition': only an evaluation side has conditions"
        )
    if "run" in raw:
        if raw["run"] not in registry.runs:
            raise RegistryError(f"{path}: {where}: field '{key}.run': no run named {raw['run']!r}")
        return Side(run=raw["run"])
    if "cell" in raw:
        cell_id = raw["cell"]
        if cell_id not in {c.id for c in registry.cells}:
            raise RegistryError(f"{path}: {where}: field '{key}.cell': no cell named {cell_id!r}")
        if not registry.cell(cell_id).runnable:
            raise RegistryError(
                f"{path}: {where}: field '{key}.cell': {cell_id} is cited, not run by the suite"
            )
        return Side(cell=cell_id)
    name, condition = raw["evaluation"], raw.get("condition")
    if name not in registry.evaluations:
        raise RegistryError(
            f"{path}: {where}: field '{key}.evaluation': no evaluation named {name!r}"
        )
    if condition not in registry.evaluations[name]["conditions"]:
        raise RegistryError(
            f"{path}: {where}: field '{key}.condition': {condition!r} is not among the "
            f"conditions of {name} ({', '.join(registry.evaluations[name]['conditions'])})"
        )
    return Side(evaluation=name, condition=condition)


def _dataset(side: Side, registry: Registry) -> str:
    if side.cell is not None:
        return registry.cell(side.cell).dataset
    if side.run is not None:
        return registry.runs[side.run]["dataset"]
    return registry.runs[registry.evaluations[side.evaluation]["run"]]["dataset"]


def _table(side: Side, registry: Registry) -> int | None:
    if side.cell is not None:
        return registry.cell(side.cell).table
    users = [
        c.table
        for c in registry.cells
        if side.evaluation is not None and c.evaluation == side.evaluation
    ]
    return users[0] if users else None


def _check_claimed(
    path: Path,
    where: str,
    metric: str,
    a: Side,
    b: Side,
    claimed: float | None,
    registry: Registry,
) -> None:
    """A claimed difference must be what the paper prints: the cells' paper values subtracted."""
    if a.cell is None or b.cell is None:
        return
    paper_a = registry.cell(a.cell).paper.get(metric)
    paper_b = registry.cell(b.cell).paper.get(metric)
    if paper_a is None or paper_b is None:
        return
    expected = round(paper_a - paper_b, 1)
    if claimed is None or abs(claimed - expected) > 1e-9:
        raise RegistryError(
            f"{path}: {where}: field 'claimed': {claimed} but the cells' paper values give "
            f"{paper_a} − {paper_b} = {expected:+.1f}"
        )


def select_claims(claims: list[Claim], selector: str) -> list[Claim]:
    """`all`, a table (`table4`, `4`), or a glob over claim ids (`t4.*`, `*.coco2014`)."""
    selector = selector.strip()
    if selector == "all":
        return list(claims)
    match = re.fullmatch(r"(?:table|t)?([1-6])", selector)
    if match:
        return [c for c in claims if c.table == int(match.group(1))]
    chosen = [c for c in claims if fnmatch.fnmatchcase(c.id, selector)]
    if not chosen:
        raise UserError(
            f"selector {selector!r} matches no claim (use 'all', 'table1'…'table6', or a glob "
            f"over claim ids such as 't4.*'; see experiments/claims.yaml)"
        )
    return chosen


# ---- measuring -------------------------------------------------------------------------------


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
    # why the profile's recipe or regime rule makes this claim not testable, or ""
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
    sides = {c.id: {side_run(registry, s) for s in (c.a, c.b)} for c in claims}
    regime = check_regime(registry, results_dir, options)
    if regime is not None:  # the regime rule includes the recipe rule's parts, per claim kind
        gates = claim_regimes(registry, claims, sides, regime, options.profile)
        untestable = {k: g.reason for k, g in gates.items() if g.failures}
    else:
        untestable = untestable_reasons(sides, check_baselines(registry, results_dir, options))
    return [
        replace(r, untestable=untestable[r.claim.id]) if r.claim.id in untestable else r
        for r in results
    ]


def side_target(registry: Registry, side: Side) -> tuple[str | None, str | None]:
    """(training run, evaluation) a side names, directly or through its table cell."""
    if side.cell is not None:
        cell = registry.cell(side.cell)
        return cell.run, cell.evaluation
    return side.run, side.evaluation


def side_run(registry: Registry, side: Side) -> str:
    """The registry training run behind a side (an evaluation's: the run it loads)."""
    run, evaluation = side_target(registry, side)
    return run if run is not None else registry.evaluations[evaluation]["run"]


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
