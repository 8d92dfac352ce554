"""PASCAL VOC 2007 read from ``VOCdevkit/VOC2007`` as unpacked from the official tars.

Codes per image and class: positive if any non-difficult instance; "difficult only" is a
negative in training and ignored (-1) at test time, as in the paper's evaluation.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from benchmark.data.classes import VOC_CLASSES
from benchmark.data.records import InstanceBuilder, Records, fail

IGNORE_ALL = -1
SPLIT_LISTS = {"train": "trainval.txt", "test": "test.txt"}


def load_voc(
    root: Path, split: str, problems: list[str] | None = None, cache_dir: Path | None = None
) -> Records:
    """Parse one split; ``root`` holds ``VOCdevkit``. With ``problems`` given, collect instead
    of raising and skip the broken entries."""
    base = root / "VOCdevkit" / "VOC2007"
    list_file = base / "ImageSets" / "Main" / SPLIT_LISTS[split]
    if not list_file.is_file():
        fail(problems, f"{list_file}: split list missing")
        return _records([], np.zeros((0, len(VOC_CLASSES)), np.int8), InstanceBuilder())
    ids = [line.split()[0] for line in list_file.read_text().splitlines() if line.strip()]
    if not ids:
        fail(problems, f"{list_file}: split list is empty")
    images = set(os.listdir(base / "JPEGImages")) if (base / "JPEGImages").is_dir() else set()
    class_index = {name: i for i, name in enumerate(VOC_CLASSES)}
    files: list[str] = []
    rows: list[np.ndarray] = []
    builder = InstanceBuilder()
    for image_id in ids:
        xml_path = base / "Annotations" / f"{image_id}.xml"
        parsed = _parse_xml(xml_path, class_index, problems)
        if parsed is None:
            continue
        file_name, objects = parsed
        if file_name not in images:
            fail(problems, f"{xml_path}: names image {base / 'JPEGImages' / file_name}, not found")
            continue
        code = np.zeros(len(VOC_CLASSES), dtype=np.int8)
        hard = np.zeros(len(VOC_CLASSES), dtype=bool)
        builder.start_sample()
        for obj in objects:
            builder.add(**obj)
            if obj["difficult"]:
                hard[obj["cls"]] = True
            else:
                code[obj["cls"]] = 1
        if split == "test":
            code[hard & (code == 0)] = IGNORE_ALL
        files.append(str(base / "JPEGImages" / file_name))
        rows.append(code)
    targets = np.stack(rows) if rows else np.zeros((0, len(VOC_CLASSES)), np.int8)
    return _records(files, targets, builder)


def _records(files: list[str], targets: np.ndarray, builder: InstanceBuilder) -> Records:
    return Records(list(VOC_CLASSES), files, targets, builder.build())


def _parse_xml(
    path: Path, class_index: dict[str, int], problems: list[str] | None
) -> tuple[str, list[dict]] | None:
    """(image file name, objects) of one annotation file, or None after reporting a problem."""
    if not path.is_file():
        fail(problems, f"{path}: annotation file missing (listed in the split list)")
        return None
    try:
        tree = ET.parse(path).getroot()
    except ET.ParseError as err:
        fail(problems, f"{path}: malformed XML ({err})")
        return None
    try:
        file_name = _text(tree, "filename")
        width = _number(tree, "size/width")
        height = _number(tree, "size/height")
        if width <= 0 or height <= 0:
            raise ValueError("size/width, size/height: must be positive")
        objects = [
            _parse_object(obj, k, class_index, width * height)
            for k, obj in enumerate(tree.findall("object"))
        ]
    except ValueError as err:
        fail(problems, f"{path}: {err}")
        return None
    return file_name, objects


def _parse_object(obj: ET.Element, k: int, class_index: dict[str, int], image_area: float) -> dict:
    try:
        name = _text(obj, "name")
        if name not in class_index:
            raise ValueError(f"field <name>: unknown class {name!r}")
        box = [_number(obj, f"bndbox/{c}") for c in ("xmin", "ymin", "xmax", "ymax")]
        area = max(box[2] - box[0] + 1, 0) * max(box[3] - box[1] + 1, 0)
        # Synthetic trees add <occlusion>, the hidden fraction; real VOC 2007 has no such field.
        occluded = _number(obj, "occlusion") if obj.find("occlusion") is not None else None
        return {
            "cls": class_index[name],
            "area_frac": min(area / image_area, 1.0),
            "occluded": occluded,
            "truncated": _flag(obj, "truncated"),
            "difficult": bool(_flag(obj, "difficult")),
        }
    except ValueError as err:
        raise ValueError(f"object {k}: {err}") from None


def _text(node: ET.Element, field: str) -> str:
    text = node.findtext(field)
    if text is None or not text.strip():
        raise ValueError(f"field <{field}> missing")
    return text.strip()


def _number(node: ET.Element, field: str) -> float:
    text = _text(node, field)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"field <{field}>: not a number ({text!r})") from None


def _flag(node: ET.Element, field: str) -> bool | None:
    text = node.findtext(field)
    if text is None or not text.strip():
        return None
    try:
        return bool(int(float(text)))
    except ValueError:
        raise ValueError(f"field <{field}>: not 0/1 ({text.strip()!r})") from None
