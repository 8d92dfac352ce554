"""Charts drawn from numbers: robustness curves, Table 6 as bars, training curves.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no global state),
so a report can be built inside any process, headless, and return PNG bytes.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import MaxNLocator

from benchmark.report.document import DATASET_NAMES
from benchmark.report.wording import is_number
from benchmark.spec import CURVE_CONDITIONS

CURVE_METRICS = ("mAP", "CR", "CF1")
# mean hole ratio of the high pool (docs/spec.md §1.2): the paper's Table 6
PAPER_HIGH_RATIO = 0.547
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def to_png(fig: MplFigure) -> bytes:
    buffer = io.BytesIO()
    # No bbox_inches="tight": it draws every figure twice; the layouts below leave room instead.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


@dataclass
class Curve:
    """One model's evaluation, averaged over seeds: condition → (hole ratio, metric → value)."""

    label: str
    points: dict[str, tuple[float, dict[str, float]]]
    paper: dict[str, float] = field(default_factory=dict)  # the paper's Table 6 values


def condition_means(results: Sequence[dict]) -> dict[str, tuple[float, dict[str, float]]]:
    """Mean hole ratio and metrics per condition over several seeds' evaluation results."""
    grouped: dict[str, dict[str, list[float]]] = {}
    for result in results:
        for row in result.get("rows", ()):
            slot = grouped.setdefault(row["condition"], {"hole_ratio": []})
            if row["metric"] == CURVE_METRICS[0]:
                slot["hole_ratio"].append(float(row["hole_ratio"]))
            slot.setdefault(row["metric"], []).append(float(row["value"]))
    return {
        condition: (
            statistics.fmean(values.pop("hole_ratio") or [0.0]),
            {metric: statistics.fmean(v) for metric, v in values.items()},
        )
        for condition, values in grouped.items()
    }


def robustness_figure(dataset: str, curves: Sequence[Curve]) -> bytes:
    """mAP, CR and CF1 against mean hole ratio (clean, then six buckets), one line per model."""
    fig = MplFigure(figsize=(12, 4.4))
    axes = fig.subplots(1, len(CURVE_METRICS))
    for ax, metric in zip(axes, CURVE_METRICS, strict=True):
        for k, curve in enumerate(curves):
            color = COLORS[k % len(COLORS)]
            xs, ys = [], []
            for condition in CURVE_CONDITIONS:
                if condition in curve.points and metric in curve.points[condition][1]:
                    xs.append(curve.points[condition][0])
                    ys.append(curve.points[condition][1][metric])
            ax.plot(xs, ys, marker="o", color=color, label=f"{curve.label} (ours)")
            high = curve.points.get("high")
            if high is not None and metric in high[1]:
                ax.plot(
                    [high[0]],
                    [high[1][metric]],
                    marker="D",
                    markerfacecolor="none",
                    linestyle="none",
                    color=color,
                    label=f"{curve.label} high pool (ours)",
                )
            if is_number(curve.paper.get(metric)):
                ax.plot(
                    [PAPER_HIGH_RATIO],
                    [curve.paper[metric]],
                    marker="*",
                    markersize=13,
                    linestyle="none",
                    color=color,
                    label=f"{curve.label} (paper, Table 6)",
                )
        ax.set_title(metric)
        ax.set_xlabel("mean hole ratio")
        ax.set_ylabel(f"{metric} (%)")
        ax.set_xlim(-0.02, 0.65)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(curves), fontsize=8, frameon=False)
    fig.suptitle(f"{DATASET_NAMES.get(dataset, dataset)}: test-time masking, clean → 50–60 % holes")
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.28, top=0.88, wspace=0.25)
    return to_png(fig)


@dataclass
class BarGroup:
    """Table 6 values of one dataset: row label → metric → (ours or None, paper)."""

    dataset: str
    values: dict[str, dict[str, tuple[float | None, float | None]]]


