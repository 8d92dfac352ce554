"""Checkpoints written atomically and read back with weights_only=True.

`last.pt` holds everything a resume needs (model, optimizer, scheduler, epoch, history, best
so far, RNG state); `best.pt` holds the best-on-test weights. A file cut short by a kill is
never seen under its final name, because it is renamed into place only once complete.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from benchmark.results import atomic_write_bytes

LAST = "last.pt"
BEST = "best.pt"


class CheckpointError(Exception):
    """A checkpoint exists but cannot be read as valid."""


def save(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load(path: Path) -> dict[str, Any]:
    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as exc:
        raise CheckpointError(f"{path}: not a valid checkpoint ({exc})") from exc
