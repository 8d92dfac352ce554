"""Per-class counts of a split, from the annotations alone (no image is decoded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.data.dataset_factory import load_records


def dataset_stats(
    name: str, root: str | Path, split: str, cache_dir: Path | None = None
) -> dict[str, Any]:
    """``{"images", "classes", "positives", "ignored"}``: ``images`` counts samples (person
    boxes for WIDER); ``ignored`` counts entries left out of AP on this split (codes -1, -2)."""
    records = load_records(name, root, split, cache_dir=cache_dir)
    targets = records.targets
    return {
        "images": int(targets.shape[0]),
        "classes": list(records.classes),
        "positives": [int(v) for v in (targets == 1).sum(axis=0)],
        "ignored": [int(v) for v in (targets < 0).sum(axis=0)],
    }
