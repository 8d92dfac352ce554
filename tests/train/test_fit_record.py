"""What a training result says about the regime: how the selected checkpoint fits its own
training images (the regime rule's part 1), and which epochs a sparse evaluation scores."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.experiment import profiles
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.train.loop import _bce, evaluated, split_indices


def _result(workdir):
    (path,) = (workdir / "results" / "smoke").glob("*/result.json")
    return json.loads(path.read_text())


def test_a_run_records_how_its_selected_checkpoint_fits_its_training_images(workdir):
    assert main(["run", "t4.resnet-cut.voc2007", "--profile", "smoke", "--no-progress"]) == 0
    result = _result(workdir)
    fit = result["fit"]
    assert fit["epoch"] == result["metrics"]["best"]["epoch"]
    assert fit["test_mAP"] == result["metrics"]["best"]["mAP"]
    assert fit["images"] == 18  # the 24 training images less the 6 held out for validation
    assert fit["gap"] == pytest.approx(fit["train_mAP"] - fit["test_mAP"])
    assert fit["bce_ratio"] == pytest.approx(fit["bce"] / fit["frequency_bce"])
    # the class-frequency BCE, recomputed from the training split's labels
    from benchmark.data.dataset_factory import build_dataset
    from benchmark.train.job_context import JobContext

    spec = resolve_run(load_registry(), "voc-resnetcut-plain", "smoke")
    root = JobContext(results_dir=".", cache_dir=workdir / "cache").dataset_root(spec)
    targets = build_dataset("voc2007", root, "train", img_size=64, train=False).targets.numpy()
    _, fit_idx = split_indices(len(targets), spec)
    labels = (targets[fit_idx] == 1).astype(float)
    p = np.clip(labels.mean(axis=0), 1e-7, 1 - 1e-7)
    expected = -(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean()
    assert fit["frequency_bce"] == pytest.approx(expected)


def test_bce_is_the_mean_binary_cross_entropy():
    probs = np.array([[0.9, 0.2], [0.4, 0.7]])
    labels = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = -np.mean(np.log([0.9, 0.8, 0.6, 0.7]))
    assert _bce(probs, labels) == pytest.approx(expected)
    assert np.isfinite(_bce(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])))  # clipped


def test_a_sparse_evaluation_scores_every_kth_epoch_and_the_last_three():
    spec = dataclasses.replace(
        resolve_run(load_registry(), "voc-resnetcut-csra", "smoke"), epochs=12, eval_every=5
    )
    assert [e for e in range(1, 13) if evaluated(e, spec)] == [5, 10, 11, 12]
    every = dataclasses.replace(spec, eval_every=1)
    assert all(evaluated(e, every) for e in range(1, 13))


def test_a_sparse_run_selects_among_its_evaluated_epochs(workdir, monkeypatch):
    sparse = dataclasses.replace(profiles.PROFILES["smoke"], epochs=5, eval_every=4)
    monkeypatch.setitem(profiles.PROFILES, "smoke", sparse)
    assert main(["run", "t4.resnet-cut.voc2007", "--profile", "smoke", "--no-progress"]) == 0
    result = _result(workdir)
    assert [row["epoch"] for row in result["history"]] == [3, 4, 5]
    assert len(result["train_loss"]) == 5
    assert result["metrics"]["last"]["epoch"] == 5
    best = max(result["history"], key=lambda row: row["mAP"])
    assert result["metrics"]["best"]["epoch"] == best["epoch"]
    assert result["spec"]["eval_every"] == 4
