"""`scripts/gpu-check`: on a CUDA machine, measure in one command (target: under 10 minutes)
what the suite's GPU-hours projection needs, and write one JSON and one markdown table.

Steps, in order (each timed; a failing step is recorded and the rest still run; once the
budget is spent the remaining steps are skipped and say so):

1. prepare: the paper-synth VOC tree (5,011 + 4,952 JPEGs, over all cores) and the eight
   mask pools at 448 px, so no later step pays for them;
2. perf, at tf32 (the paper protocol's precision) and at bf16 (the opt-in speed choice):
   ResNet-101 @448 and ViT-L/16 @224 + CSRA at batch 6, eager and CUDA graphs (supervised
   and MSL steps, evaluation; images/s and MFU against the peak of the arithmetic that ran);
   the data pipeline per core and the metrics once;
3. packed: K = 1, 2, 4, 8 processes of ResNet-101 @448 MSL steps at tf32 with CUDA graphs on
   the GPU (aggregate images/s and MFU, peak memory per run);
4. data path: decode + augment of the paper-synth VOC training images at 448 px over all the
   host's cores (the loader as a run uses it);
5. released file: a file in the MSL authors' layout for VOC (``msl_c_voc.pth``, written from
   its key manifest with random values) scored through `benchmark evaluate --checkpoint …
   --like …` on the paper-synth test set: the publishers' path, clean + Table 6 + every
   bucket, as a user runs it;
6. epoch: one paper-synth epoch of voc-resnetcut-csra-msl-high (Tables 2, 5, 6) at tf32: train
   + the per-epoch test evaluation, CUDA graphs, 8 loader workers;
7. evaluation: that checkpoint over the 4,952 test images, clean + 7 masked conditions (the
   Table 6 evaluation, through the suite's evaluation path);
8. projection of the whole suite (28 trainings + Table 6) from those figures
   (``benchmark.perf.projection``), once per precision: the estimate assumes tf32, the paper
   profile's; the bf16 figure says what the opt-in speed choice would cost. Always computed,
   even when the budget is spent.

Nothing is installed or downloaded: every model is randomly initialised.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.profiles import resolve_eval, resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.experiment.releases import load_releases
from benchmark.store.results import (
    atomic_write_bytes,
    atomic_write_json,
    iter_result_files,
    read_result,
)

GRAPHS = "reduce-overhead"  # torch.compile mode that captures CUDA graphs
PERF_MODELS = (("resnet101", 448), ("vit_large_patch16_224", 224))
# tf32 first: the paper profiles' precision, which the estimate assumes; bf16: opt-in
PRECISIONS_MEASURED = ("tf32", "bf16")
ESTIMATE_PRECISION = "tf32"
PACK_KS = (1, 2, 4, 8)
EPOCH_RUN = "voc-resnetcut-csra-msl-high"
EPOCH_EVAL = "voc-resnetcut-csra-msl-high-masked"
RELEASE = "msl-c-voc"  # the published file whose layout the released-file step writes
BUDGET_S = 600.0
LOADER_WORKERS = 8  # `benchmark run`'s default on CUDA


class Check:
    """Runs the steps against a time budget, keeping every figure and every failure."""

    def __init__(self, budget_s: float, log: Callable[[str], None]):
        self.start = time.monotonic()
        self.budget_s = budget_s
        self.log = log
        self.steps: dict[str, dict[str, Any]] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def step(self, name: str, fn: Callable[[], Any], always: bool = False) -> Any:
        """Run one step (unless the budget is spent and it is not ``always``)."""
        if self.elapsed() > self.budget_s and not always:
            self.steps[name] = {
                "status": "skipped",
                "reason": f"budget of {self.budget_s:.0f} s spent",
            }
            self.log(f"gpu-check: {name}: skipped (budget spent)")
            return None
        self.log(f"gpu-check: {name} (at {self.elapsed():.0f} s)")
        began = time.monotonic()
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 — recorded; the other steps still run
            self.steps[name] = {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "seconds": time.monotonic() - began,
            }
            self.log(f"gpu-check: {name} failed: {exc}\n{traceback.format_exc()}")
            return None
        self.steps[name] = {"status": "ok", "seconds": time.monotonic() - began}
        return value


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cuda_problem() -> str | None:
    """Why this machine cannot run the check, or None when it has a CUDA GPU."""
    import torch  # torch here: --help and the tests' report helpers load without it

    if not torch.cuda.is_available():
        built = torch.version.cuda or "none (a CPU-only build)"
        return (
            f"gpu-check: no CUDA GPU on this machine (torch {torch.__version__}, CUDA {built}); "
            "run scripts/gpu-check where one is"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="folder for the files")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        required=True,
        help="synthetic trees, mask pools and compiled kernels (scripts/gpu-check passes the "
        "suite's cache folder)",
    )
    parser.add_argument(
        "--budget", type=float, default=BUDGET_S, help=f"seconds (default {BUDGET_S:.0f})"
    )
    args = parser.parse_args(argv)
    problem = cuda_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    cache = args.cache_dir
    # Compiled kernels are shared by every process of the check (perf, packed runs, the epoch).
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str((cache / "inductor").resolve()))
    report = run_check(args.out, cache, args.budget, _stderr)
    json_path, md_path = write_report(args.out, report)
    print(f"gpu-check: wrote {json_path} and {md_path} in {report['total_s']:.0f} s")
    return 0 if all(s["status"] == "ok" for s in report["steps"].values()) else 1


def run_check(out: Path, cache: Path, budget_s: float, log: Callable[[str], None]) -> dict:
    # torch and timm here, as in cuda_problem
    import torch

    from benchmark.perf.flops import peak_tflops
    from benchmark.train.job_context import JobContext

    check = Check(budget_s, log)
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    registry = load_registry()
    results_dir = out / "results"
    ctx = JobContext(
        results_dir=results_dir,
        cache_dir=cache,
        device="cuda",
        num_workers=LOADER_WORKERS,
        progress=False,
        compile_mode=GRAPHS,
    )
    spec = resolve_run(registry, EPOCH_RUN, "paper-synth", epochs=1, mask_source="procedural")
    evaluation = resolve_eval(
        registry, EPOCH_EVAL, "paper-synth", epochs=1, mask_source="procedural"
    )
    check.step("prepare", lambda: _prepare(spec, evaluation, ctx))
    perf: dict[str, dict[str, Any]] = {}
    for precision in PRECISIONS_MEASURED:
        perf[precision] = {}
        for model, size in PERF_MODELS:
            for mode in (None, GRAPHS):
                key = f"{model}@{size} {mode or 'eager'}"
                # the data pipeline and the metrics once (they do not depend on precision)
                host = model == "resnet101" and mode is None and precision == ESTIMATE_PRECISION
                perf[precision][key] = check.step(
                    f"perf {key} {precision}",
                    lambda m=model, s=size, c=mode, h=host, p=precision: _perf(
                        m, s, c, h, p, cache, log
                    ),
                )
    packed = {}
    for k in PACK_KS:
        packed[k] = check.step(f"packed K={k}", lambda k=k: _packed(k, cache))
    data = check.step("data path", lambda: _data_path(spec, ctx))
    released = check.step("released file", lambda: released_file(out, cache, "cuda"))
    epoch = check.step("epoch", lambda: _epoch(spec, ctx))
    evaluated = check.step("evaluation", lambda: _evaluate(evaluation, ctx))
    plans = {
        precision: build_plan(
            registry, registry.select("all"), PlanOptions(profile="paper", precision=precision)
        )
        for precision in PRECISIONS_MEASURED
    }
    figures = {
        "device_name": name,
        "peak_tflops": {p: peak_tflops(name, p) for p in ("bf16", "tf32", "fp32")},
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "perf": perf,
        "packed": {str(k): v for k, v in packed.items()},
        "data_path": data,
        "released": released,
        "epoch": epoch,
        "evaluation": evaluated,
    }
    projection = check.step("projection", lambda: _projection(figures, plans), always=True)
    return {
        "figures": figures,
        "projection": projection,
        "steps": check.steps,
        "total_s": check.elapsed(),
        "budget_s": budget_s,
    }


def _prepare(spec, evaluation, ctx) -> dict[str, Any]:
    """The synthetic tree (written over all cores) and every mask pool, in parallel."""
    pools = sorted({*evaluation.conditions, spec.mask_pool} - {"clean"})
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(pools), mp_context=context) as executor:
        futures = [
            executor.submit(_load_pool, pool, spec.img_size, Path(ctx.cache_dir)) for pool in pools
        ]
        root = ctx.dataset_root(spec)
        for future in futures:
            future.result()
    return {"tree": str(root), "pools": pools}


def _load_pool(pool: str, size: int, cache: Path) -> None:
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.data.masks import load_pool

    load_pool(pool, size, "procedural", cache_dir=cache)


def _perf(
    model: str, size: int, mode, host: bool, precision: str, cache: Path, log
) -> dict[str, Any]:
    # torch: imported in the step, so a failing import fails that step alone
    import torch

    from benchmark.perf.suite import PerfOptions, measure_performance

    options = PerfOptions(
        device="cuda",
        model=model,
        img_size=size,
        batch=6,
        repeats=10,
        warmup=3,
        compile=mode,
        precision=precision,
        cache_dir=cache,
        variants=("supervised", "msl"),
        parts=("steps", "data", "metrics") if host else ("steps",),
    )
    try:
        return measure_performance(options, log)
    finally:
        torch._dynamo.reset()  # each model's graphs are freed before the next
        torch.cuda.empty_cache()


def _packed(k: int, cache: Path) -> dict[str, Any]:
    # torch: imported in the step, so a failing import fails that step alone
    import torch

    from benchmark.perf.flops import mfu, peak_tflops, step_flops
    from benchmark.perf.packed_throughput import PackOptions, packed_throughput
    from benchmark.perf.steps import perf_spec
    from benchmark.train.precision import computed_as

    options = PackOptions(
        model="resnet101", img_size=448, device="cuda", compile=GRAPHS, seconds=6.0,
        warmup=5, cache_dir=cache, precision=ESTIMATE_PRECISION,
    )  # fmt: skip
    out = packed_throughput(options, k)
    flops = step_flops(perf_spec("resnet101", 448, 6), ("msl",))["msl"]
    device = torch.device("cuda")
    peak = peak_tflops(torch.cuda.get_device_name(), computed_as(ESTIMATE_PRECISION, device))
    if peak is not None:
        out["mfu"] = mfu(flops * out["aggregate_images_per_s"] / 6, 1.0, peak)
    free, total = torch.cuda.mem_get_info()
    out["free_bytes"], out["total_bytes"] = free, total
    return out


def _data_path(spec, ctx) -> dict[str, Any]:
    """Decode + augment of the training images over all cores, as a run's loader does it."""
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.train.inference import build_train_set, make_loader

    cores = os.cpu_count() or 1
    dataset = build_train_set(spec, ctx)
    loader = make_loader(dataset, spec.batch_size, _with_workers(ctx, cores), True, 0)
    images, began, limit = 0, None, 3000
    for batch in loader:
        if began is None:  # the first batch pays for starting the workers
            began = time.perf_counter()
            continue
        images += len(batch[0])
        if images >= limit:
            break
    seconds = time.perf_counter() - began
    return {"workers": cores, "images": images, "images_per_s": images / seconds}


