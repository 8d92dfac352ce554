"""The contract between a model and the training engine.

Every model built by ``build_model`` is a ``MultiLabelModel``: the engine and the objectives
(supervised, MSL) call only these four methods, so a new architecture with its own multi-part
output (MCAR, SST) plugs into MSL unchanged (docs/spec.md §1.1, last point).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Output = Any  # a B×C logits tensor, or an architecture's tuple of tensors


class MultiLabelModel(nn.Module):
    """A backbone plus head modules; subclasses define ``forward`` and may override the rest."""

    backbone: nn.Module

    def supervised_loss(self, out: Output, targets: torch.Tensor) -> torch.Tensor:
        """The model's own supervised loss; default: BCE with logits, mean over B×C, in fp32."""
        return bce_with_logits(out, targets)

    def probabilities(self, out: Output) -> torch.Tensor:
        """B×C class probabilities in fp32 (what metrics and MSL's consistency term use)."""
        return torch.sigmoid(out.float())

    def head_modules(self) -> list[nn.Module]:
        """Everything trained at the head learning rate (docs/spec.md §1.8)."""
        return [m for name, m in self.named_children() if name != "backbone"]

    def param_groups(self, base_lr: float, head_lr_mult: float) -> list[dict[str, Any]]:
        """SGD groups: backbone at ``base_lr``, head at ``base_lr × head_lr_mult``."""
        head = [p for m in self.head_modules() for p in m.parameters() if p.requires_grad]
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        return [
            {"name": "backbone", "params": backbone, "lr": base_lr},
            {"name": "head", "params": head, "lr": base_lr * head_lr_mult},
        ]


def bce_with_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE with logits, mean over batch × classes, in fp32 whatever the autocast dtype."""
    return F.binary_cross_entropy_with_logits(logits.float(), targets.float())


def bce_on_probabilities(
    probs: torch.Tensor, targets: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """BCE on probabilities (MCAR's loss), fp32, safe for probabilities that round to 0 or 1.

    The clamp bounds the value; the straight-through form keeps the gradient of the unclamped
    probability, so a saturated wrong prediction still receives a gradient.
    """
    p = probs.float()
    p = p + (p.clamp(eps, 1.0 - eps) - p).detach()
    y = targets.float()
    return -(y * torch.log(p) + (1.0 - y) * torch.log1p(-p)).mean()
