"""Scoring a model on a test set, shared by the per-epoch evaluation in training and by
`evaluate` (clean and masked conditions): the run's datasets, the model's device setup (with CUDA
graphs, benchmark.train.graphs), loaders, prediction over ranks and the metrics of the
predictions — one implementation, so both score the same way."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from benchmark.data import build_dataset
from benchmark.data.dataset import MultiLabelDataset
from benchmark.data.records import InstanceTable
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile
from benchmark.models.protocol import MultiLabelModel
from benchmark.scoring.breakdown import breakdown
from benchmark.scoring.metrics import score
from benchmark.spec import RunSpec
from benchmark.store.predictions import Predictions, predictions_path, save_predictions
from benchmark.train import distributed as ddp
from benchmark.train.graphs import Graphs
from benchmark.train.job_context import JobContext
from benchmark.train.precision import autocast
from benchmark.train.seeding import generator, seed_worker

KeepFn = Callable[[torch.Tensor], torch.Tensor]  # dataset indices → keep-maps B×1×S×S


def build_test_set(spec: RunSpec, ctx: JobContext, split: str = "test") -> MultiLabelDataset:
    """The run's test split (or ``split``) with its deterministic test transform."""
    return load_split(
        spec.dataset, ctx.dataset_root(spec), spec.img_size, spec.normalize, ctx, split
    )


def build_train_set(spec: RunSpec, ctx: JobContext) -> MultiLabelDataset:
    """The run's training split with its augmentation: what `fit` trains on, and what
    `benchmark perf` times the data pipeline on."""
    root = ctx.dataset_root(spec)
    return load_split(spec.dataset, root, spec.img_size, spec.normalize, ctx, "train", spec.augment)


def load_split(
    dataset: str,
    root: str | Path,
    img_size: int,
    normalize: str,
    ctx: JobContext,
    split: str = "test",
    augment: str | None = None,
) -> MultiLabelDataset:
    """A split of ``dataset`` under ``root`` with the deterministic test transform (resize to
    img_size², then ``normalize``), or with the training ``augment`` when one is given. One
    builder for every split a run reads: the same corrupt-image policy (``skip_bad``) and
    annotation cache whichever caller asks."""
    return build_dataset(
        dataset,
        root,
        split,
        img_size=img_size,
        train=augment is not None,
        augment=augment or "flip_rrc",  # read only when training
        normalize=normalize,
        skip_bad=ctx.skip_bad,
        cache_dir=ctx.cache_dir,
    )


def prediction_ids(dataset) -> list[str]:
    """A stable name per sample: its file relative to the dataset's image folder, with ``#k``
    for the k-th person box of a WIDER image (one sample per box)."""
    files = [os.fspath(f) for f in dataset.files]
    root = os.path.commonpath(files) if len(files) > 1 else os.path.dirname(files[0])
    if len(files) > 1 and root in files:  # a single repeated file (WIDER): keep its name
        root = os.path.dirname(root)
    seen: Counter[str] = Counter()
    ids = []
    for path in files:
        name = os.path.relpath(path, root).replace(os.sep, "/")
        ids.append(f"{name}#{seen[name]}" if dataset.boxes is not None else name)
        seen[name] += 1
    return ids


def named_predictions(probs, targets, indices, ids: list[str]) -> Predictions:
    """One model state's per-image predictions, each row named by its sample's id."""
    return Predictions.build(probs, [ids[int(i)] for i in indices], targets)


def write_predictions(out_dir: Path, key: str, preds: Predictions) -> dict[str, str]:
    """Write per-image predictions beside a result; returns the entry the result lists."""
    path = predictions_path(out_dir, key)
    digest = save_predictions(path, preds)
    return {"file": path.relative_to(out_dir).as_posix(), "sha256": digest}


