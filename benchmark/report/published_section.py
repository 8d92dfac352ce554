"""The report's "Published checkpoints" section, as data: each published file's measured values
beside its publisher's, Table 6 rebuilt from the released MSL-C and CSRA ResNet-cut files with
their robustness curves, and the lines that go under the table cells a release speaks to.

Like the rest of the report, a pure function of the registry and the result files: release
evaluations are found in the results folder by their release id (``benchmark evaluate``
stores them like any evaluation, keyed by the file's sha256 and the evaluation config).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchmark.experiment.file_evaluations import (
    FileEvaluation,
    condition_values,
    mean_std,
)
from benchmark.experiment.registry import Registry
from benchmark.experiment.releases import Release, Releases, Target, target_run
from benchmark.report.document import DATASET_NAMES, Figure
from benchmark.report.figures import draw  # the report's one way to draw or note a skip
from benchmark.report.plots import Curve, robustness_figure
from benchmark.report.wording import DASH, MISSING, fmt, fmt_diff, fmt_mean_std, is_number
from benchmark.spec import split_condition

SECTION = "Published checkpoints"
SUMMARY_COLUMNS = (
    "release", "file", "publisher", "dataset", "architecture", "status", "reported", "measured",
    "delta", "high", "high_std", "note",
)  # fmt: skip
TABLE6_COLUMNS = ("row", "release", "file", "dataset", "metric", "paper", "measured", "std")
NOTE = (
    "Each published file the suite evaluated, on the test set of the dataset it was trained "
    "for: the publisher's reported mAP beside the measured one (clean test images), and the "
    "mAP under the paper's Table 6 masking (one high-pool mask per test image; mean ± std over "
    "mask seeds when several were drawn)."
)
TABLE6_NOTE = (
    "Table 6 rebuilt from published files: the paper's MSL-C (msl_c_voc.pth, msl_c_coco.pth) "
    "and, for the baseline, CSRA's published ResNet-cut files. The paper's own baseline "
    "(trained at batch 6) is not published; CSRA's files, trained at batch 64, stand in for it."
)
NONE_EVALUATED = (
    "No published checkpoint has been evaluated into this results folder at the report's "
    "precision (header): "
    "`benchmark evaluate released --weights-root DIR` scores the files present in DIR "
    "(README: Check the paper from the published weights)."
)
TABLE6_TITLE = "Table 6 rebuilt from published files"
CELL_MARK = "published"  # how a release's line under a table cell is marked


@dataclass
class ReleasedSection:
    summary: pd.DataFrame
    table6: pd.DataFrame
    # cell id → [(row label, metric → (measured, std))]: second lines under table cells
    cell_lines: dict[str, list[tuple[str, dict[str, tuple[float, float | None]]]]]
    figures: list[Figure] = field(default_factory=list)
    notes: tuple[str, ...] = ()

    @property
    def evaluated(self) -> bool:
        """Whether any published file has a result (measured or failed) in the folder."""
        return bool(self.summary["status"].isin(("measured", "failed")).any())


def release_results(releases: Releases, evaluations: list[FileEvaluation]) -> dict[str, dict]:
    """The newest result of each release among the folder's file evaluations (a finished one
    over a failed one)."""
    chosen: dict[str, FileEvaluation] = {}
    for found in evaluations:
        if found.name not in releases.releases:
            continue
        current = chosen.get(found.name)
        if current is None or (found.done, found.created) > (current.done, current.created):
            chosen[found.name] = found
    return {name: {**found.data, "_done": found.done} for name, found in chosen.items()}


def _target(registry: Registry, release: Release, result: dict, profile: str) -> Target:
    """The architecture the evaluated file turned out to be: the candidate whose backbone the
    evaluation built (the first candidate when several share it)."""
    backbone = result["spec"]["run"]["backbone"]
    for target in release.targets:
        if target_run(registry, release.id, target, profile).backbone == backbone:
            return target
    return release.targets[0]


def build_released(
    registry: Registry,
    releases: Releases,
    evaluations: list[FileEvaluation],
    profile: str,
    figures: bool = True,
    cells: set[str] | None = None,
) -> ReleasedSection:
    """The section from the folder's file evaluations (experiment.file_evaluations); with
    ``cells``, only the releases that speak to one of them (a report on a subset)."""
    results = release_results(releases, evaluations)
    summary, cell_lines = [], {}
    for release in releases.releases.values():
        if cells is not None and not cells & {c for t in release.targets for c in t.cells}:
            continue
        result = results.get(release.id)
        target = _target(registry, release, result, profile) if result else None
        candidates = " or ".join(t.manifest for t in release.targets)
        row: dict[str, Any] = {
            "release": release.id,
            "file": release.file,
            "publisher": release.publisher,
            "dataset": DATASET_NAMES.get(release.dataset, release.dataset or "—"),
            "architecture": target.manifest if target else candidates or "unmapped",
            "reported": release.reported.get("mAP"),
            "measured": None,
            "delta": None,
            "high": None,
            "high_std": None,
            "note": release.stand_in or "",
        }
        if release.unmapped:
            row.update(status="unmapped", note=release.unmapped)
        elif result is None:
            row["status"] = "not evaluated"
        elif not result["_done"]:
            row.update(status="failed", note=str(result.get("error") or "failed"))
        else:
            values = condition_values(result)
            clean = values.get("clean", {}).get("mAP")
            high = values.get("high", {}).get("mAP")
            row["status"] = "measured"
            if clean:
                row["measured"] = clean[0]
                if row["reported"] is not None:
                    row["delta"] = clean[0] - row["reported"]
            if high:
                row["high"], row["high_std"] = mean_std(high)
            for cell_id in target.cells:
                cell = registry.cell(cell_id)
                condition = cell.condition or "clean"
                metrics = {
                    m: mean_std(values[condition][m])
                    for m in cell.paper
                    if m in values.get(condition, {})
                }
                label = f"{CELL_MARK} {release.file}" + (", stand-in" if release.stand_in else "")
                cell_lines.setdefault(cell_id, []).append((label, metrics))
        summary.append(row)
    table6, curves = _table6(registry, releases, results, cells)
    notes = tuple(dict.fromkeys(r.stand_in for r in releases.releases.values() if r.stand_in))
    return ReleasedSection(
        summary=pd.DataFrame(summary, columns=list(SUMMARY_COLUMNS)),
        table6=table6,
        cell_lines=cell_lines,
        figures=[_curve_figure(d, lines) for d, lines in curves.items()] if figures else [],
        notes=notes,
    )


def _table6(
    registry: Registry, releases: Releases, results: dict[str, dict], cells: set[str] | None
):
    """Table 6's rows measured on published files, and their robustness curves per dataset."""
    rows, curves = [], {}
    for cell in registry.select("table6"):
        if cells is not None and cell.id not in cells:
            continue
        for release, _ in releases.speaking_to(cell.id):
            result = results.get(release.id)
            done = result is not None and result["_done"]
            values = condition_values(result) if done else {}
            for metric, paper in cell.paper.items():
                measured = values.get(cell.condition or "high", {}).get(metric)
                mean, std = mean_std(measured) if measured else (None, None)
                rows.append(
                    {
                        "row": cell.row,
                        "release": release.id,
                        "file": release.file + (" (stand-in)" if release.stand_in else ""),
                        "dataset": cell.dataset,
                        "metric": metric,
                        "paper": paper,
                        "measured": mean,
                        "std": std,
                    }
                )
            if done:
                points = {
                    condition: (
                        _hole_ratio(result, condition),
                        {m: statistics.fmean(v) for m, v in metrics.items()},
                    )
                    for condition, metrics in values.items()
                }
                label = f"{cell.row}: {release.file}"
                curves.setdefault(cell.dataset, []).append(Curve(label, points, dict(cell.paper)))
    return pd.DataFrame(rows, columns=list(TABLE6_COLUMNS)), curves


