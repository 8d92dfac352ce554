"""The claims registry (validated on load) and measuring claims from per-image predictions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.claims.claim_registry import load_claims, select_claims
from benchmark.claims.measurement import MeasureOptions, measure_claims
from benchmark.errors import RegistryError, UserError
from benchmark.experiment.profiles import resolve_eval, resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.store.predictions import Predictions, predictions_path, save_predictions
from benchmark.store.results import write_result

REGISTRY = Path(__file__).resolve().parent.parent / "experiments"


@pytest.fixture(scope="module")
def registry():
    return load_registry(REGISTRY)


def test_every_claim_of_the_issue_is_registered(registry):
    claims = {c.id: c for c in load_claims(registry)}
    # Tables 1, 2 and 4: MSL vs its baseline for every pair, per backbone and dataset
    for cid in ("t1.mcar.voc2007", "t1.sst.voc2007", "t2.vit.voc2007", "t2.resnet-cut.voc2007"):
        assert cid in claims
    for ds in ("voc2007", "coco2014"):
        for net in ("vit-l16", "resnet-cut"):
            assert f"t4.{net}.msl-vs-plain.{ds}" in claims
            assert f"t4.{net}.msl-vs-csra.{ds}" in claims
        assert f"t5.msl-v.{ds}" in claims and f"t5.msl-c.{ds}" in claims  # Table 5
        for metric in ("map", "cr", "cf1"):  # Table 6, per dataset and metric
            assert f"t6.{ds}.{metric}" in claims
        for k in range(6):  # every hole-ratio bucket of the robustness curves
            assert claims[f"curve.{ds}.bucket-{k}"].a.condition == f"bucket:{k}"
    assert claims["t3.vit-l16.wider.map"].claimed == 1.0  # Table 3
    assert claims["t2.resnet-cut.voc2007"].claimed == 2.4
    assert claims["t6.coco2014.cr"].claimed == pytest.approx(23.4)
    assert all(c.source for c in claims.values())
    assert len(select_claims(list(claims.values()), "table5")) == 4
    # the controls the claims reference (BatchNorm re-estimation, loss scale), per dataset
    controls = select_claims(list(claims.values()), "control.*")
    assert len(controls) == 6 and all(c.table is None for c in controls)
    assert claims["control.loss-scale.voc2007"].b.run == "voc-resnetcut-csra-bce-half"
    assert registry.runs["voc-resnetcut-csra-bce-half"]["clean_loss_weight"] == 0.5
    bn = claims["control.bn-mixed.voc2007"].b.evaluation
    assert registry.evaluations[bn]["bn_reestimate"] == "mixed"
    with pytest.raises(UserError, match="matches no claim"):
        select_claims(list(claims.values()), "t9.*")


def _by_id(claims: list[dict], claim_id: str) -> dict:
    return next(c for c in claims if c["id"] == claim_id)


def _write_claims(tmp_path, registry, edit):
    root = tmp_path / "experiments"
    shutil.copytree(REGISTRY, root)
    data = yaml.safe_load((root / "claims.yaml").read_text())
    edit(data["claims"])
    (root / "claims.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    return load_registry(root)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda cs: cs[0]["a"].update(cell="t1.nowhere.voc2007"),
            r"claim t1\.mcar\.voc2007: field 'a\.cell': no cell named 't1\.nowhere\.voc2007'",
        ),
        (lambda cs: cs[1].update(claimed=1.5), r"claim t1\.sst\.voc2007: field 'claimed': 1\.5"),
        (lambda cs: cs[1].pop("claimed"), r"claim t1\.sst\.voc2007: field 'claimed': missing"),
        (lambda cs: cs[2].update(metric="AUC"), r"claim t2\.vit\.voc2007: field 'metric'"),
        (
            lambda cs: cs[2]["b"].update(cell="t4.vit-l16.coco2014"),
            r"claim t2\.vit\.voc2007: field 'b': on coco2014",
        ),
        (
            lambda cs: _by_id(cs, "curve.coco2014.bucket-5")["a"].update(condition="bucket:9"),
            r"claim curve\.coco2014\.bucket-5: field 'a\.condition': 'bucket:9'",
        ),
        (
            lambda cs: cs[0]["b"].update(cell="t3.dhc.wider"),
            r"claim t1\.mcar\.voc2007: field 'b\.cell': t3\.dhc\.wider is cited",
        ),
        (lambda cs: cs.append(dict(cs[0])), r"claim t1\.mcar\.voc2007: field 'id': duplicate"),
        (lambda cs: cs[0].update(colour="red"), r"claim t1\.mcar\.voc2007: field 'colour'"),
        (
            lambda cs: _by_id(cs, "control.loss-scale.voc2007")["b"].update(run="nope"),
            r"claim control\.loss-scale\.voc2007: field 'b\.run': no run named 'nope'",
        ),
        (
            lambda cs: cs[0]["a"].update(run="voc-mcar"),
            r"claim t1\.mcar\.voc2007: field 'a': give exactly one of cell, run",
        ),
    ],
)
def test_a_bad_claim_is_a_registry_error_naming_it(tmp_path, registry, edit, message):
    changed = _write_claims(tmp_path, registry, edit)
    with pytest.raises(RegistryError, match=message) as info:
        load_claims(changed)
    assert "claims.yaml" in str(info.value)


# ---- measuring from result files with predictions ----------------------------------------


def _fake_result(results_dir: Path, spec, kind: str, predictions: dict[str, Predictions]):
    """A finished result whose only content is what claims read: its predictions."""
    folder = results_dir / spec.hash
    listed = {}
    for key, preds in predictions.items():
        path = predictions_path(folder, key)
        listed[path.stem] = {
            "file": str(path.relative_to(folder)),
            "sha256": save_predictions(path, preds),
        }
    write_result(
        results_dir,
        {"kind": kind, "hash": spec.hash, "name": spec.name, "status": "done",
         "spec": spec.to_dict(), "predictions": listed},
    )  # fmt: skip


def _preds(rng, targets, skill, shared):
    logits = skill * (targets == 1) + shared + 0.2 * rng.standard_normal(targets.shape)
    ids = [f"JPEGImages/{i:05d}.jpg" for i in range(len(targets))]
    return Predictions.build(1 / (1 + np.exp(-logits)), ids, targets)


def test_measured_claims_pair_seeds_and_images(tmp_path, registry):
    rng = np.random.default_rng(0)
    targets = (rng.random((300, 20)) < 0.2).astype(np.int8)
    targets[:20] = np.eye(20, dtype=np.int8)
    shared = rng.standard_normal(targets.shape)
    options = MeasureOptions("smoke", seeds=(0, 1), resamples=200)
    claims = {c.id: c for c in load_claims(registry)}
    claim = claims["t2.resnet-cut.voc2007"]  # a = MSL, b = the CSRA baseline
    for seed in (0, 1):
        for cell_id, skill in ((claim.a.cell, 2.2), (claim.b.cell, 1.6)):
            spec = resolve_run(
                registry, registry.cell(cell_id).run, "smoke", seed=seed, mask_source="procedural"
            )
            preds = _preds(rng, targets, skill, shared)
            if cell_id == claim.b.cell:  # stored in another image order: aligned by id
                order = rng.permutation(300)
                preds = Predictions.build(preds.probs[order], preds.image_ids[order],
                                          preds.targets[order])  # fmt: skip
            _fake_result(tmp_path, spec, "train", {"best": preds})
    # Table 6's evaluation condition "high": only seed 0 evaluated
    t6 = claims["t6.voc2007.map"]
    for cell_id, skill in ((t6.a.cell, 2.0), (t6.b.cell, 0.5)):
        cell = registry.cell(cell_id)
        ev = resolve_eval(registry, cell.evaluation, "smoke", seed=0, mask_source="procedural")
        _fake_result(tmp_path, ev, "eval", {"high": _preds(rng, targets, skill, shared)})
    measured = {
        r.claim.id: r
        for r in measure_claims(registry, [claim, t6, claims["t1.mcar.voc2007"]], tmp_path, options)
    }
    gain = measured["t2.resnet-cut.voc2007"]
    assert gain.status == "measured" and gain.seeds == (0, 1) and gain.images == 300
    assert gain.verdict == "supported" and 0 < gain.low < gain.mean < gain.high
    assert gain.mean == pytest.approx(gain.a_mean - gain.b_mean)
    assert gain.sd is not None and len(gain.per_seed) == 2
    masked = measured["t6.voc2007.map"]
    assert masked.seeds == (0,) and "1 of 2 seeds" in masked.reason
    # one seed: the interval is image noise only, so no verdict however clear its sign
    assert masked.verdict == "one seed" and masked.interval_verdict == "supported"
    assert masked.consistent is None
    assert masked.verdict_cell == "one seed; image noise only; 1 of 2 seeds"
    pending = measured["t1.mcar.voc2007"]
    assert pending.status == "pending" and "no result yet" in pending.reason
    assert pending.to_dict()["ci95"] is None
