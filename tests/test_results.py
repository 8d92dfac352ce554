import json

import pytest

from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.store.results import job_dir, load_result, read_result, write_result


@pytest.fixture
def result(tmp_path):
    spec = resolve_run(load_registry(), "voc-resnetcut-csra", "smoke")
    data = {
        "kind": "train",
        "hash": spec.hash,
        "name": spec.name,
        "status": "done",
        "spec": spec.to_dict(),
        "metrics": {"best": {"mAP": 50.0}, "last": {"mAP": 40.0}},
    }
    path = write_result(tmp_path, data)
    return tmp_path, spec, path


def test_written_result_round_trips(result):
    folder, spec, path = result
    loaded = load_result(folder, spec.hash)
    assert loaded.problem is None
    assert loaded.data["schema_version"] == 1
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    "edit,problem",
    [
        (lambda d: d["metrics"]["best"].update(mAP=99.0), "edited by hand"),
        (lambda d: d.update(schema_version=99), "unknown schema_version 99"),
    ],
)
def test_tampered_results_are_flagged(result, edit, problem):
    folder, spec, path = result
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    assert problem in read_result(path).problem


def test_truncated_file_is_not_valid(result):
    folder, spec, path = result
    path.write_text(path.read_text()[:40])
    assert "unreadable JSON" in load_result(folder, spec.hash).problem


def test_run_dir_refuses_path_traversal(tmp_path):
    with pytest.raises(ValueError):
        job_dir(tmp_path, "../../etc")
