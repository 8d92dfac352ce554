"""What a training run keeps for the claims: per-image predictions, a held-out validation split
and the epoch it selects, the loss-scale control's weight."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.scoring.metrics import score
from benchmark.store.predictions import load_predictions
from benchmark.train.job_context import JobContext
from benchmark.train.loop import train_one_epoch
from benchmark.train.schedule import WarmupStepLR


def test_a_run_keeps_predictions_and_selects_on_a_held_out_split(workdir, capsys):
    assert main(["run", "t4.resnet-cut-csra.voc2007", "--profile", "smoke", "--no-progress"]) == 0
    (folder,) = [p.parent for p in (workdir / "results" / "smoke").glob("*/result.json")]
    result = json.loads((folder / "result.json").read_text())
    kept = result["predictions"]
    assert {"best", "last", "val_best", "epoch_1", "epoch_2"} <= set(kept)
    for key, which in (("best", "best"), ("last", "last"), ("val_best", "val_best")):
        preds = load_predictions(folder / kept[key]["file"], kept[key]["sha256"])
        assert preds.num_images == 18 and preds.image_ids[0] == "500001.jpg"
        # the file scores what the result records: probabilities are stored as float16, whose
        # rounding ties scores, so the recorded mAP lies between the tied file's worst and best
        # tie orders (positives last, positives first)
        low, high = _tie_bounds(preds)
        assert low - 1e-9 <= result["metrics"][which]["mAP"] <= high + 1e-9
    # the validation split: a quarter of the 24 training images, fixed by the seed
    split = result["validation"]
    assert (split["images"], split["train_images"], split["seed"]) == (6, 18, 0)
    assert len(set(split["ids"])) == 6 and all(i.endswith(".jpg") for i in split["ids"])
    val_best = result["metrics"]["val_best"]
    assert val_best["val_mAP"] == max(r["val_mAP"] for r in result["history"])
    same_epoch = load_predictions(folder / kept[f"epoch_{val_best['epoch']}"]["file"])
    chosen = load_predictions(folder / kept["val_best"]["file"])
    np.testing.assert_array_equal(chosen.probs, same_epoch.probs)
    assert result["train_samples_per_s"] > 0 and len(result["history"]) == 2


def _tie_bounds(preds) -> tuple[float, float]:
    """mAP of stored predictions with tied scores ranked positives last, then positives first."""
    probs = preds.probs.astype(np.float64)
    positive = preds.targets == 1
    nudge = 1e-9 * positive  # far below float16's resolution: it only orders ties
    return score(probs - nudge, preds.targets).mAP, score(probs + nudge, preds.targets).mAP


def test_new_fields_stay_out_of_the_hash_at_their_defaults():
    registry = load_registry()
    paper = resolve_run(registry, "voc-resnetcut-csra", "paper")
    assert paper.val_fraction == 0 and "val_fraction" not in paper.identity()
    assert "clean_loss_weight" not in paper.identity()
    assert resolve_run(registry, "voc-resnetcut-csra", "mini").identity()["val_fraction"] == 0.2
    smoke = resolve_run(registry, "voc-resnetcut-csra", "smoke")
    assert smoke.identity()["val_fraction"] == 0.25
    halved = dataclasses.replace(smoke, clean_loss_weight=0.5)
    assert halved.hash != smoke.hash
    assert resolve_run(registry, "voc-resnetcut-csra", "paper").val_fraction == 0


def test_clean_loss_weight_scales_the_supervised_loss():
    """The loss-scale control halves the clean BCE the loop trains on (lr 0: no updates)."""

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.w

        def supervised_loss(self, out, y):
            return torch.nn.functional.binary_cross_entropy_with_logits(out, y)

    spec = resolve_run(load_registry(), "voc-resnetcut-csra-bce-half", "smoke")
    assert spec.clean_loss_weight == 0.5
    batches = [(torch.randn(4, 3), (torch.rand(4, 3) > 0.5).float(), None, []) for _ in range(3)]

    def epoch_loss(run_spec):
        model = Model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        schedule = WarmupStepLR((0.0,), len(batches), 0, 1, 0.1)
        ctx = JobContext(results_dir=".", progress=False)
        loss, seen = train_one_epoch(
            model, batches, optimizer, schedule, run_spec, torch.device("cpu"), None,
            None, 0, ctx, set(),
        )  # fmt: skip
        return loss

    full = epoch_loss(dataclasses.replace(spec, clean_loss_weight=1.0))
    assert epoch_loss(spec) == pytest.approx(full / 2)
