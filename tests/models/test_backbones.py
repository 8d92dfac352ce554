import pytest
import torch

from benchmark.errors import UserError
from benchmark.models.backbones import build_backbone, model_family


def n_params(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


@pytest.mark.parametrize(
    ("name", "size", "dim", "side"),
    [
        ("test_resnet", 64, 96, 2),
        ("test_resnet", 128, 96, 4),
        ("test_vit", 32, 64, 2),  # timm's test_vit uses 16-px patches, like the paper's ViTs
        ("test_vit", 128, 64, 8),
        ("resnet18", 64, 512, 2),
        ("vit_tiny_patch16_224", 64, 192, 4),
    ],
)
def test_feature_map_shape(name, size, dim, side):
    backbone = build_backbone(name, size)
    features = backbone(torch.randn(2, 3, size, size))
    assert features.shape == (2, dim, side, side)
    assert backbone.out_dim == dim
    assert backbone.feature_size(size) == side


def test_family_is_read_from_the_model_class():
    assert model_family("resnet10t") == "resnet"
    assert model_family("test_vit") == "vit"
    with pytest.raises(UserError, match="ResNet and VisionTransformer"):
        model_family("test_convnext")
    with pytest.raises(UserError, match="unknown timm backbone"):
        model_family("no_such_model")


@pytest.mark.parametrize(("size", "side"), [(224, 14), (448, 28)])
def test_vit_base_map_at_224_and_448(size, side):
    # On the meta device: real shapes, no memory, no arithmetic.
    with torch.device("meta"):
        backbone = build_backbone("vit_base_patch16_224", size)
        features = backbone(torch.empty(1, 3, size, size))
    assert features.shape == (1, 768, side, side)
    assert backbone.model.pos_embed.shape == (1, side * side + 1, 768)


def test_vit_map_is_the_normed_patch_tokens_without_class_token():
    backbone = build_backbone("test_vit", 64).eval()
    x = torch.randn(2, 3, 64, 64)
    tokens = backbone.model.forward_features(x)  # B×(1+16)×D, after the final norm
    features = backbone(x)
    torch.testing.assert_close(features.flatten(2).transpose(1, 2), tokens[:, 1:])
    # Row-major: token k is location (k // 4, k % 4).
    torch.testing.assert_close(features[:, :, 1, 2], tokens[:, 1 + 1 * 4 + 2])


def test_vit_tiny_at_448_has_interpolated_grid():
    backbone = build_backbone("vit_tiny_patch16_224", 448)
    assert backbone.model.pos_embed.shape == (1, 28 * 28 + 1, 192)
    assert backbone(torch.randn(1, 3, 448, 448)).shape == (1, 192, 28, 28)


def test_paper_backbone_sizes_without_classifier():
    with torch.device("meta"):
        resnet = build_backbone("resnet101", 448)
        vit_large = build_backbone("vit_large_patch16_224", 224)
    assert round(n_params(resnet), 1) == 42.5
    assert round(n_params(vit_large), 1) == 303.3
    assert resnet.out_dim == 2048 and vit_large.out_dim == 1024
    assert resnet.feature_size(448) == 14 and vit_large.feature_size(224) == 14


def test_resnet_map_is_layer4_output():
    backbone = build_backbone("test_resnet", 64).eval()
    m = backbone.model
    x = torch.randn(1, 3, 64, 64)
    y = m.maxpool(m.act1(m.bn1(m.conv1(x))))
    y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
    torch.testing.assert_close(backbone(x), y)
