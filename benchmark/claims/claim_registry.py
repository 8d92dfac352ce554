"""The paper's claims (experiments/claims.yaml), validated against the registry.

A claim compares two sides — table cells, or conditions of a test-time masking evaluation — on
one metric: "a beats b by `claimed` points" (benchmark.claims.measurement measures it).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import RegistryError, UserError
from benchmark.experiment.registry import ID_PATTERN, Registry, _check_fields, _read_yaml
from benchmark.scoring.metrics import METRIC_NAMES

CLAIMS_FILE = "claims.yaml"
CLAIM_FIELDS = {
    "id": str,
    "title": str,
    "metric": str,
    "a": dict,
    "b": dict,
    "claimed": (int, float, type(None)),
    "source": str,
    "notes": list,
}
CLAIM_REQUIRED = ("id", "title", "metric", "a", "b", "source")  # and "claimed", null allowed
SIDE_FIELDS = {"cell": str, "run": str, "evaluation": str, "condition": str}


@dataclass(frozen=True)
class Side:
    """One side of a claim: a table cell, a training run, or one condition of an evaluation."""

    cell: str | None = None
    run: str | None = None
    evaluation: str | None = None
    condition: str | None = None

    @property
    def label(self) -> str:
        if self.evaluation is not None:
            return f"{self.evaluation} [{self.condition}]"
        return self.cell or f"run {self.run}"


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    metric: str
    a: Side
    b: Side
    claimed: float | None  # the paper's a − b; None where the paper gives no number
    source: str
    dataset: str
    table: int | None  # the paper table both sides belong to (for selectors); None: a control
    notes: tuple[str, ...] = ()


def load_claims(registry: Registry, path: str | Path | None = None) -> list[Claim]:
    """Every claim of ``claims.yaml`` (beside the registry), checked against the registry."""
    path = Path(path) if path is not None else Path(registry.root) / CLAIMS_FILE
    data = _read_yaml(path)
    _check_fields(path, "top level", data, {"claims": list}, ("claims",))
    claims: list[Claim] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["claims"]):
        name = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        where = f"claim {name}"
        _check_fields(path, where, raw, CLAIM_FIELDS, CLAIM_REQUIRED)
        if "claimed" not in raw:
            raise RegistryError(
                f"{path}: {where}: field 'claimed': missing (the paper's a − b, or null)"
            )
        if not ID_PATTERN.fullmatch(raw["id"]):
            raise RegistryError(f"{path}: {where}: field 'id': use a-z, 0-9, '.', '_' and '-'")
        if raw["id"] in seen:
            raise RegistryError(f"{path}: {where}: field 'id': duplicate id")
        seen.add(raw["id"])
        if raw["metric"] not in METRIC_NAMES:
            raise RegistryError(
                f"{path}: {where}: field 'metric': {raw['metric']!r} is not one of "
                f"{', '.join(METRIC_NAMES)}"
            )
        a = _side(path, where, "a", raw["a"], registry)
        b = _side(path, where, "b", raw["b"], registry)
        if a == b:
            raise RegistryError(f"{path}: {where}: field 'b': the same as 'a'")
        dataset_a, dataset_b = _dataset(a, registry), _dataset(b, registry)
        if dataset_a != dataset_b:
            raise RegistryError(
                f"{path}: {where}: field 'b': on {dataset_b}, but 'a' is on {dataset_a}: a "
                f"paired comparison needs the same test images"
            )
        claimed = None if raw["claimed"] is None else float(raw["claimed"])
        _check_claimed(path, where, raw["metric"], a, b, claimed, registry)
        claims.append(
            Claim(
                id=raw["id"],
                title=raw["title"],
                metric=raw["metric"],
                a=a,
                b=b,
                claimed=claimed,
                source=raw["source"],
                dataset=dataset_a,
                table=_table(a, registry) if _table(a, registry) == _table(b, registry) else None,
                notes=tuple(str(n) for n in raw.get("notes", ())),
            )
        )
    return claims


def _side(path: Path, where: str, key: str, raw: Any, registry: Registry) -> Side:
    _check_fields(path, f"{where}.{key}", raw, SIDE_FIELDS)
    if sum(k in raw for k in ("cell", "run", "evaluation")) != 1:
        raise RegistryError(
            f"{path}: {where}: field {key!r}: give exactly one of cell, run or evaluation+condition"
        )
    if "condition" in raw and "evaluation" not in raw:
        raise RegistryError(
            f"{path}: {where}: field '{key}.condition': only an evaluation side has conditions"
        )
    if "run" in raw:
        if raw["run"] not in registry.runs:
            raise RegistryError(f"{path}: {where}: field '{key}.run': no run named {raw['run']!r}")
        return Side(run=raw["run"])
    if "cell" in raw:
        cell_id = raw["cell"]
        if cell_id not in {c.id for c in registry.cells}:
            raise RegistryError(f"{path}: {where}: field '{key}.cell': no cell named {cell_id!r}")
        if not registry.cell(cell_id).runnable:
            raise RegistryError(
                f"{path}: {where}: field '{key}.cell': {cell_id} is cited, not run by the suite"
            )
        return Side(cell=cell_id)
    name, condition = raw["evaluation"], raw.get("condition")
    if name not in registry.evaluations:
        raise RegistryError(
            f"{path}: {where}: field '{key}.evaluation': no evaluation named {name!r}"
        )
    if condition not in registry.evaluations[name]["conditions"]:
        raise RegistryError(
            f"{path}: {where}: field '{key}.condition': {condition!r} is not among the "
            f"conditions of {name} ({', '.join(registry.evaluations[name]['conditions'])})"
        )
    return Side(evaluation=name, condition=condition)


def _dataset(side: Side, registry: Registry) -> str:
    if side.cell is not None:
        return registry.cell(side.cell).dataset
    if side.run is not None:
        return registry.runs[side.run]["dataset"]
    return registry.runs[registry.evaluations[side.evaluation]["run"]]["dataset"]


def _table(side: Side, registry: Registry) -> int | None:
    if side.cell is not None:
        return registry.cell(side.cell).table
    users = [
        c.table
        for c in registry.cells
        if side.evaluation is not None and c.evaluation == side.evaluation
    ]
    return users[0] if users else None


def _check_claimed(
    path: Path,
    where: str,
    metric: str,
    a: Side,
    b: Side,
    claimed: float | None,
    registry: Registry,
) -> None:
    """A claimed difference must be what the paper prints: the cells' paper values subtracted."""
    if a.cell is None or b.cell is None:
        return
    paper_a = registry.cell(a.cell).paper.get(metric)
    paper_b = registry.cell(b.cell).paper.get(metric)
    if paper_a is None or paper_b is None:
        return
    expected = round(paper_a - paper_b, 1)
    if claimed is None or abs(claimed - expected) > 1e-9:
        raise RegistryError(
            f"{path}: {where}: field 'claimed': {claimed} but the cells' paper values give "
            f"{paper_a} − {paper_b} = {expected:+.1f}"
        )


def select_claims(claims: list[Claim], selector: str) -> list[Claim]:
    """`all`, a table (`table4`, `4`), or a glob over claim ids (`t4.*`, `*.coco2014`)."""
    selector = selector.strip()
    if selector == "all":
        return list(claims)
    match = re.fullmatch(r"(?:table|t)?([1-6])", selector)
    if match:
        return [c for c in claims if c.table == int(match.group(1))]
    chosen = [c for c in claims if fnmatch.fnmatchcase(c.id, selector)]
    if not chosen:
        raise UserError(
            f"selector {selector!r} matches no claim (use 'all', 'table1'…'table6', or a glob "
            f"over claim ids such as 't4.*'; see experiments/claims.yaml)"
        )
    return chosen


def side_target(registry: Registry, side: Side) -> tuple[str | None, str | None]:
    """(training run, evaluation) a side names, directly or through its table cell."""
    if side.cell is not None:
        cell = registry.cell(side.cell)
        return cell.run, cell.evaluation
    return side.run, side.evaluation


def side_run(registry: Registry, side: Side) -> str:
    """The registry training run behind a side (an evaluation's: the run it loads)."""
    run, evaluation = side_target(registry, side)
    return run if run is not None else registry.evaluations[evaluation]["run"]
