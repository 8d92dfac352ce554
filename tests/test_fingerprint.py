"""The code fingerprint: what it covers, that it is the same on every clone, and what it names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.store.fingerprint import (
    NO_FINGERPRINT_NOTE,
    NOT_SCIENCE,
    PACKAGE_ROOT,
    SCIENCE_SOURCES,
    check_code,
    current_fingerprint,
    source_fingerprint,
)


def copy_sources(dest: Path) -> Path:
    for name in SCIENCE_SOURCES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE_ROOT / name, dest / name)
    return dest


def test_every_module_of_the_science_packages_is_classified():
    # A new loader, model or training module must be fingerprinted, or listed with a reason
    # why it cannot change a number; otherwise results would not notice it changed.
    for name in SCIENCE_SOURCES:
        assert (PACKAGE_ROOT / name).is_file(), f"SCIENCE_SOURCES lists missing {name}"
    for package in ("data", "models", "train"):
        for path in sorted((PACKAGE_ROOT / package).glob("*.py")):
            name = path.relative_to(PACKAGE_ROOT).as_posix()
            assert name in SCIENCE_SOURCES or name in NOT_SCIENCE, f"{name} is not classified"
    assert not set(SCIENCE_SOURCES) & set(NOT_SCIENCE)


def test_fingerprint_is_the_same_for_a_copy_with_other_line_endings(tmp_path):
    copy = copy_sources(tmp_path / "pkg")
    path = copy / "models" / "heads.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert source_fingerprint(copy) == source_fingerprint(PACKAGE_ROOT) == current_fingerprint()


def test_an_edited_source_makes_a_result_stale_and_is_named(tmp_path):
    made_with = source_fingerprint(copy_sources(tmp_path / "old"))
    result = {"provenance": {"code": made_with}}
    assert check_code(result, source_fingerprint(PACKAGE_ROOT)).state == "current"
    new = copy_sources(tmp_path / "new")
    with open(new / "train" / "objectives.py", "a") as handle:
        handle.write("\n# a changed line\n")
    check = check_code(result, source_fingerprint(new))
    assert check.state == "stale"
    assert check.changed == ("train/objectives.py",)
    assert "train/objectives.py" in check.note


def test_a_result_without_fingerprint_is_unrecorded_not_stale():
    check = check_code({"provenance": {"git_commit": "abc"}})
    assert check.state == "unrecorded" and check.note == NO_FINGERPRINT_NOTE
    assert check_code({}).state == "unrecorded"


def test_committed_results_that_record_a_fingerprint_are_not_stale():
    # Future committed results (the mini profile rerun) must be made by the committed code.
    from benchmark.store.results import iter_result_files, read_result

    # The committed mini results predate fingerprints: they are "unrecorded" (docs/mini.md).
    root = PACKAGE_ROOT.parent / "results"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in iter_result_files(folder):
            loaded = read_result(path)
            assert loaded.problem is None, f"{path}: {loaded.problem}"
            check = check_code(loaded.data)
            assert check.state != "stale", f"{path}: {check.note}"


def test_computing_the_fingerprint_imports_no_torch():
    code = (
        "import sys; from benchmark.store.fingerprint import current_fingerprint; "
        "current_fingerprint(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_listed_file_that_is_missing_is_an_error(tmp_path):
    copy = copy_sources(tmp_path / "pkg")
    (copy / "models" / "heads.py").unlink()
    with pytest.raises(FileNotFoundError):
        source_fingerprint(copy)
