"""The tables as one tidy CSV: a row per (table, paper row, dataset/metric column).

Values keep full precision (rounded to 6 decimals only to drop float noise): the CSV is for
tools, and rounding to the paper's one decimal is a display choice.
"""

from __future__ import annotations

import pandas as pd

from benchmark.report.model import Report

CSV_COLUMNS = (
    "table", "row", "column", "dataset", "metric", "ours", "paper", "delta", "status", "last",
    "std", "seeds", "row_index", "cell", "reason",
)  # fmt: skip


def tidy_frame(report: Report) -> pd.DataFrame:
    frames = [t.frame for t in report.tables if not t.frame.empty]
    if not frames:
        return pd.DataFrame(columns=list(CSV_COLUMNS))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.rename(columns={"row": "row_index"}).rename(columns={"label": "row"})
    frame.loc[frame["cited"], "status"] = "cited"
    numeric = ["ours", "paper", "delta", "last", "std"]
    frame[numeric] = frame[numeric].astype(float).round(6)
    return frame[list(CSV_COLUMNS)]


def render_csv(report: Report) -> str:
    return tidy_frame(report).to_csv(index=False, lineterminator="\n")
