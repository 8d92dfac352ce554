"""The arithmetic a run trains and evaluates in: a named choice, part of its identity
(docs/spec.md §1.8).

- ``fp32``: fp32 tensors, strict IEEE fp32 matmuls and convolutions (TF32 off everywhere).
- ``tf32``: fp32 tensors, TF32 allowed for CUDA matmuls and cuDNN convolutions — what the
  authors' torch 1.8 did by default; used only where the hardware has TF32 (NVIDIA Ampere and
  later). On a CPU or an older GPU the same setting computes in fp32.
- ``bf16``: ``torch.autocast`` to bfloat16 (a speed choice, not the paper's); on a CPU, CPU
  autocast. Heads and losses return fp32 either way.

Each result records what was computed (``record``): the requested choice and, where it
differs, what the device made of it, so that a tf32 run on a CPU says it computed in fp32.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from benchmark.spec import PRECISIONS

# compute capability from which NVIDIA GPUs have TF32 tensor cores (Ampere)
TF32_CAPABILITY = (8, 0)


def configure_precision(precision: str, device: torch.device) -> None:
    """Set torch's process-wide TF32 switches for ``precision``: on for tf32 on CUDA, off
    otherwise (also on a CPU, so that nothing set earlier in the process lets a CPU library
    lower fp32 matmuls)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    allow = precision == "tf32" and device.type == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow


def autocast(precision: str, device: torch.device):
    """The context a forward pass runs in: bf16 autocast for ``bf16``, nothing otherwise."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def computed_as(precision: str, device: torch.device) -> str:
    """What the device computes for ``precision``: fp32, tf32 or bf16."""
    if precision != "tf32":
        return precision
    if device.type == "cuda" and torch.cuda.get_device_capability(device) >= TF32_CAPABILITY:
        return "tf32"
    return "fp32"


def record(precision: str, device: torch.device) -> dict[str, Any]:
    """What a result says about its arithmetic."""
    computed = computed_as(precision, device)
    out: dict[str, Any] = {"requested": precision, "computed": computed}
    if computed != precision:
        out["why"] = (
            "TF32 exists only on NVIDIA Ampere and later GPUs: this device computed the "
            "run's fp32 tensors in strict fp32"
        )
    return out
