"""Reproducibility suite for MSL (Zunair & Ben Hamza, WACV 2024).

`benchmark.evaluate_model` scores any model under the paper's occlusion protocol (README,
"Python API"). It loads on first use, so `import benchmark` (and every light CLI verb) stays
free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "evaluate_model": "benchmark.train.model_evaluation",
    "ModelEvaluation": "benchmark.train.model_evaluation",
    "PAPER_INPUTS": "benchmark.train.model_evaluation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
