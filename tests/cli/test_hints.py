"""What the verbs print to point the user on (issue 24, items 7 and 10): every command hint
names the results folder (and profile, seeds, epochs) it needs; a missing relative results
folder says where it was looked for; counts read as English."""

from __future__ import annotations

import pytest

from benchmark.cli import main
from benchmark.cli.perf import _table
from benchmark.perf.suite import TARGETS


def test_a_hint_is_the_command_to_type_with_its_folder(tmp_path):
    from benchmark.cli.hints import command
    from benchmark.cli.settings import Results
    from benchmark.experiment.plan import PlanOptions

    folder = tmp_path / "my results"
    plain = Results(None, folder, PlanOptions("mini"))
    assert command("status", plain) == (
        f"`benchmark status --profile mini --seeds 0 --results-dir '{folder}'`"
    )
    assert command("report", plain, all_seeds=True) == (
        f"`benchmark report --profile mini --results-dir '{folder}'`"
    )
    shaped = Results(None, folder, PlanOptions("smoke", (0, 1), 3, precision="bf16"))
    assert command("run", shaped, "t4.*", "--rerun-stale") == (
        f"`benchmark run 't4.*' --rerun-stale --profile smoke --seeds 0,1 --results-dir "
        f"'{folder}' --epochs 3 --precision bf16`"
    )


def test_status_run_elsewhere_says_the_results_path_is_relative_and_where(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # not the repository: results/mini is not here
    assert main(["status", "table6"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("pending") == 4
    assert captured.err == (
        f"note: no results folder results/mini (a relative path: looked for in {tmp_path}), so "
        "every cell is pending; if your results are elsewhere, give their folder with "
        "--results-dir\n"
    )


def test_status_of_an_existing_folder_adds_no_note(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert main(["status", "table6", "--profile", "smoke", "--results-dir",
                 str(tmp_path / "results")]) == 0  # fmt: skip
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("threads,says", [(1, "1 thread,"), (2, "2 threads,")])
def test_perf_counts_threads_in_english(threads, says):
    result = {"model": "resnet101", "img_size": 224, "batch": 6, "device_name": "cpu",
              "device": "cpu", "torch": "2.x", "threads": threads, "repeats": 5,
              "precision": {"requested": "fp32", "computed": "fp32"}}  # fmt: skip
    head = _table(result, TARGETS).splitlines()[0]
    assert says in head and f"{threads} threads," not in head.replace(says, "")
