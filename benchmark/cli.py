"""The `benchmark` command: verbs only — parse, call, print.

A UserError (bad file, field or flag) becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmark.errors import UserError


def _add_common(parser: argparse.ArgumentParser, results: bool = True) -> None:
    parser.add_argument(
        "--experiments", type=Path, default=None, help="registry folder (default: ./experiments)"
    )
    parser.add_argument("--profile", default="smoke", help="paper | mini | smoke (default: smoke)")
    if results:
        parser.add_argument(
            "--results-dir", type=Path, default=None, help="default: results/<profile>/"
        )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument("--epochs", type=int, default=None, help="override every run's epochs")
    parser.add_argument(
        "--masks-root",
        type=Path,
        default=None,
        help="NVIDIA irregular mask testing set (default: $BENCHMARK_MASKS; "
        "procedural masks stand in when absent)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark", description="Reproduce the MSL paper's Tables 1-6 (WACV 2024)."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("list", help="list registry cells with the paper's values and status")
    p.add_argument("selector", nargs="?", default="all")
    p.add_argument("--json", action="store_true")
    _add_common(p)
    p.set_defaults(func=cmd_list)

    p = verbs.add_parser("score", help="score predictions with the paper's metrics")
    p.add_argument("--scores", type=Path, required=True, help=".npy or .csv, N×C probabilities")
    p.add_argument(
        "--targets",
        type=Path,
        required=True,
        help=".npy or .csv, N×C: 1 pos, 0 neg, -1 ignored, -2 ignored in AP only",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)

    p = verbs.add_parser("check", help="validate the registry and every result file")
    _add_common(p)
    p.set_defaults(func=cmd_check)

    _register_optional(verbs)
    return parser


def _register_optional(verbs: argparse._SubParsersAction) -> None:
    """Verbs whose modules are heavier (torch) register themselves from their own packages."""
    import importlib

    for module in VERB_MODULES:
        importlib.import_module(module).register(verbs)


VERB_MODULES = (
    "benchmark.data.cli",
    "benchmark.train.cli",
    "benchmark.report.cli",
    "benchmark.perf.cli",
)


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in str(text).split(",") if s.strip() != "")
    except ValueError:
        raise UserError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UserError("--seeds: give at least one seed")
    return seeds


def plan_options(args: argparse.Namespace):
    import os

    from benchmark.plan import PlanOptions
    from benchmark.profiles import get_profile

    get_profile(args.profile)
    masks_root = args.masks_root or (
        Path(os.environ["BENCHMARK_MASKS"]) if os.environ.get("BENCHMARK_MASKS") else None
    )
    return PlanOptions(args.profile, parse_seeds(args.seeds), args.epochs, masks_root)


def results_dir(args: argparse.Namespace) -> Path:
    return args.results_dir if args.results_dir is not None else Path("results") / args.profile


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from benchmark.plan import build_plan, cell_status
    from benchmark.registry import load_registry

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


def _read_matrix(path: Path, what: str):
    import numpy as np

    if not path.is_file():
        raise UserError(f"{path}: file not found ({what})")
    try:
        if path.suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif path.suffix == ".csv":
            data = np.loadtxt(path, delimiter=",", ndmin=2)
        else:
            raise UserError(f"{path}: {what} must be .npy or .csv")
    except ValueError as exc:
        raise UserError(f"{path}: cannot read {what}: {exc}") from None
    if data.ndim != 2:
        raise UserError(f"{path}: {what} must be an N×C matrix, got shape {data.shape}")
    return data


def cmd_score(args: argparse.Namespace) -> int:
    import numpy as np

    from benchmark.metrics import METRIC_NAMES, score, validate

    scores = _read_matrix(args.scores, "scores").astype(np.float64)
    targets = _read_matrix(args.targets, "targets")
    if not np.all(np.isfinite(targets)) or not np.all(targets == np.round(targets)):
        raise UserError(f"{args.targets}: targets must be integer codes 1, 0, -1, -2")
    targets = targets.astype(np.int64)
    try:
        validate(scores, targets)
    except ValueError as exc:
        name = args.targets if "target" in str(exc) else args.scores
        raise UserError(f"{name}: {exc}") from None
    result = score(scores, targets)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for name in METRIC_NAMES:
        print(f"{name:>4} {getattr(result, name):6.1f}")
    missing = result.classes_without_positives
    if missing:
        print(f"classes without positives (excluded from mAP): {missing}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.registry import load_registry
    from benchmark.results import iter_result_files, read_result

    registry = load_registry(args.experiments)
    print(
        f"registry: {len(registry.cells)} cells, {len(registry.runs)} runs, "
        f"{len(registry.evaluations)} evaluations — valid"
    )
    folder = results_dir(args)
    problems = 0
    files = iter_result_files(folder)
    for path in files:
        loaded = read_result(path, path.parent.name)
        if loaded.problem is not None:
            problems += 1
            print(f"BAD {path}: {loaded.problem}")
    print(f"results: {len(files)} file(s) in {folder}, {problems} bad")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
