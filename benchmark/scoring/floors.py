"""Floors for synthetic data: what a scorer that learned nothing, or only the scene, reaches."""

from __future__ import annotations

import numpy as np

from benchmark.scoring.bootstrap import mean_ap

CHANCE_DRAWS = 200  # random scorings averaged for the chance-level mAP


def chance_mean_ap(targets: np.ndarray, draws: int = CHANCE_DRAWS, seed: int = 0) -> float:
    """Mean mAP of uniformly random scores over ``draws`` seeded simulations."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets)
    return float(np.mean([mean_ap(rng.random(targets.shape), targets) for _ in range(draws)]))


def context_scores(
    train_targets: np.ndarray, train_groups: np.ndarray, test_groups: np.ndarray
) -> np.ndarray:
    """Each test image's score per class: the class's positive rate among training images of the
    same context group (the overall rate for a group no training image has)."""
    positive = (np.asarray(train_targets) == 1).astype(np.float64)
    overall = positive.mean(axis=0)
    scores = np.empty((len(test_groups), positive.shape[1]))
    for group in np.unique(test_groups):
        members = train_groups == group
        rate = positive[members].mean(axis=0) if members.any() else overall
        scores[test_groups == group] = rate
    return scores


def floors(
    train_targets: np.ndarray,
    train_groups: np.ndarray,
    test_targets: np.ndarray,
    test_groups: np.ndarray,
    seed: int = 0,
) -> dict[str, float]:
    """``{"chance_mAP", "context_mAP"}`` in percent for one synthetic train/test pair."""
    context = context_scores(train_targets, train_groups, test_groups)
    return {
        "chance_mAP": chance_mean_ap(test_targets, seed=seed),
        "context_mAP": mean_ap(context, np.asarray(test_targets)),
    }
