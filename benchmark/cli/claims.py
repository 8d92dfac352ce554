"""`benchmark claims`: each claim of the paper measured — paired difference, 95 % interval,
verdict — from the per-image predictions in a results folder (the report's Claims section)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from tabulate import tabulate

from benchmark.claims.claim_registry import load_claims, select_claims
from benchmark.claims.recipe_rule import check_baselines
from benchmark.cli.settings import Results, add_results_flags, results_from
from benchmark.errors import UserError
from benchmark.experiment.registry import load_registry

CHECKPOINTS = ("best", "last", "val_best")


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "claims", help="the paper's claims: paired differences, 95 %% intervals and verdicts"
    )
    p.add_argument(
        "selector",
        nargs="?",
        default="all",
        help="all | table4 | a glob over claim ids (t4.*, control.*) (default: all)",
    )
    add_results_flags(p, seeds="held")
    p.add_argument("--json", action="store_true", help="one JSON object per claim")
    p.add_argument(
        "--resamples",
        type=int,
        default=None,
        help="bootstrap replicates (default: 1,000, benchmark.scoring.bootstrap.DEFAULT_RESAMPLES)",
    )
    p.add_argument(
        "--checkpoint",
        choices=CHECKPOINTS,
        default="best",
        help="which epoch a training side is read at: best (on test, the paper's protocol), "
        "last, or val_best (best on the held-out validation split) (default: best)",
    )
    p.set_defaults(func=cmd_claims)


@dataclass(frozen=True)
class ClaimsSettings:
    selector: str
    results: Results
    json: bool
    resamples: int  # bootstrap replicates
    checkpoint: str  # the epoch a training side is read at

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClaimsSettings:
        from benchmark.scoring.bootstrap import DEFAULT_RESAMPLES  # numpy and scipy: this verb

        resamples = DEFAULT_RESAMPLES if args.resamples is None else args.resamples
        if resamples < 1:
            raise UserError(f"--resamples: must be at least 1, got {resamples}")
        return cls(args.selector, results_from(args), args.json, resamples, args.checkpoint)


def cmd_claims(args: argparse.Namespace) -> int:
    s = ClaimsSettings.from_args(args)
    # scipy (the bootstrap) and pandas (the report's sections): this verb only
    from benchmark.claims.measurement import measure_claims
    from benchmark.report.claims_section import HEADERS, row, rule_text, untestable_text
    from benchmark.report.claims_section import measure_options as to_measure_options
    from benchmark.report.regime_section import grid, paragraph, profile_regime

    registry = load_registry(s.results.experiments)
    claims = select_claims(load_claims(registry), s.selector)
    options = to_measure_options(s.results.plan, checkpoint=s.checkpoint, resamples=s.resamples)
    checks = check_baselines(registry, s.results.folder, options)  # once: measuring reads them
    results = measure_claims(registry, claims, s.results.folder, options, checks)
    if s.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    print(tabulate([row(r) for r in results], headers=list(HEADERS), disable_numparse=True))
    print()
    print(rule_text(results).replace("**", ""))
    regime = profile_regime(registry, s.results.folder, options, checks)
    if regime is not None:  # the profile's rule (mini): every part, measured
        print(f"\n{regime.caption}")
        for kind, text in paragraph(regime):
            print(f"  {kind}: {text}")
        for table in regime.tables:
            headers, rows = grid(table)
            print(f"\n{table.title}")
            print(tabulate(rows, headers=headers, disable_numparse=True))
        if untestable_text(results):
            print(f"\n{untestable_text(results)}")
    reasons = [f"  {r.claim.id}: {r.reason}" for r in results if r.reason]
    reasons += [
        f"  {r.claim.id} (BN-matched): {r.matched.reason}"
        for r in results
        if r.matched is not None and r.matched.reason
    ]
    if reasons:
        print("\nNot measured, damaged, or measured on fewer seeds:")
        print("\n".join(reasons))
    return 0
