"""Evaluating published checkpoints (and a user's own file of a registered architecture).

Planning reads each file's keys and shapes (memory-mapped, no values), decides which
architecture it is, and checks it fits before any work starts; the evaluation itself is the
suite's one evaluation job (`benchmark.train.checkpoint_evaluation.evaluate_checkpoint`),
stored like any other:
its identity is the file's sha256 plus the evaluation config, so a second call finds it done
and launches nothing. The conditions are the protocol's (`protocol_conditions`), the same list
`benchmark.evaluate_model` scores by default.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.errors import UserError
from benchmark.experiment.batchnorm import describe_model, has_batchnorm
from benchmark.experiment.plan import Plan, PlanOptions
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import Registry, load_registry
from benchmark.experiment.releases import (
    Release,
    Target,
    known_layouts,
    load_releases,
    target_run,
)
from benchmark.launch.local import LocalExecutor
from benchmark.launch.preflight import preflight
from benchmark.launch.runner import jobs_for
from benchmark.models.checkpoint_files import (
    CheckpointFile,
    CheckpointMismatch,
    model_layout,
    read_checkpoint,
)
from benchmark.spec import FILE_CHECKPOINT, EvalSpec, RunSpec
from benchmark.store.results import is_done
from benchmark.train.job_context import JobContext
from benchmark.train.model_evaluation import protocol_conditions

Layouts = dict[str, dict[str, tuple[int, ...]]]  # a published architecture → its layout


@dataclass(frozen=True)
class Protocol:
    """How every file of one `benchmark evaluate` is scored, worked out once per plan."""

    conditions: tuple[str, ...]  # `protocol_conditions` of the mask seeds
    mask_seed: int  # the first mask seed: it draws every masked condition
    mask_source: str  # the options' masks: nvidia or procedural
    bn_reestimate: str | None = None  # re-estimate BatchNorm statistics first (docs/claims.md)

    @classmethod
    def of(
        cls, options: PlanOptions, mask_seeds: tuple[int, ...], bn_reestimate: str | None = None
    ) -> Protocol:
        return cls(
            protocol_conditions(mask_seeds), mask_seeds[0], options.mask_source, bn_reestimate
        )

    def evaluation(self, spec: RunSpec, file: CheckpointFile) -> EvalSpec:
        """The evaluation of ``file`` as a model of ``spec``'s architecture."""
        return EvalSpec(
            name=spec.name,
            run=spec,
            conditions=self.conditions,
            mask_seed=self.mask_seed,
            mask_source=self.mask_source,
            checkpoint=FILE_CHECKPOINT + file.sha256,
            checkpoint_file=str(file.path.resolve()),
            bn_reestimate=self.bn_reestimate,
        )


@dataclass
class ReleasePlan:
    evals: list[EvalSpec] = field(default_factory=list)  # files present, in registry order
    architectures: dict[str, str] = field(default_factory=dict)  # eval hash → manifest id
    released: dict[str, Release] = field(default_factory=dict)  # eval hash → its release
    absent: list[tuple[Release, Path]] = field(default_factory=list)
    unmapped: list[Release] = field(default_factory=list)
    skipped: list[tuple[Release, str]] = field(default_factory=list)  # nothing to re-estimate


def plan_evaluations(
    experiments: Path | None,
    selector: str | None,
    checkpoint: Path | None,
    like: str | None,
    options: PlanOptions,
    weights_root: Path | None,
    mask_seeds: tuple[int, ...],
    bn_reestimate: str | None = None,
) -> ReleasePlan:
    """What `benchmark evaluate` runs, planned against the registry in ``experiments`` and its
    releases: the user's ``checkpoint`` fitted to the run ``like`` (`plan_checkpoint`), else the
    files of the releases ``selector`` names (`plan_releases`)."""
    protocol = Protocol.of(options, mask_seeds, bn_reestimate)
    registry = load_registry(experiments)
    releases = load_releases(registry)
    known = known_layouts(releases)
    if checkpoint is not None:
        return plan_checkpoint(registry, known, checkpoint, like, options, protocol)
    return plan_releases(
        registry, known, releases.select(selector), options, weights_root, protocol
    )


