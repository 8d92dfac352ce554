"""One place for every random draw's seed, and RNG state that survives a checkpoint.

Each epoch reseeds the global generators from (seed, epoch): an epoch is then a pure function
of the state at its start, so a run resumed from the last checkpoint repeats exactly what an
uninterrupted run would have done.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

_STRIDE = 1_000_003  # keeps (seed, epoch, stream) pairs from colliding


def derive_seed(seed: int, epoch: int = 0, stream: int = 0) -> int:
    return (seed * _STRIDE + epoch * 7919 + stream * 104_729) % (2**63 - 1)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def seed_worker(worker_id: int) -> None:
    """DataLoader worker init: python and numpy follow the worker's torch seed."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def rng_state() -> dict[str, Any]:
    """Every global RNG state as tensors and plain lists (loadable with weights_only=True)."""
    version, mt_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(mt_state), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
