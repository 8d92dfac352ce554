"""`benchmark run --runs-per-gpu K`: K processes share a device (here the CPU), each run is
trained once and gives the numbers a sequential run gives; K that cannot fit stops first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import benchmark.launch.packing as packing
from benchmark.cli import main

SELECTOR = "t4.resnet-cut.*"  # two smoke trainings: VOC and COCO, plain head
GIB = 2**30
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Results and caches in a temp folder (the workers inherit it); the repository's registry."""
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _results(folder: Path) -> dict[str, dict]:
    return {r["name"]: r for r in (json.loads(p.read_text()) for p in folder.glob("*/result.json"))}


def test_two_workers_train_two_runs_at_once_each_once_as_a_sequential_run_would(workdir):
    assert (
        main(
            [
                "run",
                SELECTOR,
                "--profile",
                "smoke",
                "--runs-per-gpu",
                "2",
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    packed = _results(workdir / "results" / "smoke")
    assert len(packed) == 2 and all(r["status"] == "done" for r in packed.values())
    a, b = packed.values()
    assert {a["packed"]["worker"], b["packed"]["worker"]} == {0, 1}
    assert a["packed"]["pid"] != b["packed"]["pid"]
    spans = [
        (r["packed"]["started"], r["packed"]["started"] + r["timings"]["wall_s"]) for r in (a, b)
    ]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]  # they overlapped in time
    for result in packed.values():  # trained once: one pass over each epoch in its log
        log = (workdir / "results" / "smoke" / result["hash"] / "log.txt").read_text()
        assert log.count("epoch 1/1 ") == 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two workers on this 2-core CPU
    try:
        assert (
            main(
                [
                    "run",
                    SELECTOR,
                    "--profile",
                    "smoke",
                    "--epochs",
                    "1",
                    "--no-progress",
                    "--results-dir",
                    "seq",
                ]
            )
            == 0
        )
    finally:
        torch.set_num_threads(threads)
    sequential = _results(workdir / "seq")
    for name, result in packed.items():
        assert result["hash"] == sequential[name]["hash"]
        assert result["history"] == [
            {**row, **{k: result["history"][i][k] for k in row if k.endswith("_s")}}
            for i, row in enumerate(sequential[name]["history"])
        ]  # every number but the timings


def test_runs_that_cannot_fit_stop_before_any_work_and_name_the_sizes(workdir, monkeypatch, capsys):
    monkeypatch.setattr(packing, "free_memory_bytes", lambda device: 3 * GIB)
    monkeypatch.setattr(packing, "measure_footprint", lambda job, device: 2 * GIB)
    assert (
        main(["run", SELECTOR, "--profile", "smoke", "--runs-per-gpu", "3", "--no-progress"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == (
        "benchmark: error: --runs-per-gpu 3: 3 runs × 2.50 GiB = 7.50 GiB do not fit: one run "
        "needs 2.50 GiB (coco-resnetcut-plain: one training step measured at 2.00 GiB, + 25% "
        "margin) and 3.00 GiB are free on cpu; use --runs-per-gpu 1 or fewer"
    )
    assert not list((workdir / "results" / "smoke").glob("*/result.json"))


def test_auto_is_one_run_on_a_cpu_and_the_flag_takes_whole_numbers(workdir, capsys):
    assert packing.runs_per_device("auto", [object(), object()], "cpu") == 1
    for bad in ("0", "two", "-1"):
        try:
            main(["run", SELECTOR, "--profile", "smoke", "--runs-per-gpu", bad])
        except SystemExit as exc:
            assert exc.code == 2
        assert "--runs-per-gpu: expected auto or a whole number ≥ 1" in capsys.readouterr().err


def test_workers_sharing_a_terminal_print_epoch_lines_not_progress_bars(workdir, monkeypatch):
    """Two tqdm bars on one terminal garble each other: packed workers run without them."""
    from benchmark.experiment.plan import PlanOptions
    from benchmark.experiment.profiles import resolve_run
    from benchmark.experiment.registry import load_registry
    from benchmark.launch.job import Job
    from benchmark.train.job_context import JobContext

    seen = []

    class _Process:
        def __init__(self, command, env, stdin):
            seen.append(json.loads(Path(command[-3]).read_text()))
            self.stdin = open(os.devnull, "wb")  # noqa: SIM115 — closed by run_packed

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(packing.subprocess, "Popen", _Process)
    monkeypatch.setattr(packing, "execute", lambda job, _: "failed")  # nothing ran: no result
    registry = load_registry(REPO / "experiments")
    spec = resolve_run(registry, "voc-resnetcut-plain", PlanOptions("smoke").profile)
    job = Job("train", spec, JobContext(workdir / "r", cache_dir=workdir / "c", device="cpu"))
    packing.run_packed([job], 2, workdir / "pack")
    assert len(seen) == 2 and all(d["ctx"]["progress"] is False for s in seen for d in s)
    assert job.ctx.progress is True  # the caller's job is left as it was
