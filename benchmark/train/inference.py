"""Scoring a model on a test set, shared by the per-epoch evaluation in training and by
`evaluate` (clean and masked conditions): the run's datasets, the model's device setup (with CUDA
graphs, benchmark.train.graphs), loaders, prediction over ranks and the metrics of the
predictions — one implementation, so both score the same way."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader

from benchmark.data import build_dataset
from benchmark.data.dataset import MultiLabelDataset
from benchmark.data.records import InstanceTable
from benchmark.experiment.profiles import get_profile
from benchmark.scoring.breakdown import breakdown
from benchmark.scoring.metrics import score
from benchmark.spec import RunSpec
from benchmark.train import distributed as ddp
from benchmark.train.graphs import Graphs
from benchmark.train.job_context import JobContext
from benchmark.train.seeding import generator, seed_worker

KeepFn = Callable[[torch.Tensor], torch.Tensor]  # dataset indices → keep-maps B×1×S×S


def build_test_set(spec: RunSpec, ctx: JobContext, split: str = "test") -> MultiLabelDataset:
    """The run's test split (or ``split``) with its deterministic test transform."""
    return _build_split(spec, ctx, split, train=False)


def build_train_set(spec: RunSpec, ctx: JobContext) -> MultiLabelDataset:
    """The run's training split with its augmentation: what `fit` trains on, and what
    `benchmark perf` times the data pipeline on."""
    return _build_split(spec, ctx, "train", train=True)


def _build_split(spec: RunSpec, ctx: JobContext, split: str, train: bool) -> MultiLabelDataset:
    """One builder for every split a run reads: the same root, corrupt-image policy
    (``skip_bad``) and annotation cache whichever caller asks."""
    return build_dataset(
        spec.dataset,
        ctx.dataset_root(spec),
        split,
        img_size=spec.img_size,
        train=train,
        augment=spec.augment,
        normalize=spec.normalize,
        skip_bad=ctx.skip_bad,
        cache_dir=ctx.cache_dir,
    )


def prepare_model(
    model: torch.nn.Module,
    ctx: JobContext,
    device: torch.device,
    batch_size: int,
    world_size: int = 1,
) -> tuple[torch.nn.Module, Graphs]:
    """On the device; channels_last on CUDA (what the loaders feed there); then compiled in
    place as ``ctx.compile_mode`` asks (CUDA graphs by default on CUDA, for full batches of
    ``batch_size``). Training and evaluation both set a model up here, in this order."""
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    graphs = Graphs.setup(model, ctx.compile_mode, device, batch_size, world_size, compile_in_place)
    return model, graphs


def compile_in_place(model: torch.nn.Module, mode: str) -> None:
    """torch.compile in place: parameter names (and so checkpoints) are unchanged, and a
    resumed or evaluated checkpoint loads the same with or without it."""
    model.compile(mode=mode)


def make_loader(
    dataset,
    batch_size: int,
    ctx: JobContext,
    train: bool,
    seed: int,
    sampler=None,
    collate=None,
) -> DataLoader:
    cuda = ctx.torch_device().type == "cuda"
    workers = ctx.num_workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        generator=generator(seed) if train and sampler is None else None,
        num_workers=workers,
        worker_init_fn=seed_worker,
        collate_fn=collate or dataset.collate,
        pin_memory=cuda,
        persistent_workers=False,
        prefetch_factor=4 if workers else None,
        drop_last=False,
    )


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    loader: DataLoader,
    device: torch.device,
    keep_fn: KeepFn | None = None,
    graphs: Graphs | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Probabilities, target codes, dataset indices (and skipped files) over a loader."""
    model.eval()
    cuda = device.type == "cuda"
    probs, targets, indices, bad_files = [], [], [], []
    for images, target, index, bad in loader:
        bad_files.extend(bad)
        if len(images) == 0:
            continue
        images = images.to(device, non_blocking=True)
        if cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        if keep_fn is not None:
            images = images * keep_fn(index).to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            if graphs is None:
                out = model(images)
            else:
                out = graphs.run("eval", len(images), partial(model, images), model)
        probs.append(model.probabilities(out).float().cpu())
        targets.append(target)
        indices.append(torch.as_tensor(index))
    return (
        torch.cat(probs).numpy(),
        torch.cat(targets).numpy().astype(np.int64),
        torch.cat(indices).numpy(),
        bad_files,
    )


def evaluate_test_set(
    model, test_set, spec: RunSpec, ctx: JobContext, device, keep_fn=None, graphs=None
):
    """Every test image scored once across ranks, gathered in index order on every rank."""
    subset = test_set
    if ddp.world_size() > 1:
        subset = torch.utils.data.Subset(test_set, ddp.shard(len(test_set)))
    loader = make_loader(subset, spec.batch_size, ctx, False, 0, collate=test_set.collate)
    probs, targets, indices, bad = predict(model, loader, device, keep_fn, graphs)
    probs, targets, indices = ddp.gather_predictions(probs, targets, indices)
    return probs, targets, indices, bad


def score_predictions(
    probs: np.ndarray,
    targets: np.ndarray,
    instances: InstanceTable,
    indices: np.ndarray,
    spec: RunSpec,
) -> dict:
    """SPEC §3's metrics and the small/occluded breakdown of one set of test predictions, with
    tied scores ranked as the run's profile says (paper: the authors' order;
    benchmark.scoring.metrics)."""
    tie_order = get_profile(spec.profile).tie_order
    scores = score(probs, targets, tie_order).to_dict()
    scores.update(breakdown(probs, targets, instances, indices, tie_order))
    return scores
