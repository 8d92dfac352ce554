"""On-disk cache for parsed annotations and mask pools, so later runs skip the slow first pass.

Entries are ``.npz`` files named by a hash of what they depend on and written atomically, so a
crash or two concurrent runs never leave a half-written entry behind. The folder is always
passed in (``--cache-dir``, resolved once by the command line); without one nothing is cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.store.results import atomic_write


def cache_key(parts: dict[str, Any]) -> str:
    """Stable short hash of a JSON-able description of an entry's inputs."""
    payload = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def file_signature(path: Path) -> dict[str, Any]:
    """Path, size and mtime: enough to notice a replaced annotation file without hashing it."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache entry, or None when it is absent or unreadable (then rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, KeyError):
        return None


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``.npz`` atomically (the project's one writer: temp file, fsync, rename)."""
    atomic_write(path, lambda handle: np.savez(handle, **arrays))