def _with_workers(ctx, workers: int):
    return dataclasses.replace(ctx, num_workers=workers)


def _epoch(spec, ctx) -> dict[str, Any]:
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.train.loop import fit

    folder = Path(ctx.results_dir) / spec.hash
    body = fit(spec, ctx, folder)
    row = body["history"][0]
    return {
        "run": spec.name,
        "hash": spec.hash,
        "train_time_s": row["train_time_s"],
        "eval_time_s": row["eval_time_s"],
        "train_samples_per_s": row["train_samples_per_s"],
        "eval_samples_per_s": row["eval_samples_per_s"],
        "compile": body.get("compile"),
        "precision": body.get("precision"),
        "note": "the first epoch includes compiling and capturing the graphs",
    }


def _evaluate(evaluation, ctx) -> dict[str, Any]:
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.train.checkpoint_evaluation import evaluate_checkpoint

    began = time.perf_counter()
    body = evaluate_checkpoint(evaluation, ctx, Path(ctx.results_dir) / evaluation.hash)
    seconds = time.perf_counter() - began
    return {
        "evaluation": evaluation.name,
        "checkpoint": "the paper-synth epoch's best.pt (random init, one epoch)",
        "conditions": list(evaluation.conditions),
        "seconds": seconds,
        "per_condition_s": body["timings"]["per_condition_s"],
        "images_per_s": body["eval_samples_per_s"],
        "precision": body.get("precision"),
    }


