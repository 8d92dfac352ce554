"""Training steps and evaluation timed through the suite's own loop (docs/spec.md §1.1, §1.8).

A step is one call of ``train_one_epoch`` on a one-batch loader, so what is timed is exactly
what a run executes per iteration: host-to-device copy, mask draw and multiply, forward(s),
loss, backward, SGD with the suite's param groups, the learning-rate schedule, and the loss
read-back, at the spec's precision (benchmark.train.precision).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.data.masks import MaskPool
from benchmark.models import build_model
from benchmark.spec import RunSpec
from benchmark.train.graphs import Graphs
from benchmark.train.inference import predict, prepare_model
from benchmark.train.job_context import JobContext
from benchmark.train.loop import train_one_epoch
from benchmark.train.schedule import WarmupStepLR
from benchmark.train.seeding import generator

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]
STEP_VARIANTS = ("supervised", "msl", "fused_msl")


def perf_spec(backbone: str, img_size: int, batch: int, precision: str = "tf32") -> RunSpec:
    """The default row's recipe (VOC, CSRA H=1 λ=0.1, MSL high pool), random init, at
    ``precision`` (default: the paper profiles')."""
    return RunSpec(
        name=f"perf-{backbone}",
        dataset="voc2007",
        backbone=backbone,
        weights=None,
        arch="csra",
        num_heads=1,
        lam=0.1,
        method="msl",
        mask_pool="high",
        img_size=img_size,
        epochs=1,
        lr_step=4,
        augment="flip_rrc",
        normalize="unit",
        batch_size=batch,
        mask_source="procedural",
        precision=precision,
    )


def variant_spec(spec: RunSpec, variant: str) -> RunSpec:
    """The spec the loop sees: it reads ``fused`` from the spec (masks come from the pool)."""
    if variant == "supervised":
        return dataclasses.replace(spec, method="supervised", mask_pool=None, mask_source=None)
    return dataclasses.replace(spec, method="msl", fused=variant == "fused_msl")


def random_batch(spec: RunSpec, device: torch.device, seed: int = 0) -> Batch:
    """Images in [0, 1] and target codes (1 / 0) as the dataset yields them; pinned on CUDA."""
    gen = generator(seed)
    size = spec.img_size
    images = torch.rand(spec.batch_size, 3, size, size, generator=gen)
    targets = (torch.rand(spec.batch_size, spec.num_classes, generator=gen) < 0.15).float()
    if device.type == "cuda":
        images = images.pin_memory()
    return images, targets, torch.arange(spec.batch_size), []


@dataclass
class Trainer:
    """One model and optimizer shared by every variant, so they differ only in the objective."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: WarmupStepLR
    spec: RunSpec
    device: torch.device
    ctx: JobContext
    graphs: Graphs  # the run's compile path: CUDA graphs for full batches, eager fallback

    def step(self, variant: str, batch: Batch, pool: MaskPool | None, mask_gen) -> float:
        """One training iteration of ``variant``; returns its loss."""
        loss, _ = train_one_epoch(
            self.model,
            [batch],
            self.optimizer,
            self.schedule,
            variant_spec(self.spec, variant),
            self.device,
            None if variant == "supervised" else pool,
            mask_gen,
            0,
            self.ctx,
            set(),
            self.graphs,
        )
        return loss

    def step_fn(self, variant: str, batch: Batch, pool: MaskPool, seed: int) -> Callable[[], float]:
        mask_gen = generator(seed)
        return lambda: self.step(variant, batch, pool, mask_gen)


def build_trainer(spec: RunSpec, device: torch.device, compile_mode: str | None = None) -> Trainer:
    """Model, SGD over the suite's param groups, and a schedule, set up as ``fit`` does.

    The schedule holds the learning rate at 0 (every base rate 0): every timed step then sees
    the same weights (no drift, no divergence on random labels) while SGD still runs its full
    update arithmetic.
    """
    ctx = JobContext(
        results_dir=Path(tempfile.gettempdir()),
        device=str(device),
        progress=False,
        compile_mode=compile_mode,
    )
    model, graphs = prepare_model(build_model(spec), ctx, device, spec.batch_size)
    optimizer = torch.optim.SGD(
        model.param_groups(spec.lr, spec.head_lr_mult),
        lr=spec.lr,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
    )
    zero = dataclasses.replace(
        WarmupStepLR.for_run(spec, optimizer, 1), bases=(0.0,) * len(optimizer.param_groups)
    )
    return Trainer(model, optimizer, zero, spec, device, ctx, graphs)


def eval_fn(trainer: Trainer, batch: Batch, batches: int) -> Callable[[], object]:
    """``predict`` over ``batches`` copies of the batch: the model's inference cost alone."""
    loader = [batch] * batches
    return lambda: predict(
        trainer.model, loader, trainer.device, trainer.spec.precision, graphs=trainer.graphs
    )
