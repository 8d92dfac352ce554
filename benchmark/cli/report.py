"""`benchmark report`: parse, build, write, print what was written."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from benchmark.cli.hints import command, note_other_profiles
from benchmark.cli.settings import (
    Results,
    add_cache_flag,
    add_results_flags,
    cache_from,
    results_from,
    writable_folder,
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
    add_results_flags(p, seeds="held")
    p.add_argument(
        "--format",
        action="append",
        default=None,
        metavar="FMT",
        help="md | csv | latex | html; repeat or comma-separate (default: md)",
    )
    p.add_argument("--out", type=Path, default=None, help="default: reports/<profile>/")
    add_cache_flag(p)
    p.add_argument("--no-figures", action="store_true", help="tables and appendices only")
    p.set_defaults(func=cmd_report)


@dataclass(frozen=True)
class ReportSettings:
    selector: str
    results: Results
    formats: tuple[str, ...]
    out: Path  # --out, else reports/<profile>/; checked writable
    figures: bool
    cache_dir: Path | None  # mask pools for the figures (None with --no-figures)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReportSettings:
        formats = parse_formats(args.format)
        results = results_from(args)
        if not iter_result_files(results.folder):
            raise UserError(
                f"no results in {results.folder}: nothing to report "
                f"({command('run', results, args.selector)} writes them there, or point "
                "--results-dir at a folder of results)"
            )
        out = args.out if args.out is not None else Path("reports") / results.profile
        writable_folder(out, "--out")
        cache = None if args.no_figures else cache_from(args)
        return cls(args.selector, results, formats, out, not args.no_figures, cache)


def parse_formats(values: list[str] | None) -> tuple[str, ...]:
    # The report's modules load pandas and matplotlib: imported when this verb runs, not when
    # every verb registers (the same for build_report below).
    from benchmark.report.formats import RENDERERS

    chosen = [f.strip() for v in (values or DEFAULT_FORMATS) for f in v.split(",") if f.strip()]
    for fmt in chosen:
        if fmt not in RENDERERS:
            choices = ", ".join(RENDERERS)
            raise UserError(f"--format: unknown format {fmt!r} (choose from {choices})")
    return tuple(dict.fromkeys(chosen)) or DEFAULT_FORMATS


def cmd_report(args: argparse.Namespace) -> int:
    s = ReportSettings.from_args(args)
    from benchmark.report.formats import write_report  # the same
    from benchmark.report.report_builder import (
        build_report,  # pandas, matplotlib: see parse_formats
    )

    registry = load_registry(s.results.experiments)
    report = build_report(
        registry,
        s.results.folder,
        s.results.plan,
        selector=s.selector,
        figures=s.figures,
        cache_dir=s.cache_dir,
    )
    cells = [t.frame.drop_duplicates("cell") for t in report.tables]
    note_other_profiles(s.results, [st for f in cells for st in f["status"] if st != "cited"])
    for path in write_report(report, s.out, s.formats):
        print(path)
    skipped = [f for f in report.figures if f.png is None]
    for figure in skipped:
        print(f"figure {figure.name}: {figure.note}")
    troubles = len(report.failures)
    print(f"report: {report.header.cells}; {troubles} failed, invalid, damaged or stale result(s)")
    return 0
