"""Tampered or foreign files are refused, naming the file: results that do not match their
configuration, hand edits, unknown schemas; checkpoints holding pickled code; YAML tags that
construct Python objects; ids that would lead out of the results folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from faults import EVAL_CELL, ONE_EPOCH, REPO, only, results

from benchmark.cli import main
from benchmark.errors import RegistryError
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.store.results import checksum, job_dir, write_result
from benchmark.train import checkpoint


class Payload:
    """Unpickling this creates `marker`: proof that a checkpoint ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _write(folder: Path, run: str, edit=None, rechecksum: bool = False) -> Path:
    spec = resolve_run(load_registry(REPO / "experiments"), run, "smoke")
    path = write_result(
        folder,
        {
            "kind": "train",
            "hash": spec.hash,
            "name": spec.name,
            "status": "done",
            "spec": spec.to_dict(),
            "metrics": {"best": {"mAP": 50.0}, "last": {"mAP": 40.0}},
        },
    )
    if edit is not None:
        data = json.loads(path.read_text())
        edit(data)
        if rechecksum:
            data["checksum"] = checksum(data)
        path.write_text(json.dumps(data))
    return path


def test_check_flags_every_tampered_result_by_file(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "results"
    good = _write(folder, "voc-resnetcut-csra")
    # The spec was changed and the checksum recomputed: only the config hash can tell.
    respec = _write(folder, "voc-resnetcut-plain", lambda d: d["spec"].update(lr=0.5), True)
    edited = _write(folder, "voc-mcar", lambda d: d["metrics"]["best"].update(mAP=99.9))
    future = _write(folder, "voc-sst", lambda d: d.update(schema_version=2), True)

    capsys.readouterr()
    assert main(["check", "--results-dir", str(folder)]) == 1
    out = capsys.readouterr().out
    bad = {line.split(": ", 1)[0][4:]: line for line in out.splitlines() if line.startswith("BAD")}
    assert set(bad) == {str(respec), str(edited), str(future)} and str(good) not in out
    assert "does not match" in bad[str(respec)] and "config hash" in bad[str(respec)]
    assert "edited by hand" in bad[str(edited)]
    assert "unknown schema_version 2" in bad[str(future)]
    assert "results: 4 file(s)" in out and "3 bad" in out


def test_checkpoint_with_pickled_code_is_refused_and_never_run(
    workdir: Path, reference: Path, capsys: pytest.CaptureFixture
) -> None:
    marker = workdir / "pwned"
    evil = workdir / "evil.pt"
    torch.save({"model": {}, "epoch": 1, "extra": Payload(marker)}, evil)
    with pytest.raises(checkpoint.CheckpointError, match=r"evil.pt: refused: .*weights_only=True"):
        checkpoint.load(evil)

    # Evaluating a run whose best.pt was swapped: the evaluation fails naming it, nothing runs.
    folder = workdir / "results"
    (trained,) = results(reference, "train")
    shutil.copytree(reference / trained, folder / trained)
    best = folder / trained / "checkpoints" / checkpoint.BEST
    shutil.copy(evil, best)
    capsys.readouterr()
    assert main(["run", EVAL_CELL, *ONE_EPOCH, "--results-dir", str(folder)]) == 1
    console = capsys.readouterr()
    failed = only(folder, "eval")
    assert failed["status"] == "failed" and failed["error"].startswith(f"{best}: refused")
    assert "Traceback" not in console.out + console.err
    assert not marker.exists()


def _registry_copy(tmp_path: Path, filename: str, old: str, new: str) -> Path:
    root = tmp_path / "experiments"
    shutil.copytree(REPO / "experiments", root)
    path = root / filename
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return root


def test_yaml_tags_that_build_python_objects_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    tag = f'!!python/object/apply:os.system ["touch {marker}"]'
    root = _registry_copy(tmp_path, "runs.yaml", "batch_size: 6", f"batch_size: {tag}")
    capsys.readouterr()
    assert main(["check", "--experiments", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{root / 'runs.yaml'} (line" in err
    assert "python/object/apply:os.system" in err and not marker.exists()


@pytest.mark.parametrize(
    "filename,old,new",
    [
        ("table4.yaml", "id: t4.resnet-cut.voc2007,", "id: ../x,"),
        ("runs.yaml", "  voc-mcar:\n", "  ../x:\n"),
        ("runs.yaml", "  voc-mcar:\n", "  /etc/x:\n"),
    ],
)
def test_ids_that_could_leave_the_results_folder_are_rejected(
    tmp_path: Path, filename: str, old: str, new: str
) -> None:
    root = _registry_copy(tmp_path, filename, old, new)
    with pytest.raises(RegistryError, match=rf"{filename}: (cell|run) .*use a-z, 0-9"):
        load_registry(root)


@pytest.mark.parametrize(
    "spec_hash", ["..", "/etc/passwd", "0123456789ab/../../x", "0123456789ab\n", "0123456789AB"]
)
def test_run_dir_takes_only_a_bare_hash(tmp_path: Path, spec_hash: str) -> None:
    with pytest.raises(ValueError, match="not a run identity"):
        job_dir(tmp_path, spec_hash)
