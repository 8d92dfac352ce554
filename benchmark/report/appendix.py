"""The appendices' rows as display strings, shared by the markdown and HTML renderers."""

from __future__ import annotations

import pandas as pd

from benchmark.report.numbers import DASH, fmt_duration, fmt_rate, is_number

FAILURE_HEADERS = ("run", "kind", "seed", "hash", "cells", "status", "reason")
THROUGHPUT_HEADERS = (
    "run", "kind", "seed", "hash", "train samples/s", "eval samples/s", "global batch",
    "world size", "wall time", "device",
)  # fmt: skip
NO_FAILURES = "No run failed and every result file is valid."
NO_THROUGHPUT = "No run has finished yet."
THROUGHPUT_NOTE = "Samples per second: mean over epochs (training) or over conditions (evaluation)."


def _int(value: object) -> str:
    return str(int(value)) if is_number(value) else DASH


def failure_rows(failures: pd.DataFrame) -> list[list[str]]:
    return [
        [r.name, r.kind, _int(r.seed), r.hash, r.cells, r.status, r.reason]
        for r in failures.itertuples()
    ]


def throughput_rows(throughput: pd.DataFrame) -> list[list[str]]:
    return [
        [r.name, r.kind, _int(r.seed), r.hash, fmt_rate(r.train_samples_per_s),
         fmt_rate(r.eval_samples_per_s), _int(r.global_batch), _int(r.world_size),
         fmt_duration(r.wall_s), str(r.device or DASH)]
        for r in throughput.itertuples()
    ]  # fmt: skip
