"""Packed throughput: K processes training on one device at once, as `--runs-per-gpu K` runs.

Each process builds its own model, optimizer and batch (random init, the perf recipe), warms up
(compilation and CUDA-graph capture happen here), waits for the others at a barrier, then runs
MSL steps through the training loop for a fixed time. The aggregate is the sum of the
processes' images per second over the same window; each process also reports its peak memory,
which is the per-run footprint `--runs-per-gpu` sizes K from.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BARRIER_TIMEOUT_S = 900.0  # the slowest process's build, compile and warm-up


@dataclass(frozen=True)
class PackOptions:
    model: str = "resnet101"
    img_size: int = 448
    batch: int = 6
    device: str = "cuda"
    compile: str | None = None  # torch.compile mode; None = eager
    precision: str = "tf32"  # benchmark.train.precision; the paper profiles'
    seconds: float = 10.0  # timed window per process
    warmup: int = 5  # steps before the barrier (compilation, graph capture, autotuning)
    cache_dir: Path | None = None
    threads: int | None = None  # CPU threads per process (default: cores ÷ K)


def peak_memory_bytes(device) -> int:
    """Peak memory of this process: CUDA memory reserved by PyTorch, else resident set size."""
    import torch  # torch: not at the top, see _worker

    if device.type == "cuda":
        return int(torch.cuda.max_memory_reserved(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


def _worker(index: int, options: PackOptions, barrier, results) -> None:
    try:
        # torch inside the try, not at the top: a spawned worker whose imports fail tells the
        # parent (which names it) instead of leaving the others waiting at the barrier
        import torch

        from benchmark.data.masks import load_pool
        from benchmark.perf.steps import build_trainer, perf_spec, random_batch
        from benchmark.perf.timing import synchronize
        from benchmark.train.loop import configure_determinism
        from benchmark.train.precision import configure_precision

        if options.threads:
            torch.set_num_threads(options.threads)
        device = torch.device(options.device)
        configure_determinism(device)
        configure_precision(options.precision, device)
        spec = perf_spec(options.model, options.img_size, options.batch, options.precision)
        pool = load_pool("high", spec.img_size, "procedural", cache_dir=options.cache_dir)
        trainer = build_trainer(spec, device, options.compile)
        step = trainer.step_fn("msl", random_batch(spec, device), pool.to(device), seed=index)
        for _ in range(options.warmup):
            step()
        synchronize(device)
        barrier.wait(timeout=BARRIER_TIMEOUT_S)
        start, steps = time.perf_counter(), 0
        while steps == 0 or time.perf_counter() - start < options.seconds:
            step()
            steps += 1
        synchronize(device)
        elapsed = time.perf_counter() - start
        memory = peak_memory_bytes(device)
        results.put({"index": index, "steps": steps, "elapsed_s": elapsed, "memory": memory})
    except BaseException as exc:  # noqa: BLE001 — reported to the parent, which names it
        barrier.abort()
        results.put({"index": index, "error": f"{type(exc).__name__}: {exc}"})


def packed_throughput(options: PackOptions, k: int) -> dict[str, Any]:
    """K processes of MSL steps on one device: aggregate and per-process images/s, memory."""
    from benchmark.data.masks import load_pool  # torch: not at the top, see _worker

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    # Generate the mask pool once here, so the K processes read it from the cache.
    load_pool("high", options.img_size, "procedural", cache_dir=options.cache_dir)
    if options.threads is None and not options.device.startswith("cuda"):
        options = PackOptions(**{**asdict(options), "threads": max(1, (os.cpu_count() or 1) // k)})
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(k), context.Queue()
    processes = [
        context.Process(target=_worker, args=(i, options, barrier, results), daemon=True)
        for i in range(k)
    ]
    for process in processes:
        process.start()
    reports = []
    deadline = time.monotonic() + BARRIER_TIMEOUT_S + options.seconds * 4 + 60
    while len(reports) < k:
        try:
            reports.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
        except queue_module.Empty:
            break
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    errors = [r["error"] for r in reports if "error" in r]
    if errors or len(reports) < k:
        missing = k - len(reports)
        raise RuntimeError(
            f"packed run of {k} failed: "
            + "; ".join(errors + ([f"{missing} process(es) died without a report"] * bool(missing)))
        )
    rates = [options.batch * r["steps"] / r["elapsed_s"] for r in sorted(reports, key=_index)]
    return {
        "k": k,
        "precision": options.precision,
        "aggregate_images_per_s": sum(rates),
        "per_run_images_per_s": rates,
        "peak_memory_bytes": max(r["memory"] for r in reports),
        "steps": [r["steps"] for r in sorted(reports, key=_index)],
    }


def _index(report: dict[str, Any]) -> int:
    return report["index"]
