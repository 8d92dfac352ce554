"""docs/mini.md's regime rule (v3): each part fails on its own, and marks exactly the claims
of the kind that needs it not testable, with the measured reason."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import MeasureOptions, measure_claims, side_run
from benchmark.claims.recipe_rule import baseline_runs
from benchmark.claims.regime_rule import (
    CLEAN,
    MASKED,
    baseline_of,
    check_regime,
    claim_kind,
    claim_regimes,
    geometry_mismatch,
    geometry_path,
    write_geometry,
)
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.profiles import get_profile, resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.store.predictions import Predictions, predictions_path, save_predictions
from benchmark.store.results import write_result

REPO = Path(__file__).resolve().parents[1]
FLOOR = 21.7


@pytest.fixture
def registry(tmp_path):
    """The repository's registry in a temp folder, so a test can write its geometry record."""
    root = tmp_path / "experiments"
    shutil.copytree(REPO / "experiments", root, ignore=shutil.ignore_patterns("regime"))
    return load_registry(root)


def _synth(dataset):
    data = dataclasses.asdict(get_profile("mini").synth_for(dataset))
    if data["object_area"] is not None:
        data["object_area"] = list(data["object_area"])
    return data


def _geometry(registry, voc=6.0, coco=17.0, resnet=32.0, vit=17.6, **settings):
    record = {
        "settings": {
            "img_size": 96,
            "images_measured": None,
            "synthetic": {d: _synth(d) for d in ("voc2007", "coco2014")},
            **settings,
        },
        "object_scale": {
            d: {"hidden_fraction": v / 100, "median_area": 0.15, "pairs": 1000}
            for d, v in (("voc2007", voc), ("coco2014", coco))
        },
        "feature_cells": {
            "mini_resnet": {"stride": 8, "map": 12, "hidden_fraction": resnet / 100},
            "mini_vit_base": {"stride": 16, "map": 6, "hidden_fraction": vit / 100},
            "mini_vit_large": {"stride": 16, "map": 6, "hidden_fraction": vit / 100},
        },
    }
    write_geometry(geometry_path(registry.root, "mini"), record)


def _spec(registry, run, seed=0):
    return resolve_run(registry, run, "mini", seed=seed, mask_source="procedural")


def _result(folder, spec, last_two=(60.0, 60.0), train_map=80.0, bce=0.1, freq=0.3, preds=None,
            fit=True):  # fmt: skip
    listed = {}
    if preds is not None:
        path = predictions_path(folder / spec.hash, "best")
        listed["best"] = {"file": str(path.relative_to(folder / spec.hash)),
                          "sha256": save_predictions(path, preds)}  # fmt: skip
    history = [{"epoch": i + 1, "mAP": m} for i, m in enumerate((40.0, *last_two))]
    best = max(last_two)
    body = {
        "kind": "train", "hash": spec.hash, "name": spec.name, "status": "done",
        "profile": spec.profile, "spec": spec.to_dict(), "history": history,
        "floors": {"chance_mAP": 10.0, "context_mAP": FLOOR}, "predictions": listed,
        "metrics": {"best": {"mAP": best, "epoch": 3}, "last": {"mAP": last_two[-1], "epoch": 3}},
        "provenance": {"seed": spec.seed},
    }  # fmt: skip
    if fit:
        body["fit"] = {"train_mAP": train_map, "test_mAP": best, "bce": bce, "frequency_bce": freq}
    write_result(folder, body)


def _all_baselines(registry, folder, **changed):
    """Every baseline at seed 0, passing the rule unless ``changed`` names it: run → kwargs."""
    for run in baseline_runs(registry):
        _result(folder, _spec(registry, run), **changed.get(run, {}))


def _gates(registry, folder, selector=None):
    claims = load_claims(registry)
    sides = {c.id: {side_run(registry, s) for s in (c.a, c.b)} for c in claims}
    checks = check_regime(registry, folder, PlanOptions("mini"))
    return checks, claim_regimes(registry, claims, sides, checks, "mini")


