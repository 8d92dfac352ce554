"""The report's Claims section: each claim of experiments/claims.yaml, measured.

One row per claim — the paper's difference, ours (mean ± sd over seeds), the 95 % interval
(paired image bootstrap plus a t term for the seeds), the verdict, seeds and test images —
shared by the report and `benchmark claims`, so both print the same thing.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import ClaimResult, MeasureOptions, measure_claims
from benchmark.claims.recipe_rule import BaselineCheck
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.profiles import get_profile
from benchmark.experiment.registry import Cell, Registry
from benchmark.report.wording import DASH, MISSING, fmt, fmt_signed, is_number

HEADERS = (
    "claim", "a − b", "metric", "paper", "ours (mean ± sd)", "95 % interval", "verdict",
    "seeds", "test images",
)  # fmt: skip
RULE = (
    "Verdict (rule fixed in advance, docs/claims.md): **supported** if the 95 % interval of "
    "the mean difference a − b lies above 0, **contradicted** if below, **inconclusive** if it "
    "contains 0; “consistent” if it contains the paper's claimed difference; **one seed** "
    "when either side has fewer than two seeds (the interval is then image noise only). "
    "Interval: the paired image bootstrap plus a Student t term for the seeds, "
    "{resamples} replicates, seed {seed}."
)


def measure_options(options: PlanOptions, **kw) -> MeasureOptions:
    return MeasureOptions(
        profile=options.profile,
        seeds=options.seeds,
        epochs=options.epochs,
        mask_source=options.mask_source,
        held_seeds=options.held_seeds,
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
    """The verdict cell: ClaimResult.verdict_cell (what limits the verdict — one seed, fewer
    seeds than asked, a damaged file — is said there, not in a footnote)."""
    if result.status in ("pending", "invalid"):
        return f"{DASH} ({result.status})"
    return result.verdict_cell


def untestable_text(results: list[ClaimResult]) -> str | None:
    """One line per claim the recipe rule makes not testable, with the failing baseline."""
    lines = [f"{r.claim.id}: {r.untestable}" for r in results if r.untestable]
    if not lines:
        return None
    return (
        "Not testable at this scale (a side trains on a baseline that fails the recipe rule "
        "below): " + "; ".join(lines) + "."
    )


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
    from benchmark.scoring.bootstrap import DEFAULT_RESAMPLES

    return RULE.format(resamples=f"{resamples or DEFAULT_RESAMPLES:,}", seed=0)
