"""MS-COCO 2014 read from ``train2014/``, ``val2014/`` and ``annotations/instances_*.json``.

The instances file is parsed with the standard ``json`` module rather than pycocotools: only the
image, category and annotation fields are needed (no masks, no evaluation), and this avoids a
compiled dependency. The parse (~20 s for train2014) is cached, so later runs start in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.layout import coco_image_dir
from benchmark.data.records import (
    InstanceBuilder,
    Records,
    cached_records,
    check_images,
    fail,
)

FOLDERS = {"train": "train2014", "test": "val2014"}


def load_coco(
    root: Path, split: str, problems: list[str] | None = None, cache_dir: Path | None = None
) -> Records:
    """Parse one split; images without any annotation are skipped, crowd boxes count."""
    folder = FOLDERS[split]
    json_path = root / "annotations" / f"instances_{folder}.json"
    image_dir = coco_image_dir(root, folder)
    prefix = str(image_dir) + "/"
    if not json_path.is_file():
        fail(problems, f"{json_path}: annotation file missing")
        return _parse_data({"images": [], "annotations": [], "categories": []}, json_path, prefix)
    records = cached_records(
        json_path, "coco", prefix, lambda: _parse(json_path, prefix, problems), problems, cache_dir
    )
    check_images(records, json_path, problems)
    return records


def _parse(json_path: Path, prefix: str, problems: list[str] | None) -> Records:
    with open(json_path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            fail(problems, f"{json_path}: malformed JSON ({err})")
            data = {"images": [], "annotations": [], "categories": []}
    return _parse_data(data, json_path, prefix, problems)


def _parse_data(
    data: Any, json_path: Path, prefix: str, problems: list[str] | None = None
) -> Records:
    fields = ("images", "annotations", "categories")
    if not isinstance(data, dict) or any(not isinstance(data.get(k), list) for k in fields):
        fail(problems, f"{json_path}: fields 'images', 'annotations', 'categories' must be lists")
        data = {k: [] for k in fields}
    try:
        categories = sorted((int(c["id"]), str(c["name"])) for c in data["categories"])
    except (KeyError, TypeError, ValueError):
        fail(problems, f"{json_path}: field 'categories' needs an 'id' and 'name' per entry")
        categories = []
    class_of = {cat_id: i for i, (cat_id, _) in enumerate(categories)}
    images: dict[int, tuple[str, float]] = {}
    for k, image in enumerate(data["images"]):
        try:
            images[int(image["id"])] = (
                str(image["file_name"]),
                float(image["width"]) * float(image["height"]),
            )
        except (KeyError, TypeError, ValueError):
            fail(problems, f"{json_path}: images[{k}] needs 'id', 'file_name', 'width', 'height'")
    by_image: dict[int, list[dict]] = {}
    for k, ann in enumerate(data["annotations"]):
        parsed = _annotation(ann, k, json_path, images, class_of, problems)
        if parsed is not None:
            by_image.setdefault(parsed.pop("image_id"), []).append(parsed)

    files, rows, builder = [], [], InstanceBuilder()
    for image_id, (file_name, _) in images.items():
        anns = by_image.get(image_id)
        if not anns:  # the usual convention: images without annotations are not used
            continue
        code = np.zeros(len(categories), dtype=np.int8)
        builder.start_sample()
        for ann in anns:
            code[ann["cls"]] = 1
            builder.add(**ann)
        files.append(prefix + file_name)
        rows.append(code)
    targets = np.stack(rows) if rows else np.zeros((0, len(categories)), np.int8)
    return Records([name for _, name in categories], files, targets, builder.build())


def _annotation(
    ann: Any,
    k: int,
    json_path: Path,
    images: dict[int, tuple[str, float]],
    class_of: dict[int, int],
    problems: list[str] | None,
) -> dict | None:
    """One annotation as an instance row (plus its image id), or None after a problem."""
    try:
        image_id, cat_id = int(ann["image_id"]), int(ann["category_id"])
        _, _, w, h = (float(v) for v in ann["bbox"])
    except (KeyError, TypeError, ValueError):
        fail(problems, f"{json_path}: annotations[{k}] needs 'image_id', 'category_id', 'bbox'")
        return None
    if image_id not in images:
        fail(problems, f"{json_path}: annotations[{k}].image_id {image_id} names no image")
        return None
    if cat_id not in class_of:
        fail(problems, f"{json_path}: annotations[{k}].category_id {cat_id} is not a category")
        return None
    occlusion = ann.get("occlusion")  # synthetic trees only: the hidden fraction
    truncated = ann.get("truncated")  # synthetic trees only
    return {
        "image_id": image_id,
        "cls": class_of[cat_id],
        "area_frac": min(max(w, 0.0) * max(h, 0.0) / max(images[image_id][1], 1.0), 1.0),
        "occluded": None if occlusion is None else float(occlusion),
        "truncated": None if truncated is None else bool(truncated),
        "crowd": bool(ann.get("iscrowd", 0)),
    }
