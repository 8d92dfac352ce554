"""`benchmark compare` (issue 19, item 1): your results beside the reference per cell and metric,
each difference judged against the stated tolerance; exit 1 when one is outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from report_fixtures import EXPERIMENTS, eval_result, train_result

from benchmark.cli import main
from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.registry import load_registry
from benchmark.store.results import load_result, write_result

COMPUTE = {"cpu_model": "AMD EPYC", "cpu_capability": "AVX512", "threads": 2,
           "torch_build": "9d29e9e1a046", "env": {}}  # fmt: skip
SELECTOR = "t2.resnet-cut*"  # two trainings of Table 2 (mAP, CR, CF1 each)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    registry = load_registry(EXPERIMENTS)
    plan = build_plan(registry, registry.select(SELECTOR), PlanOptions("smoke"))
    reference, names = tmp_path / "reference", {}
    for spec in plan.runs.values():
        write_result(reference, train_result(spec, (60.83, 20.0, 25.0)))
        names[spec.name] = spec.hash
    for ev in plan.evals.values():
        write_result(reference, eval_result(ev, (30.0, 10.0, 12.0), (60.0, 20.0, 25.0), []))
    mine = tmp_path / "mine"
    shutil.copytree(reference, mine)
    return mine, reference, names


def _edit(folder: Path, spec_hash: str, metric: str, delta: float, compute=None) -> None:
    data = load_result(folder, spec_hash).data
    data["metrics"]["best"][metric] += delta
    if compute is not None:
        data["provenance"]["compute"] = compute
    write_result(folder, data)


def _compare(mine: Path, reference: Path, *extra: str) -> int:
    return main(["compare", SELECTOR, "--profile", "smoke", "--experiments", str(EXPERIMENTS),
                 "--results-dir", str(mine), "--against", str(reference), *extra])  # fmt: skip


def test_other_processor_within_tolerance_passes(stores, capsys):
    mine, reference, names = stores
    _edit(mine, names["voc-resnetcut-csra"], "mAP", 0.10)  # 60.93 vs 60.83, as in issue 17
    _edit(mine, names["voc-resnetcut-csra"], "CF1", -1.9)
    assert _compare(mine, reference) == 0
    out = capsys.readouterr().out
    assert "+0.10" in out and "-1.90" in out and "OUTSIDE" not in out
    assert "6 of 6 value(s) within tolerance" in out
    assert "do not record their CPU kernels" in out


def test_a_difference_beyond_the_tolerance_is_named_and_fails(stores, capsys):
    mine, reference, names = stores
    _edit(mine, names["voc-resnetcut-csra-msl-high"], "mAP", -1.5)
    assert _compare(mine, reference) == 1
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "OUTSIDE" in row)
    assert line.startswith("t2.resnet-cut-msl.voc2007") and " mAP " in line and "-1.50" in line
    assert "5 of 6 value(s) within tolerance" in out


def test_same_kernels_must_match_exactly(stores, capsys):
    mine, reference, names = stores
    spec_hash = names["voc-resnetcut-csra"]
    _edit(reference, spec_hash, "mAP", 0.0, COMPUTE)
    _edit(mine, spec_hash, "mAP", 0.01, COMPUTE)
    assert _compare(mine, reference, "--json") == 1
    found = json.loads(capsys.readouterr().out)["differences"]
    bad = [d for d in found if not d["within"]]
    assert [(d["cell"], d["metric"], d["tolerance"]) for d in bad] == [
        ("t2.resnet-cut.voc2007", "mAP", 0.0)
    ]


def test_nothing_to_compare_is_one_clear_error(stores, tmp_path, capsys):
    _, reference, _ = stores
    (tmp_path / "empty").mkdir()
    assert _compare(tmp_path / "empty", reference) == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmark: error: no cell of 't2.resnet-cut*' has a finished result")


@pytest.mark.parametrize("damage", ["edited", "truncated", "failed"])
def test_an_invalid_or_failed_result_is_a_failure_not_a_missing_one(stores, damage, capsys):
    """Issue 24, item 9: a broken result file is named and fails the comparison (it used to
    read as "no finished result", and the rest passed with exit 0)."""
    mine, reference, names = stores
    path = mine / names["voc-resnetcut-csra"] / "result.json"
    if damage == "edited":  # by hand: the checksum no longer matches
        data = json.loads(path.read_text())
        data["metrics"]["best"]["mAP"] = 99.0
        path.write_text(json.dumps(data))
    elif damage == "truncated":
        path.write_text(path.read_text()[:100])
    else:
        data = load_result(mine, names["voc-resnetcut-csra"]).data
        write_result(mine, {**data, "status": "failed", "error": "CUDA out of memory"})
    assert _compare(mine, reference) == 1
    out = capsys.readouterr().out
    broken = next(line for line in out.splitlines() if line.startswith("BROKEN "))
    assert broken.startswith("BROKEN t2.resnet-cut.voc2007: ") and str(path) in broken
    why = {"edited": "invalid (checksum mismatch", "truncated": "invalid (unreadable JSON",
           "failed": "its run failed (CUDA out of memory)"}[damage]  # fmt: skip
    assert why in broken
    assert out.rstrip().endswith(
        "; 1 cell(s) with an invalid or failed result (BROKEN above), counted as failures"
    )
    assert _compare(mine, reference, "--json") == 1
    assert list(json.loads(capsys.readouterr().out)["broken"]) == ["t2.resnet-cut.voc2007"]
