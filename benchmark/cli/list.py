"""`benchmark list`: registry cells with the paper's values and the status of our results."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from benchmark.cli.options import add_common, hint_other_profiles, plan_options, results_dir
from benchmark.experiment.plan import build_plan, cell_status
from benchmark.experiment.registry import load_registry


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("list", help="list registry cells with the paper's values and status")
    p.add_argument("selector", nargs="?", default="all")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    registry = load_registry(args.experiments)
    cells = registry.select(args.selector)
    plan = build_plan(registry, cells, plan_options(args))
    rows = []
    for cell in cells:
        status = cell_status(registry, cell, plan, results_dir(args))
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
    hint_other_profiles(
        results_dir(args), args.profile, [r["status"] for r in rows if r["runnable"]]
    )
    if args.json:
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
