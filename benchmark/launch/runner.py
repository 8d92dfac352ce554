"""Executing a plan: from the plan's runs and evaluations to finished result files.

Trainings first, then the evaluations that read their checkpoints. Work already done is
skipped, failed work is retried, and a failing run never stops the others.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmark.experiment.plan import Plan, stale_results
from benchmark.launch.job import Job
from benchmark.launch.preflight import check_writable, preflight, write_synthetic_trees
from benchmark.store.results import is_done
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


def execute_plan(
    plan: Plan, ctx: JobContext, executor, force: bool = False, rerun_stale: bool = False
) -> PlanOutcome:
    """Run what is not done. A done result made by other code (stale) is kept unless
    ``rerun_stale``; then it is discarded and run again, like everything under ``force``."""
    stale = {} if force else stale_results(plan, Path(ctx.results_dir))
    rerun = frozenset(stale) if rerun_stale else frozenset()
    preflight(plan, ctx, force, rerun)  # first: a missing input leaves nothing behind
    # Only when there is work: a finished, read-only results folder still reports "done".
    if force or rerun or not all(is_done(ctx.results_dir, h) for h in [*plan.runs, *plan.evals]):
        check_writable(Path(ctx.results_dir))
    if rerun:
        print(f"rerunning {len(rerun)} stale result(s), made by other code than this checkout's")
    elif stale:
        print(
            f"{len(stale)} done result(s) were made by other code (stale) and are kept: "
            "`--rerun-stale` reruns them (`benchmark status` names the changed files)"
        )
    all_trains, all_evals = jobs_for(plan, ctx, force, rerun)
    trains = [job for job in all_trains if not is_done(ctx.results_dir, job.hash)]
    evals = [job for job in all_evals if not is_done(ctx.results_dir, job.hash)]
    done = len(all_trains) + len(all_evals) - len(trains) - len(evals)
    if done:
        print(f"{done} of {len(all_trains) + len(all_evals)} job(s) already done: not launched")
    write_synthetic_trees(trains + evals, ctx)
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
