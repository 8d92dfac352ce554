"""The training loop, read top to bottom: fit → train_one_epoch → evaluate (docs/spec.md §1.8).

Every epoch is evaluated on the test split (or every ``eval_every``-th and the last EVAL_TAIL,
where a profile says so); the best-on-test epoch among them (the paper's protocol) and the last
epoch are both recorded, and the selected checkpoint is then scored on the run's own training
images (``fit_record``: the regime rule's "fits its training set"). `last.pt` is written after
every epoch, so a run killed at any moment resumes from the last completed epoch and ends with
the same numbers.
"""

from __future__ import annotations

import logging
import math
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from benchmark.data.masks import load_pool
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile
from benchmark.models import build_model
from benchmark.models.backbones import weights_file
from benchmark.models.checkpoint_files import sha256_file
from benchmark.scoring.floors import CHANCE_DRAWS
from benchmark.scoring.metrics import score
from benchmark.spec import RunSpec
from benchmark.train import checkpoint
from benchmark.train import distributed as ddp
from benchmark.train.graphs import Graphs
from benchmark.train.inference import (
    build_test_set,
    build_train_set,
    evaluate_test_set,
    keep_predictions,
    make_loader,
    prediction_ids,
    prepare_model,
    score_predictions,
)
from benchmark.train.job_context import JobContext
from benchmark.train.objectives import msl_step_loss, supervised_step_loss
from benchmark.train.precision import autocast, configure_precision
from benchmark.train.precision import record as precision_record
from benchmark.train.schedule import WarmupStepLR
from benchmark.train.seeding import (
    derive_seed,
    generator,
    rng_state,
    seed_everything,
    set_rng_state,
)

log = logging.getLogger("benchmark.train")
# Per-epoch predictions are kept where they are cheap: up to this many test scores per epoch
# (VOC 4,952 × 20 and WIDER ≈ 29k × 14 qualify; COCO 40,137 × 80 keeps best/last only).
EPOCH_PREDICTIONS_MAX = 1_000_000
EVAL_TAIL = 3  # the last epochs always evaluated, so "last" and the flatness test are measured
BCE_EPS = 1e-7  # probabilities clipped into [eps, 1 − eps] before a log


class NonFiniteLoss(RuntimeError):
    def __init__(self, epoch: int, iteration: int):
        super().__init__(f"non-finite loss at epoch {epoch}, iteration {iteration}")


def configure_determinism(device: torch.device) -> None:
    """Deterministic kernels on a CPU; cuDNN autotuning on a GPU. The arithmetic (TF32 or
    not) is the run's precision's: benchmark.train.precision."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True


def train_sampler(dataset, spec: RunSpec, epoch: int):
    """None in one process (the loader shuffles); a DistributedSampler under torchrun."""
    if ddp.world_size() == 1:
        return None
    return DistributedSampler(
        dataset,
        num_replicas=ddp.world_size(),
        rank=ddp.rank(),
        shuffle=True,
        seed=derive_seed(spec.seed, epoch, 1) % 2**31,
    )


def per_rank_batch(spec: RunSpec) -> int:
    """The paper's global batch split over the processes."""
    world = ddp.world_size()
    if spec.batch_size % world:
        raise UserError(
            f"the global batch of {spec.batch_size} does not split over {world} processes: "
            f"use --nproc among the divisors of {spec.batch_size}"
        )
    return spec.batch_size // world


def synthetic_floors(spec: RunSpec, train_set, test_set) -> dict[str, Any] | None:
    """Chance-level and context-only mAP on a synthetic test set (None on real data): the floors
    a model's mAP is read against (benchmark.scoring.floors; the context group of each image
    comes from the scene generator)."""
    if spec.synth is None:
        return None
    from benchmark.data.synthetic import context_groups
    from benchmark.scoring.floors import floors

    synth = spec.synth
    groups = {
        split: context_groups(spec.dataset, data.files, split, synth.seed, synth.image_size)
        for split, data in (("train", train_set), ("test", test_set))
    }
    values = floors(
        train_set.targets.numpy(), groups["train"], test_set.targets.numpy(), groups["test"]
    )
    return {**values, "chance_draws": CHANCE_DRAWS, "context_groups": int(len(set(groups["test"])))}


def initial_weights(spec: RunSpec, ctx: JobContext) -> dict[str, str] | None:
    """The pretrained file a run starts from, by content: the identity names only its
    catalogue key, so the sha256 tells a re-made file from the committed one."""
    path = weights_file(spec.backbone, spec.weights, ctx.weights_root)
    if path is None:
        return None
    return {"key": str(spec.weights), "file": path.name, "sha256": sha256_file(path)}


