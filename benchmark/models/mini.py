"""Small members of the paper's backbone families for the ``mini`` profile (CPU scale).

Registered with timm under their own names, so a RunSpec names them like any timm model and
every code path (family detection, feature maps, heads) is the one the paper's backbones take.

- ``mini_resnet``: a timm ResNet (4 stages of one BasicBlock, deep stem, avg-down) whose last
  two stages are dilated (output stride 8), so a 96 px input gives a 12×12 layer4 map: each
  cell stands for 1/12 of the image side, as ResNet-101's 14×14 map at 448 px stands for
  1/14. The share of cells a high-pool mask hides is then the paper's (32 % at least 90 %
  hidden, against 34 % at 448 / 32 and 18 % for mini v2's stride 16: the regime rule's
  feature-cell part, docs/mini.md v3).
- ``mini_vit_base`` / ``mini_vit_large``: timm VisionTransformers with 16 px patches (6×6 tokens
  at 96 px), the large one wider and deeper than the base one so Table 3 keeps two distinct
  ViT rows.
"""

from __future__ import annotations

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.resnet import BasicBlock, ResNet
from timm.models.vision_transformer import VisionTransformer

# Names must not collide with timm's own models; registration happens once per process.
MINI_BACKBONES = ("mini_resnet", "mini_vit_base", "mini_vit_large")
# register_model reads this module-level table: no weights, 96 px inputs.
default_cfgs = generate_default_cfgs(
    {name: {"input_size": (3, 96, 96), "num_classes": 0} for name in MINI_BACKBONES}
)


def _vit(name: str, embed_dim: int, depth: int, num_heads: int, **kwargs) -> VisionTransformer:
    kwargs.setdefault("img_size", 96)
    args = dict(patch_size=16, embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=3)
    return build_model_with_cfg(VisionTransformer, name, False, **args, **kwargs)


@register_model
def mini_resnet(pretrained: bool = False, **kwargs) -> ResNet:
    """ResNet, 4×1 BasicBlocks, channels 32-64-96-128, output stride 8 (0.5 M parameters)."""
    if pretrained:
        raise ValueError("mini_resnet has no pretrained weights")
    return build_model_with_cfg(
        ResNet,
        "mini_resnet",
        False,
        block=BasicBlock,
        layers=(1, 1, 1, 1),
        channels=(32, 64, 96, 128),
        stem_width=16,
        stem_type="deep",
        avg_down=True,
        output_stride=8,
        **kwargs,
    )


@register_model
def mini_vit_base(pretrained: bool = False, **kwargs) -> VisionTransformer:
    """ViT, patch 16, width 64, depth 4, 2 heads (0.2 M parameters)."""
    if pretrained:
        raise ValueError("mini_vit_base has no pretrained weights")
    return _vit("mini_vit_base", 64, 4, 2, **kwargs)


@register_model
def mini_vit_large(pretrained: bool = False, **kwargs) -> VisionTransformer:
    """ViT, patch 16, width 96, depth 6, 3 heads (0.7 M parameters)."""
    if pretrained:
        raise ValueError("mini_vit_large has no pretrained weights")
    return _vit("mini_vit_large", 96, 6, 3, **kwargs)
