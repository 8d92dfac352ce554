"""Scale-out paths: one run over two processes (torchrun, gloo), and a real local Slurm."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path):
    import os

    return {
        **os.environ,
        "BENCHMARK_EXPERIMENTS": str(REPO / "experiments"),
        "BENCHMARK_CACHE": str(tmp_path / "cache"),
        "PYTHONUNBUFFERED": "1",
    }


def _results(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/result.json"))]


def test_two_processes_split_the_batch_and_score_every_test_image_once(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "run",
            "--profile",
            "smoke",
            "t4.resnet-cut-msl.voc2007",
            "--nproc",
            "2",
            "--no-progress",
            "--results-dir",
            str(tmp_path / "r"),
        ],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = _results(tmp_path / "r")
    assert result["status"] == "done"
    assert (result["world_size"], result["global_batch"], result["per_rank_batch"]) == (2, 6, 3)
    test_images = result["spec"]["synth"]["test_images"]
    assert all(row["test_samples"] == test_images for row in result["history"])


def test_a_global_batch_that_does_not_split_is_refused(monkeypatch):
    from benchmark.errors import UserError
    from benchmark.experiment.profiles import resolve_run
    from benchmark.experiment.registry import load_registry
    from benchmark.train import distributed
    from benchmark.train.loop import per_rank_batch

    spec = resolve_run(load_registry(REPO / "experiments"), "voc-resnetcut-plain", "smoke")
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    assert per_rank_batch(spec) == 2
    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    with pytest.raises(UserError, match="global batch of 6 does not split over 4 processes"):
        per_rank_batch(spec)


def _slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "alloc"))


@pytest.mark.slurm
def test_table4_smoke_through_a_real_slurm(tmp_path):
    if not _slurm_up():
        pytest.skip("no Slurm cluster is up (scripts/local-slurm up)")
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "run",
            "--profile",
            "smoke",
            "table4",
            "--executor",
            "slurm",
            "--wait",
            "--no-progress",
            "--results-dir",
            str(results),
        ],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = _results(results)
    assert len(found) == 12
    assert all(r["status"] == "done" for r in found)
    assert all(r["provenance"]["slurm_job_id"] for r in found)
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "status",
            "--profile",
            "smoke",
            "table4",
            "--json",
            "--results-dir",
            str(results),
        ],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    entries = json.loads(status.stdout)
    assert [e["status"] for e in entries] == ["done"] * 12


@pytest.mark.slurm
def test_two_trainings_share_one_real_slurm_job(tmp_path):
    if not _slurm_up():
        pytest.skip("no Slurm cluster is up (scripts/local-slurm up)")
    results = tmp_path / "results"
    argv = ["run", "--profile", "smoke", "t4.resnet-cut.*", "--executor", "slurm", "--wait"]
    argv += ["--runs-per-gpu", "2", "--epochs", "1", "--no-progress", "--results-dir", str(results)]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *argv],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = _results(results)
    assert len(found) == 2 and all(r["status"] == "done" for r in found)
    assert len({r["provenance"]["slurm_job_id"] for r in found}) == 1  # one job held both
    assert {r["packed"]["worker"] for r in found} == {0, 1}