def _hole_ratio(result: dict, base: str) -> float:
    ratios = [
        float(row["hole_ratio"])
        for row in result.get("rows", ())
        if row["metric"] == "mAP" and split_condition(row["condition"])[0] == base
    ]
    return statistics.fmean(ratios) if ratios else 0.0


def _curve_figure(dataset: str, curves: list[Curve]) -> Figure:
    name = DATASET_NAMES.get(dataset, dataset)
    figure = Figure(
        f"released-robustness-{dataset}",
        SECTION,
        f"{name}: published MSL-C and CSRA ResNet-cut files under test-time masking",
        "Lines: clean, then the six hole-ratio buckets, measured on the published files. "
        "Diamonds: the high pool (Table 6's setting). Stars: the paper's Table 6, whose baseline "
        "is the authors' unpublished batch-6 model, not CSRA's file.",
    )
    return draw(figure, lambda: robustness_figure(dataset, curves))


def attach_cell_lines(tables, section: ReleasedSection) -> None:
    """Under each table row a release speaks to, a second line with its measured values (in
    the columns of the cells it speaks to), marked with the file it comes from."""
    for table in tables:
        columns = table.columns
        lines: dict[int, dict[str, list[str]]] = {}
        for r in table.frame.itertuples():
            for label, metrics in section.cell_lines.get(r.cell, ()):
                if r.metric not in metrics:
                    continue
                texts = lines.setdefault(r.row, {}).setdefault(label, [MISSING] * len(columns))
                measured, std = metrics[r.metric]
                texts[columns.index((r.dataset, r.metric))] = released_text(measured, std, r.paper)
        table.extra_rows = {
            row: [(f"↳ {label}", texts) for label, texts in by_label.items()]
            for row, by_label in lines.items()
        }


def released_text(measured: float, std: float | None, paper: float | None) -> str:
    """A published file's value under a paper cell: measured / paper (measured − paper)."""
    return f"{fmt_mean_std(measured, std)} / {fmt(paper)} ({fmt_diff(measured, paper)})"


SUMMARY_HEADERS = (
    "Release", "File", "Publisher", "Dataset", "Architecture", "Status", "Reported mAP",
    "Measured mAP", "Measured − reported", "Table 6 setting mAP", "Note",
)  # fmt: skip
TABLE6_HEADERS = ("Row", "Dataset", "Metric", "File", "Paper", "Measured", "Measured − paper")


def summary_rows(section: ReleasedSection) -> list[list[str]]:
    return [
        [
            r.release,
            r.file,
            r.publisher,
            r.dataset,
            r.architecture,
            r.status,
            fmt(r.reported),
            fmt(r.measured) if is_number(r.measured) else DASH,
            fmt_diff(r.measured, r.reported) if is_number(r.measured) else DASH,
            fmt_mean_std(r.high, r.high_std) if is_number(r.high) else DASH,
            r.note,
        ]
        for r in section.summary.itertuples()
    ]


def table6_rows(section: ReleasedSection) -> list[list[str]]:
    return [
        [
            r.row,
            DATASET_NAMES.get(r.dataset, r.dataset),
            r.metric,
            r.file,
            fmt(r.paper),
            fmt_mean_std(r.measured, r.std) if is_number(r.measured) else f"{DASH} (not evaluated)",
            fmt_diff(r.measured, r.paper) if is_number(r.measured) else DASH,
        ]
        for r in section.table6.itertuples()
    ]
