"""The report's Claims section: each claim of experiments/claims.yaml, measured.

One row per claim — the paper's difference, ours (mean ± sd over seeds), the 95 % interval of
the paired two-level bootstrap, the verdict, seeds and test images — shared by the report and
`benchmark claims`, so both print the same thing.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.claims import ClaimResult, MeasureOptions, load_claims, measure_claims
from benchmark.plan import PlanOptions
from benchmark.profiles import get_profile
from benchmark.recipe_rule import BaselineCheck
from benchmark.regime_rule import BaselineRegime, FeatureCellCheck, ObjectScaleCheck
from benchmark.registry import Cell, Registry
from benchmark.report.wording import DASH, MISSING, fmt, fmt_signed, is_number

HEADERS = (
    "claim", "a − b", "metric", "paper", "ours (mean ± sd)", "95 % interval", "verdict",
    "seeds", "test images",
)  # fmt: skip
RULE = (
    "Verdict (rule fixed in advance, docs/claims.md): **supported** if the 95 % interval of "
    "the mean difference a − b lies above 0, **contradicted** if below, **inconclusive** if it "
    "contains 0; “consistent” if it contains the paper's claimed difference. Paired two-level "
    "bootstrap (seeds, then test images), {resamples} replicates, seed {seed}."
)


def measure_options(options: PlanOptions, **kw) -> MeasureOptions:
    return MeasureOptions(
        profile=options.profile,
        seeds=options.seeds,
        epochs=options.epochs,
        mask_source=options.mask_source,
        **kw,
    )


def claims_for_cells(registry: Registry, cells: list[Cell], selector: str):
    """The claims a report on ``cells`` shows: those whose table cells are all selected (and,
    for a full report, the controls)."""
    chosen = {c.id for c in cells}
    tables = {c.table for c in cells}
    picked = []
    for claim in load_claims(registry):
        sides = [s.cell for s in (claim.a, claim.b) if s.cell is not None]
        if any(s not in chosen for s in sides):
            continue
        if claim.table is None and selector != "all":
            continue
        if claim.table is not None and claim.table not in tables:
            continue
        picked.append(claim)
    return picked


def report_claims(
    registry: Registry,
    cells: list[Cell],
    selector: str,
    results_dir: Path,
    options: PlanOptions,
) -> list[ClaimResult]:
    claims = claims_for_cells(registry, cells, selector)
    return measure_claims(registry, claims, results_dir, measure_options(options))


def verdict_text(result: ClaimResult) -> str:
    if result.status != "measured":
        return f"{DASH} ({result.status})"
    if result.untestable:  # the interval is shown, but a failing baseline voids the verdict
        return f"not testable (interval: {result.verdict})"
    if result.consistent is None:
        return result.verdict
    return f"{result.verdict} ({'consistent' if result.consistent else 'not consistent'})"


def untestable_text(results: list[ClaimResult], rule: str = "recipe") -> str | None:
    """One line per claim the recipe (or regime) rule makes not testable, with the reason."""
    lines = [f"{r.claim.id}: {r.untestable}" for r in results if r.untestable]
    if not lines:
        return None
    if rule == "regime":
        lead = "Not testable in this regime (a part of the regime rule below that it needs fails)"
    else:
        lead = "Not testable at this scale (a side trains on a baseline that fails the recipe rule"
        lead += " below)"
    return f"{lead}: " + "; ".join(lines) + "."


RULE_HEADERS = (
    "baseline (seed 0)", "cells", "context-only floor", "last epoch", "above floor",
    "change over last two epochs", "rule",
)  # fmt: skip


def recipe_rule_caption(profile: str) -> str | None:
    rule = get_profile(profile).recipe_rule
    if rule is None:
        return None
    return (
        f"The recipe rule, written down before any result of this profile (docs/mini.md): "
        f"at seed 0 every supervised baseline must end at least {rule.margin:.0f} mAP above "
        f"its dataset's context-only floor and move at most {rule.flat:.1f} over its last two "
        f"epochs; a claim with a side trained on a failing baseline is not testable here."
    )


def recipe_rule_row(check: BaselineCheck) -> list[str]:
    status = check.status if not check.failures else "fails: " + "; ".join(check.failures)
    return [
        check.run,
        ", ".join(check.cells),
        fmt(check.floor),
        fmt(check.last),
        fmt_signed(check.margin) if check.margin is not None else DASH,
        f"{check.change:.2f}" if check.change is not None else DASH,
        status,
    ]


REGIME_HEADERS = (
    "baseline (seed 0)", "cells", "training mAP", "test mAP", "training − test",
    "BCE ÷ class-frequency BCE", "above floor", "change over last two epochs", "rule",
)  # fmt: skip
SCALE_HEADERS = ("dataset", "pairs", "median class box area", "≥ 90 % hidden", "band", "rule")
CELL_HEADERS = ("backbone", "stride", "map", "cells ≥ 90 % hidden", "at least", "rule")


def regime_rule_caption(profile: str) -> str | None:
    rule = get_profile(profile).regime_rule
    recipe = get_profile(profile).recipe_rule
    if rule is None or recipe is None:
        return None
    bands = ", ".join(f"{d} {lo:g}–{hi:g} %" for d, (lo, hi) in rule.object_scale.items())
    return (
        f"The regime rule, written down before any run of this regime (docs/mini.md, v3). Per "
        f"supervised baseline at seed 0: it fits its training set (training − test mAP ≥ "
        f"{rule.fit_gap:g}, training BCE ≤ {rule.fit_bce_ratio:g} × the class-frequency BCE, "
        f"at the selected epoch), ends ≥ {recipe.margin:g} mAP above its context-only floor and "
        f"moves ≤ {recipe.flat:g} over its last two epochs. Per dataset: (image, class) pairs "
        f"≥ {100 * rule.hidden:g} % hidden by a high-pool training mask, {bands}. Per backbone: "
        f"≥ {rule.cells:g} % of final-map cells ≥ {100 * rule.hidden:g} % hidden. A clean-image "
        f"claim needs its baselines' fit, floor and flatness and its dataset's object scale; a "
        f"masked-image claim needs floor, flatness, object scale and its backbone's feature "
        f"cells; a claim whose needed part fails is not testable here."
    )


def regime_baseline_row(check: BaselineRegime) -> list[str]:
    failures = (*check.fit_failures, *check.recipe.failures)
    status = check.status if not failures else "fails: " + "; ".join(failures)
    recipe = check.recipe
    return [
        check.run,
        ", ".join(recipe.cells),
        fmt(check.train_mAP),
        fmt(check.test_mAP),
        fmt_signed(check.gap) if check.gap is not None else DASH,
        f"{check.bce_ratio:.2f}" if check.bce_ratio is not None else DASH,
        fmt_signed(recipe.margin) if recipe.margin is not None else DASH,
        f"{recipe.change:.2f}" if recipe.change is not None else DASH,
        status,
    ]


def object_scale_row(check: ObjectScaleCheck) -> list[str]:
    return [
        check.dataset,
        f"{check.pairs:,}" if check.pairs is not None else DASH,
        f"{check.median_area:.1f} %" if check.median_area is not None else DASH,
        f"{check.hidden:.1f} %" if check.hidden is not None else DASH,
        f"{check.band[0]:g}–{check.band[1]:g} %",
        f"fails: {check.failure}" if check.failure else "passes",
    ]


def feature_cell_row(check: FeatureCellCheck) -> list[str]:
    return [
        check.backbone,
        str(check.stride) if check.stride is not None else DASH,
        f"{check.map} × {check.map}" if check.map is not None else DASH,
        f"{check.hidden:.1f} %" if check.hidden is not None else DASH,
        f"{check.minimum:g} %",
        f"fails: {check.failure}" if check.failure else "passes",
    ]


def row(result: ClaimResult) -> list[str]:
    claim = result.claim
    paper = fmt_signed(claim.claimed) if claim.claimed is not None else MISSING
    if result.status == "measured":
        ours = fmt_signed(result.mean)
        if is_number(result.sd):
            ours += f" ± {result.sd:.1f}"
        interval = f"[{fmt_signed(result.low)}, {fmt_signed(result.high)}]"
        seeds = str(len(result.seeds))
        images = f"{result.images:,}"
    else:
        ours = interval = seeds = images = DASH
    return [
        claim.id,
        f"{claim.a.label} − {claim.b.label}",
        claim.metric,
        paper,
        ours,
        interval,
        verdict_text(result),
        seeds,
        images,
    ]


def pending_text(results: list[ClaimResult]) -> str | None:
    """One line naming the claims that cannot be measured yet (the tables say which runs are
    missing); None when every claim is measured."""
    pending = [r.claim.id for r in results if r.status == "pending"]
    if not pending:
        return None
    return (
        f"Not measured yet ({len(pending)} of {len(results)}: a side has no finished result "
        f"with per-image predictions): {', '.join(pending)}."
    )


def shown(results: list[ClaimResult]) -> list[ClaimResult]:
    """The claims a report tabulates: every one that is not merely pending."""
    return [r for r in results if r.status != "pending"]


def rule_text(results: list[ClaimResult]) -> str:
    resamples = next((r.resamples for r in results if r.resamples), None)
    from benchmark.stats import DEFAULT_RESAMPLES

    return RULE.format(resamples=f"{resamples or DEFAULT_RESAMPLES:,}", seed=0)
