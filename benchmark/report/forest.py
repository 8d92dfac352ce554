"""The claims' forest plot: our 95 % interval per claim, with the paper's claimed difference."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure as MplFigure

from benchmark.claims.measurement import ClaimResult
from benchmark.report.images import FigureSkipped
from benchmark.report.plots import to_png

VERDICT_COLORS = {
    "supported": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:gray",
    "one seed": "tab:orange",  # image noise only: no verdict
}  # fmt: skip


def forest_figure(results: Sequence[ClaimResult]) -> bytes:
    """One row per measured claim: interval (line), mean over seeds (dot), paper (red x)."""
    measured = [r for r in results if r.status == "measured"]
    if not measured:
        raise FigureSkipped("no claim has per-image predictions on both sides yet")
    height = 1.4 + 0.28 * len(measured)  # inches: 0.8 below the axes for the label, 0.3 above
    fig = MplFigure(figsize=(8.5, height))
    ax = fig.add_axes((0.36, 0.8 / height, 0.6, 1 - 1.1 / height))
    rows = range(len(measured))[::-1]
    for y, r in zip(rows, measured, strict=True):
        # a claim the profile's rule voids (regime or recipe rule): pale and dashed, so labelled
        color = "silver" if r.untestable else VERDICT_COLORS[r.verdict]
        style = "--" if r.untestable else "-"
        ax.plot([r.low, r.high], [y, y], style, color=color, linewidth=2.2, solid_capstyle="butt")
        ax.plot([r.mean], [y], "o", color=color, markersize=5)
        if r.claim.claimed is not None:
            ax.plot([r.claim.claimed], [y], "x", color="black", markersize=7, mew=1.8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(list(rows))
    labels = [
        f"{r.claim.id} ({r.claim.metric}){' — not testable' if r.untestable else ''}"
        f"{' — one seed' if r.verdict == 'one seed' and not r.untestable else ''}"
        for r in measured
    ]
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_ylim(-0.7, len(measured) - 0.3)
    ax.set_xlabel(
        "difference a − b (points); line: our 95 % interval, dot: mean over seeds, "
        "x: the paper's claim",
        fontsize=7,
    )
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)
    return to_png(fig)
