"""SST: spatial and semantic transformers on a CNN feature map (docs/spec.md §1.7).

RECONSTRUCTED from the paper's description: no public code exists, so every detail below that
the description leaves open is our choice, and results from this module carry that note.

1. Spatial transformer over the h·w positions. Tokens are the D-d features projected to 256
   (docs/spec.md fixes 4 heads of dim 64, hence model dim 256, so a linear D→256 comes first),
   plus a learned position embedding sized from the input size at build time. Three post-LN
   encoder layers, 4 heads, FFN 512 (PyTorch's default dropout 0.1 and ReLU). Spatial logits:
   GAP over the tokens + linear.
2. Label maps ``M = ReLU(BN(conv1×1_{D→C}(F')))``. docs/spec.md's conv is D→C, so F' is
   D-dimensional: the attended tokens are projected back 256→D and added to the backbone map (a
   residual, so the pretrained features reach the label maps from the first step).
3. Semantic transformer over the C label tokens, each the flattened h·w label map plus a learned
   label embedding; same depth and FFN, 4 heads when h·w divides by 4 (196 at 448 does), else
   the largest of 2 or 1 that does. Semantic logits: a separate linear to 1 per label token.

Loss: BCE on each branch's logits, summed; inference on the summed logits.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.protocol import MultiLabelModel, bce_with_logits

MODEL_DIM = 256
NUM_LAYERS = 3
NUM_HEADS = 4
FFN_DIM = 512


def _encoder(dim: int, heads: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        dim, heads, dim_feedforward=FFN_DIM, batch_first=True, norm_first=False
    )
    return nn.TransformerEncoder(layer, NUM_LAYERS, enable_nested_tensor=False)


class SpatialTransformer(nn.Module):
    """Self-attention over positions; returns spatial logits and the attended D-d map."""

    def __init__(self, in_dim: int, num_positions: int, num_classes: int) -> None:
        super().__init__()
        self.proj_in = nn.Linear(in_dim, MODEL_DIM)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, MODEL_DIM))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.encoder = _encoder(MODEL_DIM, NUM_HEADS)
        self.classifier = nn.Linear(MODEL_DIM, num_classes)
        self.proj_out = nn.Linear(MODEL_DIM, in_dim)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, d, h, w = features.shape
        if h * w != self.pos_embed.shape[1]:
            raise ValueError(
                f"SST was built for {self.pos_embed.shape[1]} positions, got a {h}×{w} map: "
                "build it for the input size it is fed"
            )
        tokens = self.encoder(self.proj_in(features.flatten(2).transpose(1, 2)) + self.pos_embed)
        logits = self.classifier(tokens.mean(dim=1)).float()
        attended = features + self.proj_out(tokens).transpose(1, 2).reshape(b, d, h, w)
        return logits, attended


class SemanticTransformer(nn.Module):
    """Label maps, then self-attention over the C label tokens; returns semantic logits."""

    def __init__(self, in_dim: int, num_positions: int, num_classes: int) -> None:
        super().__init__()
        self.label_conv = nn.Conv2d(in_dim, num_classes, kernel_size=1, bias=False)
        self.label_bn = nn.BatchNorm2d(num_classes)
        self.label_embed = nn.Parameter(torch.zeros(1, num_classes, num_positions))
        nn.init.trunc_normal_(self.label_embed, std=0.02)
        heads = next(h for h in (NUM_HEADS, 2, 1) if num_positions % h == 0)
        self.encoder = _encoder(num_positions, heads)
        self.token_weight = nn.Parameter(torch.empty(num_classes, num_positions))
        self.token_bias = nn.Parameter(torch.zeros(num_classes))
        nn.init.trunc_normal_(self.token_weight, std=num_positions**-0.5)

    def forward(self, attended: torch.Tensor) -> torch.Tensor:
        maps = torch.relu(self.label_bn(self.label_conv(attended)))  # B×C×h×w
        tokens = self.encoder(maps.flatten(2) + self.label_embed)  # B×C×(h·w)
        return (tokens.float() * self.token_weight.float()).sum(dim=-1) + self.token_bias.float()


class SST(MultiLabelModel):
    """``forward`` returns ``(spatial_logits, semantic_logits)``, B×C each (fp32)."""

    def __init__(self, backbone: nn.Module, num_classes: int, img_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        num_positions = backbone.feature_size(img_size) ** 2
        self.spatial = SpatialTransformer(backbone.out_dim, num_positions, num_classes)
        self.semantic = SemanticTransformer(backbone.out_dim, num_positions, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spatial_logits, attended = self.spatial(self.backbone(x))
        return spatial_logits, self.semantic(attended)

    def supervised_loss(
        self, out: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor
    ) -> torch.Tensor:
        spatial_logits, semantic_logits = out
        return bce_with_logits(spatial_logits, targets) + bce_with_logits(semantic_logits, targets)

    def probabilities(self, out: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        spatial_logits, semantic_logits = out
        return torch.sigmoid(spatial_logits.float() + semantic_logits.float())
