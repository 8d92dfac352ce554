"""`benchmark evaluate`: score published checkpoints — or a user's own file of a registered
architecture — with every metric of the paper, the masked test of Table 6 and the robustness
curve. benchmark.launch.release_jobs plans (which files are present, what each one is, that it
fits); the suite's one evaluation job runs each; results are stored like any evaluation.

Launching imports torch, so the handler imports `benchmark.launch` when called.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from benchmark.cli.hints import command
from benchmark.cli.settings import (
    Results,
    add_compile_flag,
    add_execution_flags,
    add_results_flags,
    job_from,
    parse_seeds,
    readable_file,
)
from benchmark.errors import UserError
from benchmark.spec import BN_REESTIMATES
from benchmark.store.results import load_result

if TYPE_CHECKING:
    from benchmark.train.job_context import JobContext


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "evaluate",
        help="score published checkpoints (or your own file): clean, masked, every bucket",
    )
    p.add_argument(
        "selector",
        nargs="?",
        help="released (every published file) or a glob over release ids (msl-*, csra-voc-*)",
    )
    p.add_argument("--checkpoint", type=Path, default=None, help="a checkpoint file of yours")
    p.add_argument(
        "--like",
        default=None,
        help="with --checkpoint: the registry run (or evaluation, or cell) whose model it fits, "
        "as `benchmark list` shows it",
    )
    add_results_flags(p, seeds="none")
    p.add_argument(
        "--mask-seeds",
        default="0,1,2",
        help="mask seeds: the first draws every masked condition, each further one draws "
        "Table 6's setting again, for its spread (default: 0,1,2)",
    )
    p.add_argument(
        "--bn-reestimate",
        choices=BN_REESTIMATES,
        default=None,
        help="re-estimate BatchNorm's running statistics on the training images first, weights "
        "untouched: clean (every training image) or mixed (each batch clean, then masked by "
        "the high pool), as the BatchNorm-matched verdicts do (docs/claims.md); needs the "
        "training images (--data-root); part of the evaluation's identity",
    )
    add_execution_flags(p, "folder holding the published files (default: $BENCHMARK_WEIGHTS)")
    add_compile_flag(p, "; speed only, not part of an evaluation's identity")
    p.add_argument("--force", action="store_true", help="discard existing results and rerun")
    p.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    p.set_defaults(func=cmd_evaluate)


@dataclass(frozen=True)
class EvaluateSettings:
    selector: str | None  # released, or a glob over release ids
    checkpoint: Path | None  # a file of the user's (with like)
    like: str | None
    results: Results
    job: JobContext
    mask_seeds: tuple[int, ...]
    bn_reestimate: str | None  # re-estimate BatchNorm statistics first (docs/claims.md)
    force: bool
    dry_run: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EvaluateSettings:
        if args.selector is None and args.checkpoint is None:
            raise UserError(
                "give a release selector (released, or a glob over release ids) or --checkpoint "
                "FILE --like RUN"
            )
        if args.selector is not None and args.checkpoint is not None:
            raise UserError("give either a release selector or --checkpoint, not both")
        if args.checkpoint is not None and args.like is None:
            raise UserError("--checkpoint needs --like RUN: the registry run whose model it fits")
        if args.like is not None and args.checkpoint is None:
            raise UserError("--like goes with --checkpoint FILE")
        checkpoint = args.checkpoint and readable_file(args.checkpoint, "--checkpoint")
        mask_seeds = parse_seeds(args.mask_seeds, "--mask-seeds")
        results, job = job_from(args)
        real_data = results.definition.synthetic is None
        if args.bn_reestimate and job.data_root is None and real_data:
            raise UserError(
                f"--bn-reestimate {args.bn_reestimate}: re-estimating BatchNorm reads the training "
                "images: give --data-root (the folder holding voc2007/, coco2014/, wider/)"
            )
        return cls(
            args.selector, checkpoint, args.like, results, job, mask_seeds, args.bn_reestimate,
            args.force, args.dry_run,
        )  # fmt: skip


def cmd_evaluate(args: argparse.Namespace) -> int:
    s = EvaluateSettings.from_args(args)  # every flag checked before any file is read
    # torch: only when evaluating, after every flag is checked
    from benchmark.launch.release_jobs import evaluate_releases, plan_evaluations

    options = s.results.plan
    plan = plan_evaluations(
        s.results.experiments, s.selector, s.checkpoint, s.like, options, s.job.weights_root,
        s.mask_seeds, s.bn_reestimate,
    )  # fmt: skip
    for release, reason in plan.skipped:
        print(f"{release.id}: skipped ({reason})")
    for release, path in plan.absent:
        print(f"{release.id}: absent ({path} not found; {release.origin})")
    for release in plan.unmapped:
        print(f"{release.id}: unmapped ({release.unmapped})")
    for ev in plan.evals:
        bn = f"; BatchNorm re-estimated ({ev.bn_reestimate})" if ev.bn_reestimate else ""
        print(f"{ev.name} [{ev.hash}]: {ev.checkpoint_file}; {len(ev.conditions)} conditions{bn}")
    if not plan.evals and plan.skipped:
        raise UserError(f"nothing to evaluate: every file of {s.selector!r} found was skipped")
    if not plan.evals:
        where = (
            f"under --weights-root {s.job.weights_root}"
            if s.job.weights_root is not None
            else "(no --weights-root given, and $BENCHMARK_WEIGHTS is not set)"
        )
        raise UserError(
            f"no published file of {s.selector!r} found {where}: nothing to evaluate (the "
            "README's 'Check the paper from the published weights' lists each file and where "
            "it is published)"
        )
    if s.dry_run:
        return 0
    statuses = evaluate_releases(plan, s.job, options, force=s.force)
    _print_summary(plan, s.results)
    return 1 if "failed" in statuses else 0


def _print_summary(plan, results: Results) -> None:
    # Here, not at the top: the report's modules load pandas and matplotlib, which no other
    # verb needs at start-up.
    from benchmark.report.published_section import condition_values, mean_std
    from benchmark.report.wording import fmt, fmt_mean_std

    rows = []
    seeds_drawn = set()  # how many mask seeds each done evaluation drew for Table 6's setting
    for ev in plan.evals:
        loaded = load_result(results.folder, ev.hash)
        data = loaded.data if loaded.problem is None else None
        release = plan.released.get(ev.hash)
        reported = release.reported.get("mAP") if release else None
        if not loaded.done:
            rows.append([ev.name, fmt(reported), "—", "—", (data or {}).get("error", "failed")])
            continue
        values = condition_values(data)
        clean = values.get("clean", {}).get("mAP", [])
        high = values.get("high", {}).get("mAP", [])
        high_text = fmt_mean_std(*mean_std(high)) if high else "—"
        seeds_drawn.add(len(high))
        rows.append([ev.name, fmt(reported), fmt(clean[0]) if clean else "—", high_text, "done"])
    headers = ["evaluation", "reported mAP", "clean mAP", "Table 6 setting mAP", "status"]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    if seeds_drawn - {0}:  # what the ± is, where a reader would take it for a training spread
        counts = " or ".join(map(str, sorted(seeds_drawn - {0})))
        print(
            f"Table 6 setting: mean ± std over {counts} mask seed(s), one high-pool mask per test "
            "image each: the spread of the mask draw for these weights, not of training seeds"
        )
    modes = {ev.bn_reestimate for ev in plan.evals} - {None}
    if modes:  # the report shows files as published (experiment.file_evaluations)
        print(
            f"BatchNorm statistics re-estimated ({', '.join(sorted(modes))}) on the training "
            "images before scoring, weights untouched: not the files as published (docs/claims.md)"
        )
        print(f"results in {results.folder}")
        return
    print(f"results in {results.folder}; {command('report', results, all_seeds=True)} shows them")
