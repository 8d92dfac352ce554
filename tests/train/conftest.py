import os
from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Results and caches in a temp folder; the registry from the repository."""
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(repo / "experiments"))
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli_env(tmp_path: Path) -> dict[str, str]:
    repo = Path(__file__).resolve().parents[2]
    return {
        **os.environ,
        "BENCHMARK_EXPERIMENTS": str(repo / "experiments"),
        "BENCHMARK_CACHE": str(tmp_path / "cache"),
        "PYTHONUNBUFFERED": "1",
    }
