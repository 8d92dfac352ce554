"""A result made by older code is `stale`: a plain run keeps it, `--rerun-stale` reruns it."""

import copy
import json

from test_run import _status

from benchmark.cli import main
from benchmark.store.fingerprint import current_fingerprint
from benchmark.store.results import atomic_write_json, checksum

CELL = "t4.resnet-cut-csra.voc2007"
RUN = ["run", CELL, "--profile", "smoke", "--no-progress", "--epochs", "1"]


def made_by_older_code(path, changed: str) -> None:
    """Rewrite a result as if ``changed`` differed when it was made (checksum kept valid)."""
    data = json.loads(path.read_text())
    old = copy.deepcopy(data["provenance"]["code"])
    old["files"][changed] = "0" * 16
    old["sha256"] = "0" * 64
    data["provenance"]["code"] = old
    data["checksum"] = checksum(data)
    atomic_write_json(path, data)


def test_stale_result_is_kept_by_a_plain_run_and_rerun_with_the_flag(workdir, capsys):
    assert main(RUN) == 0
    entry = _status(capsys, CELL, "--epochs", "1")[CELL]
    assert entry["status"] == "done" and entry["code"] is None
    path = workdir / "results" / "smoke" / entry["hashes"][0] / "result.json"
    assert json.loads(path.read_text())["provenance"]["code"] == current_fingerprint()

    made_by_older_code(path, "train/objectives.py")
    entry = _status(capsys, CELL, "--epochs", "1")[CELL]
    assert entry["status"] == "stale" and "train/objectives.py" in entry["code"]
    assert entry["metrics"] is not None  # the old numbers stay visible, marked
    capsys.readouterr()
    assert main(["status", CELL, "--profile", "smoke", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "train/objectives.py" in out
    # the hint is the command to type, with the folder, profile and epochs it needs
    rerun = f"`benchmark run {CELL} --rerun-stale --profile smoke --seeds 0 --results-dir"
    assert f"{rerun} results/smoke --epochs 1` reruns them" in out

    stamp = path.stat().st_mtime_ns
    assert main(RUN) == 0
    out = capsys.readouterr().out
    assert path.stat().st_mtime_ns == stamp and "1 done result(s) were made by other code" in out

    assert main([*RUN, "--rerun-stale"]) == 0
    out = capsys.readouterr().out
    assert "rerunning 1 stale result(s)" in out and "resuming" not in out
    rerun = json.loads(path.read_text())
    assert rerun["provenance"]["code"] == current_fingerprint()
    assert len(rerun["history"]) == 1  # trained from scratch, not resumed from the old run
    assert _status(capsys, CELL, "--epochs", "1")[CELL]["status"] == "done"
