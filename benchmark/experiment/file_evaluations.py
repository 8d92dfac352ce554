"""Evaluations of checkpoint files found in a results folder: published files (`benchmark
evaluate released`) and a user's own (`benchmark evaluate --checkpoint FILE --like RUN`).

`benchmark evaluate` stores each like any evaluation, its checkpoint recorded as the file's
sha256; this finds them again by that mark, so the report and `benchmark status` can show them
afterwards. Reads result files only.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.experiment.profiles import get_profile
from benchmark.spec import FILE_CHECKPOINT, split_condition
from benchmark.store.results import iter_result_files, read_result

OWN_MARK = "@"  # a user's file is evaluated as "<run>@<file name>" (run names never hold "@")


@dataclass(frozen=True)
class FileEvaluation:
    """One evaluation of a checkpoint file: the result file's content and whether it is done."""

    data: dict[str, Any]
    done: bool

    @property
    def name(self) -> str:
        """The release id, or ``<run>@<file name>`` for a user's own file."""
        return str(self.data.get("name", "?"))

    @property
    def run(self) -> str | None:
        """For a user's file, the registry run it was evaluated like (``--like``); else None."""
        return self.name.split(OWN_MARK, 1)[0] if OWN_MARK in self.name else None

    @property
    def file(self) -> str:
        return str(self.data["spec"].get("checkpoint_file") or "?")

    @property
    def sha256(self) -> str:
        return str(self.data["spec"]["checkpoint"])[len(FILE_CHECKPOINT) :]

    @property
    def dataset(self) -> str:
        return str(self.data["spec"]["run"]["dataset"])

    @property
    def precision(self) -> str:
        """The arithmetic it computed at (RunSpec.precision; a spec omits it at fp32)."""
        return str(self.data["spec"]["run"].get("precision", "fp32"))

    @property
    def created(self) -> str:
        return str((self.data.get("provenance") or {}).get("created", ""))

    @property
    def error(self) -> str:
        return str(self.data.get("error") or "failed")

    def values(self) -> dict[str, dict[str, list[float]]]:
        return condition_values(self.data) if self.done else {}

    def mAP(self, condition: str) -> tuple[float, float | None] | None:
        """The mAP under a base condition (clean, high, …): mean and std over mask seeds."""
        values = self.values().get(condition, {}).get("mAP")
        return mean_std(values) if values else None


def file_evaluations(
    results_dir: str | Path, profile: str, precision: str | None = None
) -> list[FileEvaluation]:
    """Every evaluation of a checkpoint file of ``profile`` at ``precision`` (None: the
    profile's) in the folder, the newest per evaluated name and file content (a finished one
    over a failed one), in name order. Another precision's evaluation never stands in for it:
    a bf16 score is not a paper-protocol one."""
    precision = precision or get_profile(profile).precision
    chosen: dict[tuple[str, str], tuple[tuple[bool, str], FileEvaluation]] = {}
    for path in iter_result_files(Path(results_dir)):
        loaded = read_result(path, path.parent.name)
        data = loaded.data
        if loaded.problem is not None or data["kind"] != "eval":
            continue
        checkpoint = str((data.get("spec") or {}).get("checkpoint", ""))
        if not checkpoint.startswith(FILE_CHECKPOINT) or data.get("profile") != profile:
            continue
        if data["spec"].get("bn_reestimate"):  # --bn-reestimate: not the file as published
            continue
        found = FileEvaluation(data, loaded.done)
        if found.precision != precision:
            continue
        rank = (found.done, found.created)
        key = (found.name, found.sha256)
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, found)
    return [found for _, found in sorted(chosen.values(), key=lambda c: c[1].name)]


def condition_values(result: dict) -> dict[str, dict[str, list[float]]]:
    """Base condition → metric → values over mask seeds (``high``, ``high_seed1``, …)."""
    values: dict[str, dict[str, list[float]]] = {}
    for row in result.get("rows", ()):
        base, _ = split_condition(row["condition"])
        values.setdefault(base, {}).setdefault(row["metric"], []).append(float(row["value"]))
    return values


def mean_std(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None
