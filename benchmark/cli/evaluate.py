"""`benchmark evaluate`: score published checkpoints — or a user's own file of a registered
architecture — with every metric of the paper, the masked test of Table 6 and the robustness
curve. benchmark.launch.release_jobs plans (which files are present, what each one is, that it
fits); the suite's one evaluation job runs each; results are stored like any evaluation.

Launching imports torch, so the handler imports `benchmark.launch` when called.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from benchmark.cli.options import (
    add_compile_option,
    add_execution_options,
    add_profile_options,
    check_device,
    job_context,
    masks_root,
    profile,
)
from benchmark.errors import UserError
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.profiles import get_profile
from benchmark.experiment.registry import load_registry
from benchmark.spec import BN_REESTIMATES


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
        "--like", default=None, help="with --checkpoint: the registry run whose model it fits"
    )
    add_profile_options(p)
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
    add_execution_options(p, "folder holding the published files (default: $BENCHMARK_WEIGHTS)")
    add_compile_option(p, "; speed only, not part of an evaluation's identity")
    p.add_argument("--force", action="store_true", help="discard existing results and rerun")
    p.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    p.set_defaults(func=cmd_evaluate, skip_bad=False, sync_bn=False)


def parse_mask_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in str(text).split(",") if s.strip() != "")
    except ValueError:
        raise UserError(f"--mask-seeds: expected comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UserError("--mask-seeds: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--mask-seeds: seeds must be distinct, got {text!r}")
    return seeds


def _check_flags(args: argparse.Namespace) -> tuple[int, ...]:
    if args.selector is None and args.checkpoint is None:
        raise UserError(
            "give a release selector (released, or a glob over release ids) or --checkpoint FILE "
            "--like RUN"
        )
    if args.selector is not None and args.checkpoint is not None:
        raise UserError("give either a release selector or --checkpoint, not both")
    if args.checkpoint is not None and args.like is None:
        raise UserError("--checkpoint needs --like RUN: the registry run whose model it fits")
    if args.like is not None and args.checkpoint is None:
        raise UserError("--like goes with --checkpoint FILE")
    prof = get_profile(profile(args))  # --profile, or the one of the results in --results-dir
    if args.bn_reestimate and prof.synthetic is None and args.data_root is None:
        raise UserError(
            f"--bn-reestimate {args.bn_reestimate}: re-estimating BatchNorm reads the training "
            f"images: give --data-root (the folder holding voc2007/, coco2014/, wider/)"
        )
    check_device(args.device)
    return parse_mask_seeds(args.mask_seeds)


def _options(args: argparse.Namespace) -> PlanOptions:
    return PlanOptions(args.profile, (0,), None, masks_root(args), precision=args.precision)


def cmd_evaluate(args: argparse.Namespace) -> int:
    mask_seeds = _check_flags(args)  # every flag checked before any file is read
    from benchmark.experiment.releases import known_layouts, load_releases
    from benchmark.launch.release_jobs import (  # torch: only when evaluating
        ReleasePlan,
        plan_checkpoint,
        plan_releases,
    )

    registry = load_registry(args.experiments)
    releases = load_releases(registry)
    options = _options(args)
    ctx = job_context(args, options)
    if args.checkpoint is not None:
        ev = plan_checkpoint(
            registry,
            args.checkpoint,
            args.like,
            options,
            mask_seeds,
            known_layouts(releases),
            args.bn_reestimate,
        )
        plan = ReleasePlan(evals=[ev])
    else:
        selected = releases.select(args.selector)
        plan = plan_releases(
            registry,
            releases,
            selected,
            options,
            ctx.weights_root,
            mask_seeds,
            args.bn_reestimate,
        )
    for release, reason in plan.skipped:
        print(f"{release.id}: skipped ({reason})")
    for release, path in plan.absent:
        print(f"{release.id}: absent ({path} not found; {release.origin})")
    for release in plan.unmapped:
        print(f"{release.id}: unmapped ({release.unmapped})")
    for ev in plan.evals:
        bn = f"; BatchNorm re-estimated ({ev.bn_reestimate})" if ev.bn_reestimate else ""
        print(f"{ev.name} [{ev.hash}]: {ev.checkpoint_file}; {len(ev.conditions)} conditions{bn}")
    if args.dry_run or not plan.evals:
        if not plan.evals:
            print("no file to evaluate")
        return 0
    from benchmark.launch.release_jobs import evaluate_releases

    statuses = evaluate_releases(plan, ctx, options, force=args.force)
    _print_summary(plan, releases, ctx.results_dir)
    return 1 if "failed" in statuses else 0


def _print_summary(plan, releases, folder: Path) -> None:
    # Here, not at the top: the report package draws with matplotlib, which no other verb
    # needs at start-up.
    from benchmark.report.published_section import condition_values, mean_std
    from benchmark.report.wording import fmt, fmt_mean_std
    from benchmark.store.results import load_result

    rows = []
    for ev in plan.evals:
        loaded = load_result(folder, ev.hash)
        data = loaded.data if loaded.problem is None else None
        release = releases.releases.get(ev.name)
        reported = release.reported.get("mAP") if release else None
        if not loaded.done:
            rows.append([ev.name, fmt(reported), "—", "—", (data or {}).get("error", "failed")])
            continue
        values = condition_values(data)
        clean = values.get("clean", {}).get("mAP", [])
        high = values.get("high", {}).get("mAP", [])
        high_text = fmt_mean_std(*mean_std(high)) if high else "—"
        rows.append([ev.name, fmt(reported), fmt(clean[0]) if clean else "—", high_text, "done"])
    headers = ["evaluation", "reported mAP", "clean mAP", "Table 6 setting mAP", "status"]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    modes = {ev.bn_reestimate for ev in plan.evals} - {None}
    if modes:  # the report shows files as published (experiment.file_evaluations)
        print(
            f"BatchNorm statistics re-estimated ({', '.join(sorted(modes))}) on the training "
            "images before scoring, weights untouched: not the files as published (docs/claims.md)"
        )
        print(f"results in {folder}")
        return
    print(f"results in {folder}; `benchmark report --profile {plan_profile(plan)}` shows them")


def plan_profile(plan) -> str:
    return plan.evals[0].run.profile
