"""`benchmark claims`: each claim of the paper measured — paired difference, 95 % interval,
verdict — from the per-image predictions in a results folder (the report's Claims section)."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from benchmark.cli.options import add_common, plan_options, results_dir
from benchmark.errors import UserError

CHECKPOINTS = ("best", "last", "val_best")


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "claims", help="the paper's claims: paired differences, 95 % intervals and verdicts"
    )
    p.add_argument(
        "selector",
        nargs="?",
        default="all",
        help="all | table4 | a glob over claim ids (t4.*, control.*) (default: all)",
    )
    add_common(p, seeds_from_results=True)
    p.add_argument("--json", action="store_true", help="one JSON object per claim")
    p.add_argument(
        "--resamples",
        type=int,
        default=None,
        help="bootstrap replicates (default: 1,000, benchmark.stats.DEFAULT_RESAMPLES)",
    )
    p.add_argument(
        "--checkpoint",
        choices=CHECKPOINTS,
        default="best",
        help="which epoch a training side is read at: best (on test, the paper's protocol), "
        "last, or val_best (best on the held-out validation split) (default: best)",
    )
    p.set_defaults(func=cmd_claims)


def cmd_claims(args: argparse.Namespace) -> int:
    from benchmark.claims import load_claims, measure_claims, select_claims
    from benchmark.recipe_rule import check_baselines
    from benchmark.regime_rule import check_regime
    from benchmark.registry import load_registry
    from benchmark.report.claims import (
        CELL_HEADERS,
        HEADERS,
        REGIME_HEADERS,
        RULE_HEADERS,
        SCALE_HEADERS,
        feature_cell_row,
        object_scale_row,
        recipe_rule_caption,
        recipe_rule_row,
        regime_baseline_row,
        regime_rule_caption,
        row,
        rule_text,
        untestable_text,
    )
    from benchmark.report.claims import measure_options as to_measure_options
    from benchmark.stats import DEFAULT_RESAMPLES

    resamples = DEFAULT_RESAMPLES if args.resamples is None else args.resamples
    if resamples < 1:
        raise UserError(f"--resamples: must be at least 1, got {resamples}")
    registry = load_registry(args.experiments)
    claims = select_claims(load_claims(registry), args.selector)
    options = to_measure_options(
        plan_options(args), checkpoint=args.checkpoint, resamples=resamples
    )
    results = measure_claims(registry, claims, results_dir(args), options)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    print(tabulate([row(r) for r in results], headers=list(HEADERS), disable_numparse=True))
    print()
    print(rule_text(results).replace("**", ""))
    regime = check_regime(registry, results_dir(args), options)
    if regime is not None:  # the profile's regime rule (mini v3): every part, measured
        print(f"\n{regime_rule_caption(options.profile)}")
        rows = [regime_baseline_row(c) for c in regime.baselines]
        print(tabulate(rows, headers=list(REGIME_HEADERS), disable_numparse=True))
        print()
        rows = [object_scale_row(c) for c in regime.datasets]
        print(tabulate(rows, headers=list(SCALE_HEADERS), disable_numparse=True))
        print()
        rows = [feature_cell_row(c) for c in regime.backbones]
        print(tabulate(rows, headers=list(CELL_HEADERS), disable_numparse=True))
        if untestable_text(results, "regime"):
            print(f"\n{untestable_text(results, 'regime')}")
    caption = None if regime is not None else recipe_rule_caption(options.profile)
    if caption:  # the profile's recipe rule (mini v2): which baselines pass it
        checks = check_baselines(registry, results_dir(args), options)
        print(f"\n{caption}")
        rows = [recipe_rule_row(c) for c in checks]
        print(tabulate(rows, headers=list(RULE_HEADERS), disable_numparse=True))
        if untestable_text(results):
            print(f"\n{untestable_text(results)}")
    reasons = [f"  {r.claim.id}: {r.reason}" for r in results if r.reason]
    if reasons:
        print("\nNot measured, or measured on fewer seeds:")
        print("\n".join(reasons))
    return 0
