"""The report as a pure function of the registry and the result files: it never trains.

`build_report` gathers everything a renderer needs — tables, figures, failures, throughput —
so every output format shows the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import yaml

from benchmark.experiment.file_evaluations import FileEvaluation, file_evaluations
from benchmark.experiment.plan import PlanOptions, build_plan, cell_statuses
from benchmark.experiment.registry import Cell, Registry
from benchmark.experiment.releases import RELEASES_FILE, load_releases
from benchmark.report import own_checkpoints_section as own
from benchmark.report.claims_section import report_claims, rule_text
from benchmark.report.collect import ResultIndex, failures, header_fields, subsets, throughput
from benchmark.report.document import DATASET_NAMES, Figure, Header, Report, TableData
from benchmark.report.figures import build_figures, draw
from benchmark.report.forest import forest_figure
from benchmark.report.honesty import schedule_note, table_honesty
from benchmark.report.published_section import ReleasedSection, attach_cell_lines, build_released
from benchmark.report.regime_section import profile_regime, select
from benchmark.report.tables import build_tables
from benchmark.report.wording import fmt

STATUS_ORDER = (
    "done",
    "stale",
    "damaged",
    "pending",
    "failed",
    "cited",
)  # the report reads result files only


def build_report(
    registry: Registry,
    results_dir: str | Path,
    options: PlanOptions,
    *,
    selector: str = "all",
    stamp: Mapping[str, str] | None = None,
    figures: bool = True,
    cache_dir: Path | None = None,
) -> Report:
    """Tables 1–6 (or the ``selector``'s cells) beside the paper's values, with figures and
    appendices. A report on a subset shows only what concerns its cells.

    ``stamp`` overrides header fields (``generated``, ``commit``, ``device``, ``created``,
    ``results``) so a report can be reproduced byte for byte; ``cache_dir`` is where mask pools
    are cached (the runner's ``<cache>/masks``).
    """
    results_dir = Path(results_dir)
    cells = registry.select(selector)
    subset = None if selector == "all" else {c.id for c in cells}  # None: everything
    plan = build_plan(registry, cells, options)
    # the trainings and evaluations it reads
    runs = {spec.name for spec in [*plan.runs.values(), *plan.evals.values()]}
    found = cell_statuses(cells, plan, results_dir, thorough=True)
    statuses = {c.id: entry for c, entry in zip(cells, found, strict=True)}
    index = ResultIndex(results_dir, plan)
    tables = [_with_remarks(t, cells, plan, index) for t in build_tables(registry, cells, statuses)]
    claims = report_claims(registry, cells, selector, results_dir, options)
    # the files evaluated at the report's precision: a bf16 score never stands in for a tf32 one
    evaluations = file_evaluations(results_dir, options.profile, options.precision)
    released = _released(registry, evaluations, options.profile, figures, subset)
    if released is not None:
        attach_cell_lines(tables, released)
    yours = own.own_evaluations(evaluations, None if subset is None else runs)
    regime = profile_regime(registry, results_dir, options)
    if regime is not None and subset is not None:
        regime = select(regime, subset | runs | {c.dataset for c in cells})
    counts = Counter(s["status"] for s in statuses.values())
    header = Header(
        profile=options.profile,
        seeds=", ".join(str(s) for s in options.seeds),
        results=str(results_dir),
        cells=", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts[s])
        + f" (of {len(cells)})",
        scope=scope(registry, selector, cells),
        own=f"{len(yours)} file(s) evaluated (section {own.SECTION})" if yours else "",
        **header_fields(index),
    )
    if stamp:
        header = dataclasses.replace(header, **stamp)
    drawn = build_figures(cells, plan, index, tables, options, cache_dir) if figures else []
    if released is not None:
        drawn += released.figures
    return Report(
        header=header,
        tables=tables,
        figures=drawn,
        # a subset's report leaves out the results of the registry's other runs
        failures=failures(index, set() if subset is None else _others(registry, runs)),
        throughput=throughput(index),
        subsets=subsets(index),
        released=released,
        claims=claims,
        claims_rule=rule_text(claims),
        regime=regime,
        # drawn once some claim is measured; until then the pending line says why not
        forest=_forest(claims) if figures and any(c.status == "measured" for c in claims) else None,
        selection_note=_schedule(registry),
        own_checkpoints=own.rows(registry, yours),
    )


def scope(registry: Registry, selector: str, cells: list[Cell]) -> str:
    """What a report covers, for its title: "Tables 1–6", "Table 6", or a selection."""
    if selector == "all":
        return "Tables 1–6"
    numbers = sorted({c.table for c in cells})
    names = [str(n) for n in numbers]
    tables = (
        f"Table {names[0]}"
        if len(names) == 1
        else f"Tables {', '.join(names[:-1])} and {names[-1]}"
    )
    whole = {c.id for c in registry.cells if c.table in numbers} == {c.id for c in cells}
    return tables if whole else f"{tables}, the cells {selector}"


def _others(registry: Registry, runs: set[str]) -> set[str]:
    """The registry's trainings and evaluations that a report on ``runs`` does not read."""
    return (set(registry.runs) | set(registry.evaluations)) - runs


def _forest(claims) -> Figure:
    figure = Figure(
        "claims-forest",
        "Claims",
        "The paper's claims: our 95 % intervals",
        "One row per measured claim: our 95 % interval of a − b (line; green supported, red "
        "contradicted, grey inconclusive, orange one seed (image noise only), pale dashed not "
        "testable under the profile's regime or recipe rule), the "
        "mean over seeds (dot) and the paper's claimed difference (x).",
    )
    return draw(figure, lambda: forest_figure(claims))


def _schedule(registry: Registry) -> str:
    """The paper recipe's learning rate per dataset, from the registry (docs/spec.md §1.8)."""
    raw = yaml.safe_load((Path(registry.root) / "runs.yaml").read_text())
    epochs: dict[str, int] = {}
    for run in registry.runs.values():
        epochs[run["dataset"]] = max(epochs.get(run["dataset"], 0), run["epochs"])
    return schedule_note(raw["recipe"], raw["datasets"], epochs)


def _with_remarks(table: TableData, cells, plan, index: ResultIndex) -> TableData:
    """Under each table: the synthetic floors of its datasets, and its selection honesty."""
    remarks = []
    for dataset in table.datasets:
        floors = next(
            (
                data["floors"]
                for spec in plan.runs.values()
                if spec.dataset == dataset
                for data in [index.done(spec.hash)]
                if data and data.get("floors")
            ),
            None,
        )
        if floors:
            remarks.append(
                f"Floors on this profile's {DATASET_NAMES.get(dataset, dataset)} test set: "
                f"chance-level mAP {fmt(floors['chance_mAP'])} (random scorer), context-only "
                f"mAP {fmt(floors['context_mAP'])} (each class scored by its training rate in "
                f"the image's scene group)."
            )
    trained = [
        (spec.to_dict(), data)
        for cell in cells
        if cell.table == table.number and cell.run is not None
        for spec_hash in plan.cell_hashes.get(cell.id, [])
        for spec in [plan.runs[spec_hash]]
        for data in [index.done(spec_hash)]
        if data is not None
    ]
    if table.has_last and trained:
        remarks.append(table_honesty(trained).text())
    return dataclasses.replace(table, remarks=tuple(remarks))


def _released(
    registry: Registry,
    evaluations: list[FileEvaluation],
    profile: str,
    figures: bool,
    cells: set[str] | None,
) -> ReleasedSection | None:
    """The published checkpoints' section, when the registry lists releases (and, for a
    subset, one of them speaks to its cells)."""
    if not (Path(registry.root) / RELEASES_FILE).is_file():
        return None
    releases = load_releases(registry)
    section = build_released(registry, releases, evaluations, profile, figures, cells)
    return section if not section.summary.empty else None
