"""Fixtures for the fault-injection tests: one shared cache (synthetic trees and mask pools are
built once per session) and one uninterrupted reference run to compare interrupted ones with."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import CELL, EVAL_CELL, ONE_EPOCH, REPO, only

from benchmark.cli import main


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def workdir(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Results under tmp_path, the shared cache, the repository's registry."""
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
    monkeypatch.setenv("BENCHMARK_CACHE", str(shared_cache))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    """Results folder of `CELL` trained for one epoch without any fault, in this process."""
    folder = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
        mp.setenv("BENCHMARK_CACHE", str(shared_cache))
        assert main(["run", CELL, *ONE_EPOCH, "--results-dir", str(folder)]) == 0
    return folder


@pytest.fixture(scope="session")
def reference_eval(reference: Path, shared_cache: Path) -> dict:
    """The Table 6 evaluation of the reference checkpoint, uninterrupted."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
        mp.setenv("BENCHMARK_CACHE", str(shared_cache))
        assert main(["run", EVAL_CELL, *ONE_EPOCH, "--results-dir", str(reference)]) == 0
    return only(reference, "eval")