def table6_bars(groups: Sequence[BarGroup], metrics: Sequence[str]) -> bytes:
    """Baseline vs MSL: one panel per dataset and metric, each on its own scale (a CF1 of 0.5
    beside a paper value of 48 is still a visible bar), every bar labelled with its value."""
    return to_png(table6_bars_figure(groups, metrics))


def table6_bars_figure(groups: Sequence[BarGroup], metrics: Sequence[str]) -> MplFigure:
    fig = MplFigure(figsize=(2.6 * len(metrics), 2.6 * len(groups) + 0.9))
    grid = fig.subplots(len(groups), len(metrics), squeeze=False)
    for axes, group in zip(grid, groups, strict=True):
        labels = list(group.values)
        for ax, metric in zip(axes, metrics, strict=True):
            heights = []
            for i, label in enumerate(labels):
                color = COLORS[i % len(COLORS)]
                for j, source in enumerate(("ours", "paper")):
                    value = group.values[label].get(metric, (None, None))[j]
                    if not is_number(value):
                        continue
                    bars = ax.bar(
                        [2 * i + j],
                        [value],
                        0.85,
                        color=color,
                        alpha=1.0 if source == "ours" else 0.45,
                        hatch=None if source == "ours" else "//",
                        edgecolor="black",
                        linewidth=0.4,
                        label=f"{label} ({source})",
                    )
                    ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
                    heights.append(float(value))
            ax.set_ylim(0, max([*heights, 1.0]) * 1.18)
            ax.set_xticks([])
            ax.set_title(f"{DATASET_NAMES.get(group.dataset, group.dataset)} {metric}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(axis="y", alpha=0.3)
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Table 6: one high-pool mask per test image (%; each panel on its own scale)")
    fig.subplots_adjust(
        left=0.06,
        right=0.99,
        bottom=0.9 / fig.get_figheight() + 0.04,
        top=1 - 0.45 / fig.get_figheight(),
        wspace=0.3,
        hspace=0.35,
    )
    return fig


def training_figure(
    title: str, runs: Sequence[tuple[str, Sequence[tuple[int, list[dict]]]]]
) -> bytes:
    """Small multiples, one panel per training run: test mAP per epoch (one line per seed, a
    star at the best epoch) and the training loss on a second axis, so a whole dataset's runs
    fit in one figure instead of one figure each."""
    columns = min(4, len(runs))
    rows = -(-len(runs) // columns)
    fig = MplFigure(figsize=(3.3 * columns, 2.4 * rows + 0.8))
    grid = fig.subplots(rows, columns, squeeze=False)
    for ax, (name, histories) in zip(grid.flat, runs, strict=False):
        loss_ax = ax.twinx()
        for k, (seed, history) in enumerate(histories):
            color = COLORS[k % len(COLORS)]
            epochs = [row["epoch"] for row in history]
            maps = [row["mAP"] for row in history]
            ax.plot(epochs, maps, marker=".", color=color, label=f"mAP, seed {seed}")
            loss_ax.plot(
                epochs, [row["loss"] for row in history], linestyle="--", color=color, alpha=0.5
            )
            if maps:
                best = max(range(len(maps)), key=lambda i: (maps[i], -i))
                ax.plot([epochs[best]], [maps[best]], marker="*", markersize=10, color=color,
                        linestyle="none")  # fmt: skip
        ax.set_title(name, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        loss_ax.tick_params(labelsize=6, colors="grey")
        ax.grid(alpha=0.3)
    for ax in list(grid.flat)[len(runs) :]:
        ax.set_visible(False)
    fig.suptitle(f"{title}: test mAP % (solid, star = best epoch) and training loss (dashed, "
                 "right axis) per epoch", fontsize=10)  # fmt: skip
    fig.subplots_adjust(
        left=0.05,
        right=0.95,
        bottom=0.5 / fig.get_figheight(),
        top=1 - 0.55 / fig.get_figheight(),
        wspace=0.4,
        hspace=0.55,
    )
    return to_png(fig)
