"""Multiply-accumulates of one image through a run's network, counted, not looked up.

`torch.utils.flop_counter` counts the matrix products and convolutions of a real forward pass
(MCAR's four crops included), so every backbone — the paper's, the mini and smoke stand-ins —
gets a figure without a hand-kept table. The model is built without pretrained weights: the
count does not depend on them, and a dry run must not need the files.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmark.models.model_factory import build_model
from benchmark.spec import RunSpec

_CACHE: dict[tuple, float] = {}  # per network shape: runs differing in data or method share it


def forward_gmacs(spec: RunSpec) -> float:
    """GMACs of one image's forward pass (a training step costs about three times that)."""
    key = (spec.backbone, spec.arch, spec.img_size, spec.num_classes, spec.num_heads, spec.lam)
    if key not in _CACHE:
        _CACHE[key] = _measure(dataclasses.replace(spec, weights=None))
    return _CACHE[key]


def _measure(spec: RunSpec) -> float:
    try:  # shapes only, on the meta device: no memory, no arithmetic (milliseconds)
        with torch.device("meta"):
            return _forward(spec)
    except (NotImplementedError, RuntimeError):  # data-dependent code (MCAR's crops)
        torch.manual_seed(0)
        return _forward(spec)


def _forward(spec: RunSpec) -> float:
    model = build_model(spec).eval()
    image = torch.rand(1, 3, spec.img_size, spec.img_size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(image)
    return counter.get_total_flops() / 2 / 1e9  # one MAC is two FLOPs
