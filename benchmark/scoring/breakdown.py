"""mAP on small and on occluded positives: the paper's claim, which its tables never measure.

For one subset (say "small"), a class's AP keeps every negative of that class and only those
positives whose instances of the class are *all* in the subset; the other positives are left
out of that class's ranking (IGNORE_AP), so the score asks "are the small ones found before the
negatives?". Classes with no positive in the subset are left out of the mean, as in mAP.

Instances come from the loaders' instance table (box area fraction, measured occlusion on
synthetic trees, VOC truncated flags), so the same code reads synthetic and real annotations:
- small: box area below ``SMALL_AREA_FRAC`` of the image;
- occluded: hidden fraction at least ``OCCLUDED_FRAC`` where it is measured (synthetic scenes),
  else the truncated flag (real VOC); COCO has neither, so its occluded subset is empty.
WIDER samples are single people: the loader gives each positive attribute one instance (the
person's box), so the person's size and occlusion decide.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from benchmark.scoring.metrics import IGNORE_AP, average_precision

if TYPE_CHECKING:  # the loaders' table, passed in: this module reads it and imports no data code
    from benchmark.data.records import InstanceTable

# 2 % of the image: a box below ~14 % of each side (~63 px at 448, ~14 px at 96). COCO's
# "small" (< 32² px) is 0.3 % of a 640×480 image and "medium" ends at 3 %.
SMALL_AREA_FRAC = 0.02
OCCLUDED_FRAC = 0.5
SUBSETS = ("small", "occluded")


def instance_flags(instances: InstanceTable) -> dict[str, np.ndarray]:
    """Per instance row, whether it is small and whether it is occluded."""
    cols = instances.columns
    occluded = cols["occluded"].astype(np.float64)
    truncated = cols["truncated"]
    measured = ~np.isnan(occluded)
    hidden = np.where(measured, np.nan_to_num(occluded) >= OCCLUDED_FRAC, truncated == 1)
    return {"small": cols["area_frac"] < SMALL_AREA_FRAC, "occluded": hidden}


def subset_positives(instances: InstanceTable, targets: np.ndarray) -> dict[str, np.ndarray]:
    """N×C bool masks: positives whose instances of that class all fall in each subset."""
    n, c = targets.shape
    flags = instance_flags(instances)
    offsets = instances.offsets
    rows = np.repeat(np.arange(n), np.diff(offsets))
    cls = instances.columns["cls"].astype(np.int64)
    valid = (cls >= 0) & (cls < c)
    where = (rows[valid], cls[valid])
    count = np.zeros((n, c), dtype=np.int64)  # instances of each (sample, class)
    np.add.at(count, where, 1)
    out = {}
    for name in SUBSETS:
        inside = np.zeros((n, c), dtype=np.int64)  # … of which in the subset
        np.add.at(inside, where, flags[name][valid].astype(np.int64))
        out[name] = (targets == 1) & (count > 0) & (inside == count)
    return out


def subset_map(
    scores: np.ndarray, targets: np.ndarray, keep: np.ndarray, tie_order: str = "stable"
) -> tuple[float, int]:
    """(mAP in percent, positives used) with positives outside ``keep`` left out of AP."""
    restricted = np.where((targets == 1) & ~keep, IGNORE_AP, targets)
    ap = average_precision(np.asarray(scores), restricted, tie_order)
    used = int(keep.sum())
    if not np.any(~np.isnan(ap)):
        return math.nan, used
    return float(np.nanmean(ap)) * 100, used


def breakdown(
    scores: np.ndarray,
    targets: np.ndarray,
    instances: InstanceTable,
    indices: np.ndarray | None = None,
    tie_order: str = "stable",
) -> dict[str, float | int | None]:
    """``{"mAP_small", "mAP_occluded", "positives_small", "positives_occluded"}`` (mAP None when
    the subset has no positive). ``indices``: the dataset rows scored (when some were skipped);
    ``targets`` are then those rows' targets. ``tie_order``: as in ``benchmark.scoring.metrics``."""
    targets = np.asarray(targets)
    n = len(instances)
    rows = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
    full = np.zeros((n, targets.shape[1]), dtype=targets.dtype)
    full[rows] = targets
    result: dict[str, float | int | None] = {}
    for name, mask in subset_positives(instances, full).items():
        keep = mask[rows]
        value, used = subset_map(scores, targets, keep, tie_order)
        result[f"mAP_{name}"] = None if math.isnan(value) else value
        result[f"positives_{name}"] = used
    return result
