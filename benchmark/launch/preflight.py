"""Checks before any training: inputs that exist, and a results folder that can take the output."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from benchmark.data.layout import find_root
from benchmark.errors import UserError
from benchmark.models.weights import resolve_weights
from benchmark.plan import Plan
from benchmark.results import is_done
from benchmark.train.context import RunContext

# Below this much free space a run would fail at its first checkpoint (a smoke one holds KBs,
# a paper ResNet-101 `last.pt` ~0.5 GB: the check catches a full disk, not a tight one).
MIN_FREE_BYTES = 64 * 2**20


def preflight(plan: Plan, ctx: RunContext) -> None:
    """Under real data, stop before any training if a dataset or weight file is missing."""
    problems = []
    for spec in plan.runs.values():
        if is_done(ctx.results_dir, spec.hash):
            continue
        if spec.synth is None:
            try:
                find_root(spec.dataset, ctx.dataset_root(spec))
            except UserError as exc:
                problems.append(f"{spec.name}: {exc}")
        if spec.weights is not None and not spec.weights.startswith("timm:"):
            try:
                resolve_weights(spec.weights, ctx.weights_root)
            except UserError as exc:
                problems.append(f"{spec.name}: {exc}")
    if plan.options.mask_source == "nvidia" and not Path(plan.options.masks_root).is_dir():
        problems.append(f"--masks-root {plan.options.masks_root} is not a folder")
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UserError(
            "cannot start: "
            + " | ".join(unique)
            + " — nothing was trained; `--profile smoke` runs on synthetic data without them"
        )


def check_writable(folder: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Stop before any training if results could not be saved: hours of work must not end in
    an unwritable folder. A probe file is created and removed, and free space is checked."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"results folder {folder} is a file, not a folder (see --results-dir)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise UserError(
            f"cannot write to the results folder {folder}: {exc.strerror or exc} "
            f"(nothing was trained; choose another with --results-dir)"
        ) from None
    if free < min_free:
        raise UserError(
            f"results folder {folder}: only {free / 2**20:.1f} MiB free on its disk, at least "
            f"{min_free / 2**20:.0f} MiB needed (nothing was trained; free space or choose "
            f"another with --results-dir)"
        )
