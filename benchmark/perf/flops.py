"""Model FLOPs of one training step, and MFU against the accelerator's dense peak for the
arithmetic that ran (bf16, TF32 or fp32).

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

# Dense peaks (TFLOP/s, no sparsity) from NVIDIA's data sheets, matched in order against the
# device name: bf16 and TF32 on the tensor cores (TF32 at half bf16's rate), fp32 without them.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H100 PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100 NVL", {"bf16": 835.0, "tf32": 417.5, "fp32": 60.0}),
    ("H100", {"bf16": 989.0, "tf32": 494.5, "fp32": 67.0}),  # SXM
    ("H200", {"bf16": 989.0, "tf32": 494.5, "fp32": 67.0}),
    ("A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
)


def peak_tflops(device_name: str, arithmetic: str = "bf16") -> float | None:
    """The dense peak of a device by name for ``arithmetic`` (bf16 | tf32 | fp32: what was
    computed, benchmark.train.precision.computed_as), or None when the table does not know it."""
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peaks[arithmetic]
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