def keep_predictions(
    out_dir: Path, key: str, probs, targets, indices, ids: list[str]
) -> dict[str, str]:
    """Write one model state's per-image predictions; returns the entry the result lists."""
    return write_predictions(out_dir, key, named_predictions(probs, targets, indices, ids))


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
    precision: str,
    keep_fn: KeepFn | None = None,
    graphs: Graphs | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Probabilities, target codes, dataset indices (and skipped files) over a loader, computed
    at ``precision`` (the run's: benchmark.train.precision)."""
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
        with autocast(precision, device):
            if graphs is None:
                out = model(images)
            else:
                out = graphs.run("eval", len(images), partial(model, images), model)
        probs.append(probabilities(model, out).cpu())
        targets.append(target)
        indices.append(torch.as_tensor(index))
    return (
        torch.cat(probs).numpy(),
        torch.cat(targets).numpy().astype(np.int64),
        torch.cat(indices).numpy(),
        bad_files,
    )


def probabilities(model: torch.nn.Module, out) -> torch.Tensor:
    """B×C probabilities in fp32: a suite model's own (MCAR's are not one sigmoid), any other
    module's output taken as logits."""
    if isinstance(model, MultiLabelModel):
        return model.probabilities(out).float()
    return torch.sigmoid(out.float())


def check_logits(model: torch.nn.Module, test_set: MultiLabelDataset, device) -> None:
    """A model from outside the suite is run once, eagerly, on two test images before anything
    is scored: an output that is not B×C logits fails in seconds, naming the shape it has."""
    if isinstance(model, MultiLabelModel):
        return
    items = [test_set[i] for i in range(min(2, len(test_set)))]
    images = torch.stack([item[0] for item in items if item is not None]).to(device)
    try:
        with torch.no_grad():
            out = model.eval()(images)
    except Exception as exc:  # noqa: BLE001 — the model's own error, chained below
        raise UserError(
            f"model: fails on a batch of {len(images)} test images of shape "
            f"{tuple(images.shape[1:])} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc
    wanted = (len(images), len(test_set.classes))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != wanted:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(
            f"model: maps a batch of {len(images)} images to {got}, expected logits of shape "
            f"{wanted} (one per class of the test set's {wanted[1]} classes)"
        )


def evaluate_test_set(
    model, test_set, spec: RunSpec, ctx: JobContext, device, keep_fn=None, graphs=None
):
    """`predict_test_set` at the run's batch size and precision."""
    return predict_test_set(
        model, test_set, spec.batch_size, ctx, device, spec.precision, keep_fn, graphs
    )


def predict_test_set(
    model,
    test_set,
    batch_size: int,
    ctx: JobContext,
    device,
    precision: str,
    keep_fn=None,
    graphs=None,
):
    """Every test image scored once across ranks, gathered in index order on every rank, at
    ``precision`` (benchmark.train.precision)."""
    subset = test_set
    if ddp.world_size() > 1:
        subset = torch.utils.data.Subset(test_set, ddp.shard(len(test_set)))
    loader = make_loader(subset, batch_size, ctx, False, 0, collate=test_set.collate)
    probs, targets, indices, bad = predict(model, loader, device, precision, keep_fn, graphs)
    probs, targets, indices = ddp.gather_predictions(probs, targets, indices)
    return probs, targets, indices, bad


def score_predictions(
    probs: np.ndarray,
    targets: np.ndarray,
    instances: InstanceTable,
    indices: np.ndarray,
    spec: RunSpec,
) -> dict:
    """docs/spec.md §3's metrics and the small/occluded breakdown of one set of test predictions,
    with tied scores ranked as the run's profile says (paper: the authors' order;
    benchmark.scoring.metrics)."""
    return score_test_predictions(
        probs, targets, instances, indices, get_profile(spec.profile).tie_order
    )


def score_test_predictions(
    probs: np.ndarray,
    targets: np.ndarray,
    instances: InstanceTable,
    indices: np.ndarray,
    tie_order: str,
) -> dict:
    """docs/spec.md §3's metrics and the small/occluded breakdown, AP ranking tied scores in
    ``tie_order``."""
    scores = score(probs, targets, tie_order).to_dict()
    scores.update(breakdown(probs, targets, instances, indices, tie_order))
    return scores
