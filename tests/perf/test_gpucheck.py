"""`scripts/gpu-check`: refuses cleanly without CUDA; its report turns figures into the table
and the projection (checked here with figures shaped like a real run's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.registry import load_registry
from benchmark.perf.gpucheck import _projection, markdown, released_file

REPO = Path(__file__).resolve().parents[2]


def test_refuses_in_one_line_without_cuda_and_writes_nothing(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    proc = subprocess.run(
        [str(REPO / "scripts" / "gpu-check"), "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("gpu-check: no CUDA GPU on this machine")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def _perf(step_ms: float, eval_per_s: float, precision: str, host: bool = False) -> dict:
    out = {
        "supervised_step_s": step_ms / 2e3,
        "msl_step_s": step_ms / 1e3,
        "supervised_images_per_s": 6 / (step_ms / 2e3),
        "msl_images_per_s": 6 / (step_ms / 1e3),
        "eval_images_per_s": eval_per_s,
        "mfu_msl": 0.07,
        "precision": {"requested": precision, "computed": precision},
    }
    if host:
        out["data_plain_per_s"] = 170.0
    return out


def _packed(k: int, rate: float) -> dict:
    return {
        "k": k,
        "precision": "tf32",
        "aggregate_images_per_s": rate,
        "peak_memory_bytes": 9 * 2**30,
        "mfu": 0.1,
    }


def _plans(registry):
    return {
        p: build_plan(registry, registry.select("all"), PlanOptions(profile="paper", precision=p))
        for p in ("tf32", "bf16")
    }


def test_report_projects_each_precision_and_says_the_estimate_assumes_tf32():
    figures = {
        "device_name": "NVIDIA H200",
        "torch": "2.x",
        "cpu_count": 16,
        "perf": {
            "tf32": {
                "resnet101@448 eager": _perf(200, 200, "tf32", host=True),
                "resnet101@448 reduce-overhead": _perf(64, 1000, "tf32"),
                "vit_large_patch16_224@224 eager": _perf(236, 125, "tf32"),
                "vit_large_patch16_224@224 reduce-overhead": None,  # failed: eager stands in
            },
            "bf16": {
                "resnet101@448 eager": _perf(116, 320, "bf16"),
                "resnet101@448 reduce-overhead": _perf(32, 2000, "bf16"),
                "vit_large_patch16_224@224 eager": _perf(118, 250, "bf16"),
                "vit_large_patch16_224@224 reduce-overhead": _perf(40, 900, "bf16"),
            },
        },
        "packed": {"1": _packed(1, 188), "2": _packed(2, 330), "4": _packed(4, 470), "8": None},
        "data_path": {"workers": 16, "images": 3000, "images_per_s": 2400.0},
        "released": {
            "release": "msl-c-voc",
            "seconds": 95.0,
            "conditions": 10,
            "images_per_s": 610.0,
            "precision": {"requested": "tf32", "computed": "tf32"},
        },
        "epoch": None,
        "evaluation": None,
    }
    registry = load_registry(REPO / "experiments")
    projection = _projection(figures, _plans(registry))
    assert projection["assumes"] == "tf32"
    tf32, bf16 = projection["by_precision"]["tf32"], projection["by_precision"]["bf16"]
    assert tf32["precision"] == tf32["runs_compute_at"][0] == "tf32"
    assert bf16["precision"] == bf16["runs_compute_at"][0] == "bf16"
    assert tf32["runs_per_gpu"] == 4 and tf32["packing_gain"] == 470 / 188
    assert tf32["rates_from"] == {"resnet101": "reduce-overhead", "vit_large_patch16_224": "eager"}
    assert bf16["rates_from"]["vit_large_patch16_224"] == "reduce-overhead"
    table4 = next(r for r in tf32["runs"] if r["run"] == "voc-resnetcut-csra-msl-high")
    assert table4["basis"] == "measured"
    # 60 epochs × (5,011 / 93.75 img/s + 4,952 / 1,000 img/s), at the tf32 figures
    assert abs(table4["hours"] - 60 * (5011 / 93.75 + 4952 / 1000) / 3600) < 1e-9
    report = {
        "figures": figures,
        "projection": projection,
        "steps": {"perf vit_large_patch16_224@224 reduce-overhead tf32": {"status": "failed",
                                                                          "error": "boom"}},
        "total_s": 470.0,
    }  # fmt: skip
    text = markdown(report)
    row = next(line for line in text.splitlines() if "packed K=4" in line)
    assert "470 img/s aggregate, MFU 10.0%, peak 9.0 GiB per run" in row and "tf32" in row
    assert "data path, 16 workers, 448 px" in text and "failed: boom" in text
    assert "perf resnet101@448 reduce-overhead bf16, batch 6" in text
    assert "10 conditions at 610 img/s, computed tf32" in text
    estimate = next(line for line in text.splitlines() if "tf32 (the estimate)" in line)
    assert f"{tf32['projected_hours']:.1f} GPU-hours" in estimate
    opt_in = next(line for line in text.splitlines() if "bf16 (opt-in, not the estimate)" in line)
    assert f"{bf16['projected_hours']:.1f} GPU-hours" in opt_in
    assert "The estimate assumes tf32" in text and "GPU-hours bf16" in text


def test_the_released_file_step_plans_a_publisher_layout_file_through_evaluate(tmp_path):
    """The GPU check's released-file step, on a CPU with --dry-run: the file written from
    msl-c-voc's key manifest is accepted by `benchmark evaluate --checkpoint … --like …` for the
    paper-synth ResNet-101 + CSRA (keys, shapes, publisher layout), and the evaluation it
    would run is planned; on a GPU the same command runs it."""
    out = released_file(tmp_path / "out", tmp_path / "cache", "cpu", extra=("--dry-run",))
    assert out["release"] == "msl-c-voc" and out["like"] == "voc-resnetcut-csra-msl-high"
    assert " evaluate --checkpoint " in out["command"] and "--profile paper-synth" in out["command"]
    assert "voc-resnetcut-csra-msl-high@msl_c_voc.pth [" in out["output"]
    assert "10 conditions" in out["output"]
    assert (tmp_path / "out" / "released" / "msl_c_voc.pth").stat().st_size > 150e6
