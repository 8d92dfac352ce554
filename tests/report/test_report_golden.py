"""Golden-file test: a fixed result store renders to the checked-in `golden/report.md`.

The store (tests/report/conftest.py) holds made-up numbers; the header's date and results
folder are frozen through `build_report(stamp=...)`, commit and device come from the fixture
provenance, so the markdown is byte-for-byte deterministic.

To update the golden file after an intended change, run
    UPDATE_GOLDEN=1 pytest tests/report/test_report_golden.py
and review the diff of tests/report/golden/report.md before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmark.report import render

GOLDEN = Path(__file__).parent / "golden" / "report.md"


def test_markdown_matches_golden_file(scenario):
    _, report = scenario
    text = render(report, "md")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), "golden file missing: run with UPDATE_GOLDEN=1 to create it"
    expected = GOLDEN.read_text(encoding="utf-8")
    assert text == expected, "report.md changed: rerun with UPDATE_GOLDEN=1 and review the diff"
