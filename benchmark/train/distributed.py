"""torch.distributed for one run over several processes (torchrun sets the environment).

Training shards batches with a DistributedSampler; the test set is split by index so every
test image is scored exactly once across ranks, then gathered in index order. Only rank 0
writes files. Outside torchrun every helper here is a no-op for a single process.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def init_from_env() -> None:
    """Join the process group torchrun describes (NCCL on GPU, gloo on CPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    cuda = torch.cuda.is_available() and os.environ.get("BENCHMARK_DEVICE", "auto") != "cpu"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if cuda else "gloo")


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def local_device(device: torch.device) -> torch.device:
    if device.type == "cuda" and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


class ProtocolDDP(DistributedDataParallel):
    """DDP that still answers the model protocol (loss and probabilities of its module)."""

    def supervised_loss(self, out, targets):
        return self.module.supervised_loss(out, targets)

    def probabilities(self, out):
        return self.module.probabilities(out)


def wrap_model(model: torch.nn.Module, device: torch.device, sync_bn: bool) -> torch.nn.Module:
    if not dist.is_initialized():
        return model
    if sync_bn:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return ProtocolDDP(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard(n: int) -> list[int]:
    """This rank's test indices: every index belongs to exactly one rank."""
    return list(range(rank(), n, world_size()))


def gather_predictions(probs, targets, indices):
    """All ranks' (probs, targets, indices) concatenated and put back in index order."""
    if not dist.is_initialized():
        return probs, targets, indices
    parts: list = [None] * world_size()
    dist.all_gather_object(parts, (probs, targets, indices))
    probs = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    indices = np.concatenate([p[2] for p in parts])
    order = np.argsort(indices, kind="stable")
    return probs[order], targets[order], indices[order]
