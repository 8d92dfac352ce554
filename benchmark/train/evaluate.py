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

from benchmark import distributed as ddp
from benchmark.data.masks import load_pool
from benchmark.metrics import METRIC_NAMES
from benchmark.models import build_model
from benchmark.predictions import (
    Predictions,
    predictions_key,
    predictions_path,
    save_predictions,
)
from benchmark.spec import EvalSpec
from benchmark.train import checkpoint
from benchmark.train.context import RunContext
from benchmark.train.inference import (
    build_test_set,
    evaluate_test_set,
    make_loader,
    prepare_model,
    score_predictions,
)
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


def run_evaluation(ev: EvalSpec, ctx: RunContext, out_dir: Path) -> dict[str, Any]:
    """Evaluate a trained run's checkpoint under every condition of the EvalSpec."""
    spec = ev.run
    device = ddp.local_device(ctx.torch_device())
    ckpt_path = (
        Path(ctx.results_dir)
        / spec.hash
        / "checkpoints"
        / (checkpoint.BEST if ev.checkpoint == "best" else checkpoint.LAST)
    )
    saved = checkpoint.load(ckpt_path)
    # The checkpoint carries every weight: build the architecture without the pretrained file.
    model = build_model(dataclasses.replace(spec, weights=None))
    model.load_state_dict(saved["model"])
    model = prepare_model(model, ctx, device)
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
        batchnorm = reestimate_batchnorm(model, loader, device, pool, mask_gen)
    rows, timings, examples = [], {}, {"probs": {}}
    ids, kept = prediction_ids(test_set), {}
    for condition in ev.conditions:
        keep_fn, ratios = None, []
        if condition != "clean":
            # On the device, as in training: only pool indices cross to the GPU, not keep-maps.
            pool = load_pool(
                condition,
                spec.img_size,
                ctx.masks_for(ev.mask_source),
                cache_dir=ctx.cache_dir,
            ).to(device)

            def keep_fn(index, pool=pool, ratios=ratios):
                keep = pool.for_indices(torch.as_tensor(index), ev.mask_seed)
                ratios.extend((1 - keep.flatten(1).mean(1)).tolist())
                return keep

        start = time.perf_counter()
        probs, targets, indices, _ = evaluate_test_set(model, test_set, spec, ctx, device, keep_fn)
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
        hole = float(np.mean(ratios)) if ratios else 0.0
        for metric, value in values.items():
            rows.append(
                {"condition": condition, "hole_ratio": hole, "metric": metric, "value": value}
            )
    total = sum(timings.values())
    return {
        "rows": rows,
        "predictions": kept,
        "checkpoint_epoch": saved.get("epoch"),
        "batchnorm": batchnorm,
        "classes": list(test_set.classes),
        "examples": examples,
        "eval_samples_per_s": len(test_set) * len(ev.conditions) / total if total else 0.0,
        "timings": {"per_condition_s": timings},
    }
