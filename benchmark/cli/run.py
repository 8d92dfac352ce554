"""`benchmark run`: train and evaluate the cells of a selector, then print their status.

Launching imports torch, so the handlers import `benchmark.launch` when called: the module
itself stays light for the other verbs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from benchmark.claims.claim_registry import load_claims, select_claims
from benchmark.cli.hints import command
from benchmark.cli.settings import (
    Results,
    add_compile_flag,
    add_execution_flags,
    add_results_flags,
    job_from,
)
from benchmark.cli.status import print_summary
from benchmark.errors import UserError
from benchmark.experiment.plan import Plan, PlanOptions, build_plan
from benchmark.experiment.registry import load_registry
from benchmark.store.results import is_done

if TYPE_CHECKING:
    from benchmark.experiment.registry import Cell
    from benchmark.train.job_context import JobContext


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("run", help="train and evaluate the cells of a selector")
    p.add_argument(
        "selector",
        help="all | table4 | a glob over cell ids (t4.*) | claims:GLOB (what those claims "
        "need, controls included: claims:control.*)",
    )
    add_results_flags(p)
    add_execution_flags(p, "folder of pretrained weight files (default: $BENCHMARK_WEIGHTS)")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip corrupt images and record them in the result instead of stopping",
    )
    p.add_argument("--force", action="store_true", help="discard existing results and retrain")
    p.add_argument(
        "--rerun-stale",
        action="store_true",
        help="rerun done results made by other code than this checkout's (status: stale)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan and its cost, run nothing"
    )
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="processes per run, launched with torchrun (DDP; splits the global batch)",
    )
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across processes")
    p.add_argument(
        "--runs-per-gpu",
        type=_runs_per_gpu,
        default="auto",
        metavar="K",
        help="runs sharing each device at once: K worker processes take free runs under the "
        "per-job lock (local executor; with --executor slurm, K trainings per one-GPU job, "
        "checked against the node's memory in the job). auto (default): as many as fit in the "
        "GPU's free memory by a measured per-run footprint (at most 8); 1 on a CPU and on Slurm",
    )
    add_compile_flag(p, "; speed only, not part of a run's identity")
    p.add_argument(
        "--executor",
        choices=("local", "slurm"),
        default="local",
        help="where runs execute (default: this machine)",
    )
    p.add_argument("--partition", default=None, help="Slurm partition")
    p.add_argument(
        "--gpus-per-run",
        type=int,
        default=None,
        help="Slurm: GPUs per run (default: --nproc on a GPU, 0 on CPU)",
    )
    p.add_argument("--time", type=int, default=24 * 60, help="Slurm time limit per job (minutes)")
    p.add_argument(
        "--slurm-arg",
        action="append",
        default=[],
        metavar="K=V",
        help="extra sbatch parameter, e.g. --slurm-arg account=vision (repeatable)",
    )
    p.add_argument("--wait", action="store_true", help="Slurm: wait for every job to finish")
    p.set_defaults(func=cmd_run)


def _runs_per_gpu(text: str) -> int | str:
    """``auto`` or a whole number ≥ 1 (--runs-per-gpu)."""
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number ≥ 1, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class ExecutorSettings:
    """Where runs execute: --executor, --nproc, --runs-per-gpu and the Slurm flags."""

    kind: str  # local | slurm
    nproc: int
    runs_per_gpu: int | str  # K, or auto (local only: Slurm takes an explicit K)
    partition: str | None
    gpus_per_run: int | None
    time_min: int
    slurm_args: tuple[str, ...]
    wait: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExecutorSettings:
        if args.nproc < 1:
            raise UserError(f"--nproc: must be at least 1, got {args.nproc}")
        runs_per_gpu = args.runs_per_gpu
        if runs_per_gpu not in (1, "auto") and args.nproc > 1:
            raise UserError(
                f"--runs-per-gpu {runs_per_gpu}: only with --nproc 1 (a torchrun run holds its "
                "GPUs)"
            )
        if args.executor == "slurm" and runs_per_gpu == "auto":
            runs_per_gpu = 1  # K is sized where the GPU is: Slurm takes an explicit K
        if args.time < 1:
            raise UserError(f"--time: must be at least 1 minute, got {args.time}")
        if args.gpus_per_run is not None and args.gpus_per_run < 0:
            raise UserError(f"--gpus-per-run: must be 0 or more, got {args.gpus_per_run}")
        return cls(
            args.executor, args.nproc, runs_per_gpu, args.partition, args.gpus_per_run,
            args.time, tuple(args.slurm_arg), args.wait,
        )  # fmt: skip

    def build(self, results_dir: Path):
        """The executor; each imports torch, so they are imported here, when running."""
        if self.kind == "slurm":
            from benchmark.launch.slurm import SlurmExecutor  # submitit and torch: running only

            return SlurmExecutor(
                folder=results_dir / ".slurm",
                nproc=self.nproc,
                partition=self.partition,
                gpus_per_run=self.gpus_per_run,
                time_min=self.time_min,
                extra=list(self.slurm_args),
                wait=self.wait,
                runs_per_job=self.runs_per_gpu,
            )
        if self.nproc > 1:
            from benchmark.launch.torchrun import TorchrunExecutor  # torch: running only

            return TorchrunExecutor(self.nproc)
        from benchmark.launch.local import LocalExecutor  # torch: running only

        return LocalExecutor(self.runs_per_gpu, results_dir / ".pack")


@dataclass(frozen=True)
class RunSettings:
    selector: str
    results: Results
    job: JobContext  # where every job reads and writes, and on what device
    executor: ExecutorSettings
    force: bool
    rerun_stale: bool
    dry_run: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunSettings:
        executor = ExecutorSettings.from_args(args)
        results, job = job_from(args)
        return cls(
            args.selector, results, job, executor, args.force, args.rerun_stale, args.dry_run
        )


def print_estimate(plan, results: Path) -> None:
    """The plan with each run's training compute and time, from measured rates."""
    from benchmark.perf.estimate import Rates, fmt_seconds  # torch (MAC counts): --dry-run only

    rates = Rates()
    costs = {}
    rows = []
    for spec_hash, spec in plan.runs.items():
        cost = costs[spec_hash] = rates.cost(spec)
        done = "done" if is_done(results, spec_hash) else ""
        rows.append([spec.name, spec_hash, spec.backbone, spec.method, spec.epochs, spec.img_size,
                     cost.samples, f"{cost.tmacs:,.2f}", fmt_seconds(cost.cpu_seconds),
                     fmt_seconds(cost.gpu_seconds), done])  # fmt: skip
    print(tabulate(rows, headers=["run", "hash", "backbone", "method", "epochs", "img",
                                  "samples", "TMACs", "CPU (2-core VM)", rates.gpu_name or "GPU",
                                  ""],
                   disable_numparse=True))  # fmt: skip
    for ev in plan.evals.values():
        print(f"evaluation {ev.name} [{ev.hash}] of {ev.run.name}: {', '.join(ev.conditions)}")
    unknown = sum(cost.cpu_seconds is None for cost in costs.values())
    cpu_total = fmt_seconds(None if unknown else sum(c.cpu_seconds for c in costs.values()))
    if unknown:  # a partial sum would read as the whole plan's time
        cpu_total += f" ({unknown} run(s) without a measured CPU rate)"
    gpu_total = sum(c.gpu_seconds or 0.0 for c in costs.values())
    assumed = {spec.precision: costs[h].gpu_precision for h, spec in plan.runs.items()}
    print(
        f"total training: {sum(c.tmacs for c in costs.values()):,.1f} TMACs; about {cpu_total} "
        f"on the 2-core CPU VM, {fmt_seconds(gpu_total)} on one {rates.gpu_name or 'GPU'} "
        f"(batch 6, eager{_gpu_assumption(assumed)}), evaluations not included "
        "(docs/performance.md; benchmark/perf/estimate.py says how)"
    )


