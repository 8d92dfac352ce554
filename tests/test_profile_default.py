"""The right profile without asking (issue 19, item 2): the README's profile is the default, a
results folder of one profile says which, and a selection all pending for the chosen profile
points at the profile the folder does hold."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.cli import main

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "results" / "mini"
STORED = ({"done"},)  # the committed results: made by the code beside them, never stale


def test_fresh_clone_list_all_shows_the_committed_mini_results(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["list", "all", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)
    assert {c["status"] for c in cells if c["runnable"]} in STORED


def test_status_infers_the_profile_of_the_results_folder_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no results/ here: only --results-dir can tell
    assert main(["status", "table6", "--results-dir", str(MINI), "--json"]) == 0
    captured = capsys.readouterr()
    assert {e["status"] for e in json.loads(captured.out)} in STORED
    assert captured.err == (
        f"profile mini: inferred from the results in {MINI} (choose another with --profile)\n"
    )


def test_all_pending_for_the_chosen_profile_points_at_the_one_held(tmp_path, capsys):
    assert main(["status", "table6", "--profile", "smoke", "--results-dir", str(MINI)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("pending") == 4
    held = len(list(MINI.glob("*/result.json")))
    assert captured.err == (
        f"note: every selected cell is pending for profile smoke, but {MINI} holds {held} mini "
        "result(s): try --profile mini\n"
    )


def test_report_of_another_profile_than_the_folder_holds_says_so(tmp_path, capsys):
    code = main(["report", "table6", "--profile", "smoke", "--results-dir", str(MINI),
                 "--no-figures", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    assert "try --profile mini" in capsys.readouterr().err
