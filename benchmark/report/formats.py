"""One report, four formats (the CSV renderer lives here; markdown, HTML and LaTeX have their
own modules), written atomically into one folder (figures under figures/)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from benchmark.errors import UserError
from benchmark.report.document import Report
from benchmark.report.html import render_html
from benchmark.report.latex import render_latex
from benchmark.report.markdown import render_markdown
from benchmark.store.results import atomic_write_bytes

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
    """The tables as one tidy CSV: a row per (table, paper row, dataset/metric column). Values
    keep full precision (rounded to 6 decimals only to drop float noise): the CSV is for tools,
    and rounding to the paper's one decimal is a display choice."""
    return tidy_frame(report).to_csv(index=False, lineterminator="\n")


CLAIM_COLUMNS = (
    "id", "title", "metric", "dataset", "a", "b", "claimed", "status", "seeds", "expected_seeds",
    "images", "mean", "sd", "ci95_low", "ci95_high", "verdict", "verdict_text", "seed_note",
    "interval_verdict", "consistent", "testable", "untestable_reason", "reason", "repair",
    "bn_matched_applicable", "bn_matched_mode", "bn_matched_status", "bn_matched_seeds",
    "bn_matched_mean", "bn_matched_sd", "bn_matched_ci95_low", "bn_matched_ci95_high",
    "bn_matched_verdict", "bn_matched_verdict_text", "bn_matched_interval_verdict",
    "bn_matched_consistent", "bn_matched_reason",
)  # fmt: skip
CLAIMS_CSV = "claims.csv"  # written beside report.csv: one row per claim


def render_claims_csv(report: Report) -> str | None:
    """The Claims section as CSV, a row per claim (None when the report has no claims)."""
    if not report.claims:
        return None
    rows = []
    for result in report.claims:
        data = result.to_dict()
        low, high = data.pop("ci95") or (None, None)
        data.update(ci95_low=low, ci95_high=high, seeds=" ".join(map(str, data["seeds"])))
        matched = data.pop("bn_matched")  # the BatchNorm-matched measurement, prefixed
        m_low, m_high = matched.pop("ci95", None) or (None, None)
        matched.update(ci95_low=m_low, ci95_high=m_high)
        matched["seeds"] = " ".join(map(str, matched.get("seeds", ())))
        data.update({f"bn_matched_{k}": v for k, v in matched.items()})
        rows.append({k: data.get(k) for k in CLAIM_COLUMNS})
    frame = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    return frame.to_csv(index=False, lineterminator="\n")


RENDERERS: dict[str, Callable[[Report], str]] = {
    "md": render_markdown, "csv": render_csv, "latex": render_latex, "html": render_html,
}  # fmt: skip
FILE_NAMES = {"md": "report.md", "csv": "report.csv", "latex": "report.tex", "html": "report.html"}


def render(report: Report, fmt: str) -> str:
    """The report as text in one format: md, csv, latex or html."""
    if fmt not in RENDERERS:
        raise UserError(f"unknown report format {fmt!r} (choose from {', '.join(RENDERERS)})")
    return RENDERERS[fmt](report)


def write_report(report: Report, out_dir: str | Path, formats: Iterable[str]) -> list[Path]:
    """Write the figures, then each format; returns the paths written."""
    out_dir = Path(out_dir)
    formats = list(dict.fromkeys(formats))
    texts = {fmt: render(report, fmt) for fmt in formats}  # every format valid before writing
    files = {FILE_NAMES[fmt]: text for fmt, text in texts.items()}
    claims_csv = render_claims_csv(report) if "csv" in formats else None
    if claims_csv is not None:
        files[CLAIMS_CSV] = claims_csv
    written = []
    for figure in [*report.figures, *([report.forest] if report.forest else [])]:
        if figure.png is not None:
            path = out_dir / figure.path
            atomic_write_bytes(path, figure.png)
            _shareable(path)
            written.append(path)
    for name, text in files.items():
        path = out_dir / name
        atomic_write_bytes(path, text.encode("utf-8"))
        _shareable(path)
        written.append(path)
    return written


def _shareable(path: Path) -> None:
    """Atomic writes go through mkstemp (mode 0600); a report is meant to be read by others."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)
