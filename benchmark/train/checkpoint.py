"""Checkpoints written atomically and read back with weights_only=True.

`last.pt` holds everything a resume needs (model, optimizer, epoch, history, best so far, RNG
state; the learning rate follows from the epoch: benchmark.train.schedule); `best.pt` holds
the best-on-test weights. A file cut short by a kill is never seen under its final name,
because it is renamed into place only once complete.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import UserError
from benchmark.store.results import atomic_write_bytes

LAST = "last.pt"
BEST = "best.pt"
UNREADABLE = ".unreadable"  # suffix of a checkpoint set aside because it could not be read


class CheckpointError(UserError):
    """A checkpoint exists but cannot be read as valid (truncated, foreign or not ours)."""


def save(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load(path: Path) -> dict[str, Any]:
    try:
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint missing") from None
    except pickle.UnpicklingError as exc:
        # weights_only refused a pickled global that is not a tensor or plain data: name it,
        # without torch's multi-paragraph advice to retry unsafely.
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:
            raise CheckpointError(f"{path}: not a valid checkpoint (not a PyTorch file)") from None
        raise CheckpointError(
            f"{path}: refused: it holds a pickled object ({found.group(1)}) that is not a tensor "
            f"or plain data (checkpoints are read with weights_only=True)"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(f"{path}: not a valid checkpoint ({_first_line(exc)})") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: not a valid checkpoint (holds {type(saved).__name__})")
    return saved


def set_aside_if_unreadable(path: Path) -> str | None:
    """Why `path` cannot be read, after renaming it to `<name>.unreadable` (kept for a look);
    None when it reads or does not exist. Lets a resume start over instead of crashing."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        load(path)
    except CheckpointError as exc:
        try:
            os.replace(path, path.with_name(path.name + UNREADABLE))
        except FileNotFoundError:
            pass  # another rank of the same run set it aside first
        return str(exc)
    return None


def _first_line(exc: BaseException) -> str:
    """The first sentence of torch's message: the cause, not the advice that follows."""
    text = str(exc).strip().split("\n")[0].split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {text or 'file ends early'}"
