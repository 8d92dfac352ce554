"""`scripts/gpu-check`: on a CUDA machine, measure in one command (target: under 8 minutes)
what the suite's GPU-hours projection needs, and write one JSON and one markdown table.

Steps, in order (each timed; a failing step is recorded and the rest still run; once the
budget is spent the remaining steps are skipped and say so):

1. prepare: the paper-synth VOC tree (5,011 + 4,952 JPEGs, over all cores) and the eight
   mask pools at 448 px, so no later step pays for them;
2. perf: ResNet-101 @448 and ViT-L/16 @224 + CSRA at batch 6, eager and CUDA graphs
   (supervised and MSL steps, evaluation; images/s and MFU); the data pipeline per core and
   the metrics once;
3. packed: K = 1, 2, 4, 8 processes of ResNet-101 @448 MSL steps with CUDA graphs on the GPU
   (aggregate images/s and MFU, peak memory per run);
4. data path: decode + augment of the paper-synth VOC training images at 448 px over all the
   host's cores (the loader as a run uses it);
5. epoch: one paper-synth epoch of voc-resnetcut-csra-msl-high (Tables 2, 5, 6): train + the
   per-epoch test evaluation, CUDA graphs, 8 loader workers;
6. evaluation: that checkpoint over the 4,952 test images, clean + 7 masked conditions (the
   Table 6 evaluation, through the suite's evaluation path);
7. projection of the whole suite (28 trainings + Table 6) from those figures
   (``benchmark.perf.projection``).

Nothing is installed or downloaded: every model is randomly initialised.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

GRAPHS = "reduce-overhead"  # torch.compile mode that captures CUDA graphs
PERF_MODELS = (("resnet101", 448), ("vit_large_patch16_224", 224))
PACK_KS = (1, 2, 4, 8)
EPOCH_RUN = "voc-resnetcut-csra-msl-high"
EPOCH_EVAL = "voc-resnetcut-csra-msl-high-masked"
BUDGET_S = 480.0
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

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.elapsed() > self.budget_s:
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
    import torch

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
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds (default 480)")
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
    import torch

    from benchmark.experiment.plan import PlanOptions, build_plan
    from benchmark.experiment.profiles import resolve_eval, resolve_run
    from benchmark.experiment.registry import load_registry
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
    perf = {}
    for model, size in PERF_MODELS:
        for mode in (None, GRAPHS):
            key = f"{model}@{size} {mode or 'eager'}"
            host = model == "resnet101" and mode is None  # data pipeline and metrics once
            perf[key] = check.step(
                f"perf {key}", lambda m=model, s=size, c=mode, h=host: _perf(m, s, c, h, cache, log)
            )
    packed = {}
    for k in PACK_KS:
        packed[k] = check.step(f"packed K={k}", lambda k=k: _packed(k, cache))
    data = check.step("data path", lambda: _data_path(spec, ctx))
    epoch = check.step("epoch", lambda: _epoch(spec, ctx))
    evaluated = check.step("evaluation", lambda: _evaluate(evaluation, ctx))
    plan = build_plan(registry, registry.select("all"), PlanOptions(profile="paper"))
    figures = {
        "device_name": name,
        "peak_tflops": peak_tflops(name),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "perf": perf,
        "packed": {str(k): v for k, v in packed.items()},
        "data_path": data,
        "epoch": epoch,
        "evaluation": evaluated,
    }
    projection = check.step("projection", lambda: _projection(figures, plan))
    return {
        "figures": figures,
        "projection": projection,
        "steps": check.steps,
        "total_s": check.elapsed(),
        "budget_s": budget_s,
    }


def _prepare(spec, evaluation, ctx) -> dict[str, Any]:
    """The synthetic tree (written over all cores) and every mask pool, in parallel."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

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
    from benchmark.data.masks import load_pool

    load_pool(pool, size, "procedural", cache_dir=cache)


def _perf(model: str, size: int, mode, host: bool, cache: Path, log) -> dict[str, Any]:
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
    import torch

    from benchmark.perf.flops import mfu, peak_tflops, step_flops
    from benchmark.perf.packing import PackOptions, packed_throughput
    from benchmark.perf.steps import perf_spec

    options = PackOptions(
        model="resnet101", img_size=448, device="cuda", compile=GRAPHS, seconds=6.0,
        warmup=5, cache_dir=cache,
    )  # fmt: skip
    out = packed_throughput(options, k)
    flops = step_flops(perf_spec("resnet101", 448, 6), ("msl",))["msl"]
    peak = peak_tflops(torch.cuda.get_device_name())
    if peak is not None:
        out["mfu"] = mfu(flops * out["aggregate_images_per_s"] / 6, 1.0, peak)
    free, total = torch.cuda.mem_get_info()
    out["free_bytes"], out["total_bytes"] = free, total
    return out