def evaluated(epoch: int, spec: RunSpec) -> bool:
    """Whether 1-based ``epoch`` is scored on the test (and validation) split."""
    return epoch % spec.eval_every == 0 or epoch > spec.epochs - EVAL_TAIL


def split_indices(n: int, spec: RunSpec) -> tuple[list[int], list[int]]:
    """(validation, training) indices of an n-image training split, drawn from the run's seed."""
    if spec.val_fraction <= 0:
        return [], list(range(n))
    held = min(n - 1, max(1, round(n * spec.val_fraction)))
    order = torch.randperm(n, generator=generator(derive_seed(spec.seed, 0, 5))).tolist()
    return sorted(order[:held]), sorted(order[held:])


def split_validation(train_set, spec: RunSpec, ctx: JobContext):
    """(training subset, validation view, record) — the held-out split of the training set.

    ``val_fraction`` of the training images, drawn from the run's seed, are held out and scored
    with test-time preprocessing after every epoch; the rest is trained on. With fraction 0
    (the paper, which trains on all of trainval) the training set is returned unchanged.
    """
    if spec.val_fraction <= 0:
        return train_set, None, None
    n = len(train_set)
    val_idx, train_idx = split_indices(n, spec)
    held = len(val_idx)
    plain = build_test_set(spec, ctx, "train")  # the held-out images, test-time transform
    val_set = torch.utils.data.Subset(plain, val_idx)
    val_set.collate, val_set.files = plain.collate, [plain.files[i] for i in val_idx]
    fit_set = torch.utils.data.Subset(train_set, train_idx)
    fit_set.collate = train_set.collate
    ids = prediction_ids(plain)
    record = {
        "fraction": spec.val_fraction,
        "images": held,
        "train_images": n - held,
        "seed": spec.seed,
        "ids": [ids[i] for i in val_idx],
    }
    return fit_set, val_set, record


def fit_record(model, spec: RunSpec, ctx: JobContext, device, graphs, best: dict) -> dict:
    """How well the selected checkpoint (already loaded) fits the images it was trained on:
    training mAP and BCE on the training split less its validation share, test-time
    preprocessing, eval mode; and the BCE of predicting each class's frequency there."""
    start = time.perf_counter()
    plain = build_test_set(spec, ctx, "train")
    _, train_idx = split_indices(len(plain), spec)
    images = torch.utils.data.Subset(plain, train_idx)
    images.collate = plain.collate
    probs, targets, _, _ = evaluate_test_set(model, images, spec, ctx, device, graphs=graphs)
    labels = (targets == 1).astype(np.float64)  # the training loss's labels
    frequency = np.broadcast_to(labels.mean(axis=0), labels.shape)
    bce = _bce(probs.astype(np.float64), labels)
    frequency_bce = _bce(frequency, labels)
    train_map = score(probs, targets, get_profile(spec.profile).tie_order).mAP
    return {
        "checkpoint": "best",
        "epoch": best["epoch"],
        "images": len(train_idx),
        "train_mAP": train_map,
        "test_mAP": best["mAP"],
        "gap": train_map - best["mAP"],
        "bce": bce,
        "frequency_bce": frequency_bce,
        "bce_ratio": bce / frequency_bce if frequency_bce > 0 else None,
        "time_s": time.perf_counter() - start,
    }


def _bce(probs: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probs, BCE_EPS, 1 - BCE_EPS)
    return float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean())


