"""Executing a plan: from the plan's runs and evaluations to finished result files.

Trainings first, then the evaluations that read their checkpoints. Work already done is
skipped, failed work is retried, and a failing run never stops the others.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmark.experiment.plan import Plan, ResultState, read_results
from benchmark.launch.job import Job
from benchmark.launch.preflight import preflight
from benchmark.store.results import job_dir
from benchmark.train import checkpoint
from benchmark.train.job_context import JobContext


@dataclass
class PlanOutcome:
    jobs: list[Job]
    statuses: list[str]


def jobs_for(
    plan: Plan, ctx: JobContext, force: bool = False, rerun: frozenset[str] = frozenset()
) -> tuple[list[Job], list[Job]]:
    """The plan's jobs; ``force`` discards every existing result first, ``rerun`` those of the
    given hashes (--rerun-stale)."""
    trains = [Job("train", spec, ctx) for spec in plan.runs.values()]
    evals = [Job("eval", spec, ctx) for spec in plan.evals.values()]
    for job in trains + evals:
        if force or job.hash in rerun:
            _discard(Path(ctx.results_dir) / job.hash)
    return trains, evals


def _discard(folder: Path) -> None:
    """--force, --rerun-stale: forget the result and checkpoints so the run starts from
    scratch (a stale training must not resume from the old code's checkpoint)."""
    if folder.exists():
        shutil.rmtree(folder)


def repairs_needed(plan: Plan, states: dict[str, ResultState], results_dir: Path) -> dict[str, str]:
    """Hash → why it is redone: each done result whose predictions files are missing or
    changed (``ResultState.damage``) is run again from scratch — an evaluation re-evaluates its
    training's checkpoint; a training retrains (its per-epoch states are not all kept). When an
    evaluation's checkpoint is gone, its training is retrained first. Done work the damage does
    not touch is left alone."""
    repairs = {}
    for spec_hash, state in states.items():
        if not state.damage:
            continue
        files = "; ".join(map(str, state.damage))
        if spec_hash in plan.runs:
            repairs[spec_hash] = f"{plan.runs[spec_hash].name}: {files}; retraining"
            continue
        evaluation = plan.evals[spec_hash]
        repairs[spec_hash] = f"{evaluation.name}: {files}; re-evaluating"
        run = evaluation.run
        if evaluation.checkpoint not in ("best", "last"):
            continue  # a published file's evaluation: the file is checked when it is read
        name = checkpoint.BEST if evaluation.checkpoint == "best" else checkpoint.LAST
        if not (job_dir(results_dir, run.hash) / "checkpoints" / name).is_file():
            repairs.setdefault(
                run.hash, f"{run.name}: checkpoints/{name} is gone, needed to re-evaluate "
                f"{evaluation.name}; retraining"
            )  # fmt: skip
    return repairs


def execute_plan(
    plan: Plan, ctx: JobContext, executor, force: bool = False, rerun_stale: bool = False
) -> PlanOutcome:
    """Run what is not done. The plan's results are read once (by sha256: ``read_results``).
    A done result made by other code (stale) is kept unless ``rerun_stale``; then it is
    discarded and run again, like everything under ``force``. A damaged result (a predictions
    file missing or changed) is always redone (``repairs_needed``)."""
    results_dir = Path(ctx.results_dir)
    states = {} if force else read_results(plan, results_dir, thorough=True)
    stale = [h for h, state in states.items() if state.stale]
    repairs = repairs_needed(plan, states, results_dir)
    rerun = frozenset(repairs) | frozenset(stale if rerun_stale else ())
    kept = frozenset(h for h, state in states.items() if state.done) - rerun
    preflight(plan, ctx, kept)  # inputs, the results folder, synthetic trees: before any job
    for spec_hash, why in repairs.items():
        print(f"repairing {spec_hash}: {why}")
    if rerun_stale and stale:
        print(f"rerunning {len(stale)} stale result(s), made by other code than this checkout's")
    elif stale:
        print(
            f"{len(stale)} done result(s) were made by other code (stale) and are kept: "
            "`--rerun-stale` reruns them (the status table names the changed files)"
        )
    all_trains, all_evals = jobs_for(plan, ctx, force, rerun)
    trains = [job for job in all_trains if job.hash not in kept]
    evals = [job for job in all_evals if job.hash not in kept]
    if kept:
        print(
            f"{len(kept)} of {len(plan.runs) + len(plan.evals)} job(s) already done: not launched"
        )
    train_status = executor.execute(trains) if trains else []
    failed_runs = {job.hash for job, s in zip(trains, train_status, strict=True) if s == "failed"}
    runnable_evals = [job for job in evals if job.spec.run.hash not in failed_runs]
    blocked = [job for job in evals if job.spec.run.hash in failed_runs]
    for job in blocked:
        print(f"  not evaluating {job.name}: its training run {job.spec.run.name} failed")
    eval_status = executor.execute(runnable_evals) if runnable_evals else []
    statuses = {job.hash: "skipped" for job in all_trains + all_evals}
    statuses.update(zip([j.hash for j in trains], train_status, strict=True))
    statuses.update(zip([j.hash for j in runnable_evals], eval_status, strict=True))
    statuses.update({j.hash: "failed" for j in blocked})
    jobs = all_trains + all_evals
    return PlanOutcome(jobs, [statuses[j.hash] for j in jobs])
