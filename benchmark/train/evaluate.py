"""Scoring a model on the test split: clean, masked (Table 6) and the robustness curves.

A masked condition gives each test image one mask chosen from (mask_seed, image index), so the
baseline and MSL models are tested on exactly the same partial inputs. Rows are stored
unaggregated — one per condition and metric — and curves are drawn from them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.data.masks import load_pool
from benchmark.errors import UserError
from benchmark.models import build_model
from benchmark.models.checkpoint_files import load_strict, sha256_file
from benchmark.scoring.metrics import METRIC_NAMES
from benchmark.spec import FILE_CHECKPOINT, EvalSpec, split_condition
from benchmark.store.predictions import (
    Predictions,
    predictions_key,
    predictions_path,
    save_predictions,
)
from benchmark.train import checkpoint
from benchmark.train import distributed as ddp
from benchmark.train.inference import (
    build_test_set,
    evaluate_test_set,
    make_loader,
    prepare_model,
    score_predictions,
)
from benchmark.train.job_context import JobContext
from benchmark.train.seeding import derive_seed, generator

EXAMPLES = 8


@torch.no_grad()
def reestimate_batchnorm(model, loader, device, pool=None, mask_gen=None) -> dict[str, Any]:
    """The BatchNorm control: forget BatchNorm's running statistics and re-estimate them as an
    exact average over one pass of ``loader`` in train mode (no weight changes).

    Without a mask pool the pass sees clean images only (what an MSL model never had: its
    statistics mix clean and masked batches). With one, every batch goes through clean and then
    masked, as in MSL's two training passes (what a baseline never had).
    """
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative moving average: every batch counts the same
    batches = 0
    if layers:
        model.train()
        for images, _, _, _ in loader:
            if len(images) == 0:
                continue
            images = images.to(device, non_blocking=True)
            model(images)
            batches += 1
            if pool is not None:
                model(images * pool.sample(len(images), mask_gen).to(device))
                batches += 1
    model.eval()
    return {
        "reestimated_on": "clean" if pool is None else "clean+masked",
        "layers": len(layers),
        "batches": batches,
    }


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


def keep_predictions(
    out_dir: Path, key: str, probs, targets, indices, ids: list[str]
) -> dict[str, str]:
    """Write one model state's per-image predictions; returns the entry the result lists."""
    preds = Predictions.build(probs, [ids[int(i)] for i in indices], targets)
    path = predictions_path(out_dir, key)
    digest = save_predictions(path, preds)
    return {"file": path.relative_to(out_dir).as_posix(), "sha256": digest}


