"""`benchmark perf`: the suite's training, data, metric and evaluation speed, side by side."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabulate import tabulate

from benchmark.cli.settings import add_cache_flag, add_compile_flag, cache_from
from benchmark.errors import UserError
from benchmark.spec import PRECISIONS

ROWS = (  # (key, label, format)
    ("supervised_step_s", "supervised step", "{:.3f} s"),
    ("msl_step_s", "MSL step (two passes)", "{:.3f} s"),
    ("msl_step_ratio", "MSL / supervised (paired)", "{:.3f}×"),
    ("fused_msl_step_s", "fused MSL step", "{:.3f} s"),
    ("fused_msl_step_ratio", "fused MSL / supervised (paired)", "{:.3f}×"),
    ("msl_images_per_s", "MSL training", "{:.1f} img/s"),
    ("mfu_supervised", "MFU supervised", "{:.1%}"),
    ("mfu_msl", "MFU MSL", "{:.1%}"),
    ("mfu_fused_msl", "MFU fused MSL", "{:.1%}"),
    ("data_plain_per_s", "data pipeline, plain", "{:.1f} samples/s"),
    ("data_plain_per_cpu_s", "data pipeline, plain, per CPU-second", "{:.1f} samples/s"),
    ("data_masked_per_s", "data pipeline, masked", "{:.1f} samples/s"),
    ("mask_overhead", "masked / plain time per sample", "{:.3f}×"),
    ("metrics_coco_s", "metrics, COCO val scale", "{:.3f} s"),
    ("eval_images_per_s", "evaluation", "{:.1f} img/s"),
)


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("perf", help="time training steps, data pipeline, metrics, evaluation")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--model", default="resnet101", help="timm backbone under a CSRA head")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--batch", type=int, default=6)
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed rounds, medians reported (default: 5 on CPU, 20 on CUDA)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed rounds first (default: 1 on CPU, 3 on CUDA)",
    )
    add_compile_flag(p)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="tf32",
        help="arithmetic of the steps and evaluation (default: tf32, the paper profiles'; "
        "on a CPU tf32 computes in fp32; docs/fidelity.md)",
    )
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="dense peak for MFU (default: from the GPU's name, for the arithmetic that ran)",
    )
    p.add_argument(
        "--data-images",
        type=int,
        default=192,
        help="synthetic VOC images read per data-pipeline pass",
    )
    add_cache_flag(p)
    p.add_argument(
        "--parts",
        default="steps,data,metrics",
        help="what to time, comma-separated: steps (training steps and evaluation), data "
        "(decode + augment + mask, one thread as in a loader worker), metrics (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_perf)


def cmd_perf(args: argparse.Namespace) -> int:
    import torch  # torch: this verb only (every verb's module is imported to register it)

    from benchmark.perf.suite import (
        PARTS,
        TARGETS,
        PerfOptions,
        measure_performance,
    )  # torch, as above

    for name in ("img_size", "batch", "repeats", "data_images"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    parts = tuple(part.strip() for part in args.parts.split(",") if part.strip())
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise UserError(f"--parts {args.parts}: choose among {', '.join(PARTS)}")
    if args.warmup is not None and args.warmup < 0:
        raise UserError(f"--warmup: must be at least 0, got {args.warmup}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {args.device}: CUDA is not available on this machine")
    options = PerfOptions(
        device=args.device,
        model=args.model,
        img_size=args.img_size,
        batch=args.batch,
        repeats=args.repeats,
        warmup=args.warmup,
        compile=args.compile,
        precision=args.precision,
        peak_tflops=args.peak_tflops,
        data_images=args.data_images,
        cache_dir=cache_from(args),
        parts=parts,
    )
    result = measure_performance(options)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(_table(result, TARGETS))
    return 0


def _table(result: dict[str, Any], targets: dict[str, float]) -> str:
    rows = []
    for key, label, fmt in ROWS:
        if key not in result:
            continue
        target = (
            f"≤ {targets[key]:g}: {'met' if result[key] <= targets[key] else 'MISSED'}"
            if key in targets
            else ""
        )
        rows.append([label, fmt.format(result[key]), target])
    head = (
        f"{result['model']} + CSRA, {result['img_size']} px, batch {result['batch']}, "
        f"{result['device_name']} ({result['device']}), "
        f"precision {_precision_text(result['precision'])}, torch {result['torch']}, "
        f"{result['threads']} thread{'s' if result['threads'] != 1 else ''}, median of "
        f"{result['repeats']}"
    )
    table = tabulate(rows, headers=["measure", "value", "target (CPU defaults)"])
    return head + "\n" + table + _ratio_note(result)


def _precision_text(record: dict[str, str]) -> str:
    """``tf32``, or ``tf32 (computed as fp32)`` where the device has no TF32."""
    if record["computed"] == record["requested"]:
        return record["requested"]
    return f"{record['requested']} (computed as {record['computed']})"


def _ratio_note(result: dict[str, Any]) -> str:
    """How the step ratios were taken, and how far one round's ratio strayed (the IQR)."""
    iqr = result.get("step_ratio_iqr") or {}
    if not iqr:
        return ""
    spans = ", ".join(f"{name} {low:.3f}–{high:.3f}×" for name, (low, high) in iqr.items())
    return (
        f"\nstep ratios: median of {result['repeats']} per-round ratios "
        f"({result['step_ratio_basis']}); interquartile range {spans}"
    )
