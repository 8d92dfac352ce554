"""Shared fixtures of the report tests (the store itself is built in report_fixtures.py)."""

from __future__ import annotations

import pytest
from report_fixtures import EXPERIMENTS, STAMP, fake_load_pool, write_scenario

from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.registry import load_registry


@pytest.fixture(scope="session")
def registry():
    return load_registry(EXPERIMENTS)


@pytest.fixture(scope="session")
def scenario(registry, tmp_path_factory):
    """A results folder with the scenario above and the report built from it (fake masks)."""
    from benchmark.report import build_report

    root = tmp_path_factory.mktemp("scenario")
    write_scenario(registry, root / "results", root / "images")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("benchmark.report.images.load_pool", fake_load_pool)
        mp.delenv("BENCHMARK_MASKS", raising=False)
        report = build_report(registry, root / "results", PlanOptions("smoke"), stamp=STAMP)
    return root, report