def fit(spec: RunSpec, ctx: JobContext, out_dir: Path) -> dict[str, Any]:
    """Train one run to completion (resuming if possible); returns the result body."""
    cpu_start = time.process_time()  # this process's CPU time: the run's cost on a busy machine
    device = ddp.local_device(ctx.torch_device())
    configure_determinism(device)
    configure_precision(spec.precision, device)
    seed_everything(spec.seed)
    batch = per_rank_batch(spec)
    main = ddp.is_main()
    train_set = build_train_set(spec, ctx)
    test_set = build_test_set(spec, ctx)
    reference = synthetic_floors(spec, train_set, test_set)
    initial = initial_weights(spec, ctx)
    train_set, val_set, validation = split_validation(train_set, spec, ctx)
    # Compiled in place before DDP wraps it: the same as compiling the wrapped module's inner
    # model, and the same setup as evaluation's.
    model, graphs = prepare_model(
        build_model(spec, ctx.weights_root), ctx, device, batch, ddp.world_size()
    )
    model = ddp.wrap_model(model, device, ctx.sync_bn)
    optimizer = torch.optim.SGD(
        ddp.unwrap(model).param_groups(spec.lr, spec.head_lr_mult),
        lr=spec.lr,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
    )
    iters_per_epoch = math.ceil(math.ceil(len(train_set) / ddp.world_size()) / batch)
    # Read from the fresh groups, before a resumed optimizer state brings its last rates.
    schedule = WarmupStepLR.for_run(spec, optimizer, iters_per_epoch)
    pool = None
    if spec.method == "msl":
        pool = load_pool(
            spec.mask_pool,
            spec.img_size,
            ctx.masks_for(spec.mask_source),
            cache_dir=ctx.cache_dir,
        ).to(device)

    ckpt_dir = out_dir / "checkpoints"
    state = {
        "epoch": 0, "history": [], "best": None, "last": None, "skipped_files": [],
        "predictions": {}, "val_best": None, "losses": [],
    }  # fmt: skip
    last_path = ckpt_dir / checkpoint.LAST
    if last_path.exists():
        saved = checkpoint.load(last_path)
        ddp.unwrap(model).load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"])
        state = {k: saved.get(k, state[k]) for k in state}
        log.info("resuming %s from epoch %d/%d", spec.name, state["epoch"], spec.epochs)
        if main:
            print(
                f"  resuming {spec.name} from its checkpoint at epoch "
                f"{state['epoch']}/{spec.epochs}"
            )

    skipped: set[str] = set(state["skipped_files"])
    ids = prediction_ids(test_set)
    per_epoch = len(test_set) * spec.num_classes <= EPOCH_PREDICTIONS_MAX
    for epoch in range(state["epoch"], spec.epochs):
        seed_everything(derive_seed(spec.seed, epoch))
        sampler = train_sampler(train_set, spec, epoch)
        loader = make_loader(
            train_set, batch, ctx, True, derive_seed(spec.seed, epoch, 1), sampler=sampler
        )
        mask_gen = generator(derive_seed(spec.seed, epoch, 2 + 10 * ddp.rank()))
        start = time.perf_counter()
        loss, seen = train_one_epoch(
            model,
            loader,
            optimizer,
            schedule,
            spec,
            device,
            pool,
            mask_gen,
            epoch,
            ctx,
            skipped,
            graphs,
        )
        train_time = time.perf_counter() - start
        state["losses"].append(loss)
        if not evaluated(epoch + 1, spec):
            if main:
                print(f"  epoch {epoch + 1}/{spec.epochs}: loss {loss:.4f}, {train_time:.0f} s")
            _save_last(last_path, model, optimizer, state, epoch, skipped)
            continue
        start = time.perf_counter()
        probs, targets, indices, bad = evaluate_test_set(
            model, test_set, spec, ctx, device, graphs=graphs
        )
        skipped.update(bad)
        eval_time = time.perf_counter() - start
        scores = score_predictions(probs, targets, test_set.instances, indices, spec)
        val_map = None
        if val_set is not None:
            val_probs, val_targets, _, _ = evaluate_test_set(
                model, val_set, spec, ctx, device, graphs=graphs
            )
            val_map = score(val_probs, val_targets, get_profile(spec.profile).tie_order).mAP
        row = {
            "epoch": epoch + 1,
            "loss": loss,
            "lr": optimizer.param_groups[0]["lr"],
            "mAP": scores["mAP"],
            "mAP_small": scores["mAP_small"],
            "mAP_occluded": scores["mAP_occluded"],
            **({"val_mAP": val_map} if val_map is not None else {}),
            "train_time_s": train_time,
            "eval_time_s": eval_time,
            "train_samples_per_s": seen / train_time,
            "eval_samples_per_s": len(probs) / eval_time,
            "test_samples": len(probs),
        }
        state["history"].append(row)
        log.info(
            "epoch %d/%d loss %.4f lr %.6f mAP %.2f time %.1fs train %.1f img/s eval %.1f img/s",
            epoch + 1,
            spec.epochs,
            loss,
            row["lr"],
            row["mAP"],
            train_time + eval_time,
            row["train_samples_per_s"],
            row["eval_samples_per_s"],
        )
        last = {**scores, "epoch": epoch + 1}
        keys = ["last", *([f"epoch_{epoch + 1}"] if per_epoch else [])]
        # Ties keep the earlier epoch: a later epoch must be strictly better to be "best".
        if state["best"] is None or scores["mAP"] > state["best"]["mAP"]:
            state["best"] = last
            keys.append("best")
        # Selection without the test set: the epoch best on the held-out validation split.
        if val_map is not None and (
            state["val_best"] is None or val_map > state["val_best"]["val_mAP"]
        ):
            state["val_best"] = {**last, "val_mAP": val_map}
            keys.append("val_best")
        if "best" in keys:
            checkpoint.save(
                ckpt_dir / checkpoint.BEST, {"model": model.state_dict(), "epoch": epoch + 1}
            )
        if main:  # under torchrun, rank 0 alone writes in the job's folder
            for key in keys:
                state["predictions"][key] = keep_predictions(
                    out_dir, key, probs, targets, indices, ids
                )
        if main:  # the numbers on screen as they come, not only in log.txt
            best = state["best"]
            print(
                f"  epoch {epoch + 1}/{spec.epochs}: loss {loss:.4f}, test mAP "
                f"{row['mAP']:.1f} (best {best['mAP']:.1f} at epoch {best['epoch']}), "
                f"{train_time + eval_time:.0f} s",
                flush=True,
            )
        state["last"] = last
        _save_last(last_path, model, optimizer, state, epoch, skipped)

    history = state["history"]
    if state["last"] is None:
        raise RuntimeError("the run finished without an evaluated epoch (epochs = 0?)")
    model.load_state_dict(checkpoint.load(ckpt_dir / checkpoint.BEST)["model"])  # as saved
    fitted = fit_record(model, spec, ctx, device, graphs, state["best"])
    return {
        "metrics": {
            "best": state["best"],
            "last": state["last"],
            **({"val_best": state["val_best"]} if state["val_best"] is not None else {}),
        },
        "validation": validation,
        "floors": reference,
        "initial_weights": initial,
        "predictions": state["predictions"],
        "history": history,
        "fit": fitted,
        "timings": {"fit_cpu_s": time.process_time() - cpu_start},
        "train_loss": state["losses"],  # every epoch's, evaluated or not
        "skipped_files": state["skipped_files"],
        "train_samples_per_s": _mean(r["train_samples_per_s"] for r in history),
        "eval_samples_per_s": _mean(r["eval_samples_per_s"] for r in history),
        "global_batch": spec.batch_size,
        "per_rank_batch": batch,
        "world_size": ddp.world_size(),
        "sync_bn": ctx.sync_bn and ddp.world_size() > 1,
        "precision": precision_record(spec.precision, device),
        **graphs.record(),
    }


