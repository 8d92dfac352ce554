"""Why a run failed, in one line a user can act on (the traceback stays in its log.txt)."""

from __future__ import annotations

import errno
from pathlib import Path

import torch

from benchmark.errors import UserError
from benchmark.train.loop import NonFiniteLoss


def user_message(exc: UserError) -> str:
    """The error's own message. A DataLoader worker re-raises it with the worker's traceback
    in the text; keep only the original line, which names the file."""
    text = str(exc)
    marker = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    if "Original Traceback" in text and marker in text:
        return text.rsplit(marker, 1)[1].strip()
    return text


def describe(exc: Exception, batch_size: int, results_dir: Path) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return (
            f"CUDA out of memory at batch size {batch_size}: use a GPU with more memory, or "
            f"run it with more GPUs (--nproc)"
        )
    if isinstance(exc, NonFiniteLoss):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = Path(exc.filename).parent if exc.filename else Path(results_dir)
        return (
            f"no space left on device writing to {where}: free some space and run again "
            f"(training resumes from its last checkpoint)"
        )
    return f"{type(exc).__name__}: {exc} (traceback in the run's log.txt)"
