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

from benchmark.report.model import DATASET_NAMES
from benchmark.report.numbers import is_number
from benchmark.spec import CURVE_CONDITIONS

CURVE_METRICS = ("mAP", "CR", "CF1")
PAPER_HIGH_RATIO = 0.547  # mean hole ratio of the high pool (SPEC §1.2): the paper's Table 6
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
    """Baseline vs MSL per metric and dataset; hatched bars are the paper's values."""
    fig = MplFigure(figsize=(5.5 * len(groups), 4.4))
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, group in zip(axes, groups, strict=True):
        labels = list(group.values)
        width = 0.8 / (2 * max(len(labels), 1))
        for i, label in enumerate(labels):
            color = COLORS[i % len(COLORS)]
            for j, source in enumerate(("ours", "paper")):
                offset = (2 * i + j - len(labels) + 0.5) * width
                heights = [group.values[label].get(m, (None, None))[j] for m in metrics]
                heights = [h if is_number(h) else 0.0 for h in heights]
                ax.bar(
                    [k + offset for k in range(len(metrics))],
                    heights,
                    width,
                    color=color,
                    alpha=1.0 if source == "ours" else 0.45,
                    hatch=None if source == "ours" else "//",
                    edgecolor="black",
                    linewidth=0.4,
                    label=f"{label} ({source})",
                )
        ax.set_xticks(range(len(metrics)), list(metrics))
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.set_title(DATASET_NAMES.get(group.dataset, group.dataset))
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Table 6: one high-pool mask per test image")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.87, wspace=0.2)
    return to_png(fig)


def training_figure(name: str, histories: Sequence[tuple[int, list[dict]]]) -> bytes:
    """Training loss and test mAP per epoch, one line per seed; stars mark the best epoch."""
    fig = MplFigure(figsize=(9, 3.2))
    loss_ax, map_ax = fig.subplots(1, 2)
    for k, (seed, history) in enumerate(histories):
        color = COLORS[k % len(COLORS)]
        epochs = [row["epoch"] for row in history]
        loss_ax.plot(
            epochs, [row["loss"] for row in history], marker=".", color=color, label=f"seed {seed}"
        )
        maps = [row["mAP"] for row in history]
        map_ax.plot(epochs, maps, marker=".", color=color, label=f"seed {seed}")
        if maps:
            best = max(range(len(maps)), key=lambda k: (maps[k], -k))
            map_ax.plot(
                [epochs[best]],
                [maps[best]],
                marker="*",
                markersize=12,
                color=color,
                linestyle="none",
            )
    loss_ax.set_title("training loss")
    map_ax.set_title("test mAP (%)")
    for ax in (loss_ax, map_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    map_ax.legend(fontsize=7)
    fig.suptitle(name)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.8, wspace=0.25)
    return to_png(fig)
