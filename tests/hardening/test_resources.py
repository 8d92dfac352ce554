"""Resources running out: an unwritable results folder and a full disk stop the run with one
line naming the folder; a CUDA out-of-memory fails that run only, naming its batch size, and
`benchmark report` lists the failure and its reason in its appendix."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from faults import CELL, ONE_EPOCH, only, results

from benchmark.cli import main


def _run(capsys: pytest.CaptureFixture, folder: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["run", CELL, *ONE_EPOCH, "--results-dir", str(folder), *extra])
    console = capsys.readouterr()
    return code, console.out, console.err


@pytest.mark.parametrize("under_a_file", [True, False])
def test_unwritable_results_folder_stops_before_training(
    workdir: Path, capsys: pytest.CaptureFixture, under_a_file: bool
) -> None:
    # A path below a regular file cannot be created whoever runs the test (root included).
    plain = workdir / "plain-file"
    plain.write_text("not a folder")
    folder = plain / "results" if under_a_file else plain
    code, out, err = _run(capsys, folder)
    assert code == 2
    assert err.startswith("benchmark: error: ") and err.count("\n") == 1 and str(folder) in err
    assert ("Not a directory" if under_a_file else "is a file, not a folder") in err
    assert "Traceback" not in out + err and "[1/1] train" not in out
    assert plain.read_text() == "not a folder"


def test_full_disk_stops_before_training(
    workdir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**40, 2**40 - 2**20, 2**20))
    folder = workdir / "results"
    code, out, err = _run(capsys, folder)
    assert code == 2 and err.count("\n") == 1
    assert f"results folder {folder}: only 1.0 MiB free" in err and "[1/1] train" not in out
    assert not list(folder.glob("*/result.json"))


def _no_space_on_fsync(monkeypatch: pytest.MonkeyPatch, failures: int | None, folder: Path) -> None:
    """The disk holding ``folder`` fills up: `fsync` of the next `failures` atomic writes there
    (all, if None) fails. Writes elsewhere (the synthetic tree and caches a cold cache writes
    first) succeed, so the test means the same alone and within the suite."""
    real, calls = os.fsync, [0]

    def fsync(fd: int) -> None:
        if not Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(folder):
            real(fd)
            return
        calls[0] += 1
        if failures is None or calls[0] <= failures:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_disk_full_at_a_checkpoint_fails_the_run_naming_the_folder(
    workdir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = workdir / "results"
    _no_space_on_fsync(monkeypatch, 1, folder)  # best.pt fails; the result still fits
    code, out, err = _run(capsys, folder)
    assert code == 1
    failed = only(folder, "train")
    ckpts = folder / failed["hash"] / "checkpoints"
    assert failed["error"].startswith(f"no space left on device writing to {ckpts}: free some")
    assert not list(ckpts.iterdir()), "a partial checkpoint was left behind"
    assert "Traceback" not in out + err


def test_disk_full_everywhere_is_one_line_naming_the_folder(
    workdir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = workdir / "results"
    _no_space_on_fsync(monkeypatch, None, folder)  # not even the failure can be recorded
    code, out, err = _run(capsys, folder)
    assert code == 2 and err.count("\n") == 1
    (run,) = [p for p in folder.iterdir() if not p.name.startswith(".")]  # not .runners
    assert err == f"benchmark: error: cannot write results to {run}: No space left on device\n"
    assert not list(run.rglob("*.tmp")) and not (run / "result.json").exists()
    assert "Traceback" not in out + err


def test_cuda_out_of_memory_fails_that_run_only_and_the_report_lists_it(
    workdir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import benchmark.train.loop as loop

    def out_of_memory(model, images, labels):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(loop, "supervised_step_loss", out_of_memory)  # the MSL run is spared
    folder = workdir / "results"
    selector = "t2.resnet-cut*.voc2007"  # baseline (supervised) first, then its MSL twin
    capsys.readouterr()
    assert main(["run", selector, *ONE_EPOCH, "--results-dir", str(folder)]) == 1
    console = capsys.readouterr()
    assert "Traceback" not in console.out + console.err
    by_name = {r["name"]: r for r in results(folder).values()}
    reason = by_name["voc-resnetcut-csra"]["error"]
    assert reason.startswith("CUDA out of memory at batch size 6:") and "--nproc" in reason
    assert by_name["voc-resnetcut-csra-msl-high"]["status"] == "done"

    out = workdir / "report"
    args = ["report", selector, *ONE_EPOCH[:4], "--results-dir", str(folder), "--out", str(out)]
    assert main([*args, "--format", "md", "--no-figures"]) == 0
    (markdown,) = out.glob("*.md")
    appendix = markdown.read_text().split("## Appendix A: failed and stale runs", 1)[1]
    assert "voc-resnetcut-csra" in appendix and reason in appendix