def test_a_regime_that_passes_every_part_voids_no_claim(registry, tmp_path):
    _geometry(registry)
    _all_baselines(registry, tmp_path)
    checks, gates = _gates(registry, tmp_path)
    assert all(b.status == "passes" for b in checks.baselines)
    assert [d.failure for d in checks.datasets] == [None, None]
    assert {c.backbone: c.failure is None for c in checks.backbones} == {
        "mini_resnet": True, "mini_vit_base": False, "mini_vit_large": False,
    }  # fmt: skip
    # the ViTs' 6 × 6 grid fails feature cells, but no masked claim has a ViT side
    assert [g.claim for g in gates.values() if g.failures] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train_map": 68.0}, "fit: training − test mAP 8.0 (68.0 − 60.0; needs ≥ 10)"),
        ({"bce": 0.16}, "fit: training BCE 0.53 × the class-frequency BCE (needs ≤ 0.5)"),
    ],
)
def test_a_baseline_that_does_not_fit_voids_its_clean_claims_only(
    registry, tmp_path, change, message
):
    _geometry(registry)
    _all_baselines(registry, tmp_path, **{"voc-resnetcut-csra": change})
    checks, gates = _gates(registry, tmp_path)
    (check,) = [b for b in checks.baselines if b.run == "voc-resnetcut-csra"]
    assert check.status == "fails" and check.fit_failures == (message,)
    voided = {g.claim for g in gates.values() if g.failures}
    # Tables 2 and 4 through the baseline itself, Table 5's MSL-C pair through its MSL runs,
    # and the clean controls on it; never Table 6, the curves or the BatchNorm-mixed control
    assert {"t2.resnet-cut.voc2007", "t4.resnet-cut.msl-vs-csra.voc2007", "t5.msl-c.voc2007",
            "control.bn-clean.voc2007", "control.loss-scale.voc2007"} == voided  # fmt: skip
    assert gates["t5.msl-c.voc2007"].reason == f"voc-resnetcut-csra: {message}"
    assert gates["t6.voc2007.map"].kind == MASKED and not gates["t6.voc2007.map"].failures


def test_floor_and_flatness_void_both_kinds(registry, tmp_path):
    _geometry(registry)
    _all_baselines(registry, tmp_path, **{"coco-resnetcut-csra": {"last_two": (30.0, 28.5)}})
    _, gates = _gates(registry, tmp_path)
    assert "moves 1.50 over its last two epochs" in gates["t6.coco2014.map"].reason
    assert "moves 1.50" in gates["t4.resnet-cut.msl-vs-csra.coco2014"].reason
    assert "ends 6.8 above its context-only floor" in gates["curve.coco2014.bucket-3"].reason
    assert not gates["t6.voc2007.map"].failures


def test_object_scale_out_of_band_voids_every_claim_on_that_dataset(registry, tmp_path):
    _geometry(registry, voc=14.7)
    _all_baselines(registry, tmp_path)
    _, gates = _gates(registry, tmp_path)
    voided = {g.claim for g in gates.values() if g.failures}
    voc = {c.id for c in load_claims(registry) if c.dataset == "voc2007"}
    assert voided == voc
    assert gates["t6.voc2007.map"].reason == (
        "voc2007 object scale: 14.7 % of (image, class) pairs ≥ 90 % hidden (needs 4–8 %)"
    )


def test_too_few_hidden_cells_void_masked_claims_only(registry, tmp_path):
    _geometry(registry, resnet=17.6)
    _all_baselines(registry, tmp_path)
    _, gates = _gates(registry, tmp_path)
    voided = {g.claim for g in gates.values() if g.failures}
    kinds = {c.id: claim_kind(registry, c) for c in load_claims(registry)}
    assert voided == {c for c, k in kinds.items() if k == MASKED}
    assert "mini_resnet feature cells: 17.6 % of its 12 × 12 map ≥ 90 % hidden" in (
        gates["t6.voc2007.cr"].reason
    )


def test_missing_or_stale_measurements_fail_their_parts(registry, tmp_path):
    _all_baselines(registry, tmp_path, **{"voc-vitl-csra": {"fit": False}})
    checks, gates = _gates(registry, tmp_path)  # no geometry record at all
    assert all("not measured" in d.failure for d in checks.datasets)
    (vit,) = [b for b in checks.baselines if b.run == "voc-vitl-csra"]
    assert vit.fit_failures == ("fit not measured (a result from before v3)",)
    assert "benchmark data regime --profile mini --write" in gates["t6.voc2007.map"].reason
    other = dict(_synth("voc2007"), object_area=None)
    record = {"settings": {"img_size": 96, "synthetic": {"voc2007": other}}}
    assert "other voc2007 scenes" in geometry_mismatch(record, "mini")
    assert "at 128 px" in geometry_mismatch({"settings": {"img_size": 128}}, "mini")


