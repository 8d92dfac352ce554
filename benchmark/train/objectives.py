"""Training objectives: plain supervised, and MSL (masked supervised learning, docs/spec.md §1.1).

MSL adds no parameters: the same network sees the clean batch and the masked batch, and

    L = 0.3·sup(out, y) + 0.2·sup(out_m, y) + 0.5·MSE(p(out), p(out_m))

where ``sup`` is the model's own supervised loss (BCE with logits for plain/CSRA; MCAR's global
+ local BCE; SST's two branches) and ``p`` its final probabilities. The targets are the full
ground truth for both branches, and there is no stop-gradient: both branches are trained.

``msl_step_loss`` is the one implementation: the training loop and the tests call it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

W_CLEAN = 0.3
W_MASKED = 0.2
W_CONSISTENCY = 0.5


def supervised_step_loss(model: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """The model's own loss on the clean batch; returns (loss, output)."""
    out = model(x)
    return model.supervised_loss(out, y), out


def msl_step_loss(
    model: Any,
    x: torch.Tensor,
    x_masked: torch.Tensor,
    y: torch.Tensor,
    fused: bool = False,
) -> tuple[torch.Tensor, Any]:
    """MSL for any model of the protocol; returns (loss, clean output).

    Default: two forward calls, as in the authors' code, so BatchNorm in train mode normalises
    the clean and the masked batch each with its own statistics. ``fused=True`` runs one forward
    on ``cat([x, x_masked])`` — faster, but BatchNorm then mixes both batches' statistics, which
    changes training; it is an option, never the default.
    """
    if fused:
        both = model(torch.cat([x, x_masked]))
        out, out_m = _split(both, x.shape[0])
    else:
        out = model(x)
        out_m = model(x_masked)
    consistency = F.mse_loss(model.probabilities(out).float(), model.probabilities(out_m).float())
    loss = (
        W_CLEAN * model.supervised_loss(out, y)
        + W_MASKED * model.supervised_loss(out_m, y)
        + W_CONSISTENCY * consistency
    )
    return loss, out


def _split(out: Any, n: int) -> tuple[Any, Any]:
    """Split a fused output (tensor or tuple of tensors) into its clean and masked halves."""
    if isinstance(out, torch.Tensor):
        return out[:n], out[n:]
    halves = [_split(part, n) for part in out]
    return tuple(h[0] for h in halves), tuple(h[1] for h in halves)
