"""The paper's multi-label metrics (docs/spec.md §3), vectorised over classes.

Target codes: 1 positive, 0 negative, -1 ignored in every metric (VOC difficult-only),
-2 ignored in AP but counted as negative in the thresholded metrics (WIDER unspecified).
Scores are probabilities. Everything returned is in percent, unrounded.

Tied scores: AP depends on where tied entries fall in the ranking. ``tie_order="stable"`` (the
suite's default) ranks ties in input order: deterministic on every machine and NumPy version.
``tie_order="authors"`` ranks each class as the authors' code does (CSRA's ``cal_mAP``: drop the
ignored entries, then ``np.argsort(-scores)`` with NumPy's default, unstable kind, on float64);
the paper profile uses it. NumPy's default sort is not specified for ties, so that order can
change with the NumPy version and the CPU's SIMD sort; it is the authors' procedure, run here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_ALL = -1
IGNORE_AP = -2
TARGET_CODES = (1, 0, IGNORE_ALL, IGNORE_AP)
THRESHOLD = 0.5  # a probability of exactly 0.5 counts as predicted positive (logit >= 0)
METRIC_NAMES = ("mAP", "CP", "CR", "CF1", "OP", "OR", "OF1")
TIE_ORDERS = ("stable", "authors")


@dataclass
class Scores:
    """Per-class AP and the paper's summary metrics, in percent."""

    mAP: float
    CP: float
    CR: float
    CF1: float
    OP: float
    OR: float
    OF1: float
    AP: list[float | None]  # None for a class without positives (excluded from mAP)

    @property
    def classes_without_positives(self) -> list[int]:
        return [i for i, ap in enumerate(self.AP) if ap is None]

    def to_dict(self) -> dict:
        data = {name: getattr(self, name) for name in METRIC_NAMES}
        data["AP"] = self.AP
        data["classes_without_positives"] = self.classes_without_positives
        return data


