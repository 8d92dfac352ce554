"""Results made by other code than the checkout's: `stale` in status and in the report, with the
changed files; results from before fingerprints existed stay done, with a note."""

from __future__ import annotations

import copy

import pytest
from report_fixtures import STAMP, eval_result, train_result, write_images

from benchmark.experiment.plan import PlanOptions, build_plan, cell_status
from benchmark.report import build_report, render
from benchmark.store.fingerprint import NO_FINGERPRINT_NOTE, current_fingerprint
from benchmark.store.results import write_result

TABLE6_VOC = ("t6.csra-resnet-cut.voc2007", "t6.msl.voc2007")


def older_code(*changed: str) -> dict:
    """The current fingerprint as if ``changed`` had been different when the result was made."""
    old = copy.deepcopy(current_fingerprint())
    for name in changed:
        old["files"][name] = "0" * 16
    old["sha256"] = "f" * 64
    return old


def with_code(result: dict, code: dict | None) -> dict:
    result = copy.deepcopy(result)
    if code is None:
        result["provenance"].pop("code", None)
    else:
        result["provenance"]["code"] = code
    return result


@pytest.fixture()
def store(registry, tmp_path):
    """Table 2's ResNet-cut pair and Table 6's VOC pair (smoke profile): the CSRA training made
    by older code (models/heads.py changed), the MSL training by this code, its Table 6
    evaluation too, and the CSRA evaluation before fingerprints existed."""
    cells = [registry.cell(c) for c in ("t2.resnet-cut.voc2007", "t2.resnet-cut-msl.voc2007")]
    cells += [registry.cell(c) for c in TABLE6_VOC]
    plan = build_plan(registry, cells, PlanOptions("smoke"))
    results = tmp_path / "results"
    files = write_images(tmp_path / "images")
    codes = {
        "voc-resnetcut-csra": older_code("models/heads.py"),
        "voc-resnetcut-csra-msl-high": current_fingerprint(),
        "voc-resnetcut-csra-masked": None,
        "voc-resnetcut-csra-msl-high-masked": current_fingerprint(),
    }
    for spec in plan.runs.values():
        write_result(results, with_code(train_result(spec, (93.0, 87.0, 88.0)), codes[spec.name]))
    for ev in plan.evals.values():
        result = eval_result(ev, (70.0, 40.0, 55.0), (93.0, 87.0, 88.0), files)
        write_result(results, with_code(result, codes[ev.name]))
    return cells, plan, results


def test_status_marks_results_of_other_code_stale_and_names_the_files(registry, store):
    cells, plan, results = store
    status = {c.id: cell_status(registry, c, plan, results) for c in cells}
    csra = status["t2.resnet-cut.voc2007"]
    assert csra["status"] == "stale" and "models/heads.py" in csra["code"]
    assert csra["metrics"]["mAP"] == pytest.approx(93.0)  # the numbers are kept, marked
    msl = status["t2.resnet-cut-msl.voc2007"]
    assert msl["status"] == "done" and msl["code"] is None
    # the CSRA evaluation predates fingerprints, but it read a stale training's checkpoint
    masked = status["t6.csra-resnet-cut.voc2007"]
    assert masked["status"] == "stale" and "models/heads.py" in masked["code"]
    assert status["t6.msl.voc2007"]["status"] == "done"


def test_results_without_fingerprint_stay_done_with_a_note(registry, tmp_path):
    cell = registry.cell("t2.resnet-cut.voc2007")
    plan = build_plan(registry, [cell], PlanOptions("smoke"))
    (spec,) = plan.runs.values()
    write_result(tmp_path, with_code(train_result(spec, (93.0, 87.0, 88.0)), None))
    status = cell_status(registry, cell, plan, tmp_path)
    assert status["status"] == "done" and status["code"] == NO_FINGERPRINT_NOTE


def test_report_marks_stale_cells_and_lists_them_in_appendix_a(registry, store):
    _, _, results = store
    report = build_report(
        registry, results, PlanOptions("smoke"), selector="t[26].*", stamp=STAMP, figures=False
    )
    text = render(report, "md")
    table2 = text.split("## Table 2:")[1].split("\n## ")[0]
    assert "| ResNet-cut | 93.0 / 93.7 (-0.7) (stale) |" in table2.replace("  ", " ")
    assert "| + MSL      | 93.0 / 96.1 (-3.1)" in table2
    appendix = text.split("## Appendix A: failed and stale runs")[1].split("\n## ")[0]
    stale_rows = [line for line in appendix.splitlines() if "| stale " in line]
    assert len(stale_rows) == 1 and "voc-resnetcut-csra " in stale_rows[0]
    assert "models/heads.py" in stale_rows[0]
    code = next(line for line in text.splitlines() if line.startswith("- **Code:**"))
    assert "2 results made by this checkout's code" in code and "1 result stale" in code
    assert f"1 result with {NO_FINGERPRINT_NOTE}" in code
