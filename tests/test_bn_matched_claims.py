"""The BatchNorm-matched measurement from result files (benchmark.claims.measurement and
benchmark.claims.matched): which claims get one, what `benchmark run claims:…` plans for it at
every seed, and that both sides must have been re-estimated on the same images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import (
    MeasureOptions,
    claims_plan,
    matched_specs,
    measure_claims,
)
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.registry import load_registry
from benchmark.store.predictions import Predictions, predictions_path, save_predictions
from benchmark.store.results import write_result

REGISTRY = Path(__file__).resolve().parent.parent / "experiments"


@pytest.fixture(scope="module")
def registry():
    return load_registry(REGISTRY)


@pytest.fixture(scope="module")
def claims(registry):
    return {c.id: c for c in load_claims(registry)}


def test_run_claims_plans_the_matched_evaluations_at_every_seed(registry, claims):
    chosen = [claims[i] for i in ("t2.resnet-cut.voc2007", "t2.vit.voc2007", "t6.voc2007.map")]
    plan = claims_plan(registry, chosen, PlanOptions("mini", (0, 1, 2)))
    matched = [ev for ev in plan.evals.values() if ev.bn_reestimate is not None]
    modes = sorted((ev.run.name, ev.bn_reestimate, ev.run.seed) for ev in matched)
    assert modes == sorted(
        (run, mode, seed)
        for seed in (0, 1, 2)
        for run, mode in (
            ("voc-resnetcut-csra-msl-high", "clean"),
            ("voc-resnetcut-csra", "clean"),
            ("voc-resnetcut-csra-msl-high", "mixed"),
            ("voc-resnetcut-csra", "mixed"),
        )
    )
    assert all(ev.run.hash in plan.runs and ev.checkpoint == "best" for ev in matched)
    clean = [ev for ev in matched if ev.bn_reestimate == "clean"]
    assert all(ev.conditions == ("clean",) for ev in clean)
    mixed = [ev for ev in matched if ev.bn_reestimate == "mixed"]
    assert all("high" in ev.conditions and "bucket:5" in ev.conditions for ev in mixed)
    # no ViT evaluation is planned: a ViT has no BatchNorm to re-estimate
    assert not any("vit" in ev.run.backbone for ev in matched)


def _preds(rng, targets, skill):
    logits = skill * (targets == 1) + rng.standard_normal(targets.shape)
    ids = [f"JPEGImages/{i:05d}.jpg" for i in range(len(targets))]
    return Predictions.build(1 / (1 + np.exp(-logits)), ids, targets)


def _matched_result(results: Path, spec, key: str, preds: Predictions, batchnorm: dict) -> None:
    folder = results / spec.hash
    path = predictions_path(folder, key)
    listed = {
        path.stem: {"file": str(path.relative_to(folder)), "sha256": save_predictions(path, preds)}
    }
    write_result(
        results,
        {"kind": "eval", "hash": spec.hash, "name": spec.name, "status": "done",
         "spec": spec.to_dict(), "predictions": listed, "batchnorm": batchnorm},
    )  # fmt: skip


@pytest.mark.parametrize(
    "digest_b, status, reason",
    [
        ("same", "measured", ""),
        ("other", "invalid", "seed 0: the sides' BatchNorm statistics were re-estimated on "
                             "different images"),
        (None, "pending", "does not record the images it was re-estimated on"),
    ],
)  # fmt: skip
def test_matched_sides_must_share_their_re_estimation_images(
    tmp_path, registry, claims, digest_b, status, reason
):
    claim = claims["t2.resnet-cut.voc2007"]
    options = MeasureOptions("smoke", seeds=(0, 1), resamples=100)  # two: a verdict, not "one seed"
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 20)) < 0.2).astype(np.int8)
    targets[:20] = np.eye(20, dtype=np.int8)
    same = _preds(rng, targets, 2.0)  # both sides the same model once re-estimated
    for seed in options.seeds:
        for key, spec in matched_specs(registry, claim, seed, options).items():
            digest = "same" if key == "a" else digest_b
            record = {"layers": 5, "images_sha256": digest}
            _matched_result(tmp_path, spec, "clean", same, record)
    (result,) = measure_claims(registry, [claim], tmp_path, options)
    assert result.status == "pending"  # no as-trained predictions were written
    assert result.matched is not None and result.matched.status == status
    assert reason in result.matched.reason
    if status == "measured":
        assert result.matched.seeds == (0, 1) and result.matched.mean == 0.0
        assert result.matched.verdict == "inconclusive"
        assert result.to_dict()["bn_matched"]["ci95"] == [0.0, 0.0]


def test_a_claim_with_a_side_without_batchnorm_is_not_applicable(tmp_path, registry, claims):
    options = MeasureOptions("smoke", seeds=(0,), resamples=100)
    vit, resnet = claims["t2.vit.voc2007"], claims["t2.resnet-cut.voc2007"]
    found = {r.claim.id: r for r in measure_claims(registry, [vit, resnet], tmp_path, options)}
    assert found[vit.id].matched is None and "no BatchNorm" in found[vit.id].matched_reason
    assert found[vit.id].to_dict()["bn_matched"]["applicable"] is False
    assert found[resnet.id].to_dict()["bn_matched"]["applicable"] is True
    # a training side read at an epoch whose checkpoint is not kept cannot be re-estimated
    val_best = MeasureOptions("smoke", seeds=(0,), checkpoint="val_best", resamples=100)
    (result,) = measure_claims(registry, [resnet], tmp_path, val_best)
    assert result.matched is None and "val_best" in result.matched_reason
