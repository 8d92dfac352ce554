"""Flags checked before any work (issue 19, item 4), one clear line each, exit 2, nothing left
behind; and `score`'s warnings and blame (item 10)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main

REPO = Path(__file__).resolve().parents[1]


def _error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("device", "says"),
    [
        ("tpu", "--device tpu: unknown device (choose auto, cpu, cuda or cuda:N)"),
        ("cuda", "--device cuda: no CUDA GPU is visible"),
        ("cuda:7", "--device cuda:7: no CUDA GPU is visible"),
    ],
)
@pytest.mark.parametrize("verb", [["run", "t4.resnet-cut-csra.voc2007"], ["evaluate", "released"]])
def test_a_device_that_cannot_run_is_refused_before_any_work(
    verb, device, says, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    results = tmp_path / "results"
    code = main([*verb, "--profile", "smoke", "--device", device,
                 "--results-dir", str(results),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert code == 2
    assert _error(capsys).startswith(f"benchmark: error: {says}")
    assert not results.exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("verb", [["run", "t4.resnet-cut-csra.voc2007"], ["evaluate", "released"]])
def test_a_bad_execution_flag_is_refused_before_the_results_folder_is_read(verb, tmp_path, capsys):
    """Every flag is checked before any file is read: a folder whose results would choose the
    profile (and say so) is not read when --device cannot run."""
    held = tmp_path / "results" / "0123456789ab"
    held.mkdir(parents=True)
    (held / "result.json").write_text('{"profile": "mini", "status": "done"}')
    code = main([*verb, "--device", "tpu", "--results-dir", str(tmp_path / "results"),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert code == 2
    assert _error(capsys).startswith("benchmark: error: --device tpu: unknown device")


@pytest.mark.parametrize("epochs", ["0", "-1"])
@pytest.mark.parametrize("verb", ["run", "status", "list"])
def test_epochs_below_one_are_refused(verb, epochs, tmp_path, capsys):
    extra = ["--dry-run"] if verb == "run" else []
    code = main([verb, "t4.*", "--profile", "smoke", "--epochs", epochs,
                 "--results-dir", str(tmp_path / "r"), *extra])  # fmt: skip
    assert code == 2
    assert _error(capsys) == f"benchmark: error: --epochs: must be at least 1, got {epochs}"


@pytest.mark.parametrize(
    "argv",
    [["list", "all"], ["status", "all"], ["check"], ["report", "all", "--no-figures"],
     ["run", "t4.*", "--dry-run"], ["compare", "all", "--against", "results/mini"],
     ["evaluate", "released", "--dry-run"]],
)  # fmt: skip
def test_a_results_dir_that_is_a_file_is_refused_in_every_verb(argv, tmp_path, capsys):
    afile = tmp_path / "results.txt"
    afile.write_text("not a folder\n")
    code = main([*argv, "--profile", "smoke", "--results-dir", str(afile)])
    assert code == 2
    assert _error(capsys) == f"benchmark: error: --results-dir {afile}: is a file, not a folder"


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()])
def test_report_on_a_missing_or_empty_folder_says_it_found_no_results(make, tmp_path, capsys):
    folder = tmp_path / "results"
    make(folder)
    code = main(["report", "all", "--profile", "smoke", "--results-dir", str(folder),
                 "--no-figures", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert _error(capsys) == (
        f"benchmark: error: no results in {folder}: nothing to report (`benchmark run all "
        f"--profile smoke --results-dir {folder}` writes them there, or point --results-dir at a "
        "folder of results)"
    )
    assert not (tmp_path / "out").exists()


def _write(path: Path, matrix) -> Path:
    np.save(path, np.asarray(matrix))
    return path


def test_score_warns_about_probabilities_outside_0_1(tmp_path, capsys):
    rng = np.random.default_rng(0)
    targets = (rng.random((8, 3)) < 0.5).astype(int)
    targets[0] = 1
    logits = rng.normal(0, 3, (8, 3))
    code = main(["score", "--scores", str(_write(tmp_path / "s.npy", logits)),
                 "--targets", str(_write(tmp_path / "t.npy", targets))])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "mAP" in captured.out
    outside = int(((logits < 0) | (logits > 1)).sum())
    assert captured.err.startswith(
        f"benchmark: warning: {tmp_path / 's.npy'}: {outside} of 24 scores outside [0, 1]"
    )


@pytest.mark.parametrize(
    ("scores", "targets", "blamed", "says"),
    [
        ((4, 21), (4, 20), "s", "21 columns, but {other} has 20: 1 extra column (one per class)"),
        ((4, 20), (4, 21), "t", "21 columns, but {other} has 20: 1 extra column (one per class)"),
        ((5, 20), (4, 20), "s", "5 rows, but {other} has 4: 1 extra row (one per image)"),
    ],
)
def test_score_blames_the_file_with_the_extra_column_or_row(
    scores, targets, blamed, says, tmp_path, capsys
):
    s = _write(tmp_path / "s.npy", np.full(scores, 0.5))
    t = _write(tmp_path / "t.npy", np.ones(targets, dtype=int))
    bad, other = (s, t) if blamed == "s" else (t, s)
    assert main(["score", "--scores", str(s), "--targets", str(t)]) == 2
    assert _error(capsys) == f"benchmark: error: {bad}: " + says.format(other=other)


def test_check_names_a_backbone_no_library_knows(tmp_path, capsys):
    experiments = tmp_path / "experiments"
    shutil.copytree(REPO / "experiments", experiments)
    runs = experiments / "runs.yaml"
    text = runs.read_text()
    runs.write_text(text.replace("backbone: resnet101", "backbone: resnet1O1", 1))
    code = main(["check", "--experiments", str(experiments), "--profile", "smoke",
                 "--results-dir", str(tmp_path / "none")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    bad = [line for line in out.splitlines() if line.startswith("BAD ")]
    assert len(bad) == 1 and "backbone 'resnet1O1' is not a model timm knows" in bad[0]
    assert "did you mean 'resnet101'?" in bad[0]


def test_piping_into_head_prints_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "list", "all", "--profile", "smoke", "--json"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before the first line is written, as with `head`
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert err == "" and proc.returncode == 141
