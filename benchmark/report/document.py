"""What a report is, as data: tables, figures and appendices, before any formatting.

Kept apart from rendering so other tools (and tests) can read the numbers without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# The tidy columns of a table frame: one row per (cell, metric).
TABLE_COLUMNS = (
    "table", "row", "label", "cited", "cell", "dataset", "metric", "column", "status",
    "ours", "paper", "delta", "std", "last", "seeds", "reason",
)  # fmt: skip
DATASET_NAMES = {"voc2007": "VOC2007", "coco2014": "MS-COCO", "wider": "WIDER-Attribute"}


@dataclass(frozen=True)
class Header:
    """Where the numbers come from; every field is a display string so it can be frozen."""

    profile: str
    seeds: str
    generated: str
    commit: str
    device: str
    created: str
    results: str
    cells: str
    report_commit: str = "—"  # the checkout that rendered the report
    code: str = "—"  # how the results' code fingerprints compare with this checkout's
    precision: str = "—"  # what the results are identified by, and how they computed
    scope: str = "Tables 1–6"  # what the report covers: all tables, one, or a selection
    own: str = ""  # the user's own checkpoint files evaluated into the folder, when any

    @property
    def title(self) -> str:
        return f"MSL reproduction report: {self.scope} beside the paper"

    @property
    def commit_text(self) -> str:
        """Both commits: the one that made the numbers and the one that rendered this page."""
        return f"results made at {self.commit}; report rendered at {self.report_commit}"

    @property
    def synthetic(self) -> bool:
        return self.profile != "paper"

    def items(self) -> tuple[tuple[str, str], ...]:
        """(label, value) pairs in display order, shared by every renderer."""
        return (
            ("Profile", self.profile),
            ("Precision", self.precision),
            ("Seeds", self.seeds),
            ("Commit", self.commit_text),
            ("Device", self.device),
            ("Results created", self.created),
            ("Report generated", self.generated),
            ("Results folder", self.results),
            ("Cells", self.cells),
            ("Code", self.code),
            *((("Your checkpoints", self.own),) if self.own else ()),
        )


@dataclass
class TableData:
    """One paper table: its definition and a tidy frame of (cell, metric) rows."""

    number: int
    title: str
    source: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()
    has_last: bool = True  # False for evaluation tables: they score the best checkpoint only
    remarks: tuple[str, ...] = ()  # floors (synthetic data) and selection honesty, under it
    # paper row → second lines under it: (label, one text per column), e.g. a published file's
    # measured values (report/published_section.py)
    extra_rows: dict[int, list[tuple[str, list[str]]]] = field(default_factory=dict)

    @property
    def labels(self) -> list[tuple[int, str, bool]]:
        """(row index, paper label, cited) in the paper's order."""
        rows = self.frame.drop_duplicates("row").sort_values("row")
        return [(int(r.row), str(r.label), bool(r.cited)) for r in rows.itertuples()]

    @property
    def columns(self) -> list[tuple[str, str]]:
        """(dataset, metric) in the paper's order: one group per dataset."""
        return [(d, m) for d in self.datasets for m in self.metrics]


@dataclass
class Figure:
    """A PNG in memory, or the reason it could not be drawn."""

    name: str  # file stem under figures/
    section: str
    title: str
    caption: str = ""
    png: bytes | None = None
    note: str | None = None  # why the figure was skipped

    @property
    def path(self) -> str:
        return f"figures/{self.name}.png"


@dataclass
class Report:
    header: Header
    tables: list[TableData]
    figures: list[Figure] = field(default_factory=list)
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    throughput: pd.DataFrame = field(default_factory=pd.DataFrame)
    subsets: pd.DataFrame = field(default_factory=pd.DataFrame)  # small/occluded breakdown
    # benchmark.claims.measurement.ClaimResult, one per claim
    claims: list = field(default_factory=list)
    claims_rule: str = ""
    forest: Figure | None = None  # the claims' intervals, drawn in the Claims section
    # what the profile's regime can test: report.regime_section.Regime, when the profile has a rule
    regime: Any = None
    selection_note: str = ""  # the paper schedule's learning rate after epoch ~20
    # report.published_section.ReleasedSection, when the registry lists releases
    released: Any = None
    # the user's own checkpoint files evaluated into the folder, one row each
    # (report.own_checkpoints_section)
    own_checkpoints: list[list[str]] = field(default_factory=list)

    def table(self, number: int) -> TableData:
        return next(t for t in self.tables if t.number == number)
