"""Datasets in their official on-disk layouts, the irregular-mask pools, and synthetic trees.

The names below load on first use, so light verbs (`benchmark list`, `score`) never pay for
importing torchvision.
"""

import importlib

_LAZY = {
    "build_dataset": "benchmark.data.dataset_factory",
    "load_records": "benchmark.data.dataset_factory",
    "MultiLabelDataset": "benchmark.data.dataset",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'benchmark.data' has no attribute {name!r}")
