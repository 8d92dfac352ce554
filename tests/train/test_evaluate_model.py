"""`benchmark.evaluate_model`, the Python API: a model from outside the suite scored on a
synthetic test set (written here by the suite's synthetic writer) clean, under Table 6's masking
and on every hole-ratio bucket; its numbers are `benchmark score`'s on the same predictions,
its masks are `benchmark evaluate`'s, and it saves like any evaluation."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import benchmark
from benchmark.cli import main
from benchmark.data.synthetic import synthesize
from benchmark.errors import UserError
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.models import build_model
from benchmark.scoring.metrics import METRIC_NAMES
from benchmark.spec import BUCKETS, spec_from_dict
from benchmark.store.predictions import load_predictions
from benchmark.store.results import read_result
from benchmark.train.job_context import synthetic_tree
from benchmark.train.model_evaluation import state_digest

REPO = Path(__file__).resolve().parents[2]
SMOKE_RUN = "voc-resnetcut-csra"  # a Table 6 model, as the smoke profile builds it
CONDITIONS = ("clean", "high", *BUCKETS, "high_seed1", "high_seed2")


def tiny_model(classes: int = 20) -> torch.nn.Module:
    """A user's model: any module from a B×3×S×S batch to B×C logits."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, classes),
    )


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    """A smoke-sized synthetic VOC2007 tree in its official layout."""
    root = tmp_path_factory.mktemp("data") / "voc2007"
    return synthesize("voc2007", root, train_images=4, test_images=18, image_size=96, seed=0)


