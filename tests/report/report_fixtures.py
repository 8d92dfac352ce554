"""Result stores for the report tests: real result files with made-up metric values.

Results are written with `write_result` from specs resolved through `build_plan`, so their
hashes and checksums are exactly what `cell_status` looks up; only the numbers are invented.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmark.data.classes import CLASSES
from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.scoring.metrics import METRIC_NAMES
from benchmark.store.results import write_result

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
STAMP = {
    "generated": "2024-05-01T09:00:00+0000", "results": "results/smoke",
    "report_commit": "fedcba987654",
}  # fmt: skip
PROVENANCE = {
    "git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False,
    "versions": {"python": "3.11.0", "torch": "2.4.0"}, "device": "NVIDIA H100 80GB HBM3",
    "host": "node-1", "seed": 0, "created": "2024-04-30T12:00:00+0000", "slurm_job_id": None,
}  # fmt: skip
# Best-on-test (mAP, CR, CF1) of the finished trainings; other metrics derive from them.
TRAINED = {
    "voc-resnetcut-csra": (93.66, 87.04, 88.25),
    "voc-resnetcut-csra-msl-high": (96.14, 92.45, 91.55),
    "coco-resnetcut-csra": (84.05, 71.2, 78.3),
    "coco-resnetcut-csra-msl-high": (86.2, 74.9, 80.1),
    "wider-vitl-csra": (89.31, 80.0, 84.0),
}
# Table 6 (high pool) values of each evaluation: VOC MSL mAP 86.66 must print as 86.7.
HIGH = {
    "voc-resnetcut-csra-masked": (66.66, 41.0, 54.12),
    "voc-resnetcut-csra-msl-high-masked": (86.66, 70.0, 79.3),
    "coco-resnetcut-csra-masked": (52.0, 35.0, 47.0),
    "coco-resnetcut-csra-msl-high-masked": (73.9, 58.8, 69.0),
}
BUCKET_RATIOS = (0.058, 0.15, 0.25, 0.35, 0.45, 0.55)
OOM = "CUDA out of memory at batch size 6: use a GPU with more memory, or run it with more GPUs"


class FakePool:
    """The documented MaskPool API (keep, ratios, for_indices) with rectangular holes."""

    def __init__(self, size: int, count: int = 12):
        keep = torch.ones(count, size, size, dtype=torch.bool)
        for k in range(count):
            keep[k, : size * (k + 1) // (count + 1), size // 4 :] = False
        self.keep = keep
        self.ratios = 1 - keep.float().mean(dim=(1, 2))

    def for_indices(self, indices: torch.Tensor, seed: int) -> torch.Tensor:
        return self.keep[(indices + seed) % len(self.keep)].unsqueeze(1).float()


def fake_load_pool(pool, size, source, cache_dir=None):
    return FakePool(size)


def _metrics(values: tuple[float, float, float], shift: float = 0.0) -> dict:
    m, cr, cf1 = (v - shift for v in values)
    scores = {"mAP": m, "CP": cf1 + 3.0, "CR": cr, "CF1": cf1, "OP": cf1 + 4.0, "OR": cr + 2.0,
              "OF1": cf1 + 2.5, "mAP_small": m - 6.5, "mAP_occluded": m - 11.5}  # fmt: skip
    counts = {"positives_small": 40, "positives_occluded": 25}
    return {**scores, **counts, "AP": None, "classes_without_positives": []}


def _common(spec, kind: str, seed: int) -> dict:
    return {
        "kind": kind, "hash": spec.hash, "name": spec.name, "profile": "smoke", "status": "done",
        "error": None, "spec": spec.to_dict(), "provenance": {**PROVENANCE, "seed": seed},
    }  # fmt: skip


def train_result(spec, values: tuple[float, float, float], seed: int = 0) -> dict:
    best = {**_metrics(values), "epoch": 2}
    last = {**_metrics(values, shift=0.45), "epoch": 2}
    history = [
        {"epoch": 1, "loss": 0.31, "lr": 0.01, "mAP": values[0] - 5.0, "train_time_s": 2.0,
         "eval_time_s": 1.0, "train_samples_per_s": 120.0, "eval_samples_per_s": 300.0},
        {"epoch": 2, "loss": 0.22, "lr": 0.001, "mAP": values[0], "train_time_s": 2.0,
         "eval_time_s": 1.0, "train_samples_per_s": 130.0, "eval_samples_per_s": 310.0},
    ]  # fmt: skip
    return {
        **_common(spec, "train", seed), "metrics": {"best": best, "last": last},
        "history": history, "train_samples_per_s": 125.0, "eval_samples_per_s": 305.0,
        "global_batch": 6, "world_size": 1, "skipped_files": [], "timings": {"wall_s": 42.0},
    }  # fmt: skip


def eval_result(ev, high: tuple[float, float, float], clean: tuple, files: list[str]) -> dict:
    """Clean, high and bucket rows falling linearly from the clean to the high values."""
    rows = []
    conditions = [("clean", 0.0, 0.0), ("high", 0.547, 1.0)] + [
        (f"bucket:{k}", r, r / 0.547) for k, r in enumerate(BUCKET_RATIOS)
    ]
    for condition, ratio, weight in conditions:
        values = tuple(c + (h - c) * min(weight, 1.1) for c, h in zip(clean, high, strict=True))
        for metric, value in _metrics(values).items():
            if metric in METRIC_NAMES or metric.startswith("mAP_"):
                rows.append(
                    {"condition": condition, "hole_ratio": ratio, "metric": metric, "value": value}
                )
    classes = list(CLASSES[ev.run.dataset])
    rng = np.random.default_rng(len(classes))
    targets = (rng.random((4, len(classes))) < 0.15).astype(int).tolist()
    probs = {c: rng.random((4, len(classes))).round(5).tolist() for c, _, _ in conditions}
    return {
        **_common(ev, "eval", ev.run.seed), "rows": rows, "checkpoint_epoch": 2,
        "classes": classes, "eval_samples_per_s": 400.0, "timings": {"wall_s": 12.5},
        "examples": {"indices": [0, 1, 2, 3], "files": files, "targets": targets,
                     "probs": probs},
    }  # fmt: skip


def write_images(folder: Path, count: int = 4) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i:06d}.jpg"
        Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def write_scenario(registry, results_dir: Path, images_dir: Path, seeds=(0,)) -> None:
    """Five finished trainings, the four Table 6 evaluations, a failed run (voc-mcar), an
    invalid file (voc-sst, edited by hand) and one being trained (voc-vitl-csra, its lock held by
    this process): the report reads result files only, so that one is pending like the rest."""
    plan = build_plan(registry, registry.cells, PlanOptions("smoke", tuple(seeds)))
    files = write_images(images_dir)
    for spec_hash, spec in plan.runs.items():
        shift = 0.3 * spec.seed
        if spec.name in TRAINED:
            values = tuple(v - shift for v in TRAINED[spec.name])
            write_result(results_dir, train_result(spec, values, spec.seed))
        elif spec.name == "voc-mcar":
            write_result(
                results_dir, {**_common(spec, "train", spec.seed), "status": "failed", "error": OOM}
            )
        elif spec.name == "voc-sst":
            path = write_result(results_dir, train_result(spec, (94.0, 85.0, 86.0), spec.seed))
            data = json.loads(path.read_text())
            data["metrics"]["best"]["mAP"] = 99.0
            path.write_text(json.dumps(data))
        elif spec.name == "voc-vitl-csra":
            (results_dir / spec_hash).mkdir(parents=True, exist_ok=True)
            (results_dir / spec_hash / ".lock").write_text(f"{os.getpid()}\n")
    for ev in plan.evals.values():
        shift = 0.3 * ev.run.seed
        high = tuple(v - shift for v in HIGH[ev.name])
        clean = tuple(v - shift for v in TRAINED[ev.run.name])
        write_result(results_dir, eval_result(ev, high, clean, files))
