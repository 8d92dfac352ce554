"""docs/mini.md's recipe rule: which baselines pass it, and the claims it makes not testable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import MeasureOptions, measure_claims
from benchmark.claims.recipe_rule import baseline_runs, check_baselines
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.report.claims_section import untestable_text, verdict_text
from benchmark.store.predictions import Predictions, predictions_path, save_predictions
from benchmark.store.results import seeds_in, write_result

REPO = Path(__file__).resolve().parents[1]
FLOOR = 21.7  # a context-only floor, as synthetic results record it


@pytest.fixture(scope="module")
def registry():
    return load_registry(REPO / "experiments")


def _result(folder: Path, spec, last_two: tuple[float, float], preds: Predictions | None = None):
    listed = {}
    if preds is not None:
        path = predictions_path(folder / spec.hash, "best")
        listed["best"] = {"file": str(path.relative_to(folder / spec.hash)),
                          "sha256": save_predictions(path, preds)}  # fmt: skip
    history = [{"epoch": i + 1, "mAP": m} for i, m in enumerate((40.0, *last_two))]
    write_result(
        folder,
        {"kind": "train", "hash": spec.hash, "name": spec.name, "status": "done",
         "profile": spec.profile, "spec": spec.to_dict(), "history": history,
         "floors": {"chance_mAP": 10.0, "context_mAP": FLOOR}, "predictions": listed,
         "metrics": {k: {"mAP": last_two[-1], "epoch": 3} for k in ("best", "last")},
         # fits its training set (mini v3's regime rule holds this rule's parts, and that one)
         "fit": {"train_mAP": 99.0, "test_mAP": last_two[-1], "bce": 0.01,
                 "frequency_bce": 0.3},
         "provenance": {"seed": spec.seed}},
    )  # fmt: skip


def _spec(registry, run, seed=0):
    return resolve_run(registry, run, "mini", seed=seed, mask_source="procedural")


def test_each_part_of_the_rule_fails_on_its_own(tmp_path, registry):
    _result(tmp_path, _spec(registry, "voc-resnetcut-csra"), (58.0, 59.0))  # passes: 1.0 apart
    _result(tmp_path, _spec(registry, "voc-resnetcut-plain"), (56.0, 57.5))  # not flat
    _result(tmp_path, _spec(registry, "voc-vitl-csra"), (31.0, 31.2))  # 9.5 above the floor
    checks = {c.run: c for c in check_baselines(registry, tmp_path, PlanOptions("mini"))}
    assert set(checks) == set(baseline_runs(registry)) and "voc-mcar-msl-high" not in checks
    assert checks["voc-resnetcut-csra"].status == "passes"
    assert checks["voc-resnetcut-csra"].margin == pytest.approx(59.0 - FLOOR)
    (flat,) = checks["voc-resnetcut-plain"].failures
    assert "moves 1.50 over its last two epochs" in flat
    (floor,) = checks["voc-vitl-csra"].failures
    assert "ends 9.5 above its context-only floor 21.7 (needs 10)" in floor
    assert checks["coco-resnetcut-csra"].status == "pending"


def test_profiles_without_a_rule_check_nothing(tmp_path, registry):
    assert check_baselines(registry, tmp_path, PlanOptions("smoke")) == []


def test_a_claim_on_a_failing_baseline_is_not_testable(tmp_path, registry):
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 20)) < 0.2).astype(np.int8)
    targets[:20] = np.eye(20, dtype=np.int8)
    ids = [f"JPEGImages/{i:05d}.jpg" for i in range(200)]

    def preds(skill):
        logits = skill * (targets == 1) + 0.3 * rng.standard_normal(targets.shape)
        return Predictions.build(1 / (1 + np.exp(-logits)), ids, targets)

    claims = {c.id: c for c in load_claims(registry)}
    resnet, vit = claims["t2.resnet-cut.voc2007"], claims["t2.vit.voc2007"]
    # ResNet-cut's baseline is not flat; ViT's passes
    _result(tmp_path, _spec(registry, "voc-resnetcut-csra"), (60.0, 58.2), preds(1.0))
    _result(tmp_path, _spec(registry, "voc-resnetcut-csra-msl-high"), (60.0, 60.0), preds(2.0))
    _result(tmp_path, _spec(registry, "voc-vitl-csra"), (50.0, 50.5), preds(1.0))
    _result(tmp_path, _spec(registry, "voc-vitl-csra-msl-high"), (51.0, 51.0), preds(2.0))
    options = MeasureOptions("mini", seeds=(0,), resamples=50)
    measured = {r.claim.id: r for r in measure_claims(registry, [resnet, vit], tmp_path, options)}
    voided, kept = measured[resnet.id], measured[vit.id]
    assert voided.status == "measured" and voided.low is not None  # the interval stays shown
    assert "voc-resnetcut-csra: moves 1.80" in voided.untestable
    assert verdict_text(voided) == (
        f"not testable (interval: {voided.interval_verdict}); image noise only"
    )
    assert voided.to_dict()["testable"] is False
    assert kept.untestable == "" and verdict_text(kept) == "one seed; image noise only"
    assert resnet.id in untestable_text([voided, kept]) and untestable_text([kept]) is None


def test_reading_verbs_default_to_the_seeds_the_results_hold(tmp_path, registry):
    for seed in (0, 2):
        _result(tmp_path, _spec(registry, "voc-resnetcut-csra", seed), (50.0, 50.0))
    assert seeds_in(tmp_path, "mini") == (0, 2) and seeds_in(tmp_path, "smoke") == ()


def test_held_seeds_count_what_a_cell_has_and_explicit_seeds_what_it_lacks(tmp_path, registry):
    from benchmark.experiment.plan import build_plan, cell_status

    _result(tmp_path, _spec(registry, "voc-resnetcut-csra", 0), (50.0, 50.0))
    cell = registry.cell("t2.resnet-cut.voc2007")
    for held, status, seeds in ((True, "done", 1), (False, "pending", 1)):
        options = PlanOptions("mini", seeds=(0, 1), held_seeds=held)
        entry = cell_status(registry, cell, build_plan(registry, [cell], options), tmp_path)
        assert (entry["status"], entry["seeds"]) == (status, seeds)
    nothing = PlanOptions("mini", seeds=(0, 1), held_seeds=True)
    other = registry.cell("t2.vit.voc2007")  # no result at any seed: still pending
    plan = build_plan(registry, [other], nothing)
    assert cell_status(registry, other, plan, tmp_path)["status"] == "pending"
