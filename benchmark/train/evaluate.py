"""Scoring a model on the test split: clean, masked (Table 6) and the robustness curves.

A masked condition gives each test image one mask chosen from (mask_seed, image index), so the
baseline and MSL models are tested on exactly the same partial inputs. Rows are stored
unaggregated — one per condition and metric — and curves are drawn from them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark import distributed as ddp
from benchmark.data.masks import load_pool
from benchmark.metrics import METRIC_NAMES
from benchmark.models import build_model
from benchmark.spec import EvalSpec
from benchmark.train import checkpoint
from benchmark.train.context import RunContext
from benchmark.train.inference import (
    build_test_set,
    evaluate_test_set,
    prepare_model,
    score_predictions,
)

EXAMPLES = 8


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
    rows, timings, examples = [], {}, {"probs": {}}
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
        "checkpoint_epoch": saved.get("epoch"),
        "classes": list(test_set.classes),
        "examples": examples,
        "eval_samples_per_s": len(test_set) * len(ev.conditions) / total if total else 0.0,
        "timings": {"per_condition_s": timings},
    }
