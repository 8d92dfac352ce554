"""`benchmark compare`: your results beside the committed ones, per cell and metric, each
difference judged against the reproducibility tolerance (docs/mini.md, "Reproducibility")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tabulate import tabulate

from benchmark.cli.options import add_common, existing_folder, plan_options, results_dir
from benchmark.errors import UserError
from benchmark.experiment.registry import load_registry
from benchmark.report.compare import RANKING_TOLERANCE, THRESHOLD_TOLERANCE, compare_results


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "compare", help="compare your results with the committed ones, within the tolerance"
    )
    p.add_argument("selector", nargs="?", default="all")
    add_common(p)
    p.add_argument(
        "--against",
        type=Path,
        default=None,
        help="the reference results (default: the committed results/<profile>/)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    options = plan_options(args)
    mine = results_dir(args)
    reference = args.against if args.against is not None else Path("results") / options.profile
    existing_folder(reference, "--against")
    if mine.resolve() == reference.resolve():
        raise UserError(
            f"--results-dir and --against are both {mine}: give the folder of your results "
            "with --results-dir"
        )
    registry = load_registry(args.experiments)
    found = compare_results(registry, args.selector, options, mine, reference)
    if args.json:
        print(json.dumps(
            {"differences": [{**d.__dict__, "delta": d.delta, "within": d.within}
                             for d in found.differences], "missing": found.missing},
            indent=2,
        ))  # fmt: skip
        return 1 if found.outside else 0
    if not found.differences:
        raise UserError(
            f"no cell of {args.selector!r} has a finished result in both {mine} and {reference} "
            f"(profile {options.profile})"
        )
    rows = [
        [d.cell, d.seed, d.metric, f"{d.mine:.2f}", f"{d.reference:.2f}", f"{d.delta:+.2f}",
         "0 (same kernels)" if d.same_kernels else f"±{d.tolerance:.1f}",
         "ok" if d.within else "OUTSIDE"]
        for d in found.differences
    ]  # fmt: skip
    headers = ["cell", "seed", "metric", "mine", "reference", "diff", "tolerance", ""]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    for cell, why in found.missing.items():
        print(f"not compared: {cell}: {why}")
    kernels = {d.same_kernels for d in found.differences}
    if None in kernels:
        print(
            "note: some results do not record their CPU kernels (made before that record "
            "existed): the cross-processor tolerance applies to them"
        )
    outside = found.outside
    print(
        f"{len(found.differences) - len(outside)} of {len(found.differences)} value(s) within "
        f"tolerance (same CPU kernels: identical; otherwise ±{RANKING_TOLERANCE:.1f} mAP, "
        f"±{THRESHOLD_TOLERANCE:.1f} CP/CR/CF1/OP/OR/OF1; docs/mini.md, Reproducibility)"
    )
    return 1 if outside else 0
