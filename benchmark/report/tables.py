"""Tables 1–6 as tidy frames in the paper's layout: the paper's rows, columns and order.

A row of the paper may span several datasets (Tables 4–6 hold one cell per dataset for the same
row label), while the same label may also name two different rows (Table 2's two "+ MSL"), so
rows are numbered here, not keyed by their label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from benchmark.experiment.registry import Cell, Registry
from benchmark.report.document import DATASET_NAMES, TABLE_COLUMNS, TableData

NAN = float("nan")


def build_tables(
    registry: Registry, cells: list[Cell], statuses: dict[str, dict[str, Any]]
) -> list[TableData]:
    """One TableData per table that has at least one selected cell."""
    tables = []
    for number in sorted(registry.tables):
        chosen = [c for c in cells if c.table == number]
        if chosen:
            tables.append(_table(registry, number, chosen, statuses))
    return tables


def _table(
    registry: Registry, number: int, cells: list[Cell], statuses: dict[str, dict[str, Any]]
) -> TableData:
    tdef = registry.tables[number]
    records = []
    for cell, row in zip(cells, assign_rows(cells), strict=True):
        status = statuses[cell.id]
        for metric in tdef.metrics:
            records.append(_record(number, row, cell, metric, status))
    frame = pd.DataFrame.from_records(records, columns=list(TABLE_COLUMNS))
    return TableData(
        number=number,
        title=tdef.title,
        source=tdef.source,
        datasets=tdef.datasets,
        metrics=tdef.metrics,
        frame=frame,
        notes=_notes(registry, tdef.notes, cells),
        has_last=any(c.run is not None for c in cells),
    )


def assign_rows(cells: list[Cell]) -> list[int]:
    """The paper row of each cell: the latest row with its label still free on its dataset."""
    rows: list[tuple[str, set[str]]] = []
    assigned = []
    for cell in cells:
        for index in range(len(rows) - 1, -1, -1):
            label, datasets = rows[index]
            if label == cell.row and cell.dataset not in datasets:
                datasets.add(cell.dataset)
                assigned.append(index)
                break
        else:
            rows.append((cell.row, {cell.dataset}))
            assigned.append(len(rows) - 1)
    return assigned


def _record(number: int, row: int, cell: Cell, metric: str, status: dict[str, Any]) -> dict:
    def pick(key: str) -> float:
        values = status.get(key) or {}
        return float(values[metric]) if metric in values else NAN

    ours, paper = pick("metrics"), float(cell.paper.get(metric, NAN))
    return {
        "table": number,
        "row": row,
        "label": cell.row,
        "cited": not cell.runnable,
        "cell": cell.id,
        "dataset": cell.dataset,
        "metric": metric,
        "column": f"{cell.dataset}/{metric}",
        "status": status["status"],
        "ours": ours,
        "paper": paper,
        "delta": ours - paper,
        "std": pick("std"),
        "last": pick("last"),
        "seeds": status.get("seeds") or len(status.get("hashes") or ()),
        "reason": status.get("reason") or "",
    }


def _notes(registry: Registry, table_notes: tuple[str, ...], cells: list[Cell]) -> tuple[str, ...]:
    """The table's notes, then each distinct row or run note once, with the rows it concerns."""
    rows_by_note: dict[str, list[str]] = {}
    for cell in cells:
        run = cell.run
        if cell.evaluation is not None:
            run = registry.evaluations[cell.evaluation]["run"]
        notes = list(registry.runs[run]["notes"]) if run is not None else []
        if not cell.runnable:
            notes.insert(0, f"{cell.source}.")
        for note in (*cell.notes, *notes):
            labels = rows_by_note.setdefault(" ".join(str(note).split()), [])
            if cell.row not in labels:
                labels.append(cell.row)
    grouped = [f"{', '.join(labels)}: {note}" for note, labels in rows_by_note.items()]
    return tuple(dict.fromkeys([*table_notes, *grouped]))


def header_label(dataset: str, metric: str, multi: bool) -> str:
    return f"{DATASET_NAMES.get(dataset, dataset)} {metric}" if multi else metric


def wide(
    table: TableData,
    text: Callable[[pd.Series | None], str],
    cited: bool = True,
    extra: bool = False,
) -> list[tuple[str, bool, list[str]]]:
    """(label, cited, one text per column) per paper row; ``text(None)`` for an empty slot.
    With ``extra``, each row's second lines (``TableData.extra_rows``) follow it."""
    by_slot = {(r.row, r.dataset, r.metric): r for _, r in table.frame.iterrows()}
    rows = []
    for row, label, is_cited in table.labels:
        if is_cited and not cited:
            continue
        texts = [text(by_slot.get((row, d, m))) for d, m in table.columns]
        rows.append((label, is_cited, texts))
        if extra:
            rows.extend(
                (line, False, line_texts) for line, line_texts in table.extra_rows.get(row, [])
            )
    return rows