def average_precision(
    scores: np.ndarray, targets: np.ndarray, tie_order: str = "stable"
) -> np.ndarray:
    """Non-interpolated AP per class; NaN where a class has no positives.

    Entries coded -1 or -2 are dropped before ranking. With ``tie_order="stable"`` ties are
    ranked in input order, so with tie-free scores this equals sklearn's
    ``average_precision_score``; ``"authors"`` ranks as the authors' code (module docstring).
    Only the positives' ranks are needed: the k-th positive of a class at valid rank r adds
    k / r, so no full-length cumulative sum is built unless some entries are ignored.
    """
    if tie_order not in TIE_ORDERS:
        raise ValueError(f"tie_order: unknown value {tie_order!r} (allowed: stable, authors)")
    if tie_order == "authors":
        return _authors_average_precision(np.asarray(scores), np.asarray(targets))
    scores_t = np.ascontiguousarray(np.asarray(scores).T)  # C×N: rows sort fast
    targets_t = np.ascontiguousarray(np.asarray(targets, dtype=np.int8).T)
    ranked = np.take_along_axis(targets_t, _descending_stable_order(scores_t), axis=1)
    rows, cols = np.nonzero(ranked == 1)  # row-major: each class's positives in rank order
    n_pos = np.bincount(rows, minlength=ranked.shape[0])
    first = np.concatenate(([0], np.cumsum(n_pos)[:-1]))
    k = np.arange(1, rows.size + 1) - first[rows]  # 1-based index among the class's positives
    rank = cols + 1
    ignored = (ranked != 0) & (ranked != 1)
    if ignored.any():
        rank = rank - np.cumsum(ignored, axis=1, dtype=np.int32)[rows, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.bincount(rows, weights=k / rank, minlength=ranked.shape[0]) / n_pos
    ap[n_pos == 0] = np.nan
    return ap


def _authors_average_precision(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """AP per class in the authors' ranking: per class, keep the entries coded 0 or 1, then
    ``np.argsort(-s)`` (default kind) on float64 scores, as their JSON round trip gives them."""
    ap = np.full(scores.shape[1], np.nan)
    for c in range(scores.shape[1]):
        valid = (targets[:, c] == 0) | (targets[:, c] == 1)
        ranked = targets[valid, c][np.argsort(-scores[valid, c].astype(np.float64))]
        rank = np.flatnonzero(ranked == 1) + 1
        if rank.size:
            ap[c] = float(np.mean(np.arange(1, rank.size + 1) / rank))
    return ap


def _descending_stable_order(scores_t: np.ndarray) -> np.ndarray:
    """Row-wise argsort by descending score, ties in input order.

    Fast path: when the scores are exactly representable in float32 (model outputs are), pack
    an order-preserving 32-bit image of each score with its index into one uint64 key and sort
    the keys (an unstable SIMD sort is exact here because the keys are unique). Otherwise fall
    back to numpy's stable argsort.
    """
    single = scores_t.astype(np.float32) + np.float32(0.0)  # also folds -0.0 into 0.0
    if not np.array_equal(single, scores_t):
        return np.argsort(-scores_t, axis=1, kind="stable")
    bits = single.view(np.uint32)
    flip = np.where(bits >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    descending = ~(bits ^ flip)  # larger score → smaller key
    keys = descending.astype(np.uint64) << np.uint64(32)
    keys |= np.arange(scores_t.shape[1], dtype=np.uint64)
    keys.sort(axis=1)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.intp)


def score(scores: np.ndarray, targets: np.ndarray, tie_order: str = "stable") -> Scores:
    """All of docs/spec.md §3 for an N×C score matrix and target matrix (``tie_order``: see the
    module docstring; it changes AP only)."""
    scores = np.asarray(scores)
    if scores.dtype != np.float32:  # model outputs stay float32: no 2× copy to rank them
        scores = scores.astype(np.float64)
    targets = np.asarray(targets)
    validate(scores, targets)
    ap = average_precision(scores, targets, tie_order)
    mean_ap = float(np.nanmean(ap)) * 100 if np.any(~np.isnan(ap)) else float("nan")

    counted = targets != IGNORE_ALL  # -2 counts as a negative here
    predicted = (scores >= THRESHOLD) & counted
    truth = (targets == 1) & counted
    tp = (predicted & truth).sum(axis=0).astype(np.float64)
    # As the authors' code (CSRA's cal_PR): a class without any prediction counts as one
    # prediction, per class and before the sums, so it lowers OP as well as CP.
    n_pred = np.maximum(predicted.sum(axis=0), 1).astype(np.float64)
    n_gt = truth.sum(axis=0).astype(np.float64)

    cp = float(np.mean(tp / n_pred))
    # A class with no ground truth contributes recall 0 (its TP is 0), where the authors' code
    # divides 0 by 0 and reports NaN; only the division is guarded.
    cr = float(np.mean(tp / np.maximum(n_gt, 1)))
    op = float(tp.sum() / n_pred.sum())
    orc = float(tp.sum() / max(n_gt.sum(), 1))
    return Scores(
        mAP=mean_ap,
        CP=cp * 100,
        CR=cr * 100,
        CF1=_f1(cp, cr) * 100,
        OP=op * 100,
        OR=orc * 100,
        OF1=_f1(op, orc) * 100,
        AP=[None if np.isnan(a) else float(a) * 100 for a in ap],
    )


def validate(scores: np.ndarray, targets: np.ndarray) -> None:
    """Raise ValueError (with a row where useful) for inputs the metrics cannot score."""
    if scores.ndim != 2 or targets.ndim != 2:
        raise ValueError(
            f"expected N×C matrices, got scores {scores.shape}, targets {targets.shape}"
        )
    if scores.shape != targets.shape:
        raise ValueError(f"shape mismatch: scores {scores.shape} vs targets {targets.shape}")
    bad = ~np.isfinite(scores)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"non-finite score at row {row}")
    if np.issubdtype(targets.dtype, np.integer):  # the codes are the range -2…1
        unknown = (targets < IGNORE_AP) | (targets > 1)
    else:
        unknown = ~np.isin(targets, TARGET_CODES)
    if unknown.any():
        row, col = (int(v) for v in np.argwhere(unknown)[0])
        raise ValueError(
            f"unknown target code {targets[row, col].item()!r} at row {row}, column {col} "
            f"(allowed: 1, 0, -1, -2)"
        )


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
