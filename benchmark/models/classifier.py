"""Backbone + one head on its feature map: the "plain" and "csra" rows of the tables."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.protocol import MultiLabelModel


class FeatureMapClassifier(MultiLabelModel):
    """``forward`` returns B×C logits (fp32); loss is BCE with logits (docs/spec.md §1.1)."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
