"""`benchmark list`: registry cells with the paper's values and the status of our results."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from benchmark.cli.hints import note_other_profiles
from benchmark.cli.settings import ReadingSettings, add_results_flags
from benchmark.experiment.plan import build_plan, cell_statuses
from benchmark.experiment.registry import load_registry


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("list", help="list registry cells with the paper's values and status")
    p.add_argument("selector", nargs="?", default="all")
    p.add_argument("--json", action="store_true")
    add_results_flags(p)
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    s = ReadingSettings.from_args(args)
    registry = load_registry(s.results.experiments)
    cells = registry.select(s.selector)
    plan = build_plan(registry, cells, s.results.plan)
    rows = []
    for cell, status in zip(cells, cell_statuses(cells, plan, s.results.folder), strict=True):
        hashes = plan.cell_hashes[cell.id]
        rows.append(
            {
                "id": cell.id,
                "table": cell.table,
                "row": cell.row,
                "dataset": cell.dataset,
                "paper": cell.paper,
                "runnable": cell.runnable,
                "run": (hashes[0] if len(hashes) == 1 else hashes) if hashes else None,
                "run_name": cell.run or cell.evaluation,
                "status": status["status"],
                "metrics": status["metrics"],
            }
        )
    note_other_profiles(s.results, [r["status"] for r in rows if r["runnable"]])
    if s.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [
        [
            r["id"],
            r["table"],
            r["row"],
            r["dataset"],
            " ".join(f"{k} {v:.1f}" for k, v in r["paper"].items()),
            r["run_name"] or "cited",
            r["status"],
        ]
        for r in rows
    ]
    print(tabulate(table, headers=["id", "table", "row", "dataset", "paper", "run", "status"]))
    return 0
