"""One report, four formats, written atomically into one folder (figures under figures/)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmark.errors import UserError
from benchmark.report.html import render_html
from benchmark.report.latex import render_latex
from benchmark.report.markdown import render_markdown
from benchmark.report.model import Report
from benchmark.report.tidy import render_csv
from benchmark.results import atomic_write_bytes

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
    written = []
    for figure in report.figures:
        if figure.png is not None:
            path = out_dir / figure.path
            atomic_write_bytes(path, figure.png)
            _shareable(path)
            written.append(path)
    for fmt, text in texts.items():
        path = out_dir / FILE_NAMES[fmt]
        atomic_write_bytes(path, text.encode("utf-8"))
        _shareable(path)
        written.append(path)
    _remove_stale_figures(out_dir, written)
    return written


def _remove_stale_figures(out_dir: Path, written: list[Path]) -> None:
    """A figure this report no longer draws (say, the per-run training curves that became one
    grid per dataset) must not linger beside it as if it were current."""
    for path in (out_dir / "figures").glob("*.png"):
        if path not in written:
            path.unlink()


def _shareable(path: Path) -> None:
    """Atomic writes go through mkstemp (mode 0600); a report is meant to be read by others."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)