def _data_path(spec, ctx) -> dict[str, Any]:
    """Decode + augment of the training images over all cores, as a run's loader does it."""
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
    import dataclasses

    return dataclasses.replace(ctx, num_workers=workers)


def _epoch(spec, ctx) -> dict[str, Any]:
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
        "note": "the first epoch includes compiling and capturing the graphs",
    }


def _evaluate(evaluation, ctx) -> dict[str, Any]:
    from benchmark.train.evaluate import evaluate_checkpoint

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
    }


def _projection(figures: dict[str, Any], plan) -> dict[str, Any]:
    from benchmark.perf.projection import Throughput, project

    measured, basis = [], {}
    for model, size in PERF_MODELS:
        for mode in (GRAPHS, None):
            result = figures["perf"].get(f"{model}@{size} {mode or 'eager'}")
            if result:
                measured.append(
                    Throughput(
                        (model, "csra", size),
                        msl=result["msl_images_per_s"],
                        supervised=result["supervised_images_per_s"],
                        eval=result["eval_images_per_s"],
                    )
                )
                basis[model] = mode or "eager"
                break
    packed = {int(k): v for k, v in figures["packed"].items() if v}
    gain, best_k = 1.0, 1
    if 1 in packed:
        best_k = max(packed, key=lambda k: packed[k]["aggregate_images_per_s"])
        gain = packed[best_k]["aggregate_images_per_s"] / packed[1]["aggregate_images_per_s"]
    data = figures.get("data_path") or {}
    out = project(
        list(plan.runs.values()),
        list(plan.evals.values()),
        measured,
        packing_gain=gain,
        data_images_per_s=data.get("images_per_s"),
    )
    out["runs_per_gpu"] = best_k
    out["rates_from"] = basis
    return out


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    from benchmark.store.results import atomic_write_bytes, atomic_write_json

    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "gpu-check.json", out / "gpu-check.md"
    atomic_write_json(json_path, report)
    atomic_write_bytes(md_path, markdown(report).encode())
    return json_path, md_path


def markdown(report: dict[str, Any]) -> str:
    """The figures as one markdown table, then the projection by dataset."""
    from tabulate import tabulate

    f = report["figures"]
    rows = []
    for key, r in f["perf"].items():
        if r:
            mfu = r.get("mfu_msl")
            rows.append(
                [
                    f"perf {key}, batch 6",
                    f"sup {r['supervised_step_s'] * 1e3:.1f} ms, MSL {r['msl_step_s'] * 1e3:.1f} ms"
                    f", MSL {r['msl_images_per_s']:.0f} img/s"
                    + (f", MFU {mfu:.1%}" if mfu is not None else "")
                    + f", eval {r['eval_images_per_s']:.0f} img/s",
                ]
            )
            if "data_plain_per_s" in r:
                rows.append(["data pipeline, 1 core, 448 px", f"{r['data_plain_per_s']:.0f} img/s"])
    for k, r in f["packed"].items():
        if r:
            mfu = r.get("mfu")
            rows.append(
                [
                    f"packed K={k}, ResNet-101 @448 MSL, graphs",
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
    if f.get("epoch"):
        e = f["epoch"]
        rows.append(
            [
                f"paper-synth VOC epoch ({e['run']}, {e['compile'] or 'eager'})",
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
    p = report.get("projection")
    if p:
        rows.append(
            [
                f"projection, whole suite, K={p['runs_per_gpu']}",
                f"{p['projected_hours']:.1f} GPU-hours ({p['bound']}-bound; "
                f"{p['hours_one_at_a_time']:.1f} h one run at a time)",
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
    if p:
        by = [[k, f"{v:.1f}"] for k, v in sorted(p["by_dataset"].items())]
        text += "\n" + tabulate(by, headers=["dataset", "GPU-hours"], tablefmt="github") + "\n"
    return text


if __name__ == "__main__":
    sys.exit(main())
