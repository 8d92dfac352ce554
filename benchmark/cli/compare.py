"""`benchmark compare`: your results beside the committed ones, per cell and metric, each
difference judged against the reproducibility tolerance (docs/mini.md, "Reproducibility")."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from benchmark.cli.settings import Results, add_results_flags, existing_folder, results_from
from benchmark.errors import UserError
from benchmark.experiment.registry import load_registry
from benchmark.report.results_comparison import (
    RANKING_TOLERANCE,
    THRESHOLD_TOLERANCE,
    compare_results,
)


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "compare", help="compare your results with the committed ones, within the tolerance"
    )
    p.add_argument("selector", nargs="?", default="all")
    add_results_flags(p)
    p.add_argument(
        "--against",
        type=Path,
        default=None,
        help="the reference results (default: the committed results/<profile>/)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)


@dataclass(frozen=True)
class CompareSettings:
    selector: str
    results: Results  # mine
    against: Path  # the reference: --against, else the committed results/<profile>/
    json: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CompareSettings:
        results = results_from(args)
        against = args.against if args.against is not None else Path("results") / results.profile
        existing_folder(against, "--against")
        if results.folder.resolve() == against.resolve():
            raise UserError(
                f"--results-dir and --against are both {results.folder}: give the folder of "
                "your results with --results-dir"
            )
        return cls(args.selector, results, against, args.json)


def cmd_compare(args: argparse.Namespace) -> int:
    s = CompareSettings.from_args(args)
    mine, reference, options = s.results.folder, s.against, s.results.plan
    registry = load_registry(s.results.experiments)
    found = compare_results(registry, s.selector, options, mine, reference)
    if s.json:
        print(json.dumps(
            {"differences": [{**d.__dict__, "delta": d.delta, "within": d.within}
                             for d in found.differences],
             "missing": found.missing, "broken": found.broken},
            indent=2,
        ))  # fmt: skip
        return 1 if found.failed else 0
    if not found.differences and not found.broken:
        raise UserError(
            f"no cell of {s.selector!r} has a finished result in both {mine} and {reference} "
            f"(profile {options.profile})"
        )
    rows = [
        [d.cell, d.seed, d.metric, f"{d.mine:.2f}", f"{d.reference:.2f}", f"{d.delta:+.2f}",
         "0 (same kernels)" if d.same_kernels else f"±{d.tolerance:.1f}",
         "ok" if d.within else "OUTSIDE"]
        for d in found.differences
    ]  # fmt: skip
    headers = ["cell", "seed", "metric", "mine", "reference", "diff", "tolerance", ""]
    if rows:
        print(tabulate(rows, headers=headers, disable_numparse=True))
    for cell, why in found.missing.items():
        print(f"not compared: {cell}: {why}")
    for cell, why in found.broken.items():
        print(f"BROKEN {cell}: {why}")
    kernels = {d.same_kernels for d in found.differences}
    if None in kernels:
        print(
            "note: some results do not record their CPU kernels (made before that record "
            "existed): the cross-processor tolerance applies to them"
        )
    outside = found.outside
    broken = (
        f"; {len(found.broken)} cell(s) with an invalid or failed result (BROKEN above), "
        "counted as failures"
        if found.broken
        else ""
    )
    print(
        f"{len(found.differences) - len(outside)} of {len(found.differences)} value(s) within "
        f"tolerance (same CPU kernels: identical; otherwise ±{RANKING_TOLERANCE:.1f} mAP, "
        f"±{THRESHOLD_TOLERANCE:.1f} CP/CR/CF1/OP/OR/OF1; docs/mini.md, Reproducibility)" + broken
    )
    return 1 if found.failed else 0
