"""No traceback for any path that is a file, read-only, or missing, in any verb (issue 24,
item 8): every path flag of every verb given a regular file, a read-only folder and a missing
path either works (a read-only folder to read from, a missing folder to create) or stops with
one line naming the flag or the path, exit 2, and writes nothing there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark.cli import main

REPO = Path(__file__).resolve().parents[2]
MINI = REPO / "results" / "mini"
SMOKE = ["--profile", "smoke"]
OK, ERROR = 0, 2

# (argv with {p} for the path, expected exit per kind: file, read_only, missing)
CASES = {
    "list --results-dir": (["list", "all", *SMOKE, "--results-dir", "{p}"], (ERROR, OK, OK)),
    "list --experiments": (["list", "all", *SMOKE, "--experiments", "{p}"], (ERROR,) * 3),
    "list --masks-root": (["list", "all", *SMOKE, "--masks-root", "{p}"], (ERROR, OK, ERROR)),
    "status --results-dir": (["status", "all", *SMOKE, "--results-dir", "{p}"], (ERROR, OK, OK)),
    "check --results-dir": (["check", *SMOKE, "--results-dir", "{p}"], (ERROR, OK, OK)),
    "claims --results-dir": (["claims", "t6.*", *SMOKE, "--results-dir", "{p}"], (ERROR, OK, OK)),
    "report --results-dir": (
        ["report", "all", *SMOKE, "--results-dir", "{p}", "--no-figures", "--out", "{out}"],
        (ERROR,) * 3,  # nothing to report in any of them
    ),
    "report --out": (
        ["report", "table6", "--profile", "mini", "--results-dir", str(MINI), "--no-figures",
         "--out", "{p}"],
        (ERROR, ERROR, OK),
    ),
    "report --cache-dir": (
        ["report", "table6", "--profile", "mini", "--results-dir", str(MINI), "--out", "{out}",
         "--cache-dir", "{p}"],
        (ERROR, ERROR, None),  # missing: draws the figures, a slow and ordinary report
    ),
    "compare --results-dir": (
        ["compare", "t6.*", "--profile", "mini", "--against", str(MINI), "--results-dir", "{p}"],
        (ERROR, ERROR, ERROR),  # nothing to compare in any of them
    ),
    "compare --against": (
        ["compare", "t6.*", "--profile", "mini", "--results-dir", str(MINI), "--against", "{p}"],
        (ERROR,) * 3,
    ),
    "run --results-dir": (["run", "t4.*", *SMOKE, "--dry-run", "--results-dir", "{p}"],
                          (ERROR, OK, OK)),
    "run --results-dir (training)": (
        ["run", "t4.resnet-cut-csra.voc2007", *SMOKE, "--epochs", "1", "--no-progress",
         "--results-dir", "{p}"],
        (ERROR, ERROR, None),  # missing: trains, an ordinary run
    ),
    "run --cache-dir": (
        ["run", "t4.resnet-cut-csra.voc2007", *SMOKE, "--results-dir", "{out}", "--cache-dir",
         "{p}"],
        (ERROR, ERROR, None),
    ),
    "run --data-root": (["run", "t4.*", *SMOKE, "--dry-run", "--data-root", "{p}"],
                        (ERROR, OK, ERROR)),
    "run --weights-root": (["run", "t4.*", *SMOKE, "--dry-run", "--weights-root", "{p}"],
                           (ERROR, OK, ERROR)),
    "run --masks-root": (["run", "t4.*", *SMOKE, "--dry-run", "--masks-root", "{p}"],
                         (ERROR, OK, ERROR)),
    "evaluate --checkpoint": (
        ["evaluate", *SMOKE, "--checkpoint", "{p}", "--like", "voc-resnetcut-csra", "--dry-run"],
        (ERROR,) * 3,  # a text file, a folder, nothing: none is a checkpoint
    ),
    "evaluate --weights-root": (["evaluate", "released", *SMOKE, "--weights-root", "{p}"],
                                (ERROR,) * 3),  # no published file in any of them
    "score --scores": (["score", "--scores", "{p}", "--targets", "{out}/t.npy"], (ERROR,) * 3),
    "data stats --root": (["data", "stats", "voc2007", "--root", "{p}", "--split", "test"],
                          (ERROR,) * 3),
    "data stats --cache-dir": (
        ["data", "stats", "voc2007", "--root", "{out}", "--split", "test", "--cache-dir", "{p}"],
        (ERROR, ERROR, None),  # missing: a cache to create (this --root holds no VOC tree)
    ),
    "data verify --root": (["data", "verify", "voc2007", "--root", "{p}"], (1, 1, 1)),
    "data masks --source": (["data", "masks", "--source", "{p}", "--pool", "high"], (ERROR,) * 3),
    "data masks --gallery": (
        ["data", "masks", "--source", "procedural", "--pool", "high", "--size", "32",
         "--cache-dir", "{out}", "--gallery", "{p}/g.png"],
        (ERROR, ERROR, OK),
    ),
    "data synth --out": (["data", "synth", "voc2007", "--out", "{p}", "--images", "2", "--size",
                          "32"], (ERROR, ERROR, OK)),
    "perf --cache-dir": (["perf", "--cache-dir", "{p}", "--device", "cpu"], (ERROR, ERROR, None)),
    "pretrain --out": (["pretrain", "--profile", "mini", "--out", "{p}", "--backbones", "none"],
                       (ERROR, ERROR, None)),  # missing: refused for --backbones instead
    "pretrain --cache-dir": (["pretrain", "--profile", "mini", "--out", "{out}", "--cache-dir",
                              "{p}"], (ERROR, ERROR, None)),
}  # fmt: skip
KINDS = ("file", "read_only", "missing")
# Folders a verb writes in: checked before any work (a probe file made and removed), so the
# error names the flag rather than a file deep inside a half-done write.
WRITTEN = {"report --out", "report --cache-dir", "run --cache-dir", "data stats --cache-dir",
           "data masks --gallery", "data synth --out", "perf --cache-dir", "pretrain --out",
           "pretrain --cache-dir", "run --results-dir (training)"}  # fmt: skip


@pytest.fixture
def read_only(tmp_path: Path):
    """A folder no file can be created in, whoever runs the test: its mode is 0555 and, for
    root (whom modes do not stop), it is also marked immutable (chattr +i)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    marked = False
    if os.access(folder, os.W_OK) or os.geteuid() == 0:
        marked = (
            shutil.which("chattr") is not None
            and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
        )
        if not marked:
            folder.chmod(0o755)
            pytest.skip("no way to make a folder read-only for this user here")
    yield folder
    if marked:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_path_is_one_line_or_works(case, kind, tmp_path, request, capsys, monkeypatch):
    argv, codes = CASES[case]
    expected = codes[KINDS.index(kind)]
    if expected is None:
        pytest.skip("an ordinary run of the verb, tested elsewhere")
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
    monkeypatch.delenv("BENCHMARK_WEIGHTS", raising=False)
    monkeypatch.delenv("BENCHMARK_MASKS", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "elsewhere"
    out.mkdir()
    if kind == "file":
        path = tmp_path / "a-file.txt"
        path.write_text("not a folder, not a checkpoint\n")
    elif kind == "read_only":
        path = request.getfixturevalue("read_only")
    else:
        path = tmp_path / "missing" / "here"
    before = sorted(p.name for p in path.iterdir()) if path.is_dir() else None
    code = main([a.replace("{p}", str(path)).replace("{out}", str(out)) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert code == expected, captured.err[-2000:]
    if code == ERROR:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("benchmark: error: "), captured.err
        flag = case.split()[-1] if case.split()[-1].startswith("--") else case.split()[1]
        assert flag in lines[0] or str(path) in lines[0], lines[0]
        if case in WRITTEN and kind != "missing":
            assert f"{flag} {path}" in lines[0] or f"results folder {path}" in lines[0], lines[0]
    if before is not None:  # nothing written into the folder
        assert sorted(p.name for p in path.iterdir()) == before


def test_an_os_error_on_a_path_that_slips_past_the_checks_is_one_line(monkeypatch, capsys):
    """A folder that turns read-only mid-way (after the checks at the edge): one line naming the
    file, exit 2; an operating-system error not about a path is a bug and shown in full."""
    import benchmark.cli.list as list_verb

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/results/abc/result.json")

    monkeypatch.setattr(list_verb, "cell_statuses", denied)
    assert main(["list", "t6.*", *SMOKE]) == ERROR
    assert capsys.readouterr().err == (
        "benchmark: error: /results/abc/result.json: Permission denied\n"
    )

    def broken(*args, **kwargs):
        raise OSError("no path in this one")

    monkeypatch.setattr(list_verb, "cell_statuses", broken)
    with pytest.raises(OSError, match="no path in this one"):
        main(["list", "t6.*", *SMOKE])
