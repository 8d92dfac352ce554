"""The paper's metrics at COCO val2014 scale: the cost every evaluated epoch pays once."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmark.scoring.metrics import score

COCO_VAL_IMAGES = 40_137
COCO_CLASSES = 80
POSITIVE_RATE = 0.03  # COCO averages 2.9 labels per image over 80 classes


def coco_scale_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 probabilities (what a model returns) and 1/0 targets with ~3 % positives.

    Positives score higher on average, so the ranking is as mixed as a real model's, not sorted.
    """
    rng = np.random.default_rng(seed)
    targets = (rng.random((COCO_VAL_IMAGES, COCO_CLASSES)) < POSITIVE_RATE).astype(np.int64)
    logits = rng.normal(size=targets.shape) + 2.5 * targets - 2.0
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    return scores, targets


def metrics_fn(seed: int = 0) -> Callable[[], object]:
    scores, targets = coco_scale_inputs(seed)
    return lambda: score(scores, targets)
