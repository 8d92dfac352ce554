"""The report as a pure function of the registry and the result files: it never trains.

`build_report` gathers everything a renderer needs — tables, figures, failures, throughput —
so every output format shows the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from benchmark.claims.recipe_rule import check_baselines
from benchmark.experiment.plan import PlanOptions, build_plan, cell_status
from benchmark.experiment.registry import Registry
from benchmark.experiment.releases import RELEASES_FILE, load_releases
from benchmark.report.claims_section import recipe_rule_caption, report_claims, rule_text
from benchmark.report.collect import ResultIndex, failures, header_fields, subsets, throughput
from benchmark.report.document import DATASET_NAMES, Figure, Header, Report, TableData
from benchmark.report.figures import build_figures, draw
from benchmark.report.forest import forest_figure
from benchmark.report.honesty import schedule_note, table_honesty
from benchmark.report.published_section import ReleasedSection, attach_cell_lines, build_released
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
    """Tables 1–6 beside the paper's values, with figures and appendices.

    ``stamp`` overrides header fields (``generated``, ``commit``, ``device``, ``created``,
    ``results``) so a report can be reproduced byte for byte; ``cache_dir`` is where mask pools
    are cached (the runner's ``<cache>/masks``).
    """
    results_dir = Path(results_dir)
    cells = registry.select(selector)
    plan = build_plan(registry, cells, options)
    statuses = {c.id: cell_status(registry, c, plan, results_dir, thorough=True) for c in cells}
    index = ResultIndex(results_dir, plan)
    tables = [_with_remarks(t, cells, plan, index) for t in build_tables(registry, cells, statuses)]
    claims = report_claims(registry, cells, selector, results_dir, options)
    released = _released(registry, results_dir, options.profile, figures)
    if released is not None:
        attach_cell_lines(tables, released)
    counts = Counter(s["status"] for s in statuses.values())
    header = Header(
        profile=options.profile,
        seeds=", ".join(str(s) for s in options.seeds),
        results=str(results_dir),
        cells=", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts[s])
        + f" (of {len(cells)})",
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
        failures=failures(index),
        throughput=throughput(index),
        subsets=subsets(index),
        released=released,
        claims=claims,
        claims_rule=rule_text(claims),
        recipe_rule=recipe_rule_caption(options.profile),
        baselines=check_baselines(registry, results_dir, options),
        # drawn once some claim is measured; until then the pending line says why not
        forest=_forest(claims) if figures and any(c.status == "measured" for c in claims) else None,
        selection_note=_schedule(registry),
    )


def _forest(claims) -> Figure:
    figure = Figure(
        "claims-forest",
        "Claims",
        "The paper's claims: our 95 % intervals",
        "One row per measured claim: our 95 % interval of a − b (line; green supported, red "
        "contradicted, grey inconclusive, orange one seed (image noise only), pale dashed not "
        "testable under the recipe rule), the "
        "mean over seeds (dot) and the paper's claimed difference (x).",
    )
    return draw(figure, lambda: forest_figure(claims))


def _schedule(registry: Registry) -> str:
    """The paper recipe's learning rate per dataset, from the registry (SPEC §1.8)."""
    import yaml

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
    registry: Registry, results_dir: Path, profile: str, figures: bool
) -> ReleasedSection | None:
    """The published checkpoints' section, when the registry lists releases."""
    if not (Path(registry.root) / RELEASES_FILE).is_file():
        return None
    return build_released(registry, load_releases(registry), results_dir, profile, figures)
