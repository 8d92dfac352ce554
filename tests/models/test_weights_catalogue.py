import pytest
import timm
import torch
from timm.layers import resample_abs_pos_embed

from benchmark.errors import MissingWeightsError, UserError
from benchmark.models.backbones import build_backbone
from benchmark.models.weights import CATALOGUE, WEIGHTS_ENV, WeightsEntry, resolve_weights


def cutmix_release(model: torch.nn.Module) -> dict:
    """The layout of the CutMix authors' file: DataParallel keys inside 'state_dict'."""
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    return {"epoch": 300, "arch": "resnet", "best_err1": 20.17, "state_dict": state}


def assert_same_backbone(backbone, reference):
    ref = reference.state_dict()
    got = backbone.model.state_dict()
    assert set(got) == {k for k in ref if not k.startswith(("fc.", "head."))}
    for key, value in got.items():
        torch.testing.assert_close(value, ref[key], msg=key)


def test_cutmix_release_format_loads_and_matches(tmp_path):
    source = timm.create_model("test_resnet", num_classes=1000)  # with an ImageNet fc
    path = tmp_path / "model_best.pth.tar"
    torch.save(cutmix_release(source), path)
    backbone = build_backbone("test_resnet", 64, weights=path)
    assert_same_backbone(backbone, source)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(backbone.eval()(x), source.eval().forward_features(x))


def test_legacy_torchvision_file_without_batch_counters_loads(tmp_path):
    source = timm.create_model("test_resnet", num_classes=1000)
    state = {k: v for k, v in source.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(state, tmp_path / "legacy.pth")
    backbone = build_backbone("test_resnet", 64, weights=tmp_path / "legacy.pth")
    got, want = backbone.model.layer4[0].bn2, source.layer4[0].bn2
    torch.testing.assert_close(got.running_var, want.running_var)


def test_missing_backbone_tensor_is_an_error(tmp_path):
    state = timm.create_model("test_resnet", num_classes=0).state_dict()
    del state["layer2.0.conv1.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(UserError, match=r"partial.pth.*layer2.0.conv1.weight"):
        build_backbone("test_resnet", 64, weights=tmp_path / "partial.pth")


def test_catalogue_key_resolves_through_the_environment(tmp_path, monkeypatch):
    entry = WeightsEntry("tiny-cutmix", "tiny.pth", "test_resnet", "a test fixture")
    monkeypatch.setitem(CATALOGUE, entry.key, entry)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    source = timm.create_model("test_resnet", num_classes=10)
    torch.save(cutmix_release(source), tmp_path / "tiny.pth")
    assert resolve_weights("tiny-cutmix", None) == tmp_path / "tiny.pth"
    assert_same_backbone(build_backbone("test_resnet", 64, weights="tiny-cutmix"), source)


def test_missing_file_error_names_path_and_source(tmp_path):
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights("resnet101-cutmix", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "CutMix_ResNet101.pth") in message
    assert "CutMix" in message and "20.17" in message
    assert "\n" not in message


def test_missing_root_error_names_the_variable(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(MissingWeightsError, match=WEIGHTS_ENV):
        resolve_weights("vit-large-jx", None)


def test_alternate_file_name_is_accepted(tmp_path):
    (tmp_path / "resnet101-63fe2227.pth").touch()
    assert resolve_weights("resnet101-tv", tmp_path).name == "resnet101-63fe2227.pth"


def test_catalogue_key_for_another_backbone_is_refused(tmp_path):
    with pytest.raises(UserError, match="resnet101"):
        build_backbone("resnet18", 64, weights="resnet101-cutmix", weights_root=tmp_path)


def test_unknown_weights_value_names_what_was_looked_for(tmp_path):
    with pytest.raises(MissingWeightsError, match="nope.pth"):
        build_backbone("test_resnet", 64, weights=str(tmp_path / "nope.pth"))


def test_wrong_architecture_file_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("resnet10t", num_classes=0).state_dict(), path)
    with pytest.raises(UserError, match="other.pth"):
        build_backbone("test_resnet", 64, weights=path)


def test_vit_224_checkpoint_is_resampled_for_448(tmp_path):
    source = timm.create_model("vit_tiny_patch16_224", num_classes=1000)  # JAX-release layout
    path = tmp_path / "jx_vit_tiny.pth"
    torch.save(source.state_dict(), path)

    same = build_backbone("vit_tiny_patch16_224", 224, weights=path)
    assert_same_backbone(same, source)

    big = build_backbone("vit_tiny_patch16_224", 448, weights=path)
    expected = resample_abs_pos_embed(source.pos_embed.detach(), (28, 28), num_prefix_tokens=1)
    torch.testing.assert_close(big.model.pos_embed.detach(), expected)
    torch.testing.assert_close(big.model.pos_embed[:, 0], source.pos_embed[:, 0])  # class token
    torch.testing.assert_close(big.model.blocks[3].mlp.fc1.weight, source.blocks[3].mlp.fc1.weight)


def test_catalogue_entries_are_complete():
    assert {"resnet101-cutmix", "resnet101-tv", "vit-large-jx", "vit-base-jx"} <= set(CATALOGUE)
    assert CATALOGUE["resnet101-tv"].filename == "resnet101-5d3b4d8f.pth"
    assert CATALOGUE["vit-large-jx"].filename == "jx_vit_large_p16_224-4ee7a4dc.pth"
    assert CATALOGUE["vit-base-jx"].filename == "jx_vit_base_p16_224-80ecf9dd.pth"
    assert "augreg_in21k_ft_in1k" in CATALOGUE["vit-large-jx"].note
