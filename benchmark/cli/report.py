"""`benchmark report`: parse, build, write, print what was written."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.options import (
    add_cache_option,
    add_common,
    cache_dir,
    hint_other_profiles,
    plan_options,
    results_dir,
)
from benchmark.errors import UserError
from benchmark.experiment.registry import load_registry
from benchmark.store.results import iter_result_files

DEFAULT_FORMATS = ("md",)


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "report", help="rebuild Tables 1-6 beside the paper's values, with figures"
    )
    p.add_argument(
        "selector",
        nargs="?",
        default="all",
        help="all | table4 | a glob over cell ids (default: all)",
    )
    add_common(p, seeds_from_results=True)
    p.add_argument(
        "--format",
        action="append",
        default=None,
        metavar="FMT",
        help="md | csv | latex | html; repeat or comma-separate (default: md)",
    )
    p.add_argument("--out", type=Path, default=None, help="default: reports/<profile>/")
    add_cache_option(p)
    p.add_argument("--no-figures", action="store_true", help="tables and appendices only")
    p.set_defaults(func=cmd_report)


def parse_formats(values: list[str] | None) -> list[str]:
    # The report's modules load pandas and matplotlib: imported when this verb runs, not when
    # every verb registers (the same for build_report below).
    from benchmark.report.formats import RENDERERS

    chosen = [f.strip() for v in (values or DEFAULT_FORMATS) for f in v.split(",") if f.strip()]
    for fmt in chosen:
        if fmt not in RENDERERS:
            choices = ", ".join(RENDERERS)
            raise UserError(f"--format: unknown format {fmt!r} (choose from {choices})")
    return list(dict.fromkeys(chosen)) or list(DEFAULT_FORMATS)


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.report.formats import write_report  # the same
    from benchmark.report.report_builder import (
        build_report,  # pandas, matplotlib: see parse_formats
    )

    formats = parse_formats(args.format)
    registry = load_registry(args.experiments)
    options = plan_options(args)
    folder = results_dir(args)
    if not iter_result_files(folder):
        raise UserError(
            f"no results in {folder}: nothing to report (run `benchmark run` first, or point "
            "--results-dir at a folder of results)"
        )
    report = build_report(
        registry,
        folder,
        options,
        selector=args.selector,
        figures=not args.no_figures,
        cache_dir=cache_dir(args),
    )
    cells = [t.frame.drop_duplicates("cell") for t in report.tables]
    hint_other_profiles(
        folder, options.profile, [s for f in cells for s in f["status"] if s != "cited"]
    )
    out = args.out if args.out is not None else Path("reports") / options.profile
    for path in write_report(report, out, formats):
        print(path)
    skipped = [f for f in report.figures if f.png is None]
    for figure in skipped:
        print(f"figure {figure.name}: {figure.note}")
    troubles = len(report.failures)
    print(f"report: {report.header.cells}; {troubles} failed, invalid, damaged or stale result(s)")
    return 0
