"""Paired interval of a metric difference between two models (or two sets of seeds).

A claim says "A beats B by d points". With per-image predictions of A and B on the same test
images, one seed or several, the uncertainty of the measured difference has two sources: which
seeds were trained, and which test images were drawn. Each replicate of the interval adds the
two:

1. **images**: the test images are resampled with replacement (the same draw for both sides and
   for every seed: the difference is paired, image by image), the metric of every model is
   recomputed on the resampled images, and A − B is averaged over the seeds;
2. **seeds**: a Student t value T with n − 1 degrees of freedom (a stratified draw), scaled
   by the standard error of the per-seed differences on all test images, s/√n (nothing with
   one seed); each image resample is taken once with +T and once with −T, so swapping A and B
   mirrors the interval.

The 2.5 and 97.5 percentiles of the replicates give the 95 % interval. Resampling the seeds
instead (a bootstrap over n = 3 seeds) would put the seed part near [min, max] of the per-seed
differences — about three times narrower than the t interval on the same numbers, covering the
true difference far less often than 95 % (tests/test_seed_coverage.py). With the image part
removed the interval is exactly the Student t interval mean ± t(n−1)·s/√n; with one seed it is
the image bootstrap alone (image noise only: docs/claims.md says what a verdict on it means).

The metric is recomputed exactly as ``benchmark.scoring.metrics.score`` would on the resampled rows
(with the rows in their original order, so tied scores rank as they do there), but without
materialising them: a resample is a vector of per-image counts, and each model's ranking is
sorted once. AP then needs, for every positive, the weighted number of valid images ranked above
it, which is one sparse matrix product for a batch of replicates; a positive drawn k times at
weighted rank R₀ (positives P₀) adds Σ_{t=1..k} (P₀+t)/(R₀+t) = k − (R₀−P₀)(H(R₀+k) − H(R₀)),
with H the harmonic numbers. The thresholded metrics are weighted counts (a dense product).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.special

from benchmark.scoring.metrics import IGNORE_ALL, METRIC_NAMES, THRESHOLD, average_precision

DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
_BATCH = 32  # replicates per sparse product: enough to amortise, small enough for COCO memory


class ModelScorer:
    """One model's predictions, prepared to score many image resamples fast."""

    def __init__(self, probs: np.ndarray, targets: np.ndarray):
        probs = np.asarray(probs)
        targets = np.asarray(targets, dtype=np.int8)
        if probs.ndim != 2 or probs.shape != targets.shape:
            raise ValueError(f"probs {probs.shape} and targets {targets.shape} must match (N×C)")
        self.num_images, self.num_classes = probs.shape
        self._probs, self._targets = probs, targets  # ranked once mAP is first asked for
        self._ranked = False
        counted = targets != IGNORE_ALL  # -2 counts as a negative in the thresholded metrics
        predicted = (probs >= THRESHOLD) & counted
        truth = (targets == 1) & counted
        self._tp = (predicted & truth).astype(np.float32)
        self._pred = predicted.astype(np.float32)
        self._gt = truth.astype(np.float32)

    def _prepare_ap(self, probs: np.ndarray, targets: np.ndarray) -> None:
        """Per class, in ranking order: the positives, and each valid negative's bin (how many
        of the class's positives rank above it), as one sparse bins × images matrix."""
        order = _descending_stable_order(probs)
        pos_images, pos_class, bin_rows, bin_cols = [], [], [], []
        self._bin_start = np.zeros(self.num_classes + 1, dtype=np.int64)
        bins_so_far = 0
        for c in range(self.num_classes):
            ranked = targets[order[c], c]
            is_pos = ranked == 1
            is_neg = ranked == 0
            positives_above = np.cumsum(is_pos) - is_pos  # positives strictly above each row
            pos_images.append(order[c][is_pos])
            pos_class.append(np.full(int(is_pos.sum()), c))
            bin_rows.append(bins_so_far + positives_above[is_neg])
            bin_cols.append(order[c][is_neg])
            bins_so_far += int(is_pos.sum()) + 1
            self._bin_start[c + 1] = bins_so_far
        self._pos_images = np.concatenate(pos_images).astype(np.int64)
        self._pos_class = np.concatenate(pos_class).astype(np.int64)
        rows = np.concatenate(bin_rows)
        cols = np.concatenate(bin_cols)
        self._neg_bins = scipy.sparse.csr_matrix(
            (np.ones(rows.size, dtype=np.float32), (rows, cols)),
            shape=(bins_so_far, self.num_images),
        )
        # positives are grouped by class; a positive's bin holds the negatives just above it
        self._pos_count = np.bincount(self._pos_class, minlength=self.num_classes)
        self._pos_first = np.concatenate(([0], np.cumsum(self._pos_count)[:-1]))
        rank_in_class = np.arange(self._pos_images.size) - self._pos_first[self._pos_class]
        self._pos_bin = self._bin_start[self._pos_class] + rank_in_class

    def scores(self, weights: np.ndarray, metrics: tuple[str, ...] = ("mAP",)) -> dict:
        """Each metric (percent) for each row of ``weights`` (replicates × images counts)."""
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float32))
        out: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
        for start in range(0, weights.shape[0], _BATCH):
            chunk = weights[start : start + _BATCH]
            if "mAP" in metrics:
                if not self._ranked:
                    self._prepare_ap(self._probs, self._targets)
                    self._ranked = True
                out["mAP"].append(self._map(chunk))
            thresholded = [m for m in metrics if m != "mAP"]
            if thresholded:
                values = self._thresholded(chunk)
                for m in thresholded:
                    out[m].append(values[m])
        return {m: np.concatenate(v) for m, v in out.items()}

    def _map(self, w: np.ndarray) -> np.ndarray:
        # Laid out entries × replicates, so every gather below copies contiguous rows.
        w_t = np.ascontiguousarray(w.T)  # images × b
        neg_cum = np.cumsum(self._neg_bins @ w_t, axis=0, dtype=np.float64)  # bins × b
        # weighted negatives ranked above each positive: through its own bin, within its class
        before_class = np.vstack((np.zeros((1, w_t.shape[1])), neg_cum))
        neg_above = neg_cum[self._pos_bin] - before_class[self._bin_start[self._pos_class]]
        k = w_t[self._pos_images]  # positives × b: how often each positive was drawn
        pos_cum = np.cumsum(k, axis=0)
        before_pos = np.vstack((np.zeros((1, w_t.shape[1]), np.float32), pos_cum))
        pos_above = pos_cum - k - before_pos[self._pos_first[self._pos_class]]
        r0 = (pos_above + neg_above).astype(np.int64)  # exact: counts stay far below 2**24
        harmonic = _harmonic(self.num_images + 1)
        gain = k - neg_above * (harmonic[r0 + k.astype(np.int64)] - harmonic[r0])
        ap_sum = _per_class_sums(gain, self._pos_first, self._pos_count)
        n_pos = _per_class_sums(k, self._pos_first, self._pos_count)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = ap_sum / n_pos  # classes × b
        ap[n_pos == 0] = np.nan
        present = ~np.isnan(ap)
        count = present.sum(axis=0)
        total = np.where(present, ap, 0.0).sum(axis=0)
        return np.where(count > 0, total / np.maximum(count, 1) * 100, np.nan)

    def _thresholded(self, w: np.ndarray) -> dict[str, np.ndarray]:
        tp, pred, gt = (w.astype(np.float64) @ m for m in (self._tp, self._pred, self._gt))
        cp = (tp / np.maximum(pred, 1)).mean(axis=1)
        cr = (tp / np.maximum(gt, 1)).mean(axis=1)
        op = tp.sum(axis=1) / np.maximum(pred.sum(axis=1), 1)
        orc = tp.sum(axis=1) / np.maximum(gt.sum(axis=1), 1)
        return {
            "CP": cp * 100,
            "CR": cr * 100,
            "CF1": _f1(cp, cr) * 100,
            "OP": op * 100,
            "OR": orc * 100,
            "OF1": _f1(op, orc) * 100,
        }


