"""BatchNorm-matched verdicts on the smoke profile, end to end.

Two checkpoints with identical weights whose BatchNorm running statistics alone differ: the
"MSL" one's running means are pushed so far that every feature is zeroed (each test image then
gets probability 0.5 for every class, predicted positive: class recall 80), the baseline's are
the initial ones (class recall 38). As trained, MSL's gain in class recall is large and
certain; matched, both sides re-estimated on the same training images hold the same model,
so the difference is exactly 0. `benchmark run claims:…` plans and runs the matched
evaluations, `benchmark claims` and the report show both verdicts. The same two checkpoints
stand at seeds 0 and 1 (a verdict needs two seeds; identical seeds add no seed variation).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.cli import main
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.models import build_model
from benchmark.spec import EvalSpec
from benchmark.store.results import write_result
from benchmark.train import checkpoint
from benchmark.train.checkpoint_evaluation import evaluate_checkpoint, reestimate_on_training_images
from benchmark.train.job_context import JobContext

REPO = Path(__file__).resolve().parents[2]
MSL, BASELINE = "voc-resnetcut-csra-msl-high", "voc-resnetcut-csra"
SEEDS = (0, 1)
SMOKE = ["--profile", "smoke", "--seeds", "0,1"]
# A clean-test claim on class recall (Table 2's ResNet-cut cells: 92.4 − 87.5)
CLEAN_CLAIM = {
    "id": "bn-only.cr.voc2007",
    "title": "MSL improves ResNet-cut + CSRA (CR): BatchNorm statistics only",
    "metric": "CR",
    "a": {"cell": "t2.resnet-cut-msl.voc2007"},
    "b": {"cell": "t2.resnet-cut.voc2007"},
    "claimed": 4.9,
    "source": "test: Table 2's cells",
}


def _states(spec) -> dict[str, dict]:
    torch.manual_seed(0)
    plain = build_model(dataclasses.replace(spec, weights=None)).state_dict()
    zeroed = {k: v.clone() for k, v in plain.items()}
    for key, value in zeroed.items():
        if key.endswith("running_mean"):
            value.fill_(1e4)
        if key.endswith("num_batches_tracked"):  # as after training: averaging goes on from it
            value.fill_(1000)
    return {MSL: zeroed, BASELINE: plain}


def _trained(registry, results: Path, ctx: JobContext) -> None:
    """A finished smoke training of each run: its best.pt and its clean test predictions."""
    states = _states(resolve_run(registry, BASELINE, "smoke"))
    for (name, state), seed in ((item, seed) for item in states.items() for seed in SEEDS):
        spec = resolve_run(registry, name, "smoke", seed=seed, mask_source="procedural")
        folder = results / spec.hash
        checkpoint.save(folder / "checkpoints" / checkpoint.BEST, {"model": state, "epoch": 1})
        clean = EvalSpec(name, spec, ("clean",), mask_source="procedural")
        scored = evaluate_checkpoint(clean, ctx, folder)
        metrics = {row["metric"]: row["value"] for row in scored["rows"]}
        write_result(
            results,
            {"kind": "train", "hash": spec.hash, "name": name, "status": "done",
             "profile": "smoke", "spec": spec.to_dict(),
             "metrics": {"best": metrics, "last": metrics},
             "predictions": {"best": scored["predictions"]["clean"]}},
        )  # fmt: skip


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bn-matched")
    root = folder / "experiments"
    shutil.copytree(REPO / "experiments", root)
    data = yaml.safe_load((root / "claims.yaml").read_text())
    data["claims"].append(CLEAN_CLAIM)
    (root / "claims.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    results = folder / "results" / "smoke"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(root))
        monkeypatch.setenv("BENCHMARK_CACHE", str(folder / "cache"))
        monkeypatch.chdir(folder)
        ctx = JobContext(results_dir=results, cache_dir=folder / "cache", compile_mode="none")
        _trained(load_registry(root), results, ctx)
        for selector in ("claims:bn-only.cr.voc2007", "claims:t6.voc2007.cr"):
            assert main(["run", selector, *SMOKE, "--no-progress"]) == 0
        yield folder, results


def _claims(capsys, *selector) -> dict[str, dict]:
    capsys.readouterr()
    assert main(["claims", *selector, *SMOKE, "--json", "--resamples", "200"]) == 0
    return {row["id"]: row for row in json.loads(capsys.readouterr().out)}


def _evaluations(results: Path) -> dict[str, dict]:
    found = [json.loads(p.read_text()) for p in results.glob("*/result.json")]
    return {(r["name"], r["spec"]["run"]["seed"]): r for r in found if r["kind"] == "eval"}


def test_matched_verdict_removes_a_difference_of_batchnorm_statistics_alone(measured, capsys):
    rows = _claims(capsys, "*")
    for claim_id, mode in (("bn-only.cr.voc2007", "clean"), ("t6.voc2007.cr", "mixed")):
        row = rows[claim_id]
        assert row["status"] == "measured" and row["verdict"] == "supported", row
        matched = row["bn_matched"]
        assert matched["applicable"] and matched["mode"] == mode and matched["status"] == "measured"
        assert matched["seeds"] == [0, 1] and matched["images"] == row["images"] == 18
        assert matched["mean"] == 0.0 and matched["ci95"] == [0.0, 0.0], matched
        assert matched["verdict"] == "inconclusive" and matched["consistent"] is False
    # A ViT claim: no BatchNorm, no matched verdict, and why
    vit = rows["t2.vit.voc2007"]["bn_matched"]
    assert not vit["applicable"] and vit["status"] == "not applicable" and vit["verdict"] is None
    assert "no BatchNorm in side a (test_vit + csra head)" in vit["reason"]


def test_both_sides_were_re_estimated_on_the_same_images(measured):
    _, results = measured
    evaluations = _evaluations(results)
    pairs = {
        "clean": (f"{MSL}-bn-matched-clean", f"{BASELINE}-bn-matched-clean"),
        "mixed": (
            "voc-resnetcut-csra-msl-high-masked-bn-matched-mixed",
            "voc-resnetcut-csra-masked-bn-matched-mixed",
        ),
    }
    for (mode, (a, b)), seed in ((pair, seed) for pair in pairs.items() for seed in SEEDS):
        bn_a, bn_b = evaluations[a, seed]["batchnorm"], evaluations[b, seed]["batchnorm"]
        assert bn_a["images"] == 24 and bn_a["layers"] > 0  # every smoke training image
        assert bn_a["images_sha256"] == bn_b["images_sha256"]
        assert bn_a["batches"] == bn_b["batches"] == (4 if mode == "clean" else 8)
        assert evaluations[a, seed]["spec"]["bn_reestimate"] == mode
    clean, mixed = (evaluations[pairs[m][0], 0]["batchnorm"] for m in ("clean", "mixed"))
    assert clean["images_sha256"] != mixed["images_sha256"] and mixed["masks"]["pool"] == "high"


def test_table_csv_and_report_carry_the_matched_column(measured, capsys):
    folder, _ = measured
    capsys.readouterr()
    assert main(["claims", "bn-only.cr.voc2007", *SMOKE, "--resamples", "200"]) == 0
    text = capsys.readouterr().out
    assert "BN-matched verdict" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("bn-only.cr.voc2007"))
    assert "supported (not consistent)" in line
    assert "inconclusive (not consistent); +0.0 [+0.0, +0.0]" in line
    out = folder / "report"
    formats = ["--format", "md,csv,html,latex"]
    args = ["report", "all", *SMOKE, "--out", str(out), "--no-figures", *formats]
    assert main(args) == 0
    with (out / "claims.csv").open() as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    assert rows["t6.voc2007.cr"]["verdict"] == "supported"
    assert rows["t6.voc2007.cr"]["bn_matched_verdict"] == "inconclusive"
    assert rows["t6.voc2007.cr"]["bn_matched_mode"] == "mixed"
    assert rows["t2.vit.voc2007"]["bn_matched_applicable"] == "False"
    assert "no BatchNorm" in rows["t2.vit.voc2007"]["bn_matched_reason"]
    report = (out / "report.md").read_text().split("## Claims")[1].split("\n## ")[0]
    assert "BN-matched verdict" in report and "**BN-matched**" in report
    row = next(ln for ln in report.splitlines() if ln.startswith("| t6.voc2007.cr "))
    assert "supported" in row and "inconclusive" in row
    assert "BN-matched verdict" in (out / "report.html").read_text()
    assert "BN-matched verdict" in (out / "report.tex").read_text()


def test_masks_and_images_of_a_re_estimation_do_not_depend_on_the_model(tmp_path):
    """Another run (MSL trained with the low pool, seed 1) and the baseline, same weights,
    different statistics: re-estimated alike, they become the same model."""
    registry = load_registry(REPO / "experiments")
    ctx = JobContext(results_dir=tmp_path, cache_dir=tmp_path / "cache", compile_mode="none")
    base = resolve_run(registry, BASELINE, "smoke", seed=0)
    low = resolve_run(registry, "voc-resnetcut-csra-msl-low", "smoke", seed=1)
    states = _states(base)
    models, records = [], []
    for spec, state in ((low, states[MSL]), (base, states[BASELINE])):
        model = build_model(dataclasses.replace(spec, weights=None))
        model.load_state_dict(state)
        ev = EvalSpec("x", spec, ("clean",), mask_source="procedural", bn_reestimate="mixed")
        records.append(reestimate_on_training_images(model, ev, ctx, torch.device("cpu")))
        models.append(model.state_dict())
    assert records[0]["images_sha256"] == records[1]["images_sha256"]
    for key, value in models[0].items():
        assert torch.equal(value, models[1][key]), key
    weights = [k for k in models[0] if not k.endswith(("running_mean", "running_var", "tracked"))]
    assert all(torch.equal(models[0][k], states[MSL][k]) for k in weights)  # untouched
