"""`scripts/gpu-check`: refuses cleanly without CUDA; its report turns figures into the table
and the projection (checked here with figures shaped like a real run's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.registry import load_registry
from benchmark.perf.gpucheck import _projection, markdown

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


def _perf(step_ms: float, eval_per_s: float, host: bool = False) -> dict:
    out = {
        "supervised_step_s": step_ms / 2e3,
        "msl_step_s": step_ms / 1e3,
        "supervised_images_per_s": 6 / (step_ms / 2e3),
        "msl_images_per_s": 6 / (step_ms / 1e3),
        "eval_images_per_s": eval_per_s,
        "mfu_msl": 0.07,
    }
    if host:
        out["data_plain_per_s"] = 170.0
    return out


def _packed(k: int, rate: float) -> dict:
    return {"k": k, "aggregate_images_per_s": rate, "peak_memory_bytes": 9 * 2**30, "mfu": 0.1}


def test_report_projects_from_the_graph_figures_and_the_best_packing():
    figures = {
        "device_name": "NVIDIA H200",
        "torch": "2.x",
        "cpu_count": 16,
        "perf": {
            "resnet101@448 eager": _perf(116, 320, host=True),
            "resnet101@448 reduce-overhead": _perf(32, 2000),
            "vit_large_patch16_224@224 eager": _perf(118, 250),
            "vit_large_patch16_224@224 reduce-overhead": None,  # failed: eager stands in
        },
        "packed": {"1": _packed(1, 188), "2": _packed(2, 330), "4": _packed(4, 470), "8": None},
        "data_path": {"workers": 16, "images": 3000, "images_per_s": 2400.0},
        "epoch": None,
        "evaluation": None,
    }
    registry = load_registry(REPO / "experiments")
    plan = build_plan(registry, registry.select("all"), PlanOptions(profile="paper"))
    projection = _projection(figures, plan)
    assert projection["runs_per_gpu"] == 4
    assert projection["packing_gain"] == 470 / 188
    assert projection["rates_from"] == {
        "resnet101": "reduce-overhead",
        "vit_large_patch16_224": "eager",
    }
    table4 = next(r for r in projection["runs"] if r["run"] == "voc-resnetcut-csra-msl-high")
    assert table4["basis"] == "measured"
    # 60 epochs × (5,011 / 187.5 img/s + 4,952 / 2,000 img/s)
    assert abs(table4["hours"] - 60 * (5011 / 187.5 + 4952 / 2000) / 3600) < 1e-9
    report = {
        "figures": figures,
        "projection": projection,
        "steps": {"perf vit_large_patch16_224@224 reduce-overhead": {"status": "failed",
                                                                     "error": "boom"}},
        "total_s": 470.0,
    }  # fmt: skip
    text = markdown(report)
    row = next(line for line in text.splitlines() if "packed K=4" in line)
    assert "470 img/s aggregate, MFU 10.0%, peak 9.0 GiB per run" in row
    assert "data path, 16 workers, 448 px" in text and "failed: boom" in text
    assert f"{projection['projected_hours']:.1f} GPU-hours" in text
