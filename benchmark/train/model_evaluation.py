"""`benchmark.evaluate_model`: any model scored under the paper's occlusion protocol, and the
engine behind `benchmark evaluate` (benchmark.train.checkpoint_evaluation builds a checkpoint's
model and
calls it).

A model that maps a normalised image batch (B×3×S×S) to logits (B×C) is scored on a dataset's
test set clean, under Table 6's masked setting (one high-pool mask per test image, zero fill
after normalisation: docs/spec.md §1.2, §4) and on every hole-ratio bucket of the robustness curve,
keeping per-image predictions. Each test image's mask is chosen from (mask seed, image index),
so every model evaluated with the same seeds sees exactly the same masked inputs — the rule an
EvalSpec states for the suite's own evaluations, which run through this same function.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tabulate import tabulate

from benchmark.data.masks import load_pool
from benchmark.data.pools import pool_def
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile
from benchmark.scoring.metrics import METRIC_NAMES, TIE_ORDERS
from benchmark.spec import (
    BUCKETS,
    DATASET_CLASSES,
    NORMALIZATIONS,
    PRECISIONS,
    SEED_SUFFIX,
    ModelEvalSpec,
    split_condition,
)
from benchmark.store.predictions import Predictions, predictions_key, targets_digest
from benchmark.store.results import provenance, result_record, write_result
from benchmark.train import distributed as ddp
from benchmark.train.inference import (
    check_logits,
    load_split,
    named_predictions,
    predict_test_set,
    prediction_ids,
    prepare_model,
    score_test_predictions,
    write_predictions,
)
from benchmark.train.job_context import JobContext, device_name
from benchmark.train.precision import autocast, configure_precision
from benchmark.train.precision import record as precision_record

if TYPE_CHECKING:
    import pandas as pd

# docs/spec.md §1.8 (and the registry's runs): VOC and COCO inputs in [0, 1] at 448 px (the ResNet
# rows, Table 6's models); WIDER at 224 px (its ViT rows), normalised with mean 0.5, std 0.5.
PAPER_INPUTS: dict[str, tuple[int, str]] = {
    "voc2007": (448, "unit"),
    "coco2014": (448, "unit"),
    "wider": (224, "half"),
}
TABLE6_CONDITION = "high"  # the paper's Table 6: one high-pool mask per test image
DEFAULT_MASK_SEEDS = (0, 1, 2)  # `benchmark evaluate --mask-seeds`'s default
DEFAULT_BATCH_SIZE = 32  # speed only: each image is scored alone (eval mode)
EXAMPLES = 8  # test images whose predictions a result keeps for the report's figure

# (the model on its device) → what the result records about the step, or None
Prepare = Callable[[torch.nn.Module, torch.device], "dict[str, Any] | None"]


def protocol_conditions(mask_seeds: Sequence[int]) -> tuple[str, ...]:
    """Clean, Table 6's setting and every hole-ratio bucket with the first mask seed; Table 6's
    setting again with each further seed (cheap: one pass each), for its spread."""
    extra = tuple(f"{TABLE6_CONDITION}{SEED_SUFFIX}{s}" for s in mask_seeds[1:])
    return ("clean", TABLE6_CONDITION, *BUCKETS, *extra)


def condition_label(condition: str) -> str:
    """What a condition means, in words (``bucket:2`` → holes 20%–30%)."""
    base, seed = split_condition(condition)
    if base == "clean":
        label = "clean"
    elif base == TABLE6_CONDITION:
        label = "Table 6: high pool"
    elif base == "low":
        label = "low pool"
    else:
        pool = pool_def(base)
        label = f"holes {pool.low:.0%}–{pool.high:.0%}"
    return label if seed is None else f"{label}, mask seed {seed}"


@dataclass
class ModelEvaluation:
    """What `evaluate_model` measured: one row per condition and metric (the suite's result
    rows), the per-image predictions of each condition, and what ran. ``str()`` and
    ``to_markdown()`` render the table, ``to_frame()`` gives it as a DataFrame, ``save()``
    stores it like any evaluation."""

    spec: ModelEvalSpec
    rows: list[dict[str, Any]]
    predictions: dict[str, Predictions]  # condition → per-image predictions
    classes: list[str]
    per_class_AP: dict[str, list[float | None]]
    examples: dict[str, Any]
    seconds: dict[str, float]  # condition → wall seconds
    wall_s: float  # the whole evaluation, model setup and test set included
    compile: dict[str, str | None]
    prepared: dict[str, Any] | None  # what the prepare step returned
    device: str
    precision: dict[str, Any]  # asked and computed (benchmark.train.precision.record)

    def value(self, condition: str, metric: str = "mAP") -> float:
        """One number, e.g. ``value("high", "mAP")``: Table 6's setting with the first seed."""
        for row in self.rows:
            if row["condition"] == condition and row["metric"] == metric:
                return row["value"]
        raise KeyError(f"no {metric} for condition {condition!r}")

    def table6(self, metric: str = "mAP") -> tuple[float, float | None]:
        """Table 6's setting over every mask seed drawn: mean and standard deviation (None with
        one seed)."""
        values = [
            row["value"]
            for row in self.rows
            if split_condition(row["condition"])[0] == TABLE6_CONDITION and row["metric"] == metric
        ]
        spread = statistics.stdev(values) if len(values) > 1 else None
        return statistics.fmean(values), spread

    def records(self) -> list[dict[str, Any]]:
        """One dict per condition: its name and meaning, mean hole ratio and every metric."""
        table: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            entry = table.setdefault(
                row["condition"],
                {
                    "condition": row["condition"],
                    "setting": condition_label(row["condition"]),
                    "hole_ratio": row["hole_ratio"],
                },
            )
            entry[row["metric"]] = row["value"]
        return list(table.values())

    def to_frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame, one row per condition (index: the condition)."""
        import pandas as pd  # here: the evaluation itself never needs pandas

        return pd.DataFrame(self.records()).set_index("condition")

    def _table(self, fmt: str) -> str:
        headers = ["condition", "setting", "hole %", *METRIC_NAMES]
        lines = [
            [
                r["condition"],
                r["setting"],
                f"{100 * r['hole_ratio']:.1f}",
                *(f"{r[m]:.1f}" for m in METRIC_NAMES),
            ]
            for r in self.records()
        ]
        align = ("left", "left", *["right"] * (len(headers) - 2))
        text = tabulate(lines, headers, fmt, disable_numparse=True, colalign=align)
        mean, spread = self.table6()
        seeds = sum(split_condition(c)[0] == TABLE6_CONDITION for c in self.spec.conditions)
        summary = f"{mean:.1f}" + ("" if spread is None else f" ± {spread:.1f}")
        return (
            f"{self.spec.name} on the {self.spec.dataset} test set ({self.spec.img_size} px, "
            f"{self.spec.mask_source} masks): clean mAP {self.value('clean'):.1f}, Table 6 "
            f"setting mAP {summary} over {seeds} mask seed(s)\n\n{text}\n"
        )

    def __str__(self) -> str:
        return self._table("simple")

    def to_markdown(self) -> str:
        return self._table("pipe")

    def body(self) -> dict[str, Any]:
        """The measured part of a result file (everything but its spec, provenance and the
        predictions files' entries)."""
        total = sum(self.seconds.values())
        samples = self.predictions[self.spec.conditions[0]].num_images if self.predictions else 0
        return {
            "rows": self.rows,
            "classes": self.classes,
            "per_class_AP": self.per_class_AP,
            "examples": self.examples,
            "eval_samples_per_s": samples * len(self.seconds) / total if total else 0.0,
            "timings": {"per_condition_s": self.seconds},
            "precision": self.precision,
            **self.compile,
        }

    def write_predictions(self, folder: Path) -> dict[str, dict[str, str]]:
        """Each condition's predictions under ``folder``/predictions/ (the suite's .npz);
        returns the entries a result file lists."""
        return {
            predictions_key(condition): write_predictions(
                Path(folder), predictions_key(condition), preds
            )
            for condition, preds in self.predictions.items()
        }

    def save(self, results_dir: str | Path) -> Path:
        """Store this evaluation in a results folder like any evaluation of the suite:
        ``<results_dir>/<hash>/result.json`` beside its ``predictions/``, where `benchmark
        check` validates it and the claims' statistics can read the predictions. Returns the
        result file's path."""
        started = time.time() - self.wall_s
        folder = Path(results_dir) / self.spec.hash
        body = {**self.body(), "predictions": self.write_predictions(folder)}
        if self.prepared is not None:
            body["prepared"] = self.prepared
        where = provenance(self.spec.mask_seed, self.device)
        result = result_record(self.spec, self.spec.name, None, "done", None, body, where, started)
        return write_result(Path(results_dir), result)


def state_digest(model: torch.nn.Module) -> str:
    """``sha256:`` over a model's state dict (names, dtypes, shapes and values, in order): the
    same weights give the same digest on any device or memory format."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.flatten().view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def evaluate_model(
    model: torch.nn.Module,
    dataset: str,
    data_root: str | Path,
    *,
    img_size: int | None = None,
    normalize: str | None = None,
    mask_seeds: Sequence[int] = DEFAULT_MASK_SEEDS,
    conditions: Sequence[str] | None = None,
    masks: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "auto",
    num_workers: int = 0,
    cache_dir: str | Path | None = None,
    tie_order: str | None = None,
    precision: str | None = None,
    compile_mode: str | None = "none",
    skip_bad: bool = False,
    prepare: Prepare | None = None,
    name: str | None = None,
    model_id: str | None = None,
) -> ModelEvaluation:
    """Score ``model`` on the test set of ``dataset`` (voc2007, coco2014 or wider) in its
    official layout under ``data_root``: clean, Table 6's masked setting and every hole-ratio
    bucket, with per-image predictions.

    The model maps a batch B×3×S×S, resized to ``img_size`` and normalised as ``normalize``
    says (``unit``: values in [0, 1]; ``half``: mean 0.5, std 0.5), to B×C logits in the
    dataset's class order; both default to the paper's inputs for the dataset (PAPER_INPUTS).
    It is moved to the device in place and put in eval mode.

    ``mask_seeds``: the first draws every masked condition, each further one Table 6's setting
    again (its spread), as `benchmark evaluate --mask-seeds` does; ``conditions`` replaces the
    protocol's list (``clean``, ``high``, ``low``, ``bucket:K``, optionally ``_seed<s>``).
    ``masks``: the NVIDIA irregular-mask test folder the paper used; None or ``"procedural"``
    draws the suite's procedural stand-in (docs/spec.md §1.2). ``cache_dir`` keeps the mask pools
    and annotation parses between calls. ``tie_order``: how AP ranks tied scores (default: the
    paper profile's). ``precision``: the arithmetic, ``fp32``, ``tf32`` (TF32 allowed for CUDA
    matmuls and cuDNN convolutions; fp32 elsewhere) or ``bf16`` autocast (default: the paper
    profile's, tf32; benchmark.train.precision); part of the result's identity.
    ``compile_mode``: ``none`` (eager), ``auto`` (CUDA graphs on CUDA) or a torch.compile mode;
    speed only. ``prepare(model, device)`` runs once on the device before anything is scored
    (BatchNorm re-estimation, say), at ``precision``; what it returns is recorded.
    ``model_id`` names the weights in the result (default: a digest of the state dict).
    """
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if dataset not in DATASET_CLASSES:
        raise UserError(f"dataset: unknown {dataset!r} (choose from {', '.join(PAPER_INPUTS)})")
    paper_size, paper_normalize = PAPER_INPUTS[dataset]
    img_size = paper_size if img_size is None else img_size
    normalize = paper_normalize if normalize is None else normalize
    if normalize not in NORMALIZATIONS:
        raise UserError(f"normalize: unknown {normalize!r} (choose from unit, half)")
    tie_order = get_profile("paper").tie_order if tie_order is None else tie_order
    if tie_order not in TIE_ORDERS:
        raise UserError(f"tie_order: unknown {tie_order!r} (choose from {', '.join(TIE_ORDERS)})")
    precision = get_profile("paper").precision if precision is None else precision
    if precision not in PRECISIONS:
        raise UserError(f"precision: unknown {precision!r} (choose from {', '.join(PRECISIONS)})")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size: must be a positive integer, got {batch_size!r}")
    seeds = _mask_seeds(mask_seeds)
    conditions = protocol_conditions(seeds) if conditions is None else tuple(conditions)
    for condition in conditions:
        base, _ = split_condition(condition)
        if base != "clean":
            pool_def(base)  # an unknown pool fails here, before any image is read
    source = "procedural" if masks is None or masks == "procedural" else "nvidia"
    started = time.perf_counter()
    ctx = JobContext(
        results_dir=Path(),  # not read: evaluating writes nothing (ModelEvaluation.save does)
        cache_dir=None if cache_dir is None else Path(cache_dir),
        device=device,
        num_workers=num_workers,
        skip_bad=skip_bad,
        compile_mode=compile_mode,
    )
    test_set = load_split(dataset, data_root, img_size, normalize, ctx)
    run_on = ddp.local_device(ctx.torch_device())
    configure_precision(precision, run_on)
    with autocast(precision, run_on):  # every pass at the evaluation's precision
        check_logits(model.to(run_on), test_set, run_on)
    model, graphs = prepare_model(
        model, ctx, run_on, max(1, batch_size // ddp.world_size()), ddp.world_size()
    )
    prepared = None
    if prepare is not None:
        with autocast(precision, run_on):  # train-mode passes, as the run trained
            prepared = prepare(model, run_on)
    spec = ModelEvalSpec(
        name=name or type(model).__name__,
        model=model_id or state_digest(model),
        dataset=dataset,
        test_set=targets_digest(test_set.targets.numpy()),
        img_size=img_size,
        normalize=normalize,
        conditions=conditions,
        mask_seed=seeds[0],
        mask_source=source,
        tie_order=tie_order,
        precision=precision,
    )
    ids = prediction_ids(test_set)
    rows, predictions, per_class, seconds = [], {}, {}, {}
    examples: dict[str, Any] = {"probs": {}}
    for condition in conditions:
        base, seed = split_condition(condition)
        seed = spec.mask_seed if seed is None else seed
        keep_fn, ratios = None, []
        if base != "clean":
            # On the device, as in training: only pool indices cross to the GPU, not keep-maps.
            pool = load_pool(base, img_size, masks or "procedural", cache_dir=ctx.cache_dir).to(
                run_on
            )

            def keep_fn(index, pool=pool, ratios=ratios, seed=seed):
                keep = pool.for_indices(torch.as_tensor(index), seed)
                ratios.extend((1 - keep.flatten(1).mean(1)).tolist())
                return keep

        start = time.perf_counter()
        probs, targets, indices, _ = predict_test_set(
            model, test_set, batch_size, ctx, run_on, precision, keep_fn, graphs
        )
        seconds[condition] = time.perf_counter() - start
        predictions[condition] = named_predictions(probs, targets, indices, ids)
        # A few test images' predictions for the report's qualitative figure (the same images
        # and masks for every model evaluated with these seeds).
        examples["indices"] = indices[:EXAMPLES].tolist()
        examples["files"] = [test_set.files[i] for i in examples["indices"]]
        examples["targets"] = targets[:EXAMPLES].tolist()
        examples["probs"][condition] = probs[:EXAMPLES].round(5).tolist()
        scores = score_test_predictions(probs, targets, test_set.instances, indices, tie_order)
        values = {metric: scores[metric] for metric in METRIC_NAMES}
        values.update({k: v for k, v in scores.items() if k.startswith("mAP_") and v is not None})
        per_class[condition] = scores["AP"]
        hole = float(np.mean(ratios)) if ratios else 0.0
        for metric, value in values.items():
            rows.append(
                {"condition": condition, "hole_ratio": hole, "metric": metric, "value": value}
            )
    return ModelEvaluation(
        spec=spec,
        rows=rows,
        predictions=predictions,
        classes=list(test_set.classes),
        per_class_AP=per_class,
        examples=examples,
        seconds=seconds,
        wall_s=time.perf_counter() - started,
        compile=graphs.record(),
        prepared=prepared,
        device=device_name(run_on),
        precision=precision_record(precision, run_on),
    )


def _mask_seeds(mask_seeds: Sequence[int]) -> tuple[int, ...]:
    seeds = tuple(mask_seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise UserError(f"mask_seeds: give one or more integers, got {mask_seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"mask_seeds: seeds must be distinct, got {mask_seeds!r}")
    return seeds
