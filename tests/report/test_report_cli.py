"""`benchmark report` as a verb: flags, default output folder, formats."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest
from report_fixtures import EXPERIMENTS

from benchmark.cli.report import parse_formats, register
from benchmark.errors import UserError


def run_report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmark")
    register(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["report", *argv])
    return args.func(args)


def test_formats_repeat_or_comma_separate():
    assert parse_formats(None) == ("md",)
    assert parse_formats(["md,csv", "latex", "md"]) == ("md", "csv", "latex")
    with pytest.raises(UserError, match="unknown format 'docx'"):
        parse_formats(["md,docx"])


def test_report_verb_writes_the_chosen_formats(scenario, tmp_path, monkeypatch, capsys):
    root, _ = scenario
    monkeypatch.chdir(tmp_path)
    code = run_report([
        "table6", "--experiments", str(EXPERIMENTS), "--results-dir", str(root / "results"),
        "--format", "md,csv", "--format", "html", "--no-figures",
    ])  # fmt: skip
    assert code == 0
    out = tmp_path / "reports" / "smoke"  # the default: reports/<profile>/
    names = ["claims.csv", "report.csv", "report.html", "report.md"]  # csv: the claims beside
    assert sorted(p.name for p in out.iterdir()) == names
    assert "| MSL             | 86.7 / 86.7 (+0.0) |" in (out / "report.md").read_text()
    assert set(pd.read_csv(out / "report.csv")["table"]) == {6}
    printed = capsys.readouterr().out
    assert "reports/smoke/report.md" in printed and "4 done (of 4)" in printed


def test_report_verb_with_no_results_says_so_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--experiments", str(EXPERIMENTS), "--results-dir", str(tmp_path / "none"),
            "--profile", "smoke", "--no-figures", "--out", str(tmp_path / "out")]  # fmt: skip
    with pytest.raises(UserError, match="no results in .*none: nothing to report"):
        run_report(args)
    assert not (tmp_path / "out").exists()


def test_report_without_figures_leaves_earlier_figures_alone(scenario, tmp_path):
    root, _ = scenario
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "masks.png").write_bytes(b"\x89PNG earlier")
    code = run_report(["--experiments", str(EXPERIMENTS), "--results-dir", str(root / "results"),
                       "--no-figures", "--out", str(out)])  # fmt: skip
    assert code == 0
    assert (out / "figures" / "masks.png").read_bytes() == b"\x89PNG earlier"