def released_file(
    out: Path, cache: Path, device: str, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A file in the publisher's layout of ``RELEASE`` (from its key manifest, random values)
    scored by `benchmark evaluate --checkpoint FILE --like RUN --profile paper-synth` in a
    child process, as a user runs it: the file is checked to fit, loaded through the
    publisher-layout path and evaluated clean, at Table 6's setting and at every bucket.
    ``extra``: more flags (the tests plan it with --dry-run on a CPU)."""
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.perf.release_file import write_release_file

    releases = load_releases(load_registry())
    release = releases.releases[RELEASE]
    target = release.targets[0]
    folder = Path(out) / "released"
    path = write_release_file(releases.manifests[target.manifest], folder / release.file)
    command = [
        sys.executable, "-m", "benchmark", "evaluate", "--checkpoint", str(path),
        "--like", target.like, "--profile", "paper-synth", "--results-dir",
        str(folder / "results"), "--cache-dir", str(cache), "--device", device,
        "--no-progress", *extra,
    ]  # fmt: skip
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise RuntimeError(f"`benchmark evaluate` exited {proc.returncode}: {output[-800:]}")
    figures: dict[str, Any] = {
        "release": release.id,
        "manifest": target.manifest,
        "like": target.like,
        "command": " ".join(command),
        "seconds": seconds,
        "output": output[-2000:],
    }
    for result_path in iter_result_files(folder / "results"):
        data = read_result(result_path, result_path.parent.name).data
        if data and data.get("kind") == "eval" and data.get("status") == "done":
            figures.update(
                conditions=len(data["spec"]["conditions"]),
                images_per_s=data["eval_samples_per_s"],
                per_condition_s=data["timings"]["per_condition_s"],
                clean_mAP=next(
                    r["value"] for r in data["rows"]
                    if r["condition"] == "clean" and r["metric"] == "mAP"
                ),
                precision=data.get("precision"),
            )  # fmt: skip
    return figures


def _projection(figures: dict[str, Any], plans: dict[str, Any]) -> dict[str, Any]:
    """The suite projected once per measured precision, from that precision's perf figures
    (graphs where they ran, else eager), the packing gain (measured at tf32) and the data path.
    ``assumes``: the precision of the estimate (the paper profile's)."""
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.perf.projection import project

    packed = {int(k): v for k, v in figures["packed"].items() if v}
    gain, best_k = 1.0, 1
    if 1 in packed:
        best_k = max(packed, key=lambda k: packed[k]["aggregate_images_per_s"])
        gain = packed[best_k]["aggregate_images_per_s"] / packed[1]["aggregate_images_per_s"]
    data = figures.get("data_path") or {}
    by_precision = {}
    for precision, plan in plans.items():
        measured, basis = _measured(figures["perf"].get(precision) or {}, precision)
        if not measured:
            continue
        out = project(
            list(plan.runs.values()),
            list(plan.evals.values()),
            measured,
            packing_gain=gain,
            data_images_per_s=data.get("images_per_s"),
        )
        out["runs_per_gpu"] = best_k
        out["packing_measured_at"] = ESTIMATE_PRECISION
        out["rates_from"] = basis
        by_precision[precision] = out
    return {"assumes": ESTIMATE_PRECISION, "by_precision": by_precision}


def _measured(perf: dict[str, Any], precision: str):
    """Each model's throughput at ``precision``: its CUDA-graph figures, else its eager ones."""
    # torch: imported in the step, so a failing import fails that step alone
    from benchmark.perf.projection import Throughput

    measured, basis = [], {}
    for model, size in PERF_MODELS:
        for mode in (GRAPHS, None):
            result = perf.get(f"{model}@{size} {mode or 'eager'}")
            if result:
                measured.append(
                    Throughput(
                        (model, "csra", size),
                        msl=result["msl_images_per_s"],
                        supervised=result["supervised_images_per_s"],
                        eval=result["eval_images_per_s"],
                        precision=precision,
                    )
                )
                basis[model] = mode or "eager"
                break
    return measured, basis


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "gpu-check.json", out / "gpu-check.md"
    atomic_write_json(json_path, report)
    atomic_write_bytes(md_path, markdown(report).encode())
    return json_path, md_path


def markdown(report: dict[str, Any]) -> str:
    """The figures as one markdown table, then the projection by dataset and precision."""
    f = report["figures"]
    rows = []
    for precision, results in f["perf"].items():
        for key, r in results.items():
            if r:
                rows.append([f"perf {key} {precision}, batch 6", _perf_text(r)])
                if "data_plain_per_s" in r:
                    rows.append(
                        ["data pipeline, 1 core, 448 px", f"{r['data_plain_per_s']:.0f} img/s"]
                    )
    for k, r in f["packed"].items():
        if r:
            mfu = r.get("mfu")
            rows.append(
                [
                    f"packed K={k}, ResNet-101 @448 MSL {r.get('precision', ESTIMATE_PRECISION)}"
                    ", graphs",
                    f"{r['aggregate_images_per_s']:.0f} img/s aggregate"
                    + (f", MFU {mfu:.1%}" if mfu is not None else "")
                    + f", peak {r['peak_memory_bytes'] / 2**30:.1f} GiB per run",
                ]
            )
    if f.get("data_path"):
        d = f["data_path"]
        rows.append(
            [f"data path, {d['workers']} workers, 448 px", f"{d['images_per_s']:.0f} img/s"]
        )
    if f.get("released"):
        r = f["released"]
        value = f"{r['seconds']:.0f} s in all"
        if "conditions" in r:
            value += (
                f"; {r['conditions']} conditions at {r['images_per_s']:.0f} img/s, "
                f"{_computed(r.get('precision'))}"
            )
        rows.append([f"released file {r['release']} via `benchmark evaluate --checkpoint`", value])
    if f.get("epoch"):
        e = f["epoch"]
        rows.append(
            [
                f"paper-synth VOC epoch ({e['run']}, {e['compile'] or 'eager'}, "
                f"{_computed(e.get('precision'))})",
                f"train {e['train_time_s']:.0f} s, test eval {e['eval_time_s']:.0f} s",
            ]
        )
    if f.get("evaluation"):
        v = f["evaluation"]
        rows.append(
            [
                f"evaluation, 4,952 images × {len(v['conditions'])} conditions",
                f"{v['seconds']:.0f} s ({v['images_per_s']:.0f} img/s)",
            ]
        )
    p = report.get("projection") or {}
    for precision, proj in (p.get("by_precision") or {}).items():
        role = "the estimate" if precision == p.get("assumes") else "opt-in, not the estimate"
        rows.append(
            [
                f"projection, whole suite, K={proj['runs_per_gpu']}, {precision} ({role})",
                f"{proj['projected_hours']:.1f} GPU-hours ({proj['bound']}-bound; "
                f"{proj['hours_one_at_a_time']:.1f} h one run at a time)",
            ]
        )
    for name, step in report["steps"].items():
        if step["status"] != "ok":
            rows.append(
                [f"step {name}", f"{step['status']}: {step.get('error') or step.get('reason')}"]
            )
    head = (
        f"{f['device_name']}, torch {f['torch']}, {f['cpu_count']} host cores; "
        f"{report['total_s']:.0f} s in all\n\n"
    )
    text = head + tabulate(rows, headers=["measure", "value"], tablefmt="github") + "\n"
    projected = p.get("by_precision") or {}
    if projected:
        datasets = sorted({d for proj in projected.values() for d in proj["by_dataset"]})
        by = [
            [d, *(f"{proj['by_dataset'].get(d, 0.0):.1f}" for proj in projected.values())]
            for d in datasets
        ]
        headers = ["dataset", *(f"GPU-hours {precision}" for precision in projected)]
        text += "\n" + tabulate(by, headers=headers, tablefmt="github") + "\n"
        text += (
            f"\nThe estimate assumes {p['assumes']}, the paper profiles' precision (fp32 tensors, "
            "TF32 allowed for matmuls and cuDNN convolutions); packing gain measured at "
            f"{ESTIMATE_PRECISION}.\n"
        )
    return text


def _perf_text(r: dict[str, Any]) -> str:
    mfu = r.get("mfu_msl")
    return (
        f"sup {r['supervised_step_s'] * 1e3:.1f} ms, MSL {r['msl_step_s'] * 1e3:.1f} ms"
        f", MSL {r['msl_images_per_s']:.0f} img/s"
        + (f", MFU {mfu:.1%}" if mfu is not None else "")
        + f", eval {r['eval_images_per_s']:.0f} img/s"
        + (f", {_computed(r['precision'])}" if r.get("precision") else "")
    )


def _computed(record: dict[str, str] | None) -> str:
    """How a step computed: ``computed tf32`` (``bf16``, ``fp32``), from its precision record."""
    return f"computed {record['computed']}" if record else "precision not recorded"


if __name__ == "__main__":
    sys.exit(main())
