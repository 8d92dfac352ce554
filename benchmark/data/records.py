"""What a loader parses from annotations: labels and object instances, no pixels.

Instances are stored as flat columns (one row per object) rather than a list of dicts, so the
~600k COCO objects cost a few arrays in memory and in the cache; indexing a sample still gives
the list of dicts the per-object breakdowns read.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.cache import cache_key, file_signature, load_arrays, save_arrays
from benchmark.errors import DataError

_UNKNOWN = -1  # tri-state columns (truncated, difficult, crowd): -1 unknown, 0 false, 1 true
PARSE_VERSION = 2  # bump when a loader's output changes, so stale cache entries are not read
INSTANCE_COLUMNS = ("cls", "area_frac", "occluded", "truncated", "difficult", "crowd")


class InstanceTable(Sequence):
    """Per sample, the list of ``{"cls", "area_frac", "occluded", "truncated", "difficult",
    "crowd"}`` dicts; unknown values are None."""

    def __init__(self, offsets: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.columns = {name: np.asarray(columns[name]) for name in INSTANCE_COLUMNS}

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> list[dict[str, Any]]:  # type: ignore[override]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        cols = self.columns
        return [
            {
                "cls": int(cols["cls"][row]),
                "area_frac": float(cols["area_frac"][row]),
                "occluded": _optional_float(cols["occluded"][row]),
                "truncated": _optional_bool(cols["truncated"][row]),
                "difficult": _optional_bool(cols["difficult"][row]),
                "crowd": _optional_bool(cols["crowd"][row]),
            }
            for row in range(start, stop)
        ]


@dataclass
class InstanceBuilder:
    """Collects instances sample by sample while a loader walks its annotations."""

    counts: list[int] = field(default_factory=list)
    rows: dict[str, list] = field(default_factory=lambda: {k: [] for k in INSTANCE_COLUMNS})

    def start_sample(self) -> None:
        self.counts.append(0)

    def add(
        self,
        cls: int,
        area_frac: float,
        occluded: float | None = None,
        truncated: bool | None = None,
        difficult: bool | None = None,
        crowd: bool | None = None,
    ) -> None:
        self.counts[-1] += 1
        self.rows["cls"].append(cls)
        self.rows["area_frac"].append(area_frac)
        self.rows["occluded"].append(math.nan if occluded is None else occluded)
        for name, value in (("truncated", truncated), ("difficult", difficult), ("crowd", crowd)):
            self.rows[name].append(_UNKNOWN if value is None else int(value))

    def build(self) -> InstanceTable:
        offsets = np.concatenate([[0], np.cumsum(np.asarray(self.counts, dtype=np.int64))])
        dtypes = {"cls": np.int16, "area_frac": np.float64, "occluded": np.float64}
        columns = {
            name: np.asarray(values, dtype=dtypes.get(name, np.int8))
            for name, values in self.rows.items()
        }
        return InstanceTable(offsets, columns)


@dataclass
class Records:
    """A parsed split: image paths, N×C int8 target codes, instances, optional crop boxes."""

    classes: list[str]
    files: list[str]
    targets: np.ndarray
    instances: InstanceTable
    boxes: np.ndarray | None = None  # N×4 float [x, y, w, h] person boxes (WIDER), else None

    def to_arrays(self, strip_prefix: str) -> dict[str, np.ndarray]:
        """Arrays for the cache; file paths are stored relative to ``strip_prefix``."""
        arrays = {
            "classes": np.asarray(self.classes, dtype=str),
            "files": np.asarray([f[len(strip_prefix) :] for f in self.files], dtype=str),
            "targets": self.targets,
            "inst_offsets": self.instances.offsets,
            **{f"inst_{k}": v for k, v in self.instances.columns.items()},
        }
        if self.boxes is not None:
            arrays["boxes"] = self.boxes
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> Records:
        instances = InstanceTable(
            arrays["inst_offsets"], {k: arrays[f"inst_{k}"] for k in INSTANCE_COLUMNS}
        )
        return cls(
            classes=[str(c) for c in arrays["classes"]],
            files=[prefix + str(f) for f in arrays["files"]],
            targets=arrays["targets"].astype(np.int8),
            instances=instances,
            boxes=arrays.get("boxes"),
        )


def _optional_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _optional_bool(value: int) -> bool | None:
    return None if value == _UNKNOWN else bool(value)


def fail(problems: list[str] | None, message: str) -> None:
    """Raise a DataError, or, when collecting for ``verify``, record the problem and go on."""
    if problems is None:
        raise DataError(message)
    problems.append(message)


def cached_records(
    json_path: Path,
    kind: str,
    prefix: str,
    parse: Callable[[], Records],
    problems: list[str] | None,
    cache_dir: Path | None,
) -> Records:
    """``parse()`` once per annotation file version; later calls read an ``.npz`` in seconds.

    The entry, under ``cache_dir/annotations/``, is keyed on the file's path, size and mtime.
    ``verify`` (``problems`` given) always re-parses so that it sees and reports every
    problem; without a ``cache_dir`` nothing is cached.
    """
    if problems is not None or cache_dir is None:
        return parse()
    key = cache_key({"kind": kind, "version": PARSE_VERSION, **file_signature(json_path)})
    entry = Path(cache_dir) / "annotations" / f"{kind}-{key}.npz"
    arrays = load_arrays(entry)
    if arrays is not None:
        return Records.from_arrays(arrays, prefix)
    records = parse()
    save_arrays(entry, records.to_arrays(prefix))
    return records


def check_images(records: Records, source: Path, problems: list[str] | None) -> None:
    """Every image a split names must exist; one listing per folder keeps this cheap."""
    listings: dict[str, set[str]] = {}
    for file in records.files:
        folder, name = os.path.split(file)
        if folder not in listings:
            listings[folder] = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        if name not in listings[folder]:
            fail(problems, f"{source}: names image {file}, not found")
