"""Evaluating published checkpoints (and a user's own file of a registered architecture).

Planning reads each file's keys and shapes (memory-mapped, no values), decides which
architecture it is, and checks it fits before any work starts; the evaluation itself is the
suite's one evaluation job (`benchmark.train.evaluate.evaluate_checkpoint`), stored like any other:
its identity is the file's sha256 plus the evaluation config, so a second call finds it done
and launches nothing. The conditions are the protocol's (`protocol_conditions`), the same list
`benchmark.evaluate_model` scores by default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmark.errors import UserError
from benchmark.experiment.batchnorm import describe_model, has_batchnorm
from benchmark.experiment.plan import Plan, PlanOptions
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import Registry
from benchmark.experiment.releases import Release, Releases, Target, known_layouts, target_run
from benchmark.launch.local import LocalExecutor
from benchmark.launch.preflight import check_writable, preflight
from benchmark.launch.runner import jobs_for
from benchmark.models import build_model
from benchmark.models.checkpoint_files import (
    CheckpointMismatch,
    expected_shapes,
    file_shapes,
    mismatch,
    sha256_file,
)
from benchmark.spec import FILE_CHECKPOINT, EvalSpec, RunSpec
from benchmark.store.results import is_done
from benchmark.train.job_context import JobContext
from benchmark.train.model_evaluation import protocol_conditions


@dataclass
class ReleasePlan:
    evals: list[EvalSpec] = field(default_factory=list)  # files present, in registry order
    architectures: dict[str, str] = field(default_factory=dict)  # eval hash → manifest id
    absent: list[tuple[Release, Path]] = field(default_factory=list)
    unmapped: list[Release] = field(default_factory=list)
    skipped: list[tuple[Release, str]] = field(default_factory=list)  # nothing to re-estimate


def release_file(release: Release, weights_root: Path | None) -> Path | None:
    return None if weights_root is None else Path(weights_root) / release.file


def plan_releases(
    registry: Registry,
    releases: Releases,
    selected: list[Release],
    options: PlanOptions,
    weights_root: Path | None,
    mask_seeds: tuple[int, ...],
    bn_reestimate: str | None = None,
) -> ReleasePlan:
    """The evaluations of the selected releases whose files are under ``weights_root``; every
    present file is checked to fit before anything runs (a misfit is one error naming it).
    With ``bn_reestimate``, a file whose model has no BatchNorm (a ViT) is skipped, said why."""
    plan = ReleasePlan()
    known = known_layouts(releases)
    for release in selected:
        if release.unmapped:
            plan.unmapped.append(release)
            continue
        path = release_file(release, weights_root)
        if path is None or not path.is_file():
            plan.absent.append((release, path or Path(release.file)))
            continue
        target, spec = fit_target(registry, release, path, options, known)
        if bn_reestimate is not None and not has_batchnorm(spec):
            plan.skipped.append((release, f"{describe_model(spec)}: no BatchNorm to re-estimate"))
            continue
        ev = _evaluation(spec, path, options, mask_seeds, bn_reestimate)
        plan.evals.append(ev)
        plan.architectures[ev.hash] = target.manifest
    return plan


def fit_target(
    registry: Registry, release: Release, path: Path, options: PlanOptions, known
) -> tuple[Target, RunSpec]:
    """The architecture (of the release's candidates) whose layout the file has exactly, at
    the options' precision."""
    profile = options.profile
    found, layout = file_shapes(path)
    problems = []
    for target in release.targets:
        spec = target_run(registry, release.id, target, profile, options.precision)
        problem = mismatch(found, _layout_of(spec), known, publisher_names=layout == "publisher")
        if problem is None:
            return target, spec
        problems.append(problem)
    raise CheckpointMismatch(
        f"{path} ({layout} layout) does not fit release {release.id} "
        f"({' or '.join(t.manifest for t in release.targets)}, profile {profile}): {problems[0]}"
    )


def plan_checkpoint(
    registry: Registry,
    path: Path,
    like: str,
    options: PlanOptions,
    mask_seeds: tuple[int, ...],
    known=None,
    bn_reestimate: str | None = None,
) -> EvalSpec:
    """A user's checkpoint of a registered run's architecture (`--checkpoint FILE --like RUN`):
    the suite's best.pt/last.pt, a bare state dict of a suite model, or a publisher-layout file."""
    if like not in registry.runs:
        raise UserError(f"--like: no run named {like!r} (see `benchmark list --json`)")
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--checkpoint: {path} is not a file")
    spec = dataclasses.replace(
        resolve_run(registry, like, options.profile, precision=options.precision),
        name=f"{like}@{path.name}",
        weights=None,
    )
    found, layout = file_shapes(path)
    problem = mismatch(found, _layout_of(spec), known, publisher_names=layout == "publisher")
    if problem is not None:
        raise CheckpointMismatch(
            f"{path} ({layout} layout) does not fit run {like} (profile {options.profile}): "
            f"{problem}"
        )
    if bn_reestimate is not None and not has_batchnorm(spec):
        raise UserError(
            f"--bn-reestimate: run {like}'s model ({describe_model(spec)}) has no BatchNorm "
            "layer to re-estimate"
        )
    return _evaluation(spec, path, options, mask_seeds, bn_reestimate)


def _layout_of(spec: RunSpec) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):  # shapes only: no memory, no weights
        return expected_shapes(build_model(spec))


def _evaluation(
    spec: RunSpec,
    path: Path,
    options: PlanOptions,
    mask_seeds: tuple[int, ...],
    bn_reestimate: str | None = None,
) -> EvalSpec:
    return EvalSpec(
        name=spec.name,
        run=spec,
        conditions=protocol_conditions(mask_seeds),
        mask_seed=mask_seeds[0],
        mask_source=options.mask_source,
        checkpoint=FILE_CHECKPOINT + sha256_file(path),
        checkpoint_file=str(Path(path).resolve()),
        bn_reestimate=bn_reestimate,
    )


def evaluate_releases(
    plan: ReleasePlan, ctx: JobContext, options: PlanOptions, force: bool = False
):
    """Run the planned evaluations in this process (the runner's checks first); the statuses."""
    _, jobs = jobs_for(Plan(options, evals={ev.hash: ev for ev in plan.evals}), ctx, force)
    todo = [job for job in jobs if not is_done(ctx.results_dir, job.hash)]
    if todo:
        check_writable(Path(ctx.results_dir))
        # The data and masks each evaluation reads, checked before any of them starts.
        preflight(Plan(options, runs={job.spec.run.hash: job.spec.run for job in todo}), ctx)
    if len(todo) < len(jobs):
        print(f"{len(jobs) - len(todo)} of {len(jobs)} evaluation(s) already done: not launched")
    return LocalExecutor().execute(todo) if todo else []