def _descending_stable_order(probs: np.ndarray) -> np.ndarray:
    """C×N ranking as benchmark.scoring.metrics ranks: descending, ties in row order."""
    return np.argsort(-np.asarray(probs, dtype=np.float64).T, axis=1, kind="stable")


def _per_class_sums(values: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Sums of the rows of each class (rows grouped by class, in class order): classes × b."""
    cum = np.vstack((np.zeros((1, values.shape[1])), np.cumsum(values, axis=0, dtype=np.float64)))
    return cum[first + count] - cum[first]


def _harmonic(n: int) -> np.ndarray:
    """H(0..n) in float64."""
    return np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, n + 1))))


def _f1(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)


def mean_ap(probs: np.ndarray, targets: np.ndarray) -> float:
    ap = average_precision(np.asarray(probs, dtype=np.float64), targets)
    return float(np.nanmean(ap)) * 100 if np.any(~np.isnan(ap)) else float("nan")


def full_score(probs: np.ndarray, targets: np.ndarray, metric: str) -> float:
    """The metric on every test image once (what a result records), as
    benchmark.scoring.metrics computes it."""
    if metric == "mAP":
        return mean_ap(probs, targets)
    weights = np.ones((1, len(probs)))
    return float(ModelScorer(probs, targets).scores(weights, (metric,))[metric][0])


@dataclass(frozen=True)
class PairedDifference:
    """A − B for one metric: per seed on all test images, and its bootstrap interval."""

    metric: str
    per_seed: tuple[float, ...]  # A − B on the full test set, one per seed
    low: float
    high: float
    resamples: int
    seeds: int
    images: int
    confidence: float = CONFIDENCE

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_seed))

    @property
    def sd(self) -> float | None:
        """Standard deviation over seeds (n − 1); None with a single seed."""
        return float(np.std(self.per_seed, ddof=1)) if len(self.per_seed) > 1 else None


def image_weights(n: int, resamples: int, seed: int):
    """Batches of per-image draw counts (replicates × images), the same for a given seed."""
    rng = np.random.default_rng([seed, 1])
    for start in range(0, resamples, _BATCH):
        rows = min(_BATCH, resamples - start)
        draws = rng.integers(0, n, size=(rows, n))
        flat = (draws + n * np.arange(rows)[:, None]).ravel()  # one bincount for the batch
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float32)


def replicate_scores(
    probs: np.ndarray, targets: np.ndarray, metric: str, resamples: int, seed: int
) -> np.ndarray:
    """One model's metric under each of the seeded image resamples."""
    scorer = ModelScorer(probs, targets)
    return np.concatenate(
        [scorer.scores(w, (metric,))[metric] for w in image_weights(len(probs), resamples, seed)]
    )


def paired_bootstrap(
    side_a: list[tuple[np.ndarray, np.ndarray]],
    side_b: list[tuple[np.ndarray, np.ndarray]],
    metric: str = "mAP",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    cache: dict | None = None,
) -> PairedDifference:
    """95 % interval of mean(A) − mean(B) over seeds: the paired image bootstrap plus a Student
    t seed term (see the module's docstring).

    ``side_a[s]`` and ``side_b[s]`` are (probs, targets) of seed s; every model must cover the
    same N test images in the same row order (row i is the same image everywhere), which is what
    makes the difference paired. Seeded: the same inputs give the same interval.
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r} (one of {', '.join(METRIC_NAMES)})")
    if not side_a or len(side_a) != len(side_b):
        raise ValueError(f"need the same number of seeds on both sides ({len(side_a)} vs "
                         f"{len(side_b)})")  # fmt: skip
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    n = side_a[0][0].shape[0]
    for probs, _ in [*side_a, *side_b]:
        if probs.shape[0] != n:
            raise ValueError(f"every model must score the same {n} test images")
    per_seed = tuple(
        full_score(pa, ta, metric) - full_score(pb, tb, metric)
        for (pa, ta), (pb, tb) in zip(side_a, side_b, strict=True)
    )
    # The image draws depend only on (seed, n, resamples), so every claim on one test set
    # resamples the same images, and a model's replicate scores can be reused across the claims
    # it appears in (``cache``).
    cache = {} if cache is None else cache

    def scores(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        key = (id(probs), id(targets), metric, n, resamples, seed)
        if key not in cache:
            values = replicate_scores(probs, targets, metric, resamples, seed)
            cache[key] = (probs, targets, values)  # holding the arrays keeps their ids unique
        return cache[key][2]

    diff = np.stack(  # seeds × resamples: A − B per seed under every image resample
        [scores(*a) - scores(*b) for a, b in zip(side_a, side_b, strict=True)]
    )
    images = np.nanmean(diff, axis=0)
    # Each image resample with +T and with −T (antithetic draws): the replicates stay
    # symmetric about the image part, so swapping A and B mirrors the interval exactly.
    t = seed_term(per_seed, resamples, seed)
    replicate = np.concatenate((images + t, images - t))
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.nanquantile(replicate, [alpha, 1 - alpha])
    return PairedDifference(metric, per_seed, float(low), float(high), resamples, len(side_a), n)


def seed_term(per_seed: tuple[float, ...], resamples: int, seed: int) -> np.ndarray:
    """The seed level of each replicate: (s/√n)·T, T from Student's t with n − 1 degrees of
    freedom and s the standard deviation of the n per-seed differences; zeros with one seed (no
    seed variation is measured: the interval is then image noise only).

    T takes the t distribution's quantiles at (r + ½)/resamples, in a seeded random order: a
    stratified draw, so the heavy tails of t with 1 or 2 degrees of freedom are represented
    exactly rather than by a noisy sample of them."""
    n = len(per_seed)
    if n < 2:
        return np.zeros(resamples)
    spread = float(np.std(per_seed, ddof=1)) / np.sqrt(n)
    quantiles = scipy.special.stdtrit(n - 1, (np.arange(resamples) + 0.5) / resamples)
    return spread * np.random.default_rng([seed, 2]).permutation(quantiles)
