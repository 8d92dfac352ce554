"""One damaged predictions file is found, isolated and repaired (issue 24): after deleting,
truncating or editing a `predictions/*.npz` of a real Table 6 evaluation (smoke, one epoch),
`check` names it, `status` shows its cell `damaged`, `claims` and `report` render and mark it
with the command that repairs it, and `run` redoes exactly what is damaged — re-evaluating the
checkpoint, or retraining where the checkpoint is gone or the training's own file is damaged."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from faults import ONE_EPOCH, REPO, results

from benchmark.cli import main

CELLS = "t6.*.voc2007"  # MSL and the CSRA baseline under the high masks: both trainings
BASELINE = "t6.csra-resnet-cut.voc2007"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    folder = tmp_path_factory.mktemp("pristine") / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
        mp.setenv("BENCHMARK_CACHE", str(shared_cache))
        assert main(["run", CELLS, *ONE_EPOCH, "--results-dir", str(folder)]) == 0
    return folder


@pytest.fixture
def folder(pristine: Path, workdir: Path) -> Path:
    copy = workdir / "results"
    shutil.copytree(pristine, copy)
    return copy


def _result(folder: Path, name: str) -> dict:
    (data,) = [r for r in results(folder).values() if r["name"] == name]
    return data


def _file(folder: Path, name: str, key: str) -> tuple[Path, str]:
    """A result's predictions file and the sha256 its result recorded."""
    data = _result(folder, name)
    listed = data["predictions"][key]
    return folder / data["hash"] / listed["file"], listed["sha256"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_truncated_file_is_named_rendered_around_and_re_evaluated(folder, capsys):
    high, recorded = _file(folder, "voc-resnetcut-csra-masked", "high")
    high.write_bytes(high.read_bytes()[:1000])
    where = f"{high.parents[1].name}/predictions/high.npz"
    flags = ["--profile", "smoke", "--epochs", "1", "--results-dir", str(folder)]
    capsys.readouterr()

    assert main(["check", *flags]) == 1
    bad = [line for line in capsys.readouterr().out.splitlines() if line.startswith("BAD")]
    assert bad == [line for line in bad if str(high) in line and "truncated" in line] != []

    assert main(["status", CELLS, *flags]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(BASELINE))
    assert " damaged " in row
    repair = f"benchmark run {BASELINE} --profile smoke --seeds 0 --results-dir {folder}"
    assert f"{BASELINE}: damaged: {where}: truncated" in out and repair in out

    assert main(["claims", "t6.voc2007.*", *flags, "--resamples", "20", "--json"]) == 0
    claims = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in claims] == ["damaged"] * 3
    assert all(c["damaged"] == [where] and "claims:t6.voc2007" in c["repair"] for c in claims)

    out_dir = folder.parent / "report"
    assert main(["report", CELLS, *flags, "--out", str(out_dir), "--no-figures"]) == 0
    report = (out_dir / "report.md").read_text()
    assert "(damaged)" in report and "1 done, 1 damaged (of 2)" in report
    appendix = report.split("## Appendix A")[1]
    assert "predictions/high.npz: truncated" in appendix and repair in appendix

    assert main(["run", BASELINE, *flags, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "re-evaluating" in out and "1 of 2 job(s) already done" in out
    assert "train voc-resnetcut-csra " not in out  # its checkpoint is there: no retraining
    assert _sha(high) == recorded  # the same evaluation again: the same bytes
    assert main(["check", *flags]) == 0


def test_a_gone_checkpoint_or_a_damaged_training_is_retrained(folder, capsys):
    high, _ = _file(folder, "voc-resnetcut-csra-masked", "high")
    high.unlink()
    baseline = _result(folder, "voc-resnetcut-csra")
    (folder / baseline["hash"] / "checkpoints" / "best.pt").unlink()
    last, recorded = _file(folder, "voc-resnetcut-csra-msl-high", "last")
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF  # an edit: same size, only its sha256 can tell
    last.write_bytes(bytes(data))
    flags = ["--profile", "smoke", "--epochs", "1", "--results-dir", str(folder)]
    capsys.readouterr()

    assert main(["run", CELLS, *flags, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "checkpoints/best.pt is gone" in out and "changed: its sha256" in out
    assert "1 of 4 job(s) already done" in out  # the MSL evaluation is whole: kept
    assert "train voc-resnetcut-csra [" in out and "train voc-resnetcut-csra-msl-high [" in out
    assert high.is_file() and _sha(last) == recorded  # retrained: the same run again
    assert main(["check", *flags]) == 0