@pytest.fixture(scope="module")
def evaluated(voc, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return benchmark.evaluate_model(tiny_model(), "voc2007", voc, img_size=64, cache_dir=cache)


def test_clean_scores_are_benchmark_scores_on_the_same_predictions(evaluated, tmp_path):
    assert evaluated.spec.conditions == CONDITIONS
    for condition in ("clean", "high"):
        preds = evaluated.predictions[condition]
        assert preds.num_images == 18
        np.save(tmp_path / "scores.npy", preds.probs)
        np.save(tmp_path / "targets.npy", preds.targets)
        code, out = cli(
            "score",
            "--scores", str(tmp_path / "scores.npy"),
            "--targets", str(tmp_path / "targets.npy"),
            "--tie-order", "authors",
            "--json",
        )  # fmt: skip
        assert code == 0
        scored = json.loads(out)
        for metric in METRIC_NAMES:
            assert evaluated.value(condition, metric) == pytest.approx(scored[metric], abs=1e-9)


def test_masked_conditions_hold_their_hole_ratios(evaluated):
    ratios = {r["condition"]: r["hole_ratio"] for r in evaluated.rows}
    assert ratios["clean"] == 0.0
    for condition in ("high", "high_seed1", "high_seed2"):
        assert 0.5 < ratios[condition] <= 0.6
    assert len({ratios["high"], ratios["high_seed1"], ratios["high_seed2"]}) == 3
    for k, bucket in enumerate(BUCKETS):
        assert max(0.01, 0.1 * k) < ratios[bucket] <= 0.1 * (k + 1)


def test_the_result_renders_as_a_table(evaluated):
    frame = evaluated.to_frame()
    assert tuple(frame.index) == CONDITIONS
    assert frame.loc["clean", "mAP"] == evaluated.value("clean")
    text = str(evaluated)
    assert f"clean mAP {evaluated.value('clean'):.1f}" in text
    assert "Table 6 setting mAP" in text and "over 3 mask seed(s)" in text
    assert "holes 50%–60%" in text
    markdown = evaluated.to_markdown()
    assert "| condition" in markdown
    assert markdown.count("\n|") == len(CONDITIONS) + 2  # the header, its rule, one per condition
    mean, spread = evaluated.table6()
    assert mean == pytest.approx(np.mean([evaluated.value(c) for c in CONDITIONS if "high" in c]))
    assert spread is not None


def test_saved_like_any_evaluation(evaluated, tmp_path):
    path = evaluated.save(tmp_path / "results")
    loaded = read_result(path, path.parent.name)
    assert loaded.problem is None and loaded.done
    data = loaded.data
    assert data["kind"] == "model_eval" and data["hash"] == evaluated.spec.hash
    assert data["rows"] == evaluated.rows
    assert data["spec"]["model"].startswith("sha256:")
    for condition in CONDITIONS:
        entry = data["predictions"][condition.replace(":", "-")]
        stored = load_predictions(path.parent / entry["file"], entry["sha256"])
        ours = evaluated.predictions[condition]
        assert np.array_equal(stored.image_ids, ours.image_ids)
        assert np.array_equal(stored.probs, ours.probs.astype(np.float16).astype(np.float32))
    code, out = cli("check", "--results-dir", str(tmp_path / "results"))
    assert code == 0 and "1 file(s)" in out and ", 0 bad" in out


def test_a_saved_result_is_identified_by_weights_test_set_and_protocol(evaluated):
    spec = evaluated.spec
    assert spec.model == state_digest(tiny_model())  # the weights evaluated, by value
    assert state_digest(tiny_model().to(memory_format=torch.channels_last)) == spec.model
    nudged = tiny_model()
    with torch.no_grad():
        nudged[0].weight[0, 0, 0, 0] += 1e-3
    assert state_digest(nudged) != spec.model
    assert dataclasses.replace(spec, name="another label").hash == spec.hash
    for change in (
        {"model": state_digest(tiny_model(21))},
        {"test_set": "0" * 64},  # another test set (synthetic and real never share one)
        {"img_size": 448},
        {"normalize": "half"},
        {"mask_seed": 1},
        {"mask_source": "nvidia"},
        {"conditions": ("clean",)},
        {"tie_order": "stable"},
    ):
        assert dataclasses.replace(spec, **change).hash != spec.hash, change
    assert spec_from_dict(spec.kind, json.loads(json.dumps(spec.to_dict()))) == spec


def test_masked_conditions_are_the_masks_benchmark_evaluate_uses(tmp_path, monkeypatch):
    """The same model through `benchmark evaluate --checkpoint --like` and through the API with
    its defaults: the same conditions, hole ratios and per-image predictions."""
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCHMARK_MASKS", raising=False)
    monkeypatch.chdir(tmp_path)
    spec = resolve_run(load_registry(REPO / "experiments"), SMOKE_RUN, "smoke")
    torch.manual_seed(1)
    model = build_model(spec)
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    results = tmp_path / "results"
    code, _ = cli(
        "evaluate", "--checkpoint", str(tmp_path / "mine.pt"), "--like", SMOKE_RUN,
        "--profile", "smoke", "--results-dir", str(results), "--compile", "none",
        "--no-progress",
    )  # fmt: skip
    assert code == 0
    (path,) = results.glob("*/result.json")
    suite = json.loads(path.read_text())

    api = benchmark.evaluate_model(
        model,
        "voc2007",
        synthetic_tree(spec, tmp_path / "cache"),  # the tree `benchmark evaluate` read
        img_size=spec.img_size,
        normalize=spec.normalize,
        batch_size=spec.batch_size,
        tie_order="stable",  # the smoke profile's
        cache_dir=tmp_path / "cache",
    )
    assert tuple(suite["spec"]["conditions"]) == api.spec.conditions == CONDITIONS
    assert suite["spec"]["mask_seed"] == api.spec.mask_seed
    assert {r["condition"]: r["hole_ratio"] for r in suite["rows"]} == {
        r["condition"]: r["hole_ratio"] for r in api.rows
    }
    for condition in CONDITIONS:
        entry = suite["predictions"][condition.replace(":", "-")]
        stored = load_predictions(path.parent / entry["file"], entry["sha256"])
        ours = api.predictions[condition]
        assert np.array_equal(stored.image_ids, ours.image_ids)
        assert np.array_equal(stored.probs, ours.probs.astype(np.float16).astype(np.float32))
    assert suite["rows"] == api.rows


def test_defaults_are_the_papers_inputs_per_dataset():
    """VOC and COCO at 448 px in [0, 1] (Table 6's ResNet models), WIDER at 224 px with mean
    0.5 / std 0.5 (its ViT rows): what the registry's runs use."""
    registry = load_registry(REPO / "experiments")
    for run in registry.runs.values():
        assert run["normalize"] == benchmark.PAPER_INPUTS[run["dataset"]][1], run
    table6 = {
        registry.runs[ev["run"]]["dataset"]: ev["run"] for ev in registry.evaluations.values()
    }
    for dataset, run in table6.items():
        assert registry.runs[run]["img_size"] == benchmark.PAPER_INPUTS[dataset][0]
    wider = {run["img_size"] for run in registry.runs.values() if run["dataset"] == "wider"}
    assert wider == {benchmark.PAPER_INPUTS["wider"][0]}


def test_bad_input_is_one_clear_error(voc, tmp_path):
    with pytest.raises(UserError, match=r"^model: maps a batch of 2 images to \(2, 1000\), "):
        benchmark.evaluate_model(tiny_model(1000), "voc2007", voc, img_size=64)
    with pytest.raises(UserError, match=r"^model: fails on a batch of 2 test images of shape "):
        benchmark.evaluate_model(torch.nn.Linear(3, 20), "voc2007", voc, img_size=64)
    with pytest.raises(UserError, match=r"^dataset: unknown 'voc'"):
        benchmark.evaluate_model(tiny_model(), "voc", voc)
    with pytest.raises(UserError, match=r"^mask_seeds: seeds must be distinct"):
        benchmark.evaluate_model(tiny_model(), "voc2007", voc, mask_seeds=(0, 0))
    with pytest.raises(UserError, match=r"^pool: unknown value 'bucket:7'"):
        benchmark.evaluate_model(tiny_model(), "voc2007", voc, conditions=("clean", "bucket:7"))


def test_import_benchmark_stays_light(tmp_path):
    probe = (
        "import sys, benchmark\n"
        "assert 'torch' not in sys.modules, 'import benchmark loaded torch'\n"
        "print(benchmark.evaluate_model.__module__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "benchmark.train.model_evaluation"
