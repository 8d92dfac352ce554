"""Model FLOPs of one training step, and MFU against the accelerator's bf16 dense peak.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add,
matrix products and convolutions only) on a copy of the model on the meta device: shapes only,
no arithmetic, so counting ResNet-101 or ViT-L costs well under a second on any machine. MFU is
model FLOPs ÷ time ÷ peak: it counts the FLOPs the model needs, not the ones the hardware ran
(recomputation, padding and non-matmul work are not credited).
"""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmark.models import build_model
from benchmark.spec import RunSpec
from benchmark.train.objectives import msl_step_loss, supervised_step_loss

# bf16 dense tensor-core peaks (TFLOP/s, no sparsity), matched in order against the device name.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM
    ("H200", 989.0),
    ("A100", 312.0),
)


def peak_tflops(device_name: str) -> float | None:
    """The bf16 dense peak of a device by name, or None when the table does not know it."""
    for key, peak in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


def step_flops(spec: RunSpec, variants: tuple[str, ...]) -> dict[str, int]:
    """Forward + backward FLOPs of one step of each variant (supervised | msl | fused_msl)."""
    meta = torch.device("meta")
    with meta:
        model = build_model(dataclasses.replace(spec, weights=None))
    model.train()
    size, batch = spec.img_size, spec.batch_size
    x = torch.empty(batch, 3, size, size, device=meta)
    y = torch.empty(batch, spec.num_classes, device=meta)
    keep = torch.empty(batch, 1, size, size, device=meta)
    counts = {}
    for variant in variants:
        with FlopCounterMode(display=False) as counter:
            if variant == "supervised":
                loss, _ = supervised_step_loss(model, x, y)
            else:
                loss, _ = msl_step_loss(model, x, x * keep, y, fused=variant == "fused_msl")
            loss.backward()
        counts[variant] = int(counter.get_total_flops())
    return counts


def mfu(flops: float, seconds: float, peak: float) -> float:
    """Model FLOPs utilisation, a fraction of ``peak`` TFLOP/s."""
    return flops / seconds / (peak * 1e12)