def _gpu_assumption(assumed: dict[str, str | None]) -> str:
    """What the GPU column assumes about precision, said where it is not the runs' own."""
    parts = []
    for runs_at, measured_at in assumed.items():
        if measured_at is None:
            continue
        if measured_at == runs_at:
            parts.append(f"{runs_at} as measured")
        else:
            parts.append(
                f"{measured_at} figures for runs at {runs_at}: {runs_at} is not measured on a "
                f"GPU yet{', expect longer' if measured_at == 'bf16' else ''}"
            )
    return "; " + "; ".join(parts) if parts else ""


CLAIMS_PREFIX = "claims:"


@dataclass(frozen=True)
class Selection:
    cells: list[Cell]  # in selection order
    plan: Plan  # what fills them


def selection(experiments: Path | None, selector: str, options: PlanOptions) -> Selection:
    """The selected cells and the plan that fills them (``plan.cell_hashes``, in selection
    order), from the registry in ``experiments``; ``claims:GLOB`` selects what those claims
    need, the controls included (no table names those)."""
    registry = load_registry(experiments)
    if selector.startswith(CLAIMS_PREFIX):
        from benchmark.claims.measurement import claims_plan  # scipy: claims: selectors only

        claims = select_claims(load_claims(registry), selector[len(CLAIMS_PREFIX) :])
        plan = claims_plan(registry, claims, options)
    else:
        plan = build_plan(registry, registry.select(selector), options)
    return Selection([registry.cell(cell_id) for cell_id in plan.cell_hashes], plan)


