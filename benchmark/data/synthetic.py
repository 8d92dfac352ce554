"""Synthetic datasets written in the official on-disk layouts, so the real loaders read them
unchanged (smoke and mini profiles, tests).

Scenes are built for the paper's question: class signatures a small CNN can learn, 1–4
objects of varied size (many below 3 % of the image), context groups that co-occur, and
occluders and overlaps whose hidden fraction is measured and recorded. Output is a pure
function of the arguments: JSON and XML are byte-identical for a seed, JPEG quality is fixed.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmark.data.classes import COCO_CATEGORIES, VOC_CLASSES, WIDER_ATTRIBUTES
from benchmark.data.layout import dataset_info
from benchmark.data.people import SCENES, person_scene
from benchmark.data.scenes import AREA_RANGE, Placed, object_scene_with_classes, scene_frame
from benchmark.errors import UserError
from benchmark.store.results import atomic_write_bytes

GENERATOR_VERSION = 1
MARKER = "SYNTHETIC.json"
JPEG_QUALITY = 90
PARALLEL_MIN = 256  # images in a split below which worker processes cost more than they save
SPLIT_CODES = {"train": 0, "test": 1}
VOC_GROUPS = (  # context groups: classes that tend to appear together
    ("aeroplane", "bicycle", "boat", "bus", "car", "motorbike", "train", "person"),
    ("bird", "cat", "cow", "dog", "horse", "sheep", "person"),
    ("bottle", "chair", "diningtable", "pottedplant", "sofa", "tvmonitor", "person", "cat"),
)
COCO_CONTEXTS = (  # COCO supercategories merged into scene contexts
    ("person", "vehicle", "outdoor", "accessory"),
    ("animal",),
    ("sports", "person"),
    ("kitchen", "food", "appliance"),
    ("furniture", "electronic", "indoor"),
)


def synthesize(
    dataset: str,
    out: Path,
    train_images: int,
    test_images: int,
    image_size: int,
    seed: int,
    workers: int = 1,
    object_area: tuple[float, float] | None = None,
) -> Path:
    """Write a synthetic ``dataset`` tree under ``out`` and return ``out`` (a valid ``--root``).

    ``out`` must be empty, absent, or a previous synthetic tree (it is then replaced).
    A ``SYNTHETIC.json`` marker records the arguments and the expected sample counts.
    ``workers`` processes draw the images of a large split (same bytes for any number).
    ``object_area``: the log-uniform range of an object's box area as a fraction of the image
    (VOC/COCO scenes; None: v1's 0.6–25 %, ``scenes.AREA_RANGE``).
    """
    dataset_info(dataset)
    _check_object_area(object_area)
    for name, value, low in (
        ("images", train_images, 1),
        ("test-images", test_images, 1),
        ("size", image_size, 32),
    ):
        if value < low:
            raise UserError(f"--{name}: must be at least {low}, got {value}")
    out = Path(out)
    _prepare(out)
    writer = WRITERS[dataset]
    counts = {}
    for split, n in (("train", train_images), ("test", test_images)):
        counts[split] = writer(out, split, n, image_size, seed, workers, object_area)
    marker = {
        "dataset": dataset,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "image_size": image_size,
        "images": {"train": train_images, "test": test_images},
        "counts": counts,
        **({"object_area": list(object_area)} if object_area is not None else {}),
    }
    # Written last, atomically: a tree without its marker is unfinished (the images and
    # annotations before it are plain writes, as a tree is only used once its marker is there).
    atomic_write_bytes(out / MARKER, (json.dumps(marker, indent=2) + "\n").encode())
    return out


def _check_object_area(object_area: tuple[float, float] | None) -> None:
    if object_area is None:
        return
    low, high = object_area
    if not 0 < low < high <= 1:
        raise UserError(
            f"object area range: need 0 < low < high <= 1 (fractions of the image), got "
            f"{low}, {high}"
        )


def scene_classes(
    dataset: str,
    split: str,
    i: int,
    size: int,
    seed: int,
    object_area: tuple[float, float] | None = None,
) -> tuple[np.ndarray, dict[int, list[tuple[int, int, int, int]]]]:
    """Image ``i`` of a VOC or COCO tree, replayed without writing it: its class map (the
    class visible at each pixel, -1 elsewhere) and, for each class its loader labels positive
    in training (VOC: a non-difficult instance; COCO: any annotation, crowds included), the
    boxes of all its instances (x0, y0, x1, y1, clipped, end exclusive)."""
    if dataset == "voc2007":
        _, objects, difficult, classes = _voc_scene(split, i, size, seed, object_area)
        positive = {o.cls for o, d in zip(objects, difficult, strict=True) if not d}
    elif dataset == "coco2014":
        _, objects, classes = _coco_scene(split, i, size, seed, object_area)
        positive = {o.cls for o in objects}
    else:
        raise ValueError(f"scene_classes: {dataset} has no object scenes")
    return classes, {c: [o.box for o in objects if o.cls == c] for c in sorted(positive)}


def read_marker(root: Path) -> dict[str, Any] | None:
    """The SYNTHETIC.json of a tree written by ``synthesize``, or None for real data."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def context_groups(dataset: str, files: list[str], split: str, seed: int, size: int) -> np.ndarray:
    """The context group of each sample of a synthetic tree, read back from its file name.

    VOC/COCO scenes draw their group first (``scenes.scene_frame``), so it is recovered by
    replaying those draws from the image's own generator; a WIDER scene is the ``K--Name``
    folder the image lies in, as in the real dataset.
    """
    groups = []
    for path in files:
        name = Path(path).name
        if dataset == "wider":
            groups.append(int(Path(path).parent.name.split("--")[0]))
            continue
        number = int(re.findall(r"\d+", name)[-1])
        offset = 0 if split == "train" else 500000
        count = len(VOC_GROUPS) if dataset == "voc2007" else len(COCO_CONTEXTS)
        rng = _rng(seed, dataset, split, number - offset - 1)
        groups.append(scene_frame(rng, size, count)[2])
    return np.asarray(groups, dtype=np.int64)


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise UserError(f"--out {out}: folder is not empty and holds no {MARKER}")
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _rng(seed: int, dataset: str, split: str, i: int) -> np.random.Generator:
    """One generator per image: output does not depend on order or on the other split."""
    code = {"voc2007": 1, "coco2014": 2, "wider": 3}[dataset]
    return np.random.default_rng([seed, code, SPLIT_CODES[split], i])


def _save_jpeg(image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=JPEG_QUALITY)


def _groups(names: tuple[str, ...], groups: tuple[tuple[str, ...], ...]) -> list[list[int]]:
    index = {name: i for i, name in enumerate(names)}
    return [[index[n] for n in group] for group in groups]


def _write_voc(
    out: Path, split: str, n: int, size: int, seed: int, workers: int = 1, object_area=None
) -> int:
    base = out / "VOCdevkit" / "VOC2007"
    offset = 0 if split == "train" else 500000  # test ids follow train ids, as in VOC
    args = [(base, split, i, size, seed, offset, object_area) for i in range(n)]
    ids = _map(_voc_image, args, workers, f"voc2007 {split}")
    list_name = "trainval.txt" if split == "train" else "test.txt"
    lines = "".join(f"{i}\n" for i in ids)
    _write_bytes(base / "ImageSets" / "Main" / list_name, lines.encode())
    return n


def _voc_scene(split: str, i: int, size: int, seed: int, object_area) -> tuple:
    """(image, objects, their difficult flags, class map) of one VOC scene."""
    rng = _rng(seed, "voc2007", split, i)
    image, objects, classes = object_scene_with_classes(
        rng, size, _groups(VOC_CLASSES, VOC_GROUPS), len(VOC_CLASSES),
        area_range=object_area or AREA_RANGE,
    )  # fmt: skip
    difficult = [_voc_difficult(obj, rng) for obj in objects]  # drawn after the image
    return image, objects, difficult, classes


def _voc_image(
    base: Path, split: str, i: int, size: int, seed: int, offset: int, object_area=None
) -> str:
    image, objects, difficult, _ = _voc_scene(split, i, size, seed, object_area)
    image_id = f"{offset + i + 1:06d}"
    _save_jpeg(image, base / "JPEGImages" / f"{image_id}.jpg")
    xml = _voc_xml(image_id, image.size, objects, difficult)
    _write_bytes(base / "Annotations" / f"{image_id}.xml", xml.encode())
    return image_id


def _voc_difficult(obj: Placed, rng: np.random.Generator) -> bool:
    """Heavily hidden objects are always difficult; hidden or tiny ones sometimes, as in VOC."""
    if obj.occluded >= 0.8:
        return True
    return (obj.occluded >= 0.5 or obj.area_frac < 0.01) and rng.random() < 0.4


def _voc_xml(
    image_id: str, size: tuple[int, int], objects: list[Placed], difficult: list[bool]
) -> str:
    parts = [
        "<annotation>",
        "\t<folder>VOC2007</folder>",
        f"\t<filename>{image_id}.jpg</filename>",
        "\t<source><database>benchmark synthetic</database></source>",
        f"\t<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>",
        "\t<segmented>0</segmented>",
    ]
    for obj, hard in zip(objects, difficult, strict=True):
        x0, y0, x1, y1 = obj.box
        parts += [
            "\t<object>",
            f"\t\t<name>{VOC_CLASSES[obj.cls]}</name>",
            "\t\t<pose>Unspecified</pose>",
            f"\t\t<truncated>{int(obj.truncated)}</truncated>",
            f"\t\t<difficult>{int(hard)}</difficult>",
            f"\t\t<occlusion>{obj.occluded:.3f}</occlusion>",
            # VOC boxes are 1-based and inclusive.
            f"\t\t<bndbox><xmin>{x0 + 1}</xmin><ymin>{y0 + 1}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>",
            "\t</object>",
        ]
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def _write_coco(
    out: Path, split: str, n: int, size: int, seed: int, workers: int = 1, object_area=None
) -> int:
    folder = "train2014" if split == "train" else "val2014"
    offset = 0 if split == "train" else 500000
    args = [(out, folder, split, i, size, seed, offset, object_area) for i in range(n)]
    drawn = _map(_coco_image, args, workers, f"coco2014 {split}")
    images, annotations = [], []
    for image, objects in drawn:
        images.append(image)
        for obj in objects:
            x0, y0, x1, y1 = obj.box
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image["id"],
                    "category_id": COCO_CATEGORIES[obj.cls][0],
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": obj.visible,
                    "iscrowd": int(obj.crowd),
                    "occlusion": obj.occluded,  # not in real COCO; read when present
                    "truncated": int(obj.truncated),  # idem
                }
            )
    categories = [{"id": i, "name": name, "supercategory": s} for i, name, s in COCO_CATEGORIES]
    data = {
        "info": {"description": "benchmark synthetic COCO-2014 layout", "version": "1"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    _write_json(out / "annotations" / f"instances_{folder}.json", data)
    return len({a["image_id"] for a in annotations})


def _coco_scene(split: str, i: int, size: int, seed: int, object_area) -> tuple:
    """(image, objects, class map) of one COCO scene."""
    supers = [sup for _, _, sup in COCO_CATEGORIES]
    contexts = [[k for k, s in enumerate(supers) if s in ctx] for ctx in COCO_CONTEXTS]
    rng = _rng(seed, "coco2014", split, i)
    return object_scene_with_classes(
        rng, size, contexts, len(COCO_CATEGORIES), empty_prob=0.03, crowd_prob=0.08,
        area_range=object_area or AREA_RANGE,
    )  # fmt: skip


def _coco_image(
    out: Path,
    folder: str,
    split: str,
    i: int,
    size: int,
    seed: int,
    offset: int,
    object_area=None,
) -> tuple[dict[str, Any], list[Placed]]:
    image, objects, _ = _coco_scene(split, i, size, seed, object_area)
    image_id = offset + i + 1
    file_name = f"COCO_{folder}_{image_id:012d}.jpg"
    _save_jpeg(image, out / folder / file_name)
    entry = {"id": image_id, "file_name": file_name, "width": image.size[0],
             "height": image.size[1]}  # fmt: skip
    return entry, objects


def _write_wider(
    out: Path, split: str, n: int, size: int, seed: int, workers: int = 1, object_area=None
) -> int:
    if object_area is not None:
        raise UserError("object area range: WIDER scenes draw people, not objects")
    args = [(out, split, i, size, seed) for i in range(n)]
    images = _map(_wider_image, args, workers, f"wider {split}")
    data = {
        "images": images,
        "attribute_id_map": {str(i): name for i, name in enumerate(WIDER_ATTRIBUTES)},
        "scene_id_map": {str(i): name for i, name in enumerate(SCENES)},
    }
    which = "trainval" if split == "train" else "test"
    _write_json(out / "Annotations" / f"wider_attribute_{which}.json", data)
    return sum(len(image["targets"]) for image in images)


def _wider_image(out: Path, split: str, i: int, size: int, seed: int) -> dict[str, Any]:
    rng = _rng(seed, "wider", split, i)
    image, scene, people = person_scene(rng, size)
    sub = "test" if split == "test" else ("val" if i % 5 == 4 else "train")
    name = SCENES[scene]
    file_name = f"{sub}/{scene}--{name}/{scene}_{name}_{i + 1}.jpg"
    _save_jpeg(image, out / "Image" / file_name)
    targets = [
        {"attribute": p.attributes, "bbox": list(p.box), "occlusion": p.occluded} for p in people
    ]
    return {"file_name": file_name, "scene_id": scene, "targets": targets}


def _map(fn: Callable[..., Any], args: list[tuple], workers: int, label: str) -> list[Any]:
    """``fn(*a)`` for every ``a``, in order, with a progress bar on a terminal (a mini tree
    takes about a minute); over ``workers`` processes when it pays. Each image has its own
    generator (``_rng``), so the output does not depend on how work is split."""
    bar = tqdm(total=len(args), desc=f"synthetic {label}", unit="img", disable=None)
    with bar:
        if workers <= 1 or len(args) < PARALLEL_MIN:
            return [_advance(bar, fn(*a)) for a in args]
        # spawn: no fork of a process that holds torch threads
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            done = pool.map(fn, *zip(*args, strict=True), chunksize=32)
            return [_advance(bar, value) for value in done]


def _advance(bar, value):
    bar.update()
    return value


def _write_json(path: Path, data: Any) -> None:
    _write_bytes(path, json.dumps(data, separators=(",", ":")).encode())


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


WRITERS: dict[str, Callable[..., int]] = {
    "voc2007": _write_voc,
    "coco2014": _write_coco,
    "wider": _write_wider,
}