def _save_last(path: Path, model, optimizer, state: dict, epoch: int, skipped) -> None:
    """``last.pt`` after an epoch: everything a resume needs."""
    state["epoch"] = epoch + 1
    state["skipped_files"] = sorted(skipped)
    checkpoint.save(
        path,
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": rng_state(),
            **state,
        },
    )


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def train_one_epoch(
    model,
    loader,
    optimizer,
    schedule: WarmupStepLR,
    spec: RunSpec,
    device: torch.device,
    pool,
    mask_gen: torch.Generator,
    epoch: int,
    ctx: JobContext,
    skipped: set[str],
    graphs: Graphs | None = None,
) -> tuple[float, int]:
    model.train()
    cuda = device.type == "cuda"
    total, seen = 0.0, 0
    bar = tqdm(
        loader,
        desc=f"{spec.name} {epoch + 1}/{spec.epochs}",
        leave=False,
        disable=not ctx.progress,
        dynamic_ncols=True,
    )
    for iteration, (images, targets, _, bad) in enumerate(bar):
        skipped.update(bad)
        if len(images) == 0:
            continue
        images = images.to(device, non_blocking=True)
        if cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = (targets == 1).float().to(device, non_blocking=True)
        keep = None if pool is None else pool.sample(len(images), mask_gen).to(device)
        step = partial(
            _forward_backward, model, optimizer, images, keep, labels, spec.fused,
            spec.clean_loss_weight, spec.precision,
        )  # fmt: skip
        if graphs is None:
            loss = step()
        else:
            loss = graphs.run("train", len(images), step, ddp.unwrap(model))
        schedule.apply(optimizer, epoch, iteration)
        optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLoss(epoch + 1, iteration + 1)
        total += value * len(images)
        seen += len(images)
        bar.set_postfix(loss=f"{value:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
    return total / max(seen, 1), seen


def _forward_backward(
    model, optimizer, images, keep, labels, fused: bool, clean_loss_weight: float, precision: str
) -> torch.Tensor:
    """The part of a step that touches the model (what CUDA graphs capture); the loss."""
    with autocast(precision, images.device):
        if keep is None:
            loss, _ = supervised_step_loss(model, images, labels)
            loss = loss * clean_loss_weight  # 1 except in the loss-scale control
        else:
            loss, _ = msl_step_loss(model, images, images * keep, labels, fused=fused)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    return loss
