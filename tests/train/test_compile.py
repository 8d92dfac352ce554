"""`benchmark run --compile`: the same run, compiled; the identity and checkpoints unchanged."""

import json

import pytest
import torch

from benchmark.cli import main


def test_compile_flag_is_a_mode_choice_and_stays_out_of_the_hash(workdir, capsys):
    with pytest.raises(SystemExit):
        main(["run", "t6.msl.voc2007", "--profile", "smoke", "--compile", "fastest", "--dry-run"])
    assert "invalid choice: 'fastest'" in capsys.readouterr().err
    assert main(["run", "t6.msl.voc2007", "--profile", "smoke", "--dry-run"]) == 0
    eager = capsys.readouterr().out
    assert main(["run", "t6.msl.voc2007", "--profile", "smoke", "--dry-run", "--compile"]) == 0
    assert capsys.readouterr().out == eager  # same plan, same hashes


@pytest.mark.slow  # inductor compiles C++ kernels on the CPU: about a minute
def test_compiled_run_trains_evaluates_and_writes_plain_checkpoints(workdir, capsys):
    cell = "t6.csra-resnet-cut.voc2007"
    assert (
        main(["run", cell, "--profile", "smoke", "--no-progress", "--epochs", "1", "--compile"])
        == 0
    )
    results = {
        json.loads(p.read_text())["kind"]: json.loads(p.read_text())
        for p in (workdir / "results" / "smoke").glob("*/result.json")
    }
    assert results["train"]["status"] == "done" and results["train"]["compile"] == "default"
    assert {row["condition"] for row in results["eval"]["rows"]} >= {"clean", "high"}
    best = next((workdir / "results" / "smoke").glob("*/checkpoints/best.pt"))
    keys = torch.load(best, weights_only=True)["model"].keys()
    assert not any("_orig_mod" in k for k in keys)  # loadable by an eager model
