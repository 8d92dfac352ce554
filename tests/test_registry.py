import shutil
from pathlib import Path

import pytest

from benchmark.errors import RegistryError
from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.registry import load_registry

REGISTRY = Path(__file__).resolve().parent.parent / "experiments"


@pytest.fixture(scope="module")
def registry():
    return load_registry(REGISTRY)


def test_forty_cells_with_paper_values(registry):
    assert len(registry.cells) == 40
    assert sum(c.runnable for c in registry.cells) == 36
    assert registry.cell("t5.msl-c-high.coco2014").paper == {"mAP": 86.4}
    assert registry.cell("t2.resnet-cut-msl.voc2007").paper == {
        "mAP": 96.1,
        "CR": 92.4,
        "CF1": 91.6,
    }
    assert registry.cell("t6.msl.coco2014").paper == {"mAP": 74.8, "CR": 59.4, "CF1": 68.8}
    assert [c.row for c in registry.select("table3")][:4] == ["DHC", "VA", "SRN", "VAC"]
    assert not registry.cell("t3.srn.wider").runnable


def test_shared_run_has_one_identity(registry):
    plan = build_plan(registry, registry.cells, PlanOptions("paper"))
    assert len(plan.runs) == 28  # docs/spec.md §5: 14 VOC, 10 COCO, 4 WIDER
    same = {plan.cell_hashes[c][0] for c in ("t2.resnet-cut-msl.voc2007", "t5.msl-c-high.voc2007")}
    assert len(same) == 1
    t6 = plan.evals[plan.cell_hashes["t6.msl.voc2007"][0]]
    assert t6.run.hash in same


def test_seeds_and_profiles_change_identity(registry):
    cells = registry.select("t4.resnet-cut.voc2007")
    paper = build_plan(registry, cells, PlanOptions("paper", seeds=(0, 1)))
    smoke = build_plan(registry, cells, PlanOptions("smoke"))
    hashes = paper.cell_hashes["t4.resnet-cut.voc2007"]
    assert len(set(hashes)) == 2
    assert smoke.cell_hashes["t4.resnet-cut.voc2007"][0] not in hashes


def test_selectors(registry):
    assert len(registry.select("table4")) == 12
    assert len(registry.select("t6.*")) == 4
    assert len(registry.select("*.wider")) == 8
    with pytest.raises(RegistryError, match="matches no cell"):
        registry.select("t9.*")


def _broken(tmp_path, filename, old, new):
    root = tmp_path / "experiments"
    shutil.copytree(REGISTRY, root)
    path = root / filename
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return root


@pytest.mark.parametrize(
    "filename,old,new,message",
    [
        (
            "table4.yaml",
            "run: voc-vitl-plain,",
            "run: voc-vitl-plan,",
            r"table4.yaml: cell t4.vit-l16.voc2007: field 'run': no run named 'voc-vitl-plan'",
        ),
        (
            "table4.yaml",
            "paper: {mAP: 92.1}",
            "paper: {mAP: 92.1}, colour: red",
            r"table4.yaml: cell t4.vit-l16.voc2007: field 'colour': unknown field",
        ),
        (
            "table5.yaml",
            "id: t5.msl-v-low.coco2014",
            "id: t5.msl-v-low.voc2007",
            r"table5.yaml: cell t5.msl-v-low.voc2007: field 'id': duplicate id",
        ),
        (
            "table1.yaml",
            'row: "MCAR", ',
            "",
            r"table1.yaml: cell t1.mcar.voc2007: field 'row': missing value",
        ),
        (
            "runs.yaml",
            "    arch: mcar\n    method: supervised",
            "    arch: mcarr\n    method: supervised",
            r"runs.yaml: run voc-mcar: field 'arch': 'mcarr' is not one of",
        ),
        (
            "table6.yaml",
            "condition: high}, paper: {mAP: 67.9",
            "condition: bucket:9}, paper: {mAP: 67.9",
            r"table6.yaml: cell t6.csra-resnet-cut.voc2007: field 'eval.condition'",
        ),
        (
            "runs.yaml",
            "    num_heads: 1\n",
            "    num_heads: 3\n",
            r"runs.yaml: run \S+: field 'num_heads': 3 is not one of 1, 2, 4, 6, 8$",
        ),
        ("table2.yaml", "cells:", "cells: [\n", r"table2.yaml \(line \d+\): not valid YAML"),
    ],
)
def test_bad_registry_names_file_cell_and_field(tmp_path, filename, old, new, message):
    root = _broken(tmp_path, filename, old, new)
    with pytest.raises(RegistryError, match=message):
        load_registry(root)