def print_notes(s: RunSettings, precisions: list[str]) -> None:
    """What the settings mean for a plan at these precisions where it is not what they say:
    tf32 on a CPU, the masks a profile uses."""
    options = s.results.plan
    on_cpu = s.job.torch_device().type == "cpu"
    if "tf32" in precisions and on_cpu and s.executor.nproc == 1:
        print(
            "note: precision tf32 allows TF32 on NVIDIA Ampere and later GPUs; on this CPU it "
            "computes in strict fp32 (each result records computed: fp32)"
        )
    synthetic = s.results.definition.synthetic is not None
    if synthetic and options.masks_root is not None:
        print(
            f"note: profile {options.profile} always uses the procedural masks (its results "
            "must verify without the NVIDIA download); --masks-root / $BENCHMARK_MASKS unused"
        )
    elif not synthetic and options.mask_source == "procedural":
        print(
            "note: no --masks-root: procedural irregular masks stand in for the NVIDIA set "
            "(recorded in each result as mask_source: procedural)"
        )


def cmd_run(args: argparse.Namespace) -> int:
    s = RunSettings.from_args(args)
    from benchmark.launch.runner import execute_plan  # torch: only when running

    chosen = selection(s.results.experiments, s.selector, s.results.plan)
    plan = chosen.plan
    folder = s.results.folder
    precisions = plan.precisions()
    print(
        f"{len(chosen.cells)} cell(s) → {len(plan.runs)} training run(s), {len(plan.evals)} "
        f"evaluation(s); profile {s.results.profile}; precision {', '.join(precisions)}; "
        f"results in {folder}"
    )
    if s.dry_run:
        print_estimate(plan, folder)
        return 0
    print_notes(s, precisions)
    executor = s.executor.build(folder)
    outcome = execute_plan(plan, s.job, executor, force=s.force, rerun_stale=s.rerun_stale)
    if "submitted" in outcome.statuses:
        follow = command("status", s.results, s.selector)
        print(f"submitted; follow with {follow} (add --wait to block until done)")
        return 0
    print()
    print_summary(chosen.cells, plan, s.selector, s.results)
    return 1 if "failed" in outcome.statuses else 0
