"""`benchmark status`: status and metrics of each cell, runs being trained now included."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from benchmark.cli.hints import command, note_missing_folder, note_other_profiles
from benchmark.cli.settings import ReadingSettings, Results, add_results_flags
from benchmark.experiment.file_evaluations import file_evaluations
from benchmark.experiment.plan import build_plan
from benchmark.experiment.registry import load_registry
from benchmark.launch.liveness import live_statuses
from benchmark.spec import PRECISION_MEANING


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("status", help="status and metrics of each cell")
    p.add_argument("selector", nargs="?", default="all")
    add_results_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    s = ReadingSettings.from_args(args)
    registry = load_registry(s.results.experiments)
    cells = registry.select(s.selector)
    plan = build_plan(registry, cells, s.results.plan)
    entries = live_statuses(cells, plan, s.results.folder)
    note_missing_folder(s.results)
    note_other_profiles(s.results, [e["status"] for e in entries if e["status"] != "cited"])
    if s.json:
        print(json.dumps(entries, indent=2))
        return 0
    _print_table(cells, entries, s.selector, s.results)
    _print_files(file_evaluations(s.results.folder, s.results.profile, plan.options.precision))
    return 0


def print_summary(cells, plan, selector: str, results: Results) -> None:
    """One row per cell: status, our metrics beside the paper's, and why when not done."""
    _print_table(cells, live_statuses(cells, plan, results.folder), selector, results)


def _print_table(cells, entries, selector: str, results: Results) -> None:
    rows = []
    for cell, entry in zip(cells, entries, strict=True):
        ours = entry["metrics"] or {}
        rows.append(
            [
                cell.id,
                cell.row,
                entry["status"],
                " ".join(f"{k} {ours[k]:.1f}" for k in cell.paper if k in ours) or "—",
                " ".join(f"{k} {v:.1f}" for k, v in cell.paper.items()),
                _note(entry),
            ]
        )
    print(tabulate(rows, headers=["cell", "row", "status", "ours", "paper", "note"]))
    for precision in dict.fromkeys(e["precision"] for e in entries if e["precision"]):
        print(f"precision {precision}: {PRECISION_MEANING[precision]}")
    if any(row[2] == "stale" for row in rows):
        rerun = command("run", results, selector, "--rerun-stale")
        print(f"stale: made by other code than this checkout's; {rerun} reruns them")
    for cell, entry in zip(cells, entries, strict=True):  # in full: the files and the repair
        if entry["status"] == "damaged":
            print(f"{cell.id}: {entry['reason']}")


def _print_files(evaluations) -> None:
    """Checkpoint files evaluated into the folder (`benchmark evaluate`): they fill no cell."""
    if not evaluations:
        return
    rows = [
        [e.name, e.file, "done" if e.done else f"failed: {e.error[:60]}",
         *(f"{m[0]:.1f}" if m else "—" for m in (e.mAP("clean"), e.mAP("high")))]
        for e in evaluations
    ]  # fmt: skip
    print("\ncheckpoint files evaluated here (`benchmark evaluate`; the report shows them):")
    print(tabulate(rows, headers=["evaluation", "file", "status", "clean mAP", "masked mAP"]))


def _note(entry: dict) -> str:
    """Why a cell is not done (reason cut to 80 characters), or what its numbers' code is."""
    if entry.get("slurm"):
        slurm = entry["slurm"]
        return f"slurm job {slurm['job_id']} {slurm['state'] or ''}".strip()
    if entry["reason"]:
        return entry["reason"][:80]
    return entry.get("code") or ""
