"""Classification heads on a B×D×h×w feature map: the plain linear head and CSRA (SPEC §1.3, §1.5).

Both return logits in fp32 so that the losses downstream never see bf16 rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.spec import CSRA_TEMPERATURES


class PlainHead(nn.Module):
    """Global average pooling + a linear classifier with bias (the "plain" table rows)."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features.mean(dim=(2, 3))).float()


class CSRAHead(nn.Module):
    """Class-specific residual attention, H heads with summed logits.

    Per head and class i, a 1×1 conv without bias gives scores ``s_k = x_k·m_i/‖m_i‖`` (the class
    vector is L2-normalised, the features are not — as in CSRA's code, which divides the scores by
    the weight norm; normalising the weight first is the same function). Then
    ``logit_i = mean_k s_k + λ·att_i`` with ``att_i = Σ_k softmax(T·s)_k s_k`` (max for T = ∞).

    The per-head class weights, each (C, D, 1, 1) in temperature order, are the head's only
    parameters; callers rely on that order.
    """

    def __init__(self, in_dim: int, num_classes: int, num_heads: int, lam: float) -> None:
        super().__init__()
        if num_heads not in CSRA_TEMPERATURES:
            raise ValueError(f"CSRA num_heads must be one of {sorted(CSRA_TEMPERATURES)}")
        self.temperatures = CSRA_TEMPERATURES[num_heads]
        self.lam = lam
        self.num_classes = num_classes
        self.heads = nn.ModuleList(
            nn.Conv2d(in_dim, num_classes, kernel_size=1, bias=False) for _ in self.temperatures
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # One conv for all heads: stack the per-class-normalised weights (H·C, D, 1, 1).
        weight = torch.cat([head.weight for head in self.heads])
        weight = weight / weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        scores = F.conv2d(features, weight.to(features.dtype)).flatten(2).float()  # B×HC×N
        scores = scores.view(scores.shape[0], len(self.heads), self.num_classes, -1)
        logits = scores.new_zeros(scores.shape[0], self.num_classes)
        for h, temperature in enumerate(self.temperatures):
            s = scores[:, h]
            if math.isinf(temperature):
                att = s.amax(dim=-1)
            else:
                att = (torch.softmax(temperature * s, dim=-1) * s).sum(dim=-1)
            logits = logits + s.mean(dim=-1) + self.lam * att
        return logits
