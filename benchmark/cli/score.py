"""`benchmark score`: score a file of predictions with the paper's metrics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmark.errors import UserError
from benchmark.scoring.metrics import METRIC_NAMES, TIE_ORDERS, score, validate


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("score", help="score predictions with the paper's metrics")
    p.add_argument("--scores", type=Path, required=True, help=".npy or .csv, N×C probabilities")
    p.add_argument(
        "--targets",
        type=Path,
        required=True,
        help=".npy or .csv, N×C: 1 pos, 0 neg, -1 ignored, -2 ignored in AP only",
    )
    p.add_argument(
        "--tie-order",
        choices=TIE_ORDERS,
        default="stable",
        help="how AP ranks tied scores: input order (default) or the authors' np.argsort order "
        "(the paper profile's; docs/fidelity.md)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)


def _read_matrix(path: Path, what: str) -> np.ndarray:
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


def _check_shapes(args: argparse.Namespace, scores: np.ndarray, targets: np.ndarray) -> None:
    """A shape mismatch names the file with the extra column (or row), not always --targets."""
    for axis, what, meaning in ((1, "column", "one per class"), (0, "row", "one per image")):
        ns, nt = scores.shape[axis], targets.shape[axis]
        if ns != nt:
            extra, other = (args.scores, args.targets) if ns > nt else (args.targets, args.scores)
            more, fewer = max(ns, nt), min(ns, nt)
            raise UserError(
                f"{extra}: {more} {what}s, but {other} has {fewer}: {more - fewer} extra "
                f"{what}{'s' if more - fewer > 1 else ''} ({meaning})"
            )


def cmd_score(args: argparse.Namespace) -> int:
    scores = _read_matrix(args.scores, "scores").astype(np.float64)
    targets = _read_matrix(args.targets, "targets")
    if not np.all(np.isfinite(targets)) or not np.all(targets == np.round(targets)):
        raise UserError(f"{args.targets}: targets must be integer codes 1, 0, -1, -2")
    targets = targets.astype(np.int64)
    _check_shapes(args, scores, targets)
    outside = (scores < 0) | (scores > 1)
    if outside.any():
        print(
            f"benchmark: warning: {args.scores}: {int(outside.sum())} of {scores.size} scores "
            f"outside [0, 1] (min {scores.min():.3g}, max {scores.max():.3g}): these look like "
            "logits, not probabilities; mAP only ranks them, but CP/CR/CF1/OP/OR/OF1 threshold "
            "at 0.5 and mean nothing here (apply a sigmoid first)",
            file=sys.stderr,
        )
    try:
        validate(scores, targets)
    except ValueError as exc:
        name = args.targets if "target" in str(exc) else args.scores
        raise UserError(f"{name}: {exc}") from None
    result = score(scores, targets, args.tie_order)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for name in METRIC_NAMES:
        print(f"{name:>4} {getattr(result, name):6.1f}")
    missing = result.classes_without_positives
    if missing:
        print(f"classes without positives (excluded from mAP): {missing}")
    return 0
