"""WIDER-Attribute read from ``Image/`` and ``Annotations/wider_attribute_{trainval,test}.json``.

One sample per annotated person box ``[x, y, w, h]``; the crop happens at load time. The raw
codes are 1 / -1 / 0 (unspecified); unspecified is a negative in training and, at test time,
code -2: ignored by AP but a negative for the thresholded metrics (docs/spec.md §2).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark.data.classes import WIDER_ATTRIBUTES
from benchmark.data.layout import wider_annotation
from benchmark.data.records import (
    InstanceBuilder,
    Records,
    cached_records,
    check_images,
    fail,
)

IGNORE_AP = -2


def load_wider(
    root: Path, split: str, problems: list[str] | None = None, cache_dir: Path | None = None
) -> Records:
    """Parse one split (train = the trainval file). Image headers are read once for the image
    size (truncation, area fractions), which is why the parse is cached like COCO's."""
    json_path = wider_annotation(root, split)
    prefix = str(root / "Image") + "/"
    if not json_path.is_file():
        fail(problems, f"{json_path}: annotation file missing")
        return _parse_data({"images": []}, json_path, prefix, split, problems)
    records = cached_records(
        json_path, f"wider-{split}", prefix, lambda: _parse(json_path, prefix, split, problems),
        problems, cache_dir,
    )  # fmt: skip
    check_images(records, json_path, problems)
    return records


def crop_box(box: np.ndarray) -> tuple[int, int, int, int]:
    """``[x, y, w, h]`` → the PIL crop ``(x0, y0, x1, y1)`` of the authors' code,
    ``img.crop([x, y, x + w, y + h])``, rounded as PIL rounds it.

    The box is not clipped: ``PIL.Image.crop`` fills whatever lies past the image edge with
    black, which the WIDER normalisation turns into -1 (docs/spec.md §2). Only a box narrower
    than one pixel is widened to 1×1, where the authors' code would stop.
    """
    x, y, w, h = (float(v) for v in box)
    x0, y0 = round(x), round(y)
    return x0, y0, max(round(x + w), x0 + 1), max(round(y + h), y0 + 1)


def _parse(json_path: Path, prefix: str, split: str, problems: list[str] | None) -> Records:
    with open(json_path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            fail(problems, f"{json_path}: malformed JSON ({err})")
            data = {"images": []}
    return _parse_data(data, json_path, prefix, split, problems)


def _parse_data(
    data: Any, json_path: Path, prefix: str, split: str, problems: list[str] | None
) -> Records:
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        fail(problems, f"{json_path}: field 'images' must be a list")
        data = {"images": []}
    files: list[str] = []
    rows: list[np.ndarray] = []
    boxes: list[list[float]] = []
    builder = InstanceBuilder()
    for k, image in enumerate(data["images"]):
        try:
            file_name = str(image["file_name"])
            targets = list(image["targets"])
        except (KeyError, TypeError):
            fail(problems, f"{json_path}: images[{k}] needs 'file_name' and 'targets'")
            continue
        path = prefix + file_name
        size = _image_size(path, json_path, problems)
        if size is None:
            continue
        for t, target in enumerate(targets):
            where = f"{json_path}: images[{k}].targets[{t}] ({file_name})"
            parsed = _target(target, where, size, problems)
            if parsed is None:
                continue
            box, raw, occlusion = parsed
            code = np.where(raw == 1, 1, np.where(raw == 0, IGNORE_AP if split == "test" else 0, 0))
            x, y, w, h = box
            truncated = x < 0 or y < 0 or x + w > size[0] or y + h > size[1]
            builder.start_sample()
            for a in np.flatnonzero(raw == 1):
                builder.add(
                    cls=int(a),
                    area_frac=min(w * h / (size[0] * size[1]), 1.0),
                    occluded=occlusion,
                    truncated=truncated,
                )
            files.append(path)
            rows.append(code.astype(np.int8))
            boxes.append(box)
    n_attr = len(WIDER_ATTRIBUTES)
    return Records(
        classes=list(WIDER_ATTRIBUTES),
        files=files,
        targets=np.stack(rows) if rows else np.zeros((0, n_attr), np.int8),
        instances=builder.build(),
        # float64, as the authors' JSON gives them: x + w must round as it does in their crop
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
    )


def _image_size(path: str, json_path: Path, problems: list[str] | None) -> tuple[int, int] | None:
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        fail(problems, f"{json_path}: names image {path}, not found")
    except OSError as err:
        fail(problems, f"{path}: cannot read image header ({err})")
    return None


def _target(
    target: Any, where: str, size: tuple[int, int], problems: list[str] | None
) -> tuple[list[float], np.ndarray, float | None] | None:
    """(box, raw attribute codes, synthetic occlusion) of one person, or None after a problem."""
    try:
        box = [float(v) for v in target["bbox"]]
        raw = np.asarray([int(v) for v in target["attribute"]])
    except (KeyError, TypeError, ValueError):
        fail(problems, f"{where}: needs 'bbox' [x, y, w, h] and 'attribute'")
        return None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        fail(problems, f"{where}: field 'bbox' must be 4 numbers")
        return None
    if raw.shape != (len(WIDER_ATTRIBUTES),) or not np.isin(raw, (-1, 0, 1)).all():
        fail(problems, f"{where}: field 'attribute' must be 14 values in 1 / -1 / 0")
        return None
    x, y, w, h = box
    if w <= 0 or h <= 0 or x >= size[0] or y >= size[1] or x + w <= 0 or y + h <= 0:
        # Kept in normal loads (an all-black crop at worst) so counts match; verify reports it.
        if problems is not None:
            problems.append(f"{where}: field 'bbox' {box} lies outside the {size} image")
    occlusion = target.get("occlusion")  # synthetic trees only: hidden fraction of the person
    return box, raw, None if occlusion is None else float(occlusion)
