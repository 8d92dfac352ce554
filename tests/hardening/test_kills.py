"""SIGKILL at the worst moments — inside a checkpoint write, inside a result write, in the middle
of an evaluation — and a checkpoint cut short: the next `benchmark run` ends with the same
numbers as an uninterrupted run, and no partial file is ever read as valid.

(A kill in the middle of a training epoch is tests/train/test_run.py's SIGKILL test.)
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from faults import (
    CELL,
    EVAL_CELL,
    ONE_EPOCH,
    only,
    results,
    run_benchmark,
    train_metrics,
)

from benchmark.cli import main
from benchmark.launch.lock import JobLock
from benchmark.train import checkpoint


def _status(capsys: pytest.CaptureFixture, cell: str, folder: Path) -> dict:
    capsys.readouterr()
    assert main(["status", cell, *ONE_EPOCH[:4], "--json", "--results-dir", str(folder)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    return entry


def test_kills_inside_checkpoint_and_result_writes_lose_nothing(
    workdir: Path, shared_cache: Path, reference: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = workdir / "results"
    args = ["run", CELL, *ONE_EPOCH, "--results-dir", str(folder)]

    # 1. Killed with last.pt complete in its temp file, one rename short of being in place.
    first = run_benchmark(args, workdir, shared_cache, FAULT_KILL_ON_REPLACE=checkpoint.LAST)
    assert first.returncode == -9, first.stdout + first.stderr
    (run,) = [p for p in folder.iterdir() if not p.name.startswith(".")]  # not .runners
    ckpts = run / "checkpoints"
    assert list(ckpts.glob(".last.pt.*.tmp")) and not (ckpts / checkpoint.LAST).exists()
    assert not (run / "result.json").exists()

    # 2. Next run: the leftover temp file is not resumed from; killed writing result.json.
    second = run_benchmark(args, workdir, shared_cache, FAULT_KILL_ON_REPLACE="result.json")
    assert second.returncode == -9, second.stdout + second.stderr
    assert "resuming" not in second.stdout
    assert not list(ckpts.glob(".*.tmp")), "the killed write's temp file was left behind"
    assert (ckpts / checkpoint.LAST).exists() and not (run / "result.json").exists()
    (partial,) = run.glob(".result.json.*.tmp")
    assert json.loads(partial.read_text())["status"] == "done"  # complete, yet not a result
    assert _status(capsys, CELL, folder)["status"] == "pending"
    assert main(["check", "--results-dir", str(folder)]) == 0

    # 3. Finishes from the checkpoint, with the uninterrupted run's numbers.
    capsys.readouterr()
    assert main(args) == 0
    assert "resuming voc-resnetcut-csra from its checkpoint at epoch 1/1" in capsys.readouterr().out
    assert not list(run.glob(".*.tmp"))
    assert train_metrics(folder) == train_metrics(reference)


def test_truncated_last_checkpoint_starts_over_with_a_warning(
    workdir: Path, reference: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = workdir / "results"
    (trained,) = results(reference, "train")
    ckpts = folder / trained / "checkpoints"
    ckpts.mkdir(parents=True)
    good = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(64, 64)}, "epoch": 1}, good)
    (ckpts / checkpoint.LAST).write_bytes(good.getvalue()[: len(good.getvalue()) // 2])

    capsys.readouterr()
    assert main(["run", CELL, *ONE_EPOCH, "--results-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{ckpts / checkpoint.LAST}: not a valid checkpoint" in out
    assert "training starts over" in out and "resuming" not in out
    assert (ckpts / (checkpoint.LAST + checkpoint.UNREADABLE)).exists()  # kept for a look
    assert train_metrics(folder) == train_metrics(reference)


def test_kill_during_evaluation_then_rerun_gives_the_same_rows(
    workdir: Path,
    shared_cache: Path,
    reference: Path,
    reference_eval: dict,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = workdir / "results"
    (trained,) = results(reference, "train")
    shutil.copytree(reference / trained, folder / trained)  # the run is trained: evaluate only
    args = ["run", EVAL_CELL, *ONE_EPOCH, "--results-dir", str(folder)]

    # Killed while scoring its third masking condition, holding the evaluation's lock.
    kill = "benchmark.train.model_evaluation:score_test_predictions:3"
    killed = run_benchmark(args, workdir, shared_cache, FAULT_KILL_ON_CALL=kill)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    ev = folder / reference_eval["hash"]
    assert not (ev / "result.json").exists()
    assert (ev / ".lock").exists(), "the killed process held the evaluation's lock"

    real = JobLock.try_acquire

    def try_acquire(self: JobLock) -> bool:
        assert real(self), f"{self.path} of a dead process was not taken over"  # never hang
        return True

    monkeypatch.setattr(JobLock, "try_acquire", try_acquire)
    capsys.readouterr()
    assert main(args) == 0
    rerun = only(folder, "eval")
    assert rerun["status"] == "done" and not (ev / ".lock").exists()
    assert rerun["rows"] == reference_eval["rows"]
    assert rerun["examples"] == reference_eval["examples"]
