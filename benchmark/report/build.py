"""The report as a pure function of the registry and the result files: it never trains.

`build_report` gathers everything a renderer needs — tables, figures, failures, throughput —
so every output format shows the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from benchmark.plan import PlanOptions, build_plan, cell_status
from benchmark.registry import Registry
from benchmark.report.collect import ResultIndex, failures, header_fields, subsets, throughput
from benchmark.report.document import Header, Report
from benchmark.report.figures import build_figures
from benchmark.report.tables import build_tables

STATUS_ORDER = ("done", "stale", "pending", "failed", "cited")  # the report reads result files only


def build_report(
    registry: Registry,
    results_dir: str | Path,
    options: PlanOptions,
    *,
    selector: str = "all",
    stamp: Mapping[str, str] | None = None,
    figures: bool = True,
    cache_dir: Path | None = None,
) -> Report:
    """Tables 1–6 beside the paper's values, with figures and appendices.

    ``stamp`` overrides header fields (``generated``, ``commit``, ``device``, ``created``,
    ``results``) so a report can be reproduced byte for byte; ``cache_dir`` is where mask pools
    are cached (the runner's ``<cache>/masks``).
    """
    results_dir = Path(results_dir)
    cells = registry.select(selector)
    plan = build_plan(registry, cells, options)
    statuses = {c.id: cell_status(registry, c, plan, results_dir) for c in cells}
    index = ResultIndex(results_dir, plan)
    tables = build_tables(registry, cells, statuses)
    counts = Counter(s["status"] for s in statuses.values())
    header = Header(
        profile=options.profile,
        seeds=", ".join(str(s) for s in options.seeds),
        results=str(results_dir),
        cells=", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts[s])
        + f" (of {len(cells)})",
        **header_fields(index),
    )
    if stamp:
        header = dataclasses.replace(header, **stamp)
    return Report(
        header=header,
        tables=tables,
        figures=build_figures(cells, plan, index, tables, options, cache_dir) if figures else [],
        failures=failures(index),
        throughput=throughput(index),
        subsets=subsets(index),
    )
