"""The paper profile scores tied predictions in the authors' order, the others in input order:
for the metrics and for the small/occluded breakdown alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.data.records import InstanceBuilder
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.scoring.metrics import average_precision, score
from benchmark.train.inference import score_predictions

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def tied_predictions(n=2000, classes=5, seed=0):
    """Rounded probabilities (many ties) and one small instance per positive."""
    rng = np.random.default_rng(seed)
    targets = rng.choice([1, 0, 0, 0, -1], size=(n, classes)).astype(np.int8)
    logits = rng.normal(size=targets.shape) + 2.0 * (targets == 1)
    probs = np.round(1 / (1 + np.exp(-logits)), 2).astype(np.float32)
    builder = InstanceBuilder()
    for row in targets:
        builder.start_sample()
        for cls in np.flatnonzero(row == 1):
            builder.add(cls=int(cls), area_frac=0.01, occluded=None, truncated=None)
    return probs, targets, builder.build()


@pytest.mark.parametrize("profile,order", [("paper", "authors"), ("smoke", "stable")])
def test_profiles_rank_ties_in_their_order(profile, order):
    spec = resolve_run(load_registry(EXPERIMENTS), "voc-resnetcut-csra", profile)
    probs, targets, instances = tied_predictions()
    indices = np.arange(len(probs))
    got = score_predictions(probs, targets, instances, indices, spec)
    assert got["mAP"] == pytest.approx(score(probs, targets, order).mAP, abs=1e-12)
    other = "stable" if order == "authors" else "authors"
    assert got["mAP"] != pytest.approx(score(probs, targets, other).mAP, abs=1e-9)
    # every positive is small here: the small subset's mAP is the full mAP, in the same order
    expected_small = 100 * np.nanmean(average_precision(probs, targets, order))
    assert got["mAP_small"] == pytest.approx(expected_small, abs=1e-12)
