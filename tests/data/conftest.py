"""Fixtures for the data tests: a private cache per test, and tiny hand-written trees in the
official layouts for cases that synthetic data only hits by chance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache, so cache hits are the test's own doing (commands read it
    from $BENCHMARK_CACHE; library calls are given it as ``cache_dir``)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("BENCHMARK_CACHE", str(cache))
    return cache


@pytest.fixture
def trees() -> type:
    """The tree writers below, as a fixture (test modules here are not a package)."""
    return Trees


def write_jpeg(path: Path, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 60, 30)).save(path, quality=90)


def write_voc(root: Path, splits: dict[str, dict[str, list[tuple[str, int]]]]) -> Path:
    """VOC tree: ``splits[split][image_id] = [(class name, difficult), ...]``."""
    base = root / "VOCdevkit" / "VOC2007"
    for split, images in splits.items():
        lists = base / "ImageSets" / "Main"
        lists.mkdir(parents=True, exist_ok=True)
        name = "trainval.txt" if split == "train" else "test.txt"
        (lists / name).write_text("".join(f"{i}\n" for i in images))
        for image_id, objects in images.items():
            write_jpeg(base / "JPEGImages" / f"{image_id}.jpg")
            objs = "".join(
                f"<object><name>{cls}</name><truncated>0</truncated>"
                f"<difficult>{difficult}</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
                f"<xmax>10</xmax><ymax>15</ymax></bndbox></object>"
                for cls, difficult in objects
            )
            xml = (
                f"<annotation><filename>{image_id}.jpg</filename><size><width>40</width>"
                f"<height>30</height><depth>3</depth></size>{objs}</annotation>"
            )
            (base / "Annotations").mkdir(parents=True, exist_ok=True)
            (base / "Annotations" / f"{image_id}.xml").write_text(xml)
    return root


def write_coco(root: Path, folder: str, images: list[dict], annotations: list[dict]) -> Path:
    """COCO tree with the given images (written as JPEGs) and annotations; 3 categories with
    non-contiguous ids, listed out of order."""
    for image in images:
        write_jpeg(root / folder / image["file_name"], (image["width"], image["height"]))
    categories = [
        {"id": 90, "name": "toothbrush"},
        {"id": 1, "name": "person"},
        {"id": 13, "name": "stop sign"},
    ]
    data = {"images": images, "annotations": annotations, "categories": categories}
    path = root / "annotations" / f"instances_{folder}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return root


class Trees:
    jpeg = staticmethod(write_jpeg)
    voc = staticmethod(write_voc)
    coco = staticmethod(write_coco)