def load_checkpoint(ev: EvalSpec, ctx: JobContext) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The evaluated model (on the CPU) and what the result records about where it came from:
    a trained run's best/last checkpoint, or a file identified by its sha256, re-hashed here so
    that the numbers belong to the file the identity names. The checkpoint carries every
    weight: the architecture is built without the pretrained file."""
    model = build_model(dataclasses.replace(ev.run, weights=None))
    if ev.checkpoint.startswith(FILE_CHECKPOINT):
        path = Path(ev.checkpoint_file or "")
        if not path.is_file():
            raise UserError(f"checkpoint file {path} is gone (it was planned for evaluation)")
        digest = sha256_file(path)
        if FILE_CHECKPOINT + digest != ev.checkpoint:
            raise UserError(
                f"checkpoint file {path} changed since it was planned (sha256 {digest[:12]}…, "
                f"expected {ev.checkpoint[len(FILE_CHECKPOINT) :][:12]}…)"
            )
        loaded = load_strict(model, path)
        info = {"path": str(path), "sha256": digest, "layout": loaded.layout}
        return model, {"checkpoint_file": info, "checkpoint_epoch": loaded.epoch}
    ckpt_path = (
        Path(ctx.results_dir)
        / ev.run.hash
        / "checkpoints"
        / (checkpoint.BEST if ev.checkpoint == "best" else checkpoint.LAST)
    )
    saved = checkpoint.load(ckpt_path)
    model.load_state_dict(saved["model"])
    return model, {"checkpoint_epoch": saved.get("epoch")}


def evaluate_checkpoint(ev: EvalSpec, ctx: JobContext, out_dir: Path) -> dict[str, Any]:
    """Evaluate a checkpoint under every condition of the EvalSpec."""
    spec = ev.run
    device = ddp.local_device(ctx.torch_device())
    model, source = load_checkpoint(ev, ctx)
    batch = spec.batch_size // ddp.world_size()
    model, graphs = prepare_model(model, ctx, device, batch, ddp.world_size())
    test_set = build_test_set(spec, ctx)
    batchnorm = None
    if ev.bn_reestimate is not None:
        # Every rank re-estimates on the whole training set, so all ranks hold the same model.
        train_set = build_test_set(spec, ctx, "train")  # clean: the test-time transform
        loader = make_loader(train_set, spec.batch_size, ctx, False, 0)
        pool = None
        if ev.bn_reestimate == "mixed":
            pool = load_pool(
                spec.mask_pool or "high",
                spec.img_size,
                ctx.masks_for(ev.mask_source),
                cache_dir=ctx.cache_dir,
            ).to(device)
        mask_gen = generator(derive_seed(ev.mask_seed, 0, 7))
        with torch.compiler.set_stance("force_eager"):  # train-mode passes: no graphs
            batchnorm = reestimate_batchnorm(model, loader, device, pool, mask_gen)
    rows, timings, examples = [], {}, {"probs": {}}
    ids, kept, per_class = prediction_ids(test_set), {}, {}
    for condition in ev.conditions:
        base, seed = split_condition(condition)
        seed = ev.mask_seed if seed is None else seed
        keep_fn, ratios = None, []
        if base != "clean":
            # On the device, as in training: only pool indices cross to the GPU, not keep-maps.
            pool = load_pool(
                base,
                spec.img_size,
                ctx.masks_for(ev.mask_source),
                cache_dir=ctx.cache_dir,
            ).to(device)

            def keep_fn(index, pool=pool, ratios=ratios, seed=seed):
                keep = pool.for_indices(torch.as_tensor(index), seed)
                ratios.extend((1 - keep.flatten(1).mean(1)).tolist())
                return keep

        start = time.perf_counter()
        probs, targets, indices, _ = evaluate_test_set(
            model, test_set, spec, ctx, device, keep_fn, graphs
        )
        timings[condition] = time.perf_counter() - start
        if ddp.is_main():
            key = predictions_key(condition)
            kept[key] = keep_predictions(out_dir, key, probs, targets, indices, ids)
        # A few test images' predictions for the report's qualitative figure (same images,
        # same masks for every model evaluated with this EvalSpec).
        examples["indices"] = indices[:EXAMPLES].tolist()
        examples["files"] = [test_set.files[i] for i in examples["indices"]]
        examples["targets"] = targets[:EXAMPLES].tolist()
        examples["probs"][condition] = probs[:EXAMPLES].round(5).tolist()
        scores = score_predictions(probs, targets, test_set.instances, indices, spec)
        values = {name: scores[name] for name in METRIC_NAMES}
        values.update({k: v for k, v in scores.items() if k.startswith("mAP_") and v is not None})
        per_class[condition] = scores["AP"]
        hole = float(np.mean(ratios)) if ratios else 0.0
        for metric, value in values.items():
            rows.append(
                {"condition": condition, "hole_ratio": hole, "metric": metric, "value": value}
            )
    total = sum(timings.values())
    return {
        "rows": rows,
        "predictions": kept,
        **source,
        "batchnorm": batchnorm,
        "classes": list(test_set.classes),
        "per_class_AP": per_class,
        "examples": examples,
        "eval_samples_per_s": len(test_set) * len(ev.conditions) / total if total else 0.0,
        "timings": {"per_condition_s": timings},
        **graphs.record(),
    }
