"""`benchmark check`: validate the registry and every result file of a results folder."""

from __future__ import annotations

import argparse

from benchmark.cli.options import add_common, results_dir
from benchmark.registry import load_registry
from benchmark.results import iter_result_files, read_result


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("check", help="validate the registry and every result file")
    add_common(p)
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
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
