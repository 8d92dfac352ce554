"""The small/occluded breakdown: which positives count, and what their mAP means."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.data import build_dataset
from benchmark.data.records import InstanceBuilder
from benchmark.data.synthetic import synthesize
from benchmark.scoring.breakdown import breakdown, subset_map, subset_positives
from benchmark.scoring.metrics import IGNORE_ALL


def table(samples):
    """InstanceTable from ``samples[i] = [(cls, area_frac, occluded, truncated), ...]``."""
    builder = InstanceBuilder()
    for objects in samples:
        builder.start_sample()
        for cls, area, occluded, truncated in objects:
            builder.add(cls=cls, area_frac=area, occluded=occluded, truncated=truncated)
    return builder.build()


def test_a_positive_counts_only_when_all_its_instances_are_in_the_subset():
    instances = table(
        [
            [(0, 0.01, 0.0, False)],  # small, visible
            [(0, 0.01, 0.0, False), (0, 0.2, 0.0, False)],  # one small, one large: not small
            [(1, 0.3, 0.7, False)],  # large, mostly hidden
            [(1, 0.3, None, True)],  # real VOC: no measured occlusion, truncated → occluded
            [(1, 0.3, None, None)],  # real COCO: nothing known → not occluded
        ]
    )
    targets = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]])
    masks = subset_positives(instances, targets)
    assert masks["small"][:, 0].tolist() == [True, False, False, False, False]
    assert masks["occluded"][:, 1].tolist() == [False, False, True, True, False]
    assert not masks["small"][:, 1].any()


def test_subset_map_ranks_the_subset_positives_against_every_negative():
    # class 0: the small positive (row 0) is ranked first, the large one (row 1) last
    scores = np.array([[0.9], [0.1], [0.5], [0.4]], dtype=np.float32)
    targets = np.array([[1], [1], [0], [0]])
    keep = np.array([[True], [False], [False], [False]])
    value, used = subset_map(scores, targets, keep)
    assert (value, used) == (pytest.approx(100.0), 1)
    # ranking the other positive first changes nothing: it is left out, not a negative
    scores[1, 0] = 0.95
    assert subset_map(scores, targets, keep)[0] == pytest.approx(100.0)
    # a negative above the subset positive halves its precision
    scores[2, 0] = 0.99
    assert subset_map(scores, targets, keep)[0] == pytest.approx(50.0)


def test_breakdown_keeps_ignore_codes_and_reports_empty_subsets_as_none():
    instances = table([[(0, 0.5, None, None)], [(0, 0.5, None, None)], []])
    targets = np.array([[1], [IGNORE_ALL], [0]])
    result = breakdown(np.array([[0.8], [0.9], [0.1]], dtype=np.float32), targets, instances)
    assert result == {
        "mAP_small": None,
        "positives_small": 0,
        "mAP_occluded": None,
        "positives_occluded": 0,
    }


def test_breakdown_follows_dataset_indices_when_a_sample_was_skipped():
    instances = table([[(0, 0.01, 0.0, False)], [(0, 0.5, 0.0, False)], []])
    # row 1 (the large positive) could not be decoded: only rows 0 and 2 were scored
    scores = np.array([[0.2], [0.6]], dtype=np.float32)
    targets = np.array([[1], [0]])
    result = breakdown(scores, targets, instances, indices=np.array([0, 2]))
    assert result["positives_small"] == 1
    assert result["mAP_small"] == pytest.approx(50.0)


@pytest.mark.parametrize("dataset", ["voc2007", "coco2014", "wider"])
def test_synthetic_scenes_have_small_and_occluded_positives(tmp_path, dataset):
    root = synthesize(dataset, tmp_path / dataset, 4, 60, 96, seed=0)
    test_set = build_dataset(
        dataset, root, "test", img_size=64, train=False, augment="flip", normalize="unit"
    )
    targets = test_set.targets.numpy()
    result = breakdown(np.random.default_rng(0).random(targets.shape), targets, test_set.instances)
    assert result["positives_occluded"] > 0 and not math.isnan(result["mAP_occluded"])
    if dataset == "wider":  # synthetic people always fill more than 2 % of their image
        assert result["positives_small"] == 0 and result["mAP_small"] is None
    else:
        assert result["positives_small"] > 10 and not math.isnan(result["mAP_small"])
