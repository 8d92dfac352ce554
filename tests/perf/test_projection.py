"""The GPU-hours projection: every figure follows from the measured rates by the documented
arithmetic (hand-computed here), and the paper plan projects without gaps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.models.macs import forward_gmacs
from benchmark.perf.projection import Throughput, project
from benchmark.spec import EvalSpec

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
RESNET = Throughput(
    ("resnet101", "csra", 448), msl=200.0, supervised=400.0, eval=1000.0, precision="tf32"
)
VIT_L = Throughput(
    ("vit_large_patch16_224", "csra", 224), msl=150.0, supervised=300.0, eval=800.0,
    precision="tf32",
)  # fmt: skip
COUNTS = {"voc2007": (6000, 3000), "coco2014": (60000, 30000), "wider": (1, 1)}


@pytest.fixture(scope="module")
def registry():
    return load_registry(EXPERIMENTS)


def test_hours_are_epochs_times_images_over_rates_and_scaled_models_say_so(registry):
    msl = resolve_run(registry, "voc-resnetcut-csra-msl-high", "paper")  # measured model
    mcar = resolve_run(registry, "voc-mcar", "paper")  # MCAR at 576: scaled from ResNet-101
    ev = EvalSpec("ev", msl, ("clean", "high"))
    out = project([msl, mcar], [ev], [RESNET, VIT_L], counts=COUNTS)
    first, second = out["runs"]
    # 60 epochs × (6000 / 200 s train + 3000 / 1000 s eval) = 60 × 33 s
    assert first["basis"] == "measured"
    assert first["hours"] == pytest.approx(60 * (6000 / 200 + 3000 / 1000) / 3600)
    # MCAR: 5 passes at (576/448)² the pixels (counted: within 1 % of that), supervised rate
    ratio = forward_gmacs(mcar) / forward_gmacs(msl)
    assert ratio == pytest.approx(5 * (576 / 448) ** 2, rel=0.01)
    assert second["basis"] == f"scaled ×{ratio:.2f} (MACs) from resnet101/csra/448"
    assert second["hours"] == pytest.approx(60 * ratio * (6000 / 400 + 3000 / 1000) / 3600)
    assert out["evaluations"][0]["hours"] == pytest.approx(2 * 3000 / 1000 / 3600)
    alone = first["hours"] + second["hours"] + out["evaluations"][0]["hours"]
    assert out["gpu_hours"] == out["projected_hours"] == pytest.approx(alone)
    assert out["bound"] == "gpu"


def test_packing_divides_gpu_hours_and_a_slow_data_path_binds(registry):
    msl = resolve_run(registry, "voc-resnetcut-csra-msl-high", "paper")
    alone = project([msl], [], [RESNET], counts=COUNTS)
    packed = project([msl], [], [RESNET], packing_gain=2.5, counts=COUNTS)
    assert packed["gpu_hours"] == pytest.approx(alone["gpu_hours"] / 2.5)
    # 60 epochs × 9000 decoded images at 100 img/s = 1.5 h > the GPU bound
    starved = project([msl], [], [RESNET], packing_gain=2.5, data_images_per_s=100, counts=COUNTS)
    assert starved["images_decoded"] == 60 * 9000
    assert starved["bound"] == "data"
    assert starved["projected_hours"] == pytest.approx(1.5)


def test_the_paper_plan_projects_every_run_and_names_a_missing_family(registry):
    plan = build_plan(registry, registry.select("all"), PlanOptions(profile="paper"))
    out = project(list(plan.runs.values()), list(plan.evals.values()), [RESNET, VIT_L])
    assert len(out["runs"]) == 28 and len(out["evaluations"]) == 4
    assert set(out["by_dataset"]) == {"voc2007", "coco2014", "wider"}
    assert sum(out["by_dataset"].values()) == pytest.approx(out["gpu_hours"])
    vit_b = next(r for r in out["runs"] if r["model"].startswith("vit_base"))
    assert "from vit_large_patch16_224/csra/224" in vit_b["basis"]
    with pytest.raises(ValueError, match="no measured model of the vit family"):
        project(list(plan.runs.values()), [], [RESNET])
    with pytest.raises(ValueError, match="packing_gain"):
        project([], [], [RESNET], packing_gain=0)


def test_the_projection_says_which_precision_its_rates_assume(registry):
    paper = build_plan(registry, registry.select("all"), PlanOptions(profile="paper"))
    out = project(list(paper.runs.values()), list(paper.evals.values()), [RESNET, VIT_L])
    assert out["precision"] == "tf32" and out["runs_compute_at"] == ["tf32"]
    bf16 = [dataclasses.replace(m, precision="bf16") for m in (RESNET, VIT_L)]
    assumed = project(list(paper.runs.values()), [], bf16)
    assert assumed["precision"] == "bf16" and assumed["runs_compute_at"] == ["tf32"]
    with pytest.raises(ValueError, match="several precisions"):
        project(list(paper.runs.values()), [], [RESNET, bf16[1]])
