"""A file in a publisher's layout, written from a key manifest (experiments/released_manifests):
exactly the manifest's keys, order, shapes and dtypes, as the publishers save it
(``torch.save(model.state_dict(), path)``), with random values.

Values keep a 101-layer network's activations finite: He-scaled convolutions, BatchNorm
statistics near identity, small biases. `scripts/gpu-check` evaluates such a file through
`benchmark evaluate --checkpoint … --like …`, and the tests write theirs with it.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.experiment.releases import Manifest

DTYPES = {"float32": torch.float32, "int64": torch.int64}


def random_tensor(name: str, shape: tuple[int, ...], dtype: str, gen: torch.Generator):
    if dtype == "int64":
        return torch.randint(0, 1000, shape, generator=gen, dtype=torch.int64)
    if name.endswith("running_var"):
        return torch.rand(shape, generator=gen) * 0.5 + 0.75
    if name.endswith("running_mean") or name.endswith(".bias"):
        return torch.randn(shape, generator=gen) * 0.02
    if name.endswith(("bn1.weight", "bn2.weight", "bn3.weight", "downsample.1.weight")):
        return torch.rand(shape, generator=gen) * 0.3 + 0.2  # damp the residual sum
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return torch.randn(shape, generator=gen) * math.sqrt(1.0 / fan_in)
    return torch.rand(shape, generator=gen) * 0.5 + 0.75  # LayerNorm gains


def manifest_state(manifest: Manifest, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the manifest's keys, order, shapes and dtypes."""
    gen = torch.Generator().manual_seed(seed)
    return {
        key.name: random_tensor(key.name, key.shape, key.dtype, gen).to(DTYPES[key.dtype])
        for key in manifest.keys
    }


def save_bare(state: dict[str, torch.Tensor], path: Path) -> Path:
    """As the publishers save: torch.save(model.state_dict(), path)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return Path(path)


def write_release_file(manifest: Manifest, path: Path, seed: int = 0) -> Path:
    """The manifest's layout with random values, saved as the publishers save."""
    return save_bare(manifest_state(manifest, seed), path)
