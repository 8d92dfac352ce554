"""How the report reads, shared by every renderer so the markdown, HTML and LaTeX versions say
the same thing: numbers, the cells' wording, the legends and banner, and the appendices' rows.

Numbers: one decimal, rounded half up as the paper prints them. Binary floats make
``f"{86.65:.1f}"`` print 86.6; the paper's tables round 86.65 to 86.7, so values go through their
shortest decimal repr before rounding.

A measured cell shows ours / paper (ours − paper); an unmeasured one says why (pending,
failed) next to the paper's value; a cited row shows the paper's value alone.
"""

from __future__ import annotations

import math
import numbers
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from benchmark.report.document import DATASET_NAMES

DASH = "—"  # not measured (yet)
MISSING = "–"  # the paper prints no value here


def is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def round1(value: float) -> float:
    """Round to one decimal, half up, as the paper does."""
    return float(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def fmt(value: float | None) -> str:
    return f"{round1(value):.1f}" if is_number(value) else MISSING


def fmt_signed(value: float | None, minus: str = "-") -> str:
    """A difference with its sign; a difference that rounds to zero prints as +0.0."""
    if not is_number(value):
        return MISSING
    rounded = round1(value)
    if rounded == 0:
        return "+0.0"
    return f"+{rounded:.1f}" if rounded > 0 else f"{minus}{abs(rounded):.1f}"


def fmt_diff(a: float | None, b: float | None, minus: str = "-") -> str:
    """``a − b`` as the printed numbers read: both rounded first, so 92.45 vs 92.4 reads +0.1."""
    if not (is_number(a) and is_number(b)):
        return MISSING
    return fmt_signed(float(Decimal(str(round1(a))) - Decimal(str(round1(b)))), minus)


def fmt_mean_std(mean: float | None, std: float | None) -> str:
    """``mean ± std`` over seeds; the mean alone for a single seed."""
    if not is_number(mean):
        return DASH
    return f"{fmt(mean)} ± {fmt(std)}" if is_number(std) else fmt(mean)


def fmt_rate(value: float | None) -> str:
    """Throughput in samples/s: one decimal, thousands grouped for readability."""
    return f"{round1(value):,.1f}" if is_number(value) else DASH


def fmt_duration(seconds: float | None) -> str:
    """Wall time at the scale that reads best: seconds, minutes or hours."""
    if not is_number(seconds):
        return DASH
    if seconds < 120:
        return f"{round1(seconds):.1f} s"
    if seconds < 7200:
        return f"{round1(seconds / 60):.1f} min"
    return f"{round1(seconds / 3600):.1f} h"


# ---- cells, legends, banner

SYNTHETIC_BANNER = "Synthetic data: numbers are not comparable to the paper's."
PROFILE_NOTES = {
    "smoke": "Profile `smoke` trains tiny models on generated images in the datasets' layouts; "
    "it checks the pipeline, not the science.",
    "mini": "Profile `mini` fine-tunes small backbones of the paper's families, pretrained on "
    "a generic synthetic corpus (its ImageNet), on generated scenes full of small and occluded "
    "objects in the datasets' layouts, with one recipe of the paper's schedule shape for every "
    "cell and method of a dataset, fixed by rules written before any result (docs/mini.md): "
    "it asks the paper's question at a scale anyone can rerun, not at the paper's.",
}


def profile_note(profile: str) -> str:
    return PROFILE_NOTES.get(profile, f"Profile `{profile}` does not run the paper's recipe.")


LEGEND = (
    "Each cell reads **ours / paper (ours − paper)**, in percent with one decimal. *Ours* is the "
    "best-on-test epoch (the paper's protocol), mean ± std over seeds when there are several "
    "(n = the number of seeds). "
    "“— (pending)” and “— (failed)” mark cells without a finished result (the report reads "
    "result files only: `benchmark status` shows what is running); “(stale)” marks numbers "
    "made by other code than this checkout's (Appendix A names the changed files); “(damaged)” "
    "numbers whose per-image predictions file is missing or changed (Appendix A names it and "
    "the command that redoes it); rows "
    "marked *(cited)* are not run and show the paper's value only; “–” means the paper gives "
    "no value."
)
MEASURED = ("done", "stale", "damaged")  # statuses whose cells show numbers
LAST_LEGEND = (
    "Last epoch, without the paper's best-on-test selection: **last (last − best)**; the "
    "difference is what the selection protocol adds."
)


def main_text(r: pd.Series | None) -> str:
    if r is None:
        return MISSING
    if r["cited"]:
        return fmt(r["paper"])
    if r["status"] not in MEASURED:
        return f"{DASH} ({r['status']}) / {fmt(r['paper'])}"
    if not is_number(r["ours"]):
        return f"{DASH} / {fmt(r['paper'])}"
    ours = fmt_mean_std(r["ours"], r["std"])
    if r["seeds"] > 1:
        ours += f" (n={r['seeds']})"
    if not is_number(r["paper"]):
        return f"{ours} / {MISSING}" + _stale(r)
    return f"{ours} / {fmt(r['paper'])} ({fmt_diff(r['ours'], r['paper'])})" + _stale(r)


def last_text(r: pd.Series | None) -> str:
    if r is None or r["cited"]:
        return MISSING
    if r["status"] not in MEASURED:
        return f"{DASH} ({r['status']})"
    if not is_number(r["last"]):
        return DASH
    return f"{fmt(r['last'])} ({fmt_diff(r['last'], r['ours'])})" + _stale(r)


def _stale(r: pd.Series) -> str:
    """Why shown numbers need a second look: stale (other code), damaged (a predictions file
    missing or changed; Appendix A says which and the command that redoes it)."""
    return f" ({r['status']})" if r["status"] in ("stale", "damaged") else ""


def row_label(label: str, cited: bool) -> str:
    return f"{label} (cited)" if cited else label


# ---- appendices (failures, throughput, small and occluded objects)

FAILURE_HEADERS = ("run", "kind", "seed", "hash", "cells", "status", "reason")
THROUGHPUT_HEADERS = (
    "run", "kind", "seed", "hash", "train samples/s", "eval samples/s", "global batch",
    "world size", "wall time", "device",
)  # fmt: skip
NO_FAILURES = "No run failed or is stale, and every result file is valid."
FAILURE_TITLE = "Appendix A: failed and stale runs"
NO_THROUGHPUT = "No run has finished yet."
THROUGHPUT_NOTE = "Samples per second: mean over epochs (training) or over conditions (evaluation)."
SUBSET_TITLE = "Small and occluded objects"
SUBSET_HEADERS = (
    "run", "kind", "seed", "dataset", "method", "scored", "mAP", "mAP small", "mAP occluded",
    "small positives", "occluded positives",
)  # fmt: skip
SUBSET_NOTE = (
    "The paper's claim, which its tables never measure directly: mAP where each class keeps all "
    "its negatives but only the positives whose instances of that class are all small (box below "
    "2 % of the image) or all occluded (at least half hidden where measured, else truncated). "
    "Trainings are scored at their best-on-test epoch; evaluations clean and with one high-pool "
    "mask per test image. A dash: no such positive (real COCO records no occlusion)."
)
NO_SUBSETS = "No finished result carries the breakdown yet."


def _int(value: object) -> str:
    return str(int(value)) if is_number(value) else DASH


def failure_rows(failures: pd.DataFrame) -> list[list[str]]:
    return [
        [r.name, r.kind, _int(r.seed), r.hash, r.cells, r.status, r.reason]
        for r in failures.itertuples()
    ]


def subset_rows(subsets: pd.DataFrame) -> list[list[str]]:
    return [
        [r.name, r.kind, _int(r.seed), DATASET_NAMES.get(r.dataset, r.dataset), r.method,
         r.condition,
         fmt(r.mAP), fmt(r.mAP_small), fmt(r.mAP_occluded), _int(r.positives_small),
         _int(r.positives_occluded)]
        for r in subsets.itertuples()
    ]  # fmt: skip


def throughput_rows(throughput: pd.DataFrame) -> list[list[str]]:
    return [
        [r.name, r.kind, _int(r.seed), r.hash, fmt_rate(r.train_samples_per_s),
         fmt_rate(r.eval_samples_per_s), _int(r.global_batch), _int(r.world_size),
         fmt_duration(r.wall_s), str(r.device or DASH)]
        for r in throughput.itertuples()
    ]  # fmt: skip


# Columns that usually hold one value for every run; a constant one is said once above the
# table instead of repeated on every row (a long device string doubled each row's height).
COLLAPSIBLE = ("global batch", "world size", "device")


def collapse_constants(
    headers: tuple[str, ...], rows: list[list[str]]
) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """Drop the collapsible columns whose value is the same on every row; return them as
    (header, value) pairs so the renderer can state them once."""
    constant = [
        i for i, h in enumerate(headers)
        if h in COLLAPSIBLE and rows and len({row[i] for row in rows}) == 1
    ]  # fmt: skip
    kept = [i for i in range(len(headers)) if i not in constant]
    return (
        [headers[i] for i in kept],
        [[row[i] for i in kept] for row in rows],
        [(headers[i], rows[0][i]) for i in constant],
    )


def constants_text(constants: list[tuple[str, str]]) -> str:
    return "Every run: " + ", ".join(f"{h} {v}" for h, v in constants) + "." if constants else ""
