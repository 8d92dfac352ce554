"""The experiment registry: experiments/*.yaml → validated cells, runs and evaluations.

Validation happens here, at the edge; the rest of the suite trusts what it returns. Every error
names the file, the cell (or run) and the field.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import RegistryError
from benchmark.scoring.metrics import METRIC_NAMES
from benchmark.spec import (
    ARCHS,
    AUGMENTS,
    BN_REESTIMATES,
    CSRA_TEMPERATURES,
    DATASET_CLASSES,
    METHODS,
    NORMALIZATIONS,
    TRAIN_POOLS,
)

TABLE_FILES = tuple(f"table{i}.yaml" for i in range(1, 7))
RUNS_FILE = "runs.yaml"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # safe as a file name: no '/', no '..' start

RECIPE_FIELDS = {
    "batch_size": int,
    "lr": float,
    "head_lr_mult": float,
    "momentum": float,
    "weight_decay": float,
    "warmup_epochs": int,
    "lr_gamma": float,
    "seed": int,
}
DATASET_RECIPE_FIELDS = {"lr_step": int, "augment": str, "normalize": str}
RUN_FIELDS = {
    "dataset": str,
    "backbone": str,
    "weights": (str, type(None)),
    "arch": str,
    "num_heads": int,
    "lam": float,
    "method": str,
    "mask_pool": (str, type(None)),
    "img_size": int,
    "epochs": int,
    "fused": bool,
    "clean_loss_weight": float,
    "notes": list,
    **RECIPE_FIELDS,
    **DATASET_RECIPE_FIELDS,
}
RUN_REQUIRED = ("dataset", "backbone", "weights", "arch", "method", "img_size", "epochs")
CELL_FIELDS = {
    "id": str,
    "row": str,
    "dataset": str,
    "run": str,
    "eval": dict,
    "runnable": bool,
    "paper": dict,
    "source": str,
    "notes": list,
}
EVAL_FIELDS = {
    "run": str,
    "conditions": list,
    "mask_seed": int,
    "bn_reestimate": str,
    "notes": list,
}
CONDITION_PATTERN = re.compile(r"^(clean|high|low|bucket:[0-5])$")


@dataclass(frozen=True)
class Cell:
    """One number-bearing cell group of a table: a row on one dataset."""

    id: str
    table: int
    row: str
    dataset: str
    paper: dict[str, float]
    runnable: bool
    run: str | None = None  # name of a training run (Tables 1-5)
    evaluation: str | None = None  # name of an evaluation (Table 6)
    condition: str | None = None  # which condition of the evaluation the cell reports
    source: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableDef:
    number: int
    title: str
    source: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass
class Registry:
    tables: dict[int, TableDef]
    cells: list[Cell]
    runs: dict[str, dict[str, Any]]  # run name → fully merged paper-profile definition
    evaluations: dict[str, dict[str, Any]]
    root: Path
    _by_id: dict[str, Cell] = field(default_factory=dict, repr=False)

    def cell(self, cell_id: str) -> Cell:
        return self._by_id[cell_id]

    def select(self, selector: str) -> list[Cell]:
        """`all`, a table (`table4`, `4`), or a glob over cell ids (`t4.*`, `*.voc2007`)."""
        selector = selector.strip()
        if selector == "all":
            return list(self.cells)
        match = re.fullmatch(r"(?:table|t)?([1-6])", selector)
        if match:
            return [c for c in self.cells if c.table == int(match.group(1))]
        chosen = [c for c in self.cells if fnmatch.fnmatchcase(c.id, selector)]
        if not chosen:
            raise RegistryError(
                f"selector {selector!r} matches no cell (use 'all', 'table1'…'table6', "
                f"or a glob over cell ids such as 't4.*'; see `benchmark list all`)"
            )
        return chosen


def default_root() -> Path:
    """experiments/ beside the working directory, else beside the installed source tree."""
    env = os.environ.get("BENCHMARK_EXPERIMENTS")
    if env:
        return Path(env)
    for candidate in (
        Path.cwd() / "experiments",
        Path(__file__).resolve().parents[2] / "experiments",
    ):
        if (candidate / RUNS_FILE).is_file():
            return candidate
    raise RegistryError(
        "cannot find the experiment registry (experiments/runs.yaml): run from the repository "
        "root or set BENCHMARK_EXPERIMENTS"
    )


def load_registry(root: str | Path | None = None) -> Registry:
    root = Path(root) if root is not None else default_root()
    runs, evaluations = _load_runs(root / RUNS_FILE)
    tables: dict[int, TableDef] = {}
    cells: list[Cell] = []
    by_id: dict[str, Cell] = {}
    for name in TABLE_FILES:
        path = root / name
        table, table_cells = _load_table(path, runs, evaluations)
        tables[table.number] = table
        for cell in table_cells:
            if cell.id in by_id:
                raise RegistryError(f"{path}: cell {cell.id}: field 'id': duplicate id")
            by_id[cell.id] = cell
            cells.append(cell)
    return Registry(tables, cells, runs, evaluations, root, by_id)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RegistryError(f"{path}: file not found")
    try:
        with path.open() as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise RegistryError(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected a mapping at the top level")
    return data


def _check_fields(
    path: Path, where: str, data: Any, allowed: dict[str, Any], required: tuple[str, ...] = ()
) -> None:
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: {where}: expected a mapping, got {type(data).__name__}")
    for key, value in data.items():
        if key not in allowed:
            raise RegistryError(f"{path}: {where}: field {key!r}: unknown field")
        expected = allowed[key]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected) or (
            expected in (int, float) and isinstance(value, bool)
        ):
            raise RegistryError(
                f"{path}: {where}: field {key!r}: expected {_type_name(expected)}, got {value!r}"
            )
    for key in required:
        if key not in data or data[key] is None and key != "weights":
            raise RegistryError(f"{path}: {where}: field {key!r}: missing value")


def _type_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return expected.__name__


def _choice(path: Path, where: str, key: str, value: Any, options: tuple) -> None:
    if value not in options:
        allowed = ", ".join(str(option) for option in options)
        raise RegistryError(f"{path}: {where}: field {key!r}: {value!r} is not one of {allowed}")


def _load_runs(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    data = _read_yaml(path)
    _check_fields(
        path,
        "top level",
        data,
        {"recipe": dict, "datasets": dict, "runs": dict, "evaluations": dict},
        ("recipe", "datasets", "runs"),
    )
    recipe = data["recipe"]
    _check_fields(path, "recipe", recipe, RECIPE_FIELDS, tuple(RECIPE_FIELDS))
    per_dataset = data["datasets"]
    for name, values in per_dataset.items():
        _choice(path, "datasets", name, name, tuple(DATASET_CLASSES))
        _check_fields(
            path, f"datasets.{name}", values, DATASET_RECIPE_FIELDS, tuple(DATASET_RECIPE_FIELDS)
        )
    runs: dict[str, dict[str, Any]] = {}
    for name, run in data["runs"].items():
        where = f"run {name}"
        if not ID_PATTERN.fullmatch(str(name)):
            raise RegistryError(f"{path}: {where}: run names use a-z, 0-9, '.', '_' and '-'")
        _check_fields(path, where, run, RUN_FIELDS, RUN_REQUIRED)
        _choice(path, where, "dataset", run["dataset"], tuple(DATASET_CLASSES))
        if run["dataset"] not in per_dataset:
            raise RegistryError(f"{path}: {where}: field 'dataset': no entry under 'datasets'")
        merged = {**recipe, **per_dataset[run["dataset"]], **run}
        merged.setdefault("num_heads", 1)
        merged.setdefault("lam", 0.0)
        merged.setdefault("mask_pool", None)
        merged.setdefault("fused", False)
        merged.setdefault("clean_loss_weight", 1.0)
        merged["notes"] = tuple(str(n) for n in merged.get("notes", ()))
        _choice(path, where, "arch", merged["arch"], ARCHS)
        _choice(path, where, "method", merged["method"], METHODS)
        _choice(path, where, "augment", merged["augment"], AUGMENTS)
        _choice(path, where, "normalize", merged["normalize"], NORMALIZATIONS)
        if not 0 < merged["clean_loss_weight"] <= 1 or (
            merged["clean_loss_weight"] != 1 and merged["method"] != "supervised"
        ):
            raise RegistryError(
                f"{path}: {where}: field 'clean_loss_weight': a supervised run's weight in (0, 1]"
            )
        if merged["method"] == "msl":
            _choice(path, where, "mask_pool", merged["mask_pool"], TRAIN_POOLS)
        elif merged["mask_pool"] is not None:
            raise RegistryError(
                f"{path}: {where}: field 'mask_pool': only msl runs use a mask pool"
            )
        if merged["arch"] == "csra" and ("num_heads" not in run or "lam" not in run):
            raise RegistryError(f"{path}: {where}: field 'num_heads'/'lam': csra needs both")
        if merged["arch"] == "csra":
            _choice(path, where, "num_heads", merged["num_heads"], tuple(CSRA_TEMPERATURES))
        for key in ("img_size", "epochs", "batch_size", "lr_step"):
            if merged[key] <= 0:
                raise RegistryError(f"{path}: {where}: field {key!r}: must be positive")
        runs[name] = merged
    evaluations: dict[str, dict[str, Any]] = {}
    for name, ev in (data.get("evaluations") or {}).items():
        where = f"evaluation {name}"
        _check_fields(path, where, ev, EVAL_FIELDS, ("run", "conditions"))
        if ev["run"] not in runs:
            raise RegistryError(f"{path}: {where}: field 'run': no run named {ev['run']!r}")
        for condition in ev["conditions"]:
            if not CONDITION_PATTERN.match(str(condition)):
                raise RegistryError(
                    f"{path}: {where}: field 'conditions': unknown condition {condition!r} "
                    f"(clean, high, low, bucket:0…bucket:5)"
                )
        if "bn_reestimate" in ev:
            _choice(path, where, "bn_reestimate", ev["bn_reestimate"], BN_REESTIMATES)
        evaluations[name] = {
            "mask_seed": 0,
            "bn_reestimate": None,
            **ev,
            "conditions": tuple(ev["conditions"]),
        }
    return runs, evaluations


def _load_table(
    path: Path, runs: dict[str, dict[str, Any]], evaluations: dict[str, dict[str, Any]]
) -> tuple[TableDef, list[Cell]]:
    data = _read_yaml(path)
    _check_fields(
        path,
        "top level",
        data,
        {
            "table": int,
            "title": str,
            "source": str,
            "datasets": list,
            "metrics": list,
            "notes": list,
            "cells": list,
        },
        ("table", "title", "source", "datasets", "metrics", "cells"),
    )
    number = data["table"]
    for dataset in data["datasets"]:
        _choice(path, "top level", "datasets", dataset, tuple(DATASET_CLASSES))
    for metric in data["metrics"]:
        _choice(path, "top level", "metrics", metric, METRIC_NAMES)
    table = TableDef(
        number,
        data["title"],
        data["source"],
        tuple(data["datasets"]),
        tuple(data["metrics"]),
        tuple(data.get("notes", ())),
    )
    cells = []
    for index, raw in enumerate(data["cells"]):
        where = f"cell {raw.get('id', f'#{index}') if isinstance(raw, dict) else f'#{index}'}"
        _check_fields(path, where, raw, CELL_FIELDS, ("id", "row", "dataset", "paper"))
        if not ID_PATTERN.fullmatch(raw["id"]):
            raise RegistryError(f"{path}: {where}: field 'id': use a-z, 0-9, '.', '_' and '-'")
        if raw["dataset"] not in table.datasets:
            raise RegistryError(f"{path}: {where}: field 'dataset': not among the table's datasets")
        for metric, value in raw["paper"].items():
            _choice(path, where, "paper", metric, table.metrics)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise RegistryError(f"{path}: {where}: field 'paper.{metric}': expected a number")
        runnable = raw.get("runnable", True)
        run = raw.get("run")
        evaluation = condition = None
        if runnable:
            if (run is None) == ("eval" not in raw):
                raise RegistryError(
                    f"{path}: {where}: field 'run': give exactly one of run or eval"
                )
            if run is not None:
                if run not in runs:
                    raise RegistryError(f"{path}: {where}: field 'run': no run named {run!r}")
                target_dataset = runs[run]["dataset"]
            else:
                ev = raw["eval"]
                _check_fields(
                    path,
                    f"{where}.eval",
                    ev,
                    {"evaluation": str, "condition": str},
                    ("evaluation", "condition"),
                )
                evaluation, condition = ev["evaluation"], ev["condition"]
                if evaluation not in evaluations:
                    raise RegistryError(
                        f"{path}: {where}: field 'eval.evaluation': "
                        f"no evaluation named {evaluation!r}"
                    )
                if condition not in evaluations[evaluation]["conditions"]:
                    raise RegistryError(
                        f"{path}: {where}: field 'eval.condition': {condition!r} is not among "
                        f"the evaluation's conditions"
                    )
                target_dataset = runs[evaluations[evaluation]["run"]]["dataset"]
            if target_dataset != raw["dataset"]:
                raise RegistryError(
                    f"{path}: {where}: field 'dataset': {raw['dataset']} but its run trains on "
                    f"{target_dataset}"
                )
        elif run is not None or "eval" in raw:
            raise RegistryError(f"{path}: {where}: field 'runnable': a cited cell names no run")
        cells.append(
            Cell(
                id=raw["id"],
                table=number,
                row=raw["row"],
                dataset=raw["dataset"],
                paper={k: float(v) for k, v in raw["paper"].items()},
                runnable=runnable,
                run=run,
                evaluation=evaluation,
                condition=condition,
                source=raw.get("source", table.source),
                notes=tuple(raw.get("notes", ())),
            )
        )
    return table, cells
