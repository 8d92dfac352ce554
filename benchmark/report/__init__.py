"""`benchmark report`: Tables 1–6 rebuilt beside the paper's values, with figures.

The report is a pure function of the registry and the result files; it never trains. Names are
imported on first use, so registering the CLI verb does not load pandas and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_report": "benchmark.report.report_builder",
    "render": "benchmark.report.formats",
    "write_report": "benchmark.report.formats",
    "Report": "benchmark.report.document",
    "TableData": "benchmark.report.document",
    "Figure": "benchmark.report.document",
    "Header": "benchmark.report.document",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'benchmark.report' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