def test_a_baseline_without_a_result_is_pending_and_voids_nothing(registry, tmp_path):
    _geometry(registry)
    checks, gates = _gates(registry, tmp_path)
    assert {b.status for b in checks.baselines} == {"pending"}
    assert not any(g.failures for g in gates.values())


def test_every_claim_has_a_kind_and_baselines(registry):
    claims = {c.id: c for c in load_claims(registry)}
    kinds = {i: claim_kind(registry, c) for i, c in claims.items()}
    for clean in ("t1.mcar.voc2007", "t3.vit-l16.wider.map", "t5.msl-v.coco2014",
                  "control.bn-clean.voc2007", "control.loss-scale.coco2014"):  # fmt: skip
        assert kinds[clean] == CLEAN, clean
    for masked in ("t6.voc2007.map", "curve.coco2014.bucket-0", "control.bn-mixed.voc2007"):
        assert kinds[masked] == MASKED, masked
    same = ("dataset", "backbone", "weights", "arch", "num_heads", "lam", "img_size")
    for claim in claims.values():
        for side in (claim.a, claim.b):
            run = side_run(registry, side)
            base = baseline_of(registry, run)
            assert base is not None, claim.id
            assert registry.runs[base]["method"] == "supervised"
            assert [registry.runs[base][k] for k in same] == [registry.runs[run][k] for k in same]
    assert baseline_of(registry, "voc-resnetcut-plain-msl-high") == "voc-resnetcut-plain"
    assert baseline_of(registry, "voc-vitl-csra-msl-low") == "voc-vitl-csra"
    assert baseline_of(registry, "coco-resnetcut-csra-bce-half") == "coco-resnetcut-csra"


def test_claims_report_the_regime_reason_with_their_interval(registry, tmp_path):
    _geometry(registry)
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 20)) < 0.2).astype(np.int8)
    targets[:20] = np.eye(20, dtype=np.int8)
    ids = [f"JPEGImages/{i:05d}.jpg" for i in range(200)]

    def preds(skill):
        logits = skill * (targets == 1) + 0.3 * rng.standard_normal(targets.shape)
        return Predictions.build(1 / (1 + np.exp(-logits)), ids, targets)

    _all_baselines(registry, tmp_path, **{"voc-resnetcut-csra": {"train_map": 62.0}})
    _result(tmp_path, _spec(registry, "voc-resnetcut-csra"), train_map=62.0, preds=preds(1.0))
    _result(tmp_path, _spec(registry, "voc-resnetcut-csra-msl-high"), preds=preds(2.0))
    _result(tmp_path, _spec(registry, "voc-vitl-csra"), preds=preds(1.0))
    _result(tmp_path, _spec(registry, "voc-vitl-csra-msl-high"), preds=preds(2.0))
    claims = {c.id: c for c in load_claims(registry)}
    chosen = [claims["t2.resnet-cut.voc2007"], claims["t2.vit.voc2007"]]
    options = MeasureOptions("mini", seeds=(0,), resamples=50)
    measured = {r.claim.id: r for r in measure_claims(registry, chosen, tmp_path, options)}
    voided, kept = measured["t2.resnet-cut.voc2007"], measured["t2.vit.voc2007"]
    assert voided.status == "measured" and voided.low is not None
    assert voided.untestable == (
        "voc-resnetcut-csra: fit: training − test mAP 2.0 (62.0 − 60.0; needs ≥ 10)"
    )
    assert voided.to_dict()["testable"] is False and kept.untestable == ""


def test_the_recorded_geometry_describes_the_mini_profile_as_it_is():
    """experiments/regime/mini.json: written by `benchmark data regime --profile mini --write`
    for the profile's current scenes, input size and backbones (else the rule fails parts 4
    and 5 as not measured)."""
    record = json.loads((REPO / "experiments" / "regime" / "mini.json").read_text())
    assert geometry_mismatch(record, "mini") is None
    backbones = set(get_profile("mini").backbones.values())
    assert set(record["feature_cells"]) == backbones
