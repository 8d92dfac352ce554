"""Profiles rescale a cell without changing its method: what the mini profile promises."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.profiles import PROFILES, get_profile, resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.models.backbones import build_backbone, model_family

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def registry():
    return load_registry(EXPERIMENTS)


def test_mini_keeps_every_run_distinct_and_every_runnable_cell(registry):
    cells = registry.select("all")
    plan = build_plan(registry, cells, PlanOptions(profile="mini"))
    paper = build_plan(registry, cells, PlanOptions(profile="paper"))
    # unlike smoke, ViT-B and ViT-L stay two backbones: as many trainings as the paper
    assert len(plan.runs) == len(paper.runs) == 28
    assert len(plan.evals) == 4
    assert sum(bool(h) for h in plan.cell_hashes.values()) == 36


def test_mini_maps_each_paper_backbone_to_a_small_member_of_its_family(registry):
    seen = {}
    for name, run in registry.runs.items():
        spec = resolve_run(registry, name, "mini")
        seen[run["backbone"]] = spec.backbone
        assert model_family(spec.backbone) == model_family(run["backbone"])
        # mini v3 (docs/mini.md): each dataset's rung of the regime ladder, the same for every
        # cell and method of the dataset; 9,600 training samples per run whatever the rung
        images, epochs = {"voc2007": (150, 80)}.get(spec.dataset, (300, 40))
        assert (spec.img_size, spec.epochs, spec.warmup_epochs, spec.lr_step) == (
            96, epochs, 2, round(0.8 * epochs)
        )  # fmt: skip
        assert spec.synth is not None and spec.synth.train_images == images
        assert (spec.val_fraction, spec.eval_every, spec.lr) == (0.2, 5, 0.02)
        assert round(images * (1 - spec.val_fraction)) * epochs == 9_600
        # every run starts from its family's committed pretrained file, never from scratch
        assert spec.weights == f"{spec.backbone.replace('_', '-')}-attributes"
        # the method and its structure are the paper's
        for field in ("arch", "method", "mask_pool", "num_heads", "lam", "batch_size"):
            assert getattr(spec, field) == resolve_run(registry, name, "paper").__dict__[field]
    assert seen == {
        "resnet101": "mini_resnet",
        "vit_base_patch16_224": "mini_vit_base",
        "vit_large_patch16_224": "mini_vit_large",
    }


@pytest.mark.parametrize("profile", ["smoke", "mini"])
def test_synthetic_profiles_use_procedural_masks_even_when_the_nvidia_set_is_given(
    registry, profile, tmp_path
):
    options = PlanOptions(profile=profile, masks_root=tmp_path)
    assert options.mask_source == "procedural"
    assert PlanOptions(profile="paper", masks_root=tmp_path).mask_source == "nvidia"


@pytest.mark.parametrize(
    "name, side", [("mini_resnet", 12), ("mini_vit_base", 6), ("mini_vit_large", 6)]
)
def test_mini_backbones_map_96_px_to_their_feature_grid(name, side):
    # mini v3: the ResNet at output stride 8 (12 × 12, the regime rule's feature cells), the
    # ViTs' 16-pixel patches (6 × 6)
    backbone = build_backbone(name, 96)
    features = backbone(torch.zeros(2, 3, 96, 96))
    assert (
        features.shape
        == (2, backbone.out_dim, side, side)
        == (2, backbone.out_dim, *[backbone.feature_size(96)] * 2)
    )


def test_paper_profile_ranks_ties_as_the_authors_and_the_others_in_input_order():
    from benchmark.scoring.metrics import TIE_ORDERS

    assert get_profile("paper").tie_order == "authors"
    assert get_profile("smoke").tie_order == get_profile("mini").tie_order == "stable"
    assert all(p.tie_order in TIE_ORDERS for p in PROFILES.values())


def test_paper_synth_is_the_paper_recipe_on_synthetic_trees_with_real_counts(registry):
    plan = build_plan(registry, registry.select("all"), PlanOptions(profile="paper-synth"))
    assert len(plan.runs) == 28 and len(plan.evals) == 4
    label = ("name", "notes", "weights", "synth", "profile", "mask_source")
    for name in registry.runs:
        synth = resolve_run(registry, name, "paper-synth")
        paper = resolve_run(registry, name, "paper")
        for field in paper.__dataclass_fields__:
            if field not in label:
                assert getattr(synth, field) == getattr(paper, field), (name, field)
        assert synth.weights is None  # random init: no weight files
        assert synth.mask_source == paper.mask_source
        if synth.dataset == "voc2007":
            assert (synth.synth.train_images, synth.synth.test_images) == (5011, 4952)
            assert not any("scaled down" in note for note in synth.notes)
        else:  # COCO and WIDER are scaled down, and every run says so
            assert synth.synth.train_images < {"coco2014": 82081, "wider": 28345}[synth.dataset]
            assert any("scaled down" in note for note in synth.notes)
    sizes = {(s.backbone, s.arch, s.img_size) for s in plan.runs.values()}
    assert ("resnet101", "mcar", 576) in sizes and ("vit_large_patch16_224", "csra", 224) in sizes


@pytest.mark.slow  # a ViT-B/16 step at 224 px: 15-40 s of CPU on 2 shared cores
def test_paper_synth_trains_a_paper_sized_model_for_one_tiny_epoch(registry, tmp_path):
    """The cheapest paper cell (WIDER ViT-B/16, plain head, 224 px) on a one-image tree."""
    import dataclasses

    from benchmark.spec import SynthSpec
    from benchmark.train.job_context import JobContext
    from benchmark.train.loop import fit

    name = next(
        n for n, r in registry.runs.items()
        if r["backbone"] == "vit_base_patch16_224" and r["method"] == "supervised"
    )  # fmt: skip
    spec = resolve_run(registry, name, "paper-synth", epochs=1)
    assert (spec.backbone, spec.img_size, spec.batch_size) == ("vit_base_patch16_224", 224, 6)
    spec = dataclasses.replace(spec, synth=SynthSpec(1, 1, 96, seed=0))  # 1–4 person boxes each
    ctx = JobContext(results_dir=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    body = fit(spec, ctx, tmp_path / "run")
    assert len(body["history"]) == 1 and body["history"][0]["test_samples"] > 0
    assert 0 <= body["metrics"]["last"]["mAP"] <= 100


def test_mini_finds_its_committed_weights_without_a_weights_flag(monkeypatch, tmp_path):
    from benchmark.cli import build_parser
    from benchmark.cli.run import RunSettings

    monkeypatch.delenv("BENCHMARK_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)  # found from the package, not from the working folder
    for profile, expected in (("mini", EXPERIMENTS.parent / "weights" / "mini"), ("smoke", None)):
        args = build_parser().parse_args(
            ["run", "all", "--profile", profile, "--results-dir", str(tmp_path / "r")]
        )
        assert RunSettings.from_args(args).job.weights_root == expected
