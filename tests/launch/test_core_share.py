"""Runners on one results folder share the cores: a CPU job takes cores ÷ the runners that want
cores (never more than the process's own threads), waits while the others hold them, and gives
them back; a lone runner keeps every core. Two `benchmark run` processes on one folder then
train with one thread each on two cores, where each used to take both."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from benchmark.launch.core_share import RUNNERS, CoreShare

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def other_pid():
    """A live process of this host standing in for another runner."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


def _register(folder: Path, pid: int, state: str, threads: int) -> Path:
    path = folder / RUNNERS / f"{socket.gethostname()}-{pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "state": state, "threads": threads, "since": 0}))
    return path


def test_a_lone_runner_keeps_its_threads_and_leaves_no_entry(tmp_path):
    share = CoreShare(tmp_path, cores=2)
    before = torch.get_num_threads()
    with share.hold() as threads:
        assert threads == min(before, 2) and torch.get_num_threads() == threads
    share.leave()
    assert torch.get_num_threads() == before
    assert [p.name for p in (tmp_path / RUNNERS).iterdir()] == ["registry.lock"]


def test_two_runners_take_a_core_each_and_dead_ones_do_not_count(tmp_path, other_pid):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # what the process would use alone (2 cores)
    try:
        share = CoreShare(tmp_path, cores=2)
        # another runner waiting for cores: each of the two gets one
        _register(tmp_path, other_pid, "waiting", 0)
        with share.hold() as taken:
            assert taken == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        # a runner between two jobs still counts for a few seconds; one that died never does
        (tmp_path / RUNNERS / f"{socket.gethostname()}-{other_pid}.json").unlink()
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
        stale = _register(tmp_path, int(dead), "running", 2)
        with share.hold() as taken:
            assert taken == 2
        assert not stale.exists()
    finally:
        torch.set_num_threads(threads)


def test_a_runner_waits_while_the_others_hold_the_cores(tmp_path, other_pid):
    entry = _register(tmp_path, other_pid, "running", 2)
    share = CoreShare(tmp_path, cores=2)
    said, taken = [], []

    def job():
        with share.hold(say=said.append) as threads:
            taken.append((time.monotonic(), threads))

    worker = threading.Thread(target=job)
    worker.start()
    time.sleep(2.5)
    assert not taken, "took cores that another runner holds"
    assert said == [
        f"  waiting for a core: other runners on this results folder use 2 of 2 (PIDs {other_pid})"
    ]
    released = time.monotonic()
    entry.write_text(json.dumps({"pid": other_pid, "state": "between", "threads": 0,
                                 "since": time.time() - 60}))  # fmt: skip
    worker.join(timeout=10)
    assert taken and taken[0][0] >= released
    # a packed worker's fixed thread fits beside a runner holding one of two cores
    _register(tmp_path, other_pid, "running", 1)
    with share.hold(threads=1) as threads:
        assert threads == 1


def test_two_terminals_on_one_folder_never_hold_more_threads_than_cores(tmp_path):
    """Two `benchmark run` processes started together on one results folder: runs that
    trained at the same time hold at most the cores between them (each used to take them
    all), and the second runner's run has one thread of two."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cores != 2:
        pytest.skip(f"the figures are for 2 cores; this machine has {cores}")
    env = {
        **os.environ,
        "BENCHMARK_EXPERIMENTS": str(REPO / "experiments"),
        "BENCHMARK_CACHE": str(tmp_path / "cache"),
    }
    env.pop("OMP_NUM_THREADS", None)
    args = [sys.executable, "-m", "benchmark", "run", "t4.resnet-cut.*", "--profile", "smoke",
            "--epochs", "8", "--no-progress", "--results-dir", "r"]  # fmt: skip
    both = [
        subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    runs = []
    for path in (tmp_path / "r").glob("*/result.json"):
        result = json.loads(path.read_text())
        end = path.stat().st_mtime  # written as the run ends
        start = end - result["timings"]["wall_s"]
        runs.append((start, end, result["provenance"]["compute"]["threads"]))
    assert len(runs) == 2
    (a_start, a_end, a_threads), (b_start, b_end, b_threads) = runs
    if a_start < b_end and b_start < a_end:  # trained side by side
        assert a_threads + b_threads <= cores, runs
    assert min(a_threads, b_threads) == 1, runs
