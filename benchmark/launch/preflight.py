"""Checks before any training: inputs that exist, and a results folder that can take the output."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmark.data.dataset_factory import LOADERS
from benchmark.data.layout import SPLITS, find_root
from benchmark.data.verify import undecodable
from benchmark.errors import UserError
from benchmark.experiment.plan import Plan
from benchmark.models.weights import resolve_weights
from benchmark.spec import RunSpec
from benchmark.store.results import probe_write
from benchmark.train.job_context import JobContext

# Below this much free space a run would fail at its first checkpoint (a smoke one holds KBs,
# a paper ResNet-101 `last.pt` ~0.5 GB: the check catches a full disk, not a tight one).
MIN_FREE_BYTES = 64 * 2**20
SAMPLE_DECODE = 8  # images per split decoded before training: a broken copy shows at once
SHOWN_PER_SPLIT = 3  # problems listed per split; the rest are counted


def preflight(plan: Plan, ctx: JobContext, done: frozenset[str] = frozenset()) -> None:
    """Everything the plan's work needs, checked and made ready before any job starts; the work
    is the runs and evaluations whose hash is not in ``done``. In order: under real data, every
    missing input named at once (weight files, dataset folders, annotation files, split lists,
    images that do not decode), so that a missing one leaves nothing behind; a results folder
    that can take the output (only when there is work: a finished, read-only folder still
    reports "done"); each synthetic tree the work reads (``write_synthetic_trees``)."""
    problems: list[str] = []
    datasets: dict[tuple[str, Path], None] = {}
    weights: dict[str, list[str]] = {}
    pending = [s for h, s in plan.runs.items() if h not in done]
    pending += [ev.run for h, ev in plan.evals.items() if h not in done]
    for spec in pending:
        if spec.synth is None:
            try:
                datasets[(spec.dataset, ctx.dataset_root(spec))] = None
            except UserError as exc:
                problems.append(str(exc))
        if spec.weights is not None and not spec.weights.startswith("timm:"):
            weights.setdefault(spec.weights, []).append(spec.name)
    for key, names in weights.items():
        try:
            resolve_weights(key, ctx.weights_root)
        except UserError as exc:
            problems.append(f"{exc} (needed by {', '.join(dict.fromkeys(names))})")
    for dataset, root in datasets:
        problems += dataset_problems(dataset, root)
    if plan.options.mask_source == "nvidia" and not Path(plan.options.masks_root).is_dir():
        problems.append(f"--masks-root {plan.options.masks_root} is not a folder")
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UserError(
            f"cannot start: {len(unique)} problem(s), nothing was trained (`--profile smoke` runs "
            "on synthetic data without them):\n" + "\n".join(f"  - {p}" for p in unique)
        )
    if pending:
        check_writable(Path(ctx.results_dir))
    write_synthetic_trees(pending, ctx)


def dataset_problems(dataset: str, root: Path) -> list[str]:
    """Layout, split lists, annotation files and image files of every split, and a decode of
    the first images of each: a few per kind, with a count of the rest."""
    try:
        base = find_root(dataset, root, flag="--data-root")
    except UserError as exc:
        return [str(exc)]
    problems = []
    for split in SPLITS:
        found: list[str] = []
        records = LOADERS[dataset](base, split, found)
        if records.files:
            found += undecodable(sorted(set(records.files))[:SAMPLE_DECODE])
        elif not found:
            found.append(f"{base}: the {split} split has no samples")
        problems += found[:SHOWN_PER_SPLIT]
        if len(found) > SHOWN_PER_SPLIT:
            problems.append(
                f"… and {len(found) - SHOWN_PER_SPLIT} more in the {split} split of {base} "
                f"(`benchmark data verify {dataset} --root {base}` lists them all)"
            )
    return problems


def check_writable(folder: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Stop before any training if results could not be saved: hours of work must not end in
    an unwritable folder. A probe file is created and removed, and free space is checked."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"results folder {folder} is a file, not a folder (see --results-dir)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_write(folder)
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


def write_synthetic_trees(runs: list[RunSpec], ctx: JobContext) -> None:
    """Each synthetic tree the runs read, written once here before any worker starts: parallel
    workers (--runs-per-gpu, Slurm) would otherwise each write the same tree at the same time
    (safely, it is atomic, but for the time of one writer)."""
    seen: set = set()
    for spec in runs:
        if spec.synth is not None and (spec.dataset, spec.synth) not in seen:
            seen.add((spec.dataset, spec.synth))
            ctx.dataset_root(spec)
