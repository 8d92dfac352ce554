"""The irregular-mask pools as tensors, ready to multiply a batch: drawing a mask in training
costs an index into a tensor (no PNG decode, no resize). The pools themselves — which masks,
built once, cached — are `benchmark.data.pools`, which imports no torch.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.data.pools import PoolDef, load_pool_arrays, mask_choice, pool_def
from benchmark.data.procedural import border_width

__all__ = ["MaskPool", "PoolDef", "load_pool", "mask_choice", "pool_def", "pool_stats"]


class MaskPool:
    """Keep-maps (True = keep the pixel) of one pool at one size, ready to multiply a batch."""

    def __init__(self, keep: torch.Tensor, ratios: torch.Tensor, source: str) -> None:
        self.keep = keep
        self.ratios = ratios
        self.source = source

    def __len__(self) -> int:
        return int(self.keep.shape[0])

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n masks drawn uniformly (fresh each call), float n×1×S×S on the pool's device."""
        index = torch.randint(len(self), (n,), generator=generator, device=generator.device)
        return self._take(index)

    def for_indices(self, indices: torch.Tensor, seed: int) -> torch.Tensor:
        """The mask of each dataset index for ``seed``: the same image always gets the same mask,
        so every model evaluated with one seed sees identical masks."""
        index = torch.as_tensor(indices, dtype=torch.int64)
        return self._take(mask_choice(index, seed, len(self)))

    def to(self, device: torch.device | str) -> MaskPool:
        return MaskPool(self.keep.to(device), self.ratios.to(device), self.source)

    def _take(self, index: torch.Tensor) -> torch.Tensor:
        return self.keep[index.to(self.keep.device)].unsqueeze(1).float()


def load_pool(
    pool: str,
    size: int,
    source: str | Path | None = None,
    cache_dir: Path | None = None,
    seed: int = 0,
) -> MaskPool:
    """`benchmark.data.pools.load_pool_arrays` as tensors (see there for the arguments)."""
    arrays = load_pool_arrays(pool, size, source, cache_dir, seed)
    return MaskPool(torch.from_numpy(arrays.keep), torch.from_numpy(arrays.ratios), arrays.source)


def pool_stats(pool: MaskPool) -> dict[str, float]:
    """count, ratio mean/min/max, and the share of hole pixels inside the 50/512 border band."""
    size = pool.keep.shape[-1]
    band = torch.ones(size, size, dtype=torch.bool)
    w = border_width(size)
    band[w : size - w, w : size - w] = False
    holes = ~pool.keep.cpu()
    total = int(holes.sum())
    return {
        "count": len(pool),
        "ratio_mean": float(pool.ratios.mean()),
        "ratio_min": float(pool.ratios.min()),
        "ratio_max": float(pool.ratios.max()),
        "border_hole_fraction": float((holes & band).sum()) / total if total else 0.0,
    }
