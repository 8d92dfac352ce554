"""`--executor slurm --runs-per-gpu K`: K trainings go out as one Slurm job on one GPU, run as K
worker processes under the per-run lock; evaluations wait for the job holding their training.

submitit is replaced by an executor that runs each submitted task here, at once, so the Slurm
path's grouping and the in-job packing are tested without a cluster (the real-cluster test is
marked `slurm`)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

import benchmark.launch.slurm as slurm
from benchmark.cli import main

REPO = Path(__file__).resolve().parents[2]


class _Handle:
    def __init__(self, job_id: int, task, argument):
        self.job_id = str(job_id)
        self.task, self.argument = task, argument
        self.outcome = None

    def result(self):
        return self.outcome


class _Executor:
    """Records what would be submitted; runs each task in this process when submitted."""

    submissions: list[tuple[str, object, dict]] = []

    def __init__(self, folder: str, cluster: str):
        self.params: dict = {}

    def update_parameters(self, **params):
        self.params.update(params)

    @contextlib.contextmanager
    def batch(self):
        yield

    def submit(self, task, argument):
        handle = _Handle(len(_Executor.submissions) + 1, task, argument)
        _Executor.submissions.append((self.params["name"], argument, dict(self.params)))
        handle.outcome = task(argument)
        return handle


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(slurm.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(slurm.submitit, "AutoExecutor", _Executor)
    _Executor.submissions = []
    return tmp_path


def test_k_trainings_share_one_slurm_job_as_k_workers(fake_slurm):
    argv = ["run", "t4.resnet-cut.*", "--profile", "smoke", "--executor", "slurm", "--wait"]
    argv += ["--runs-per-gpu", "2", "--epochs", "1", "--no-progress"]
    assert main(argv) == 0
    trains = [s for s in _Executor.submissions if s[0] == "msl-train"]
    assert len(trains) == 1, "two trainings, K = 2: one array task"
    assert isinstance(trains[0][1], list) and len(trains[0][1]) == 2
    results = [
        json.loads(p.read_text()) for p in (fake_slurm / "results/smoke").glob("*/result.json")
    ]
    assert len(results) == 2 and all(r["status"] == "done" for r in results)
    assert {r["packed"]["worker"] for r in results} == {0, 1}  # two workers, one run each
    slurm_files = list((fake_slurm / "results/smoke").glob("*/slurm.json"))
    assert {json.loads(p.read_text())["job_id"] for p in slurm_files} == {"1"}


def test_without_k_each_training_is_its_own_slurm_job(fake_slurm):
    argv = ["run", "t4.resnet-cut.*", "--profile", "smoke", "--executor", "slurm", "--wait"]
    argv += ["--epochs", "1", "--no-progress"]
    assert main(argv) == 0
    trains = [s for s in _Executor.submissions if s[0] == "msl-train"]
    assert len(trains) == 2 and all(isinstance(s[1], dict) for s in trains)


def test_k_that_cannot_fit_fails_the_job_naming_the_sizes(fake_slurm, monkeypatch, capsys):
    import benchmark.launch.packing as packing

    monkeypatch.setattr(packing, "free_memory_bytes", lambda device: 2**20)  # 1 MiB free
    argv = ["run", "t4.resnet-cut.*", "--profile", "smoke", "--executor", "slurm", "--wait"]
    argv += ["--runs-per-gpu", "2", "--epochs", "1", "--no-progress"]
    assert main(argv) == 2  # here the task runs in-process; on a cluster the job fails with it
    assert "--runs-per-gpu 2: 2 runs × " in capsys.readouterr().err
    assert not list((fake_slurm / "results/smoke").glob("*/result.json"))
