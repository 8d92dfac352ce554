"""GPU-hours of the whole suite, projected from a few measured figures (a pure function).

The method, step by step (docs/cluster.md repeats it for readers):

1. **Measured** for a few models (key: backbone, head, input size), one run alone on the GPU
   in the mode runs use: MSL and supervised training images/s (clean images per second at the
   paper's batch of 6) and evaluation images/s, all at one precision (tf32, the paper
   protocol's, or bf16): the projection says which it assumes, and which the runs compute at.
2. **Scaled**: every other model takes the figures of the measured model of its backbone
   family, divided by the ratio of forward MACs (counted: ``benchmark.models.macs``). At batch
   6 a GPU step is partly bound by kernel launches, so a costlier model runs at a higher
   utilisation than the measured one: scaling by MACs overestimates its time (a conservative
   figure). Each row says whether it was measured or scaled, and by how much.
3. **One run alone** = epochs × (training images ÷ training rate + test images ÷ evaluation
   rate): the paper's protocol evaluates the test set after every epoch. A Table 6 evaluation
   = conditions × test images ÷ evaluation rate. Image counts are the real datasets'.
4. **Packing**: K runs sharing one GPU deliver ``packing_gain`` times one run's throughput in
   aggregate (measured at that K), so GPU-hours = Σ hours alone ÷ gain.
5. **Data path**: the host decodes every training and test image once per epoch (MSL masks
   the decoded batch on the GPU: no second decode). When the host's decode + augment rate over
   all loader workers is given, the projection is the larger of the GPU bound and the data
   bound, and says which binds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmark.experiment.profiles import PAPER_COUNTS, backbone_family
from benchmark.models.macs import forward_gmacs
from benchmark.spec import EvalSpec, RunSpec

ModelKey = tuple[str, str, int]  # backbone, arch, input size


def model_key(spec: RunSpec) -> ModelKey:
    return (spec.backbone, spec.arch, spec.img_size)


def key_label(key: ModelKey) -> str:
    return f"{key[0]}/{key[1]}/{key[2]}"


@dataclass(frozen=True)
class Throughput:
    """One run alone on the GPU: images per second (clean images, the paper's batch)."""

    key: ModelKey
    msl: float
    supervised: float
    eval: float
    precision: str  # the arithmetic it was measured at (benchmark.train.precision)


@dataclass(frozen=True)
class _Rates:
    msl: float
    supervised: float
    eval: float
    basis: str


def _rates(spec: RunSpec, measured: Sequence[Throughput]) -> _Rates:
    key = model_key(spec)
    for m in measured:
        if m.key == key:
            return _Rates(m.msl, m.supervised, m.eval, "measured")
    family = backbone_family(spec.backbone)
    bases = [m for m in measured if m.key[0] == spec.backbone] or [
        m for m in measured if backbone_family(m.key[0]) == family
    ]
    if not bases:
        raise ValueError(f"no measured model of the {family} family to scale {key_label(key)} from")
    base = bases[0]
    base_spec = _spec_like(spec, base.key)
    ratio = forward_gmacs(spec) / forward_gmacs(base_spec)
    basis = f"scaled ×{ratio:.2f} (MACs) from {key_label(base.key)}"
    return _Rates(base.msl / ratio, base.supervised / ratio, base.eval / ratio, basis)


def _spec_like(spec: RunSpec, key: ModelKey) -> RunSpec:
    return dataclasses.replace(spec, backbone=key[0], arch=key[1], img_size=key[2])


def project(
    runs: Sequence[RunSpec],
    evals: Sequence[EvalSpec],
    measured: Sequence[Throughput],
    *,
    packing_gain: float = 1.0,
    data_images_per_s: float | None = None,
    counts: Mapping[str, tuple[int, int]] = PAPER_COUNTS,
) -> dict[str, Any]:
    """Hours of every training run and evaluation, and of the suite, from measured rates."""
    if packing_gain <= 0:
        raise ValueError(f"packing_gain must be positive, got {packing_gain}")
    measured_at = sorted({m.precision for m in measured})
    if len(measured_at) > 1:
        raise ValueError(f"measured rates of several precisions ({', '.join(measured_at)})")
    rows, images, by_dataset = [], 0, {}
    for spec in runs:
        rates = _rates(spec, measured)
        train_n, test_n = counts[spec.dataset]
        train_rate = rates.msl if spec.method == "msl" else rates.supervised
        train_h = spec.epochs * train_n / train_rate / 3600
        eval_h = spec.epochs * test_n / rates.eval / 3600
        images += spec.epochs * (train_n + test_n)
        rows.append(
            {
                "run": spec.name,
                "dataset": spec.dataset,
                "model": key_label(model_key(spec)),
                "method": spec.method,
                "epochs": spec.epochs,
                "basis": rates.basis,
                "train_hours": train_h,
                "eval_hours": eval_h,
                "hours": train_h + eval_h,
            }
        )
        by_dataset[spec.dataset] = by_dataset.get(spec.dataset, 0.0) + train_h + eval_h
    eval_rows = []
    for ev in evals:
        rates = _rates(ev.run, measured)
        test_n = counts[ev.run.dataset][1]
        hours = len(ev.conditions) * test_n / rates.eval / 3600
        images += len(ev.conditions) * test_n
        eval_rows.append(
            {
                "evaluation": ev.name,
                "dataset": ev.run.dataset,
                "conditions": len(ev.conditions),
                "basis": rates.basis,
                "hours": hours,
            }
        )
        by_dataset[ev.run.dataset] = by_dataset.get(ev.run.dataset, 0.0) + hours
    alone = sum(r["hours"] for r in rows) + sum(e["hours"] for e in eval_rows)
    gpu_hours = alone / packing_gain
    data_hours = images / data_images_per_s / 3600 if data_images_per_s else None
    bound = "data" if data_hours is not None and data_hours > gpu_hours else "gpu"
    return {
        "precision": measured_at[0] if measured_at else None,  # what the rates assume
        # what the projected runs compute at: when it differs, the figure is an assumption
        "runs_compute_at": sorted({s.precision for s in runs} | {e.run.precision for e in evals}),
        "runs": rows,
        "evaluations": eval_rows,
        "hours_one_at_a_time": alone,
        "packing_gain": packing_gain,
        "gpu_hours": gpu_hours,
        "images_decoded": images,
        "data_hours": data_hours,
        "bound": bound,
        "projected_hours": max(gpu_hours, data_hours or 0.0),
        "by_dataset": {k: v / packing_gain for k, v in by_dataset.items()},
    }
