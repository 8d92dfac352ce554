"""The committed mini run: every runnable cell done, and its report complete.

Fails when a change alters a mini run's identity (its hash) without the results being rerun,
or when a result file was edited by hand (checksums), so the committed numbers always belong
to the code beside them.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.plan import PlanOptions, build_plan, cell_status
from benchmark.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results" / "mini"
REPORT = REPO / "reports" / "mini"


def test_committed_mini_results_cover_every_runnable_cell():
    registry = load_registry(REPO / "experiments")
    cells = [c for c in registry.select("all") if c.runnable]
    plan = build_plan(registry, cells, PlanOptions(profile="mini"))
    statuses = {c.id: cell_status(registry, c, plan, RESULTS) for c in cells}
    missing = {cid: s["status"] for cid, s in statuses.items() if s["status"] != "done"}
    assert len(cells) == 36 and not missing, missing


def test_committed_mini_report_has_every_table_section_and_figure():
    text = (REPORT / "report.md").read_text()
    for number in range(1, 7):
        assert f"## Table {number}:" in text
    assert "## Small and occluded objects" in text and "(pending) /" not in text
    figures = re.findall(r"\]\((figures/[^)]+\.png)\)", text)
    assert len(figures) >= 9  # the training curves are one grid per dataset
    assert all((REPORT / f).is_file() for f in figures)
