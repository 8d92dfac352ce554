"""`--help` renders for every parser, the top level included, as `benchmark` and as
`python -m benchmark`; `--version` prints the one version the package declares (issue 24,
items 1 and 10)."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import benchmark
from benchmark.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every parser under ``parser`` (verbs, and `data`'s sub-verbs), with its words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


PARSERS = list(_parsers(build_parser()))


def test_every_verb_and_sub_verb_is_reached():
    words = {" ".join(path) for path, _ in PARSERS}
    assert {"", "list", "claims", "run", "evaluate", "data", "data synth", "perf"} <= words


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) or "top" for p, _ in PARSERS])
def test_every_help_renders(path, parser):
    text = parser.format_help()  # argparse %-formats every help string here
    assert text.startswith(f"usage: benchmark{''.join(' ' + w for w in path)}")


@pytest.mark.parametrize("command", [["benchmark"], [sys.executable, "-m", "benchmark"]])
def test_top_level_help_as_typed(command, tmp_path):
    if command == ["benchmark"]:
        command = [str(Path(sys.executable).with_name("benchmark"))]
        if not Path(command[0]).exists():
            pytest.skip("the console script is not installed in this environment")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [*command, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-2000:]
    assert "claims" in proc.stdout and "95 % intervals" in proc.stdout


def test_version_is_the_packages_one(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"benchmark {benchmark.__version__}\n"


def test_the_version_is_written_once():
    """pyproject reads it from benchmark.__version__ (no second copy to drift)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    installed = importlib.metadata.version("msl-benchmark")
    assert installed == benchmark.__version__
