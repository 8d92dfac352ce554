"""Which figures a report holds and where each one's inputs come from.

A figure whose inputs are absent (no finished evaluation, no image files, no mask module) is
kept in the list with a note instead of a PNG: the report says what is missing and never fails
because of a figure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from benchmark.experiment.plan import Plan, PlanOptions
from benchmark.experiment.registry import Cell
from benchmark.report.collect import ResultIndex
from benchmark.report.document import DATASET_NAMES, Figure, TableData
from benchmark.report.images import FigureSkipped, mask_gallery, qualitative_figure
from benchmark.report.plots import (
    BarGroup,
    Curve,
    condition_means,
    robustness_figure,
    table6_bars,
    training_figure,
)
from benchmark.report.wording import is_number

ROBUSTNESS = "Robustness to test-time masking"
BARS = "Table 6 as bars"
TRAINING = "Training curves"
MASKS = "Mask gallery"
QUALITATIVE = "Qualitative predictions"


def draw(figure: Figure, make: Callable[[], bytes]) -> Figure:
    """Fill the figure's PNG, or its note when it cannot be drawn."""
    try:
        figure.png = make()
    except FigureSkipped as exc:
        figure.note = f"skipped: {exc}"
    except Exception as exc:  # noqa: BLE001 — a broken figure must not take the tables down
        figure.note = f"skipped: could not be drawn ({type(exc).__name__}: {exc})"
    return figure


def build_figures(
    cells: list[Cell],
    plan: Plan,
    index: ResultIndex,
    tables: list[TableData],
    options: PlanOptions,
    cache_dir: Path | None,
) -> list[Figure]:
    t6 = [c for c in cells if c.table == 6 and c.runnable]
    datasets = list(dict.fromkeys(c.dataset for c in t6))
    figures = [_robustness(d, [c for c in t6 if c.dataset == d], plan, index) for d in datasets]
    table6 = next((t for t in tables if t.number == 6), None)
    if table6 is not None:
        figures.append(_bars(table6))
    figures.extend(_training(plan, index))
    figures.append(_gallery(plan, options, cache_dir))
    for dataset in datasets:
        chosen = [c for c in t6 if c.dataset == dataset]
        figures.append(_qualitative(dataset, chosen, plan, index, options, cache_dir))
    return figures


def _done_results(cell: Cell, plan: Plan, index: ResultIndex) -> list[dict]:
    return [r for r in (index.done(h) for h in plan.cell_hashes.get(cell.id, [])) if r]


def _robustness(dataset: str, cells: list[Cell], plan: Plan, index: ResultIndex) -> Figure:
    name = DATASET_NAMES.get(dataset, dataset)
    figure = Figure(
        f"robustness-{dataset}",
        ROBUSTNESS,
        f"{name}: mAP, CR and CF1 against mean hole ratio",
        "Lines: clean, then the six hole-ratio buckets (ours, mean over seeds). Diamonds: ours "
        "on the high pool. Stars: the paper's Table 6 (high pool, mean hole ratio 0.547).",
    )
    curves = [
        Curve(c.row, condition_means(results), dict(c.paper))
        for c in cells
        if (results := _done_results(c, plan, index))
    ]
    if not curves:
        figure.note = f"skipped: no Table 6 evaluation on {name} has finished"
        return figure
    return draw(figure, lambda: robustness_figure(dataset, curves))


def _bars(table: TableData) -> Figure:
    figure = Figure(
        "table6-bars",
        BARS,
        "Table 6: baseline vs MSL on masked test images",
        "Solid bars: ours; hatched bars: the paper's values.",
    )
    frame = table.frame
    if not frame["ours"].map(is_number).any():
        figure.note = "skipped: no Table 6 evaluation has finished"
        return figure
    groups = []
    for dataset in table.datasets:
        rows = frame[frame["dataset"] == dataset]
        values: dict[str, dict[str, tuple[float | None, float | None]]] = {}
        for r in rows.itertuples():
            ours = r.ours if is_number(r.ours) else None
            paper = r.paper if is_number(r.paper) else None
            values.setdefault(r.label, {})[r.metric] = (ours, paper)
        groups.append(BarGroup(dataset, values))
    return draw(figure, lambda: table6_bars(groups, table.metrics))


def _training(plan: Plan, index: ResultIndex) -> list[Figure]:
    """One figure per dataset, a panel per training run (small multiples, not 28 figures)."""
    runs: dict[str, dict[str, list[tuple[int, list[dict]]]]] = {}
    for spec_hash, spec in plan.runs.items():
        result = index.done(spec_hash)
        if result and result.get("history"):
            by_name = runs.setdefault(spec.dataset, {})
            by_name.setdefault(spec.name, []).append((spec.seed, result["history"]))
    if not runs:
        return [
            Figure(
                "training",
                TRAINING,
                "Training curves",
                note="skipped: no training run in this report has finished",
            )
        ]
    figures = []
    for dataset, by_name in runs.items():
        name = DATASET_NAMES.get(dataset, dataset)
        figure = Figure(
            f"training-{dataset}",
            TRAINING,
            f"{name}: every training run",
            "One panel per run: test mAP per epoch (solid; the star marks the best-on-test "
            "epoch) and training loss (dashed, right axis).",
        )
        panels = list(by_name.items())
        figures.append(draw(figure, lambda n=name, p=panels: training_figure(n, p)))
    return figures


def gallery_source(options: PlanOptions) -> str | Path:
    """The NVIDIA files when given (flag or $BENCHMARK_MASKS), else the procedural stand-in."""
    root = options.masks_root or os.environ.get("BENCHMARK_MASKS")
    return Path(root) if root else "procedural"


def _gallery(plan: Plan, options: PlanOptions, cache_dir: Path | None) -> Figure:
    figure = Figure(
        "masks",
        MASKS,
        "Irregular masks of the low and high pools (supplement Fig. 6)",
        "Holes in white; titles give the mask index and its hole ratio.",
    )
    specs = [ev.run for ev in plan.evals.values()] + list(plan.runs.values())
    if not specs:
        figure.note = "skipped: no runnable cell selected (the gallery uses their input size)"
        return figure
    size = specs[0].img_size
    return draw(figure, lambda: mask_gallery(size, gallery_source(options), cache_dir))


def _qualitative(
    dataset: str,
    cells: list[Cell],
    plan: Plan,
    index: ResultIndex,
    options: PlanOptions,
    cache_dir: Path | None,
) -> Figure:
    name = DATASET_NAMES.get(dataset, dataset)
    figure = Figure(
        f"qualitative-{dataset}",
        QUALITATIVE,
        f"{name}: baseline vs MSL on the same masked test images (supplement Figs. 1–5)",
        "Both models scored the same images under the same high-pool masks (first seed).",
    )
    first = [plan.cell_hashes.get(c.id, [None])[0] for c in cells]
    models = [(c.row, index.done(h)) for c, h in zip(cells, first, strict=True) if h is not None]
    if len(models) < 2 or any(result is None for _, result in models):
        figure.note = f"skipped: the baseline and MSL evaluations on {name} have not both finished"
        return figure
    ev = plan.evals[first[0]]
    if ev.mask_source == "nvidia" and options.masks_root is None:
        figure.note = "skipped: the evaluation used the NVIDIA masks; give --masks-root"
        return figure
    source = options.masks_root if ev.mask_source == "nvidia" else "procedural"
    return draw(
        figure,
        lambda: qualitative_figure(
            dataset, models, ev.run.img_size, ev.mask_seed, source, cache_dir
        ),
    )
