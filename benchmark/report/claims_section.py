"""The report's Claims section: each claim of experiments/claims.yaml, measured.

One row per claim — the paper's difference, ours (mean ± sd over seeds), the 95 % interval
(paired image bootstrap plus a t term for the seeds), the verdict, seeds and test images —
shared by the report and `benchmark claims`, so both print the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import ClaimResult, MeasureOptions, measure_claims
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.registry import Cell, Registry
from benchmark.report.wording import DASH, MISSING, fmt_signed, is_number
from benchmark.scoring.bootstrap import DEFAULT_RESAMPLES

RULE = (
    "Verdict (rule fixed in advance, docs/claims.md): **supported** if the 95 % interval of "
    "the mean difference a − b lies above 0, **contradicted** if below, **inconclusive** if it "
    "contains 0; “consistent” if it contains the paper's claimed difference; **one seed** "
    "when either side has fewer than two seeds (the interval is then image noise only). "
    "Interval: the paired image bootstrap plus a Student t term for the seeds, "
    "{resamples} replicates, seed {seed}."
)
MATCHED_NOTE = (
    " The verdict is the paper's protocol: each model with the BatchNorm statistics its "
    "training left. **BN-matched**: the same claim after both sides' BatchNorm running "
    "statistics were re-estimated on the same training images, weights untouched (clean images "
    "for a clean-test claim; each batch clean and then masked for a masked-test claim): what "
    "the weights learned; “not applicable” where a side has no BatchNorm (docs/claims.md)."
)


def measure_options(options: PlanOptions, **kw) -> MeasureOptions:
    return MeasureOptions(
        profile=options.profile,
        seeds=options.seeds,
        epochs=options.epochs,
        mask_source=options.mask_source,
        held_seeds=options.held_seeds,
        precision=options.precision,
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
    """One line per claim the profile's rule makes not testable, with the failing baseline."""
    lines = [f"{r.claim.id}: {r.untestable}" for r in results if r.untestable]
    if not lines:
        return None
    return (
        "Not testable in this regime (a part of the rule above that it needs fails): "
        + "; ".join(lines)
        + "."
    )


def _paper(result: ClaimResult) -> str:
    claimed = result.claim.claimed
    return fmt_signed(claimed) if claimed is not None else MISSING


def _ours(result: ClaimResult) -> str:
    if result.status != "measured":
        return DASH
    ours = fmt_signed(result.mean)
    return ours + f" ± {result.sd:.1f}" if is_number(result.sd) else ours


def _interval(result: ClaimResult) -> str:
    if result.status != "measured":
        return DASH
    return f"[{fmt_signed(result.low)}, {fmt_signed(result.high)}]"


def _matched(result: ClaimResult) -> str:
    """The BN-matched verdict cell: the verdict as the as-trained one's, then ours and the
    95 % interval; "not applicable" without BatchNorm on both sides (the reason is in --json
    and claims.csv). One column of words, so the table still fits the page."""
    matched = result.matched
    if matched is None:
        return "not applicable"
    if matched.status != "measured":
        return verdict_text(matched)
    return f"{verdict_text(matched)}; {fmt_signed(matched.mean)} {_interval(matched)}"


def _measured(text: Callable[[ClaimResult], str]) -> Callable[[ClaimResult], str]:
    return lambda result: text(result) if result.status == "measured" else DASH


# The claims table, one (header, cell text) pair per column: the report's table, `benchmark
# claims` and the LaTeX table all print these, so a column is added here, once.
COLUMNS: tuple[tuple[str, Callable[[ClaimResult], str]], ...] = (
    ("claim", lambda r: r.claim.id),
    ("title", lambda r: r.claim.title),
    ("a − b", lambda r: f"{r.claim.a.label} − {r.claim.b.label}"),
    ("metric", lambda r: r.claim.metric),
    ("paper", _paper),
    ("ours (mean ± sd)", _ours),
    ("95 % interval", _interval),
    ("verdict", verdict_text),
    ("BN-matched verdict", _matched),
    ("seeds", _measured(lambda r: str(len(r.seeds)))),
    ("test images", _measured(lambda r: f"{r.images:,}")),
)
HEADERS = tuple(header for header, _ in COLUMNS)
# Columns of words rather than numbers: the HTML report lets these wrap, so the table fits the
# page with its verdicts on screen; numbers never wrap.
WORD_COLUMNS = ("claim", "title", "a − b", "verdict", "BN-matched verdict")


def row(result: ClaimResult) -> list[str]:
    return [text(result) for _, text in COLUMNS]


VERDICT_ORDER = ("supported", "contradicted", "inconclusive", "not testable")
NOT_MEASURED = "not measured yet"


def verdict_kind(result: ClaimResult) -> str:
    """What a claim's verdict cell says, in one word or two: for counting."""
    if result.status == "pending":
        return NOT_MEASURED
    if result.status != "measured":
        return result.status
    return "not testable" if result.untestable else str(result.verdict)


def verdict_counts(results: list[ClaimResult]) -> str:
    """The verdicts counted: "12 supported, 3 contradicted, … (of 43 claims)"."""
    counts = Counter(verdict_kind(r) for r in results)
    order = [*VERDICT_ORDER, *sorted(set(counts) - {*VERDICT_ORDER, NOT_MEASURED}), NOT_MEASURED]
    text = ", ".join(f"{counts[k]} {k}" for k in order if counts[k])
    consistent = sum(
        1 for r in results if r.status == "measured" and not r.untestable and r.consistent
    )
    if consistent:
        text += f"; {consistent} consistent with the paper's difference"
    return f"{text} (of {len(results)} claims)"


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
    text = RULE.format(resamples=f"{resamples or DEFAULT_RESAMPLES:,}", seed=0)
    return text + MATCHED_NOTE if shown(results) else text  # beside the table's column
