"""Evaluating a checkpoint (a trained run's best or last, or a file named by its sha256): its
model is built and loaded here and scored by the one engine, `benchmark.evaluate_model`
(benchmark.train.model_evaluation) — clean, masked (Table 6) and the robustness curve, each
test image masked as the EvalSpec's seeds say, so the baseline and MSL models are tested on
exactly the same partial inputs. Rows are stored unaggregated, one per condition and metric.

The BatchNorm control (EvalSpec.bn_reestimate) is the engine's prepare step. Everything runs
at the trained run's precision (RunSpec.precision), as it trained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from benchmark.data.masks import load_pool
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile
from benchmark.models import build_model
from benchmark.models.checkpoint_files import load_strict, sha256_file
from benchmark.spec import FILE_CHECKPOINT, EvalSpec
from benchmark.train import checkpoint
from benchmark.train import distributed as ddp
from benchmark.train.inference import build_test_set, make_loader, prediction_ids
from benchmark.train.job_context import JobContext
from benchmark.train.model_evaluation import evaluate_model
from benchmark.train.seeding import derive_seed

# "mixed" re-estimation masks each training image from Table 6's pool, whatever pool (if any)
# the model trained with: both sides of a claim must see the same masked images.
MIXED_POOL = "high"
REESTIMATE_STREAM = 7  # derive_seed stream of the re-estimation masks (apart from the test's)


@torch.no_grad()
def reestimate_batchnorm(model, loader, device, keep_fn=None) -> dict[str, Any]:
    """The BatchNorm control: forget BatchNorm's running statistics and re-estimate them as an
    average over one pass of ``loader`` in train mode (no weight changes).

    Without ``keep_fn`` the pass sees clean images only (what an MSL model never had: its
    statistics mix clean and masked batches). With one (dataset indices → keep-maps), every
    batch goes through clean and then masked, as in MSL's two training passes (what a baseline
    never had). Returns what was done and the dataset indices of each batch, in order.
    """
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative moving average: every batch counts the same
    batches, order = 0, []
    if layers:
        model.train()
        for images, _, index, _ in loader:
            if len(images) == 0:
                continue
            order.append([int(i) for i in index])
            images = images.to(device, non_blocking=True)
            model(images)
            batches += 1
            if keep_fn is not None:
                model(images * keep_fn(torch.as_tensor(index)).to(device))
                batches += 1
    model.eval()
    return {
        "reestimated_on": "clean" if keep_fn is None else "clean+masked",
        "layers": len(layers),
        "batches": batches,
        "batch_indices": order,
    }


def reestimate_on_training_images(model, ev: EvalSpec, ctx: JobContext, device) -> dict[str, Any]:
    """Re-estimate the model's BatchNorm statistics as ``ev.bn_reestimate`` says, on images that
    depend on the evaluation alone, never on the model: every training image of the run's
    dataset, in order, with the test-time transform, in batches of the recipe's size; for
    "mixed", each image also masked by the high-pool mask drawn from (its index, the
    evaluation's mask seed). The record's ``images_sha256`` names exactly what was seen
    (data, batches, masks), so two models can be checked to have been re-estimated alike."""
    spec = ev.run
    train_set = build_test_set(spec, ctx, "train")  # clean: the test-time transform
    loader = make_loader(train_set, spec.batch_size, ctx, False, 0)
    keep_fn, masks = None, None
    if ev.bn_reestimate == "mixed":
        pool = load_pool(
            MIXED_POOL, spec.img_size, ctx.masks_for(ev.mask_source), cache_dir=ctx.cache_dir
        ).to(device)
        seed = derive_seed(ev.mask_seed, 0, REESTIMATE_STREAM)

        def keep_fn(index, pool=pool, seed=seed):
            return pool.for_indices(index, seed)

        masks = {"pool": MIXED_POOL, "source": ev.mask_source, "seed": seed}
    record = reestimate_batchnorm(model, loader, device, keep_fn)
    ids = prediction_ids(train_set)
    batches = [[ids[i] for i in batch] for batch in record.pop("batch_indices")]
    seen = {
        "data": {k: getattr(spec, k) for k in ("dataset", "img_size", "normalize")},
        "synth": None if spec.synth is None else dataclasses.asdict(spec.synth),
        "masks": masks,
        "batches": batches,
    }
    payload = json.dumps(seen, sort_keys=True, separators=(",", ":")).encode()
    return {
        **record,
        "images": sum(len(batch) for batch in batches),
        "masks": masks,
        "images_sha256": hashlib.sha256(payload).hexdigest(),
    }


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
    """Evaluate a checkpoint under every condition of the EvalSpec: its model is built and
    loaded here, and scored by the one engine, `benchmark.evaluate_model`."""
    spec = ev.run
    model, source = load_checkpoint(ev, ctx)
    result = evaluate_model(
        model,
        spec.dataset,
        ctx.dataset_root(spec),
        img_size=spec.img_size,
        normalize=spec.normalize,
        mask_seeds=(ev.mask_seed,),
        conditions=ev.conditions,
        masks=ctx.masks_for(ev.mask_source),
        batch_size=spec.batch_size,
        device=ctx.device,
        num_workers=ctx.num_workers,
        cache_dir=ctx.cache_dir,
        tie_order=get_profile(spec.profile).tie_order,
        precision=spec.precision,  # the run's: an evaluation computes as it trained
        compile_mode=ctx.compile_mode,
        skip_bad=ctx.skip_bad,
        prepare=batchnorm_step(ev, ctx),
        name=ev.name,
        model_id=ev.checkpoint,
    )
    kept = result.write_predictions(out_dir) if ddp.is_main() else {}
    return {**result.body(), "predictions": kept, **source, "batchnorm": result.prepared}


def batchnorm_step(ev: EvalSpec, ctx: JobContext):
    """The BatchNorm control as the engine's prepare step (None when the EvalSpec asks for
    none): every rank re-estimates on the whole training set, so all ranks hold the same
    model."""
    if ev.bn_reestimate is None:
        return None

    def reestimate(model: torch.nn.Module, device: torch.device) -> dict[str, Any]:
        with torch.compiler.set_stance("force_eager"):  # train-mode passes: no graphs
            return reestimate_on_training_images(model, ev, ctx, device)

    return reestimate
