import pytest
import torch

from benchmark.errors import MissingWeightsError, UserError
from benchmark.models import MCAR, SST, CSRAHead, FeatureMapClassifier, PlainHead, build_model


@pytest.mark.parametrize(
    ("arch", "backbone", "size", "kind"),
    [
        ("plain", "test_vit", 32, PlainHead),
        ("csra", "test_resnet", 64, CSRAHead),
        ("mcar", "test_resnet", 64, MCAR),
        ("sst", "test_resnet", 64, SST),
    ],
)
def test_build_model_per_arch(make_spec, arch, backbone, size, kind):
    spec = make_spec(arch=arch, backbone=backbone, img_size=size, dataset="wider", num_heads=6)
    model = build_model(spec)
    assert isinstance(model if kind in (MCAR, SST) else model.head, kind)
    out = model(torch.randn(2, 3, size, size))
    assert model.probabilities(out).shape == (2, 14)  # WIDER's 14 attributes
    loss = model.supervised_loss(out, torch.zeros(2, 14))
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_csra_settings_come_from_the_spec(make_spec):
    model = build_model(make_spec(arch="csra", dataset="coco2014", num_heads=8, lam=1.0))
    assert model.head.temperatures[-1] == float("inf") and len(model.head.heads) == 8
    assert model.head.lam == 1.0 and model.head.num_classes == 80


def test_bad_head_count_is_a_user_error(make_spec):
    with pytest.raises(UserError, match="num_heads=3"):
        build_model(make_spec(arch="csra", num_heads=3))


def test_missing_weights_surface_from_build_model(make_spec, tmp_path):
    spec = make_spec(backbone="resnet101", weights="resnet101-tv", img_size=448)
    with torch.device("meta"), pytest.raises(MissingWeightsError, match="resnet101-5d3b4d8f"):
        build_model(spec, weights_root=tmp_path)


@pytest.mark.parametrize("arch", ["plain", "csra", "mcar", "sst"])
def test_param_groups_split_backbone_and_head(make_spec, arch):
    model = build_model(make_spec(arch=arch, num_heads=2))
    groups = model.param_groups(0.01, 10.0)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert groups[0]["lr"] == pytest.approx(0.01) and groups[1]["lr"] == pytest.approx(0.1)
    backbone_ids = {id(p) for p in model.backbone.parameters()}
    assert {id(p) for p in groups[0]["params"]} == backbone_ids
    head_ids = {id(p) for p in groups[1]["params"]}
    assert head_ids and not head_ids & backbone_ids
    assert backbone_ids | head_ids == {id(p) for p in model.parameters()}


def test_csra_head_group_is_exactly_the_class_weights(make_spec):
    model = build_model(make_spec(arch="csra", num_heads=4))
    head = model.param_groups(0.01, 10.0)[1]["params"]
    assert [p.shape for p in head] == [(20, 96, 1, 1)] * 4


@pytest.mark.parametrize("arch", ["plain", "csra", "mcar", "sst"])
def test_bf16_autocast_and_channels_last(make_spec, arch):
    model = build_model(make_spec(arch=arch, num_heads=4)).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        loss = model.supervised_loss(out, torch.ones(2, 20))
        probs = model.probabilities(out)
    assert loss.dtype == probs.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("arch", ["plain", "csra", "mcar", "sst"])
def test_eval_mode_inference(make_spec, arch):
    model = build_model(make_spec(arch=arch, num_heads=2)).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        first, second = model.probabilities(model(x)), model.probabilities(model(x))
    assert first.shape == (3, 20) and ((first >= 0) & (first <= 1)).all()
    torch.testing.assert_close(first, second)  # eval is deterministic (no dropout, BN frozen)


def test_model_is_a_feature_map_classifier_for_plain(make_spec):
    assert isinstance(build_model(make_spec(arch="plain")), FeatureMapClassifier)
