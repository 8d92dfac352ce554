import pytest
import torch
import torch.nn.functional as F

from benchmark.models.backbones import build_backbone
from benchmark.models.sst import SST


def test_sst_forward_backward_reaches_every_part():
    model = SST(build_backbone("test_resnet", 64), num_classes=5, img_size=64)
    x, y = torch.randn(3, 3, 64, 64), torch.randint(0, 2, (3, 5)).float()
    spatial, semantic = model(x)
    assert spatial.shape == semantic.shape == (3, 5)
    loss = model.supervised_loss((spatial, semantic), y)
    expected = F.binary_cross_entropy_with_logits(spatial, y) + F.binary_cross_entropy_with_logits(
        semantic, y
    )
    torch.testing.assert_close(loss, expected)
    loss.backward()
    for name, module in [
        ("backbone", model.backbone),
        ("spatial", model.spatial),
        ("semantic", model.semantic),
    ]:
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and sum(g.abs().sum() for g in grads) > 0, name
    assert model.spatial.pos_embed.grad.abs().sum() > 0
    assert model.semantic.label_embed.grad.abs().sum() > 0
    probs = model.probabilities((spatial, semantic))
    torch.testing.assert_close(probs, torch.sigmoid(spatial + semantic))


@pytest.mark.parametrize(("size", "positions", "heads"), [(64, 4, 4), (96, 9, 1), (128, 16, 4)])
def test_sst_positions_follow_the_input_size(size, positions, heads):
    model = SST(build_backbone("test_resnet", size), num_classes=3, img_size=size)
    assert model.spatial.pos_embed.shape == (1, positions, 256)
    assert model.semantic.label_embed.shape == (1, 3, positions)
    assert model.semantic.encoder.layers[0].self_attn.num_heads == heads
    assert model(torch.randn(2, 3, size, size))[1].shape == (2, 3)


def test_sst_spatial_transformer_is_post_ln_4_heads_ffn_512():
    model = SST(build_backbone("test_resnet", 64), num_classes=3, img_size=64)
    layers = model.spatial.encoder.layers
    assert len(layers) == 3 and len(model.semantic.encoder.layers) == 3
    assert not layers[0].norm_first
    assert layers[0].self_attn.num_heads == 4 and layers[0].self_attn.embed_dim == 256
    assert layers[0].linear1.out_features == 512
    assert model.semantic.label_conv.in_channels == model.backbone.out_dim


def test_sst_refuses_another_input_size():
    model = SST(build_backbone("test_resnet", 128), num_classes=3, img_size=128)
    with pytest.raises(ValueError, match="16 positions"):
        model(torch.randn(1, 3, 64, 64))
