"""The appendices' rows as display strings, shared by the markdown and HTML renderers."""

from __future__ import annotations

import pandas as pd

from benchmark.report.model import DATASET_NAMES
from benchmark.report.numbers import DASH, fmt, fmt_duration, fmt_rate, is_number

FAILURE_HEADERS = ("run", "kind", "seed", "hash", "cells", "status", "reason")
THROUGHPUT_HEADERS = (
    "run", "kind", "seed", "hash", "train samples/s", "eval samples/s", "global batch",
    "world size", "wall time", "device",
)  # fmt: skip
NO_FAILURES = "No run failed and every result file is valid."
NO_THROUGHPUT = "No run has finished yet."
THROUGHPUT_NOTE = "Samples per second: mean over epochs (training) or over conditions (evaluation)."
SUBSET_TITLE = "Small and occluded objects"
SUBSET_HEADERS = (
    "run", "kind", "dataset", "method", "scored", "mAP", "mAP small", "mAP occluded",
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
        [r.name, r.kind, DATASET_NAMES.get(r.dataset, r.dataset), r.method, r.condition,
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
