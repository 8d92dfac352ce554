"""The irregular-mask pools of docs/spec.md §1.2 as NumPy arrays: NVIDIA testing-set files, or a
procedural stand-in, and which mask each test image gets.

A pool is built once at the training size and cached on disk as packed bits. No torch here:
training wraps these arrays as tensors (`benchmark.data.masks`), the report draws them as they
are, and both choose an image's mask with the same `mask_choice`.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.data.cache import cache_key, load_arrays, save_arrays
from benchmark.data.procedural import generate_pool
from benchmark.errors import DataError, UserError

POOL_VERSION = 2  # bump when selection or processing changes, so stale cache entries are unused
PROCEDURAL_COUNTS = {"high": 951, "low": 951, "bucket": 500}  # buckets: 500 masks are plenty
BUCKET_FILES = 2000  # NVIDIA: six ratio buckets of 2,000 files each, in file order
_M32 = 0xFFFFFFFF


@dataclass(frozen=True)
class PoolDef:
    """What a pool name means: its NVIDIA file numbers and its hole-ratio range."""

    name: str
    numbers: tuple[int, ...]
    low: float
    high: float
    border: bool  # procedural only: keep the 50/512 hole-free border


def pool_def(pool: str) -> PoolDef:
    """``high``: files 11999…11049 (the public code sorts, reverses, keeps 1,000 and draws
    among indices 0…950); ``low``: files 00000…00950; ``bucket:K``: files 2000K…2000K+1999."""
    if pool == "high":
        return PoolDef(pool, tuple(range(11999, 11048, -1)), 0.5, 0.6, False)
    if pool == "low":
        return PoolDef(pool, tuple(range(0, 951)), 0.01, 0.1, True)
    match = re.fullmatch(r"bucket:([0-5])", pool)
    if match:
        k = int(match.group(1))
        first = BUCKET_FILES * k
        low = 0.01 if k == 0 else 0.1 * k
        return PoolDef(pool, tuple(range(first, first + BUCKET_FILES)), low, 0.1 * (k + 1), False)
    raise UserError(f"pool: unknown value {pool!r} (allowed: high, low, bucket:0 … bucket:5)")


@dataclass(frozen=True)
class PoolArrays:
    keep: np.ndarray  # N×S×S bool, True = keep the pixel
    ratios: np.ndarray  # N hole ratios
    source: str

    def __len__(self) -> int:
        return len(self.keep)

    def for_indices(self, indices, seed: int) -> np.ndarray:
        """The keep-map of each dataset index for ``seed`` (N×S×S), as training's pool gives."""
        return self.keep[mask_choice(np.asarray(indices, dtype=np.int64), seed, len(self))]


def mask_choice(indices, seed: int, count: int):
    """A cheap integer hash of (seed, index) → pool index. ``indices``: an int64 NumPy array
    or torch tensor (any device); the same values either way, so the report and training agree."""
    x = _mix32(indices & _M32)
    x = _mix32(x ^ _mix32(seed & _M32))
    return x % count


def _mix32(x):
    # Products stay below 2**59, so int64 never overflows and results match across devices.
    x = x ^ (x >> 16)
    x = (x * 0x45D9F3B) & _M32
    x = x ^ (x >> 16)
    x = (x * 0x45D9F3B) & _M32
    return x ^ (x >> 16)


def load_pool_arrays(
    pool: str,
    size: int,
    source: str | Path | None = None,
    cache_dir: Path | None = None,
    seed: int = 0,
) -> PoolArrays:
    """A pool at ``size`` px from a folder of NVIDIA PNGs or ``"procedural"`` (None = procedural).

    The first call decodes (or generates) and caches under ``cache_dir/masks/`` (nothing is
    cached without a ``cache_dir``); later calls read the cache. ``seed`` only affects
    procedural pools.
    """
    spec = pool_def(pool)
    if size < 1:
        raise UserError(f"size: must be positive, got {size}")
    procedural = source is None or str(source) == "procedural"
    if procedural:
        count = PROCEDURAL_COUNTS["bucket" if pool.startswith("bucket") else pool]
        parts = {"source": "procedural", "count": count, "seed": seed}
        label = "procedural"
    else:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"--source {folder}: mask folder not found (expected the NVIDIA irregular mask "
                "testing set, 00000.png … 11999.png, or 'procedural')"
            )
        files = [folder / f"{n:05d}.png" for n in spec.numbers]
        parts = {"source": str(folder.resolve()), "files": _files_signature(files)}
        label = str(folder)
    key = cache_key({"v": POOL_VERSION, "pool": pool, "size": size, **parts})
    entry = None
    if cache_dir is not None:
        entry = Path(cache_dir) / "masks" / f"{pool.replace(':', '')}-{size}-{key}.npz"
    arrays = load_arrays(entry) if entry is not None else None
    if arrays is None:
        if procedural:
            seed_seq = [seed, int(spec.low * 1000), int(spec.high * 1000)]
            holes = generate_pool(count, size, spec.low, spec.high, spec.border, seed_seq)
        else:
            holes = read_masks(files, size)
        arrays = {
            "bits": np.packbits(~holes, axis=-1),
            "shape": np.asarray(holes.shape),
            "ratios": holes.mean(axis=(1, 2), dtype=np.float64).astype(np.float32),
        }
        if entry is not None:
            save_arrays(entry, arrays)
    shape = tuple(int(v) for v in arrays["shape"])
    keep = np.unpackbits(arrays["bits"], axis=-1, count=shape[-1]).view(bool)  # 0/1: no copy
    return PoolArrays(keep, arrays["ratios"], label)


def read_masks(files: list[Path], size: int) -> np.ndarray:
    """Hole maps (True = hole) of NVIDIA PNGs, nearest-resized to ``size``; binary-checked."""
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.stack(list(pool.map(lambda f: _read_mask(f, size), files)))


def _read_mask(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            gray = img.convert("L")
    except FileNotFoundError:
        raise DataError(f"{path}: mask file missing") from None
    except OSError as err:
        raise DataError(f"{path}: cannot decode mask ({err})") from None
    values = np.asarray(gray)
    if np.any((values != 0) & (values != 255)):
        raise DataError(f"{path}: mask is not binary (values other than 0 and 255)")
    if gray.size != (size, size):
        gray = gray.resize((size, size), Image.NEAREST)
    return np.asarray(gray) > 0


def _files_signature(files: list[Path]) -> str:
    """Sizes and mtimes of the selected files, so replacing one invalidates the cache."""
    parts = []
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise DataError(f"{path}: mask file missing") from None
        parts.append((path.name, stat.st_size, stat.st_mtime_ns))
    return cache_key({"files": parts})
