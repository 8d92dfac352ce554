"""BatchNorm-matched sides of a claim (docs/claims.md): the evaluation whose predictions show
what a side's weights learned, with its BatchNorm running statistics re-estimated on the same
images as the other side's, instead of those its own training left behind.

A claim tested on clean images is matched on clean training images ("clean"); a claim tested
under masks (Table 6, the curves) on the same training batches clean and then masked
("mixed"), as MSL's two training passes see them. The re-estimation depends on the evaluation
alone (benchmark.train.checkpoint_evaluation.reestimate_on_training_images), so both sides see
the same
images in the same order with the same masks; each result records a digest of them, which
the measurement compares.
"""

from __future__ import annotations

import dataclasses

from benchmark.claims.claim_registry import Claim, Side
from benchmark.experiment.batchnorm import describe_model, has_batchnorm
from benchmark.experiment.registry import Registry
from benchmark.spec import EvalSpec, RunSpec

CLEAN, MIXED = "clean", "mixed"  # benchmark.spec.BN_REESTIMATES
CHECKPOINT_FILES = ("best", "last")  # the training checkpoints kept (val_best keeps none)


def side_condition(registry: Registry, side: Side) -> str:
    """The test condition a side's predictions are made under (a training run: clean)."""
    if side.evaluation is not None:
        return side.condition
    if side.cell is not None and registry.cell(side.cell).evaluation is not None:
        return registry.cell(side.cell).condition
    return "clean"


def matched_mode(registry: Registry, claim: Claim) -> str:
    """clean when both sides are tested on clean images, else mixed."""
    conditions = {side_condition(registry, side) for side in (claim.a, claim.b)}
    return CLEAN if conditions == {"clean"} else MIXED


def not_applicable(specs: dict[str, RunSpec | EvalSpec], checkpoint: str) -> str | None:
    """Why a claim whose sides resolve to ``specs`` (a, b) has no matched verdict, or None."""
    lacking = [
        f"{key} ({describe_model(spec.trained_run)})"
        for key, spec in specs.items()
        if not has_batchnorm(spec.trained_run)
    ]
    if lacking:
        return f"no BatchNorm in side {' and '.join(lacking)}: nothing to re-estimate"
    if checkpoint not in CHECKPOINT_FILES and any(s.kind == RunSpec.kind for s in specs.values()):
        return f"checkpoint {checkpoint}: no such checkpoint file is kept to re-estimate"
    return None


def matched_spec(
    spec: RunSpec | EvalSpec, mode: str, checkpoint: str, mask_source: str
) -> EvalSpec:
    """The evaluation giving a side's matched predictions.

    A side tested clean (a training run's checkpoint, or an evaluation's clean condition) is
    scored clean after re-estimating on clean images: one evaluation per training run and
    checkpoint, whichever claim or evaluation names it. A side tested under masks is its
    evaluation again (conditions, mask seed and masks unchanged) with ``mode`` re-estimation.
    """
    if spec.kind == RunSpec.kind or mode == CLEAN:
        run = spec.trained_run
        return EvalSpec(
            name=f"{run.name}-bn-matched-{mode}",
            run=run,
            conditions=("clean",),
            mask_seed=0,
            mask_source=mask_source,
            checkpoint=checkpoint if spec.kind == RunSpec.kind else spec.checkpoint,
            bn_reestimate=mode,
        )
    if spec.bn_reestimate == mode:  # already re-estimated so (a control): itself
        return spec
    return dataclasses.replace(spec, name=f"{spec.name}-bn-matched-{mode}", bn_reestimate=mode)
