"""Classification heads on a B×D×h×w feature map: the plain linear head and CSRA
(docs/spec.md §1.3, §1.5).

Both return logits in fp32 so that the losses downstream never see bf16 rounding.
"""

from __future__ import annotations

import math

import torch
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
    """Class-specific residual attention, H heads with summed logits (docs/spec.md §1.3).

    Per head and class i, a 1×1 conv without bias gives scores ``s_k = x_k·m_i/‖m_i‖`` (the
    class vector is L2-normalised, the features are not). Then ``logit_i = mean_k s_k + λ·att_i``
    with ``att_i = Σ_k softmax(T·s)_k s_k`` (max for T = ∞).

    Computed in the authors' operation order (docs/spec.md §1.8), which fixes the fp32 rounding:
    one conv per head, the scores divided by the weight's norm after the conv, ``base + λ·att``
    per head, and the heads' logits added one after the other to 0. (Normalising the weights
    first, or one conv over all heads, is the same function with other rounding: training drifts
    from the authors' from the first step.)

    The per-head class weights, each (C, D, 1, 1) in temperature order, are the head's only
    parameters (``heads.{i}.weight``); callers and published checkpoints rely on that.
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
        logits = 0.0
        for head, temperature in zip(self.heads, self.temperatures, strict=True):
            logits = logits + self._head_logits(head, temperature, features)
        return logits

    def _head_logits(self, head: nn.Conv2d, temperature: float, features: torch.Tensor):
        # fp32 scores under bf16 autocast (a no-op in fp32): the logits never see bf16 rounding
        norm = torch.linalg.vector_norm(head.weight, dim=1, keepdim=True).transpose(0, 1)
        scores = (head(features).float() / norm).flatten(2)  # B×C×N
        base = scores.mean(dim=2)
        if math.isinf(temperature):
            att = scores.max(dim=2).values
        else:
            att = (scores * torch.softmax(scores * temperature, dim=2)).sum(dim=2)
        return base + self.lam * att