def plan_releases(
    registry: Registry,
    known: Layouts,
    selected: list[Release],
    options: PlanOptions,
    weights_root: Path | None,
    protocol: Protocol,
) -> ReleasePlan:
    """The evaluations of the selected releases whose files are under ``weights_root``; every
    present file is checked to fit before anything runs (a misfit is one error naming it).
    With ``protocol.bn_reestimate``, a file whose model has no BatchNorm (a ViT) is skipped,
    said why. ``known``: the published architectures' layouts (`known_layouts`), what a misfit
    is compared with."""
    plan = ReleasePlan()
    for release in selected:
        if release.unmapped:
            plan.unmapped.append(release)
            continue
        path = Path(release.file) if weights_root is None else Path(weights_root) / release.file
        if weights_root is None or not path.is_file():
            plan.absent.append((release, path))
            continue
        target, spec, file = fit_target(registry, release, path, options, known)
        if protocol.bn_reestimate is not None and not has_batchnorm(spec):
            plan.skipped.append((release, f"{describe_model(spec)}: no BatchNorm to re-estimate"))
            continue
        ev = protocol.evaluation(spec, file)
        plan.evals.append(ev)
        plan.architectures[ev.hash] = target.manifest
        plan.released[ev.hash] = release
    return plan


def fit_target(
    registry: Registry, release: Release, path: Path, options: PlanOptions, known: Layouts
) -> tuple[Target, RunSpec, CheckpointFile]:
    """The architecture (of the release's candidates) whose layout the file has exactly, at
    the options' precision, and the file as read."""
    profile = options.profile
    targets = release.targets
    specs = [target_run(registry, release.id, t, profile, options.precision) for t in targets]
    file = read_checkpoint(path)
    problems = []
    for target, spec in zip(targets, specs, strict=True):
        problem = file.mismatch(model_layout(spec), known)
        if problem is None:
            return target, spec, file
        problems.append(problem)
    raise CheckpointMismatch(
        f"{file.path} ({file.layout} layout) does not fit release {release.id} "
        f"({' or '.join(t.manifest for t in release.targets)}, profile {profile}): {problems[0]}"
    )


def plan_checkpoint(
    registry: Registry,
    known: Layouts,
    path: Path,
    like: str,
    options: PlanOptions,
    protocol: Protocol,
) -> ReleasePlan:
    """A user's checkpoint of a registered run's architecture (`--checkpoint FILE --like RUN`):
    the suite's best.pt/last.pt, a bare state dict of a suite model, or a publisher-layout file;
    a misfit is compared with the published architectures, to say which one it looks like."""
    run = like_run(registry, like)
    path = Path(path)  # checked readable where --checkpoint is read (cli.settings.readable_file)
    spec = dataclasses.replace(
        resolve_run(registry, run, options.profile, precision=options.precision),
        name=f"{run}@{path.name}",
        weights=None,
    )
    file = read_checkpoint(path)
    problem = file.mismatch(model_layout(spec), known)
    if problem is not None:
        raise CheckpointMismatch(
            f"{path} ({file.layout} layout) does not fit run {run} (profile {options.profile}): "
            f"{problem}"
        )
    if protocol.bn_reestimate is not None and not has_batchnorm(spec):
        raise UserError(
            f"--bn-reestimate: run {run}'s model ({describe_model(spec)}) has no BatchNorm "
            "layer to re-estimate"
        )
    return ReleasePlan(evals=[protocol.evaluation(spec, file)])


def like_run(registry: Registry, name: str) -> str:
    """--like: a run's name, or what `benchmark list` shows for a cell — an evaluation's name
    (Table 6) or the cell id — read as the run whose model it is; else the close names."""
    if name in registry.runs:
        return name
    if name in registry.evaluations:
        return registry.evaluations[name]["run"]
    cell = next((c for c in registry.cells if c.id == name), None)
    if cell is not None and cell.run is not None:
        return cell.run
    if cell is not None and cell.evaluation is not None:
        return registry.evaluations[cell.evaluation]["run"]
    known = [*registry.runs, *registry.evaluations]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; close: {', '.join(close)}" if close else ""
    raise UserError(
        f"--like {name}: no run, evaluation or cell of that name{hint} (`benchmark list all` "
        "shows them in its run column)"
    )


def evaluate_releases(
    plan: ReleasePlan, ctx: JobContext, options: PlanOptions, force: bool = False
):
    """Run the planned evaluations in this process (the runner's checks first); the statuses."""
    evaluations = Plan(options, evals={ev.hash: ev for ev in plan.evals})
    done = [h for h in evaluations.evals if not force and is_done(ctx.results_dir, h)]
    preflight(evaluations, ctx, frozenset(done))  # the data and masks they read, the folder
    _, jobs = jobs_for(evaluations, ctx, force)
    todo = [job for job in jobs if job.hash not in done]
    if done:
        print(f"{len(done)} of {len(jobs)} evaluation(s) already done: not launched")
    return LocalExecutor().execute(todo) if todo else []
