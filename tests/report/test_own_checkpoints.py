"""Evaluations of a user's own files show up afterwards (issue 24, item 7): `benchmark evaluate
--checkpoint FILE --like RUN` stores its result in the results folder; the report's "Your
checkpoints" section and `benchmark status` find it there. The results are written as the
evaluation writes them (made-up numbers), so no model runs here."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from report_fixtures import EXPERIMENTS, STAMP, eval_result

from benchmark.cli import main
from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.report import build_report, render
from benchmark.spec import FILE_CHECKPOINT
from benchmark.store.results import write_result

MINE = "/home/me/checkpoints/mine.pt"


def own_evaluation(registry, like: str, file: str = MINE, digest: str = "ab" * 32):
    """The EvalSpec `benchmark evaluate --checkpoint FILE --like RUN` stores (launch/
    release_jobs.plan_checkpoint): the run's architecture, named after the file."""
    plan = build_plan(registry, registry.cells, PlanOptions("smoke"))
    ev = next(e for e in plan.evals.values() if e.run.name == like)
    name = f"{like}@{file.rsplit('/', 1)[-1]}"
    run = dataclasses.replace(ev.run, name=name, weights=None)
    return dataclasses.replace(
        ev, name=name, run=run, checkpoint=FILE_CHECKPOINT + digest, checkpoint_file=file
    )


@pytest.fixture
def folder(scenario, registry, tmp_path):
    """The scenario's results plus one evaluation of a file of the user's that finished, one
    that failed, and one of a published file (a release id for a name)."""
    root, _ = scenario
    results = tmp_path / "results"
    shutil.copytree(root / "results", results)
    mine = own_evaluation(registry, "voc-resnetcut-csra")
    write_result(results, eval_result(mine, (61.2, 40.0, 50.0), (91.4, 85.0, 86.0), []))
    broken = own_evaluation(registry, "coco-resnetcut-csra", "/tmp/other.pt", "cd" * 32)
    failed = {**eval_result(broken, (1, 1, 1), (1, 1, 1), []), "status": "failed",
              "error": "CUDA out of memory", "rows": []}  # fmt: skip
    write_result(results, failed)
    published = dataclasses.replace(
        own_evaluation(registry, "voc-resnetcut-csra-msl-high", "/w/msl_c_voc.pth", "ef" * 32),
        name="msl-c-voc",
    )
    write_result(results, eval_result(published, (80.1, 60.0, 70.0), (95.0, 90.0, 90.0), []))
    return results


def test_the_report_shows_your_checkpoints_beside_the_paper(registry, folder):
    report = build_report(registry, folder, PlanOptions("smoke"), stamp=STAMP, figures=False)
    markdown = render(report, "md")
    assert "- **Your checkpoints:** 2 file(s) evaluated (section Your checkpoints)" in markdown
    section = markdown.split("## Your checkpoints", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if "voc-resnetcut-csra@mine.pt" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:7] == [
        "voc-resnetcut-csra@mine.pt", f"{MINE} (sha256 abababababab)", "voc-resnetcut-csra",
        "VOC2007", "measured", "91.4", "61.2",
    ]  # fmt: skip
    # the paper's values of the cells the run fills: clean (Tables 2, 4), masked (Table 6)
    assert "t2.resnet-cut.voc2007 93.7" in cells[7]
    assert "t6.csra-resnet-cut.voc2007 (high) 67.9" in cells[7]
    assert "| coco-resnetcut-csra@other.pt " in section and "failed: CUDA out of memory" in section
    # a published file is the Published checkpoints section's, not yours
    assert "msl-c-voc" not in section and [r[0] for r in report.own_checkpoints] == [
        "coco-resnetcut-csra@other.pt", "voc-resnetcut-csra@mine.pt",
    ]  # fmt: skip
    published = markdown.split("## Published checkpoints", 1)[1].split("\n## ", 1)[0]
    assert "| msl-c-voc " in published and "| measured " in published
    assert "Your checkpoints</h2>" in render(report, "html")


def test_a_subset_report_shows_the_files_of_its_runs_only(registry, folder):
    def names(selector):
        report = build_report(registry, folder, PlanOptions("smoke"), selector=selector,
                              figures=False)  # fmt: skip
        return [row[0] for row in report.own_checkpoints]

    assert names("table6") == ["coco-resnetcut-csra@other.pt", "voc-resnetcut-csra@mine.pt"]
    assert names("t2.resnet-cut.voc2007") == ["voc-resnetcut-csra@mine.pt"]
    assert names("table1") == []


def test_status_lists_the_checkpoint_files_evaluated_in_the_folder(folder, capsys):
    code = main(["status", "--profile", "smoke", "--experiments", str(EXPERIMENTS),
                 "--results-dir", str(folder)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    files = out.split("checkpoint files evaluated here", 1)[1]
    mine = next(line for line in files.splitlines() if "voc-resnetcut-csra@mine.pt" in line)
    assert MINE in mine and "done" in mine and "91.4" in mine and "61.2" in mine
    assert "failed: CUDA out of memory" in files
