"""The loaders read the official layouts (here written by ``synthesize`` or by hand) with the
paper's label codes: VOC difficult-only, COCO skipping and crowds, WIDER unspecified and crops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.data import build_dataset, load_records
from benchmark.data.classes import COCO_CLASSES, VOC_CLASSES, WIDER_ATTRIBUTES
from benchmark.data.synthetic import read_marker, synthesize
from benchmark.data.wider import crop_box

OFFICIAL = {"voc2007": VOC_CLASSES, "coco2014": COCO_CLASSES, "wider": WIDER_ATTRIBUTES}


@pytest.fixture(scope="module")
def synth_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("synth")
    return {name: synthesize(name, base / name, 40, 30, 64, seed=5) for name in OFFICIAL}


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_synthetic_round_trip(name: str, synth_roots: dict[str, Path]) -> None:
    root = synth_roots[name]
    counts = read_marker(root)["counts"]
    for split in ("train", "test"):
        ds = build_dataset(name, root, split, img_size=48, train=split == "train")
        assert len(ds) == counts[split] > 0
        assert ds.classes == list(OFFICIAL[name])
        assert ds.targets.dtype == torch.int8 and ds.targets.shape == (len(ds), len(ds.classes))
        assert len(ds.files) == len(ds.instances) == len(ds)
        image, target, index = ds[3]
        assert image.shape == (3, 48, 48) and image.dtype == torch.float32
        assert torch.equal(target, ds.targets[3].float()) and index == 3
        # Every positive has an instance of that class (WIDER: a positive attribute).
        for i in range(len(ds)):
            classes = {inst["cls"] for inst in ds.instances[i]}
            assert set(torch.nonzero(ds.targets[i] == 1).flatten().tolist()) <= classes
    if name == "voc2007":
        assert counts == {"train": 40, "test": 30}


def test_synthetic_scenes_hold_small_occluded_and_truncated_objects(synth_roots) -> None:
    ds = build_dataset("voc2007", synth_roots["voc2007"], "train", 32, train=False)
    objects = [inst for i in range(len(ds)) for inst in ds.instances[i]]
    area = np.array([o["area_frac"] for o in objects])
    occluded = np.array([o["occluded"] for o in objects])
    assert (area < 0.03).mean() > 0.25
    assert (occluded > 0.2).mean() > 0.05 and ((occluded >= 0) & (occluded <= 1)).all()
    assert any(o["truncated"] for o in objects) and any(o["difficult"] for o in objects)
    per_image = [len(ds.instances[i]) for i in range(len(ds))]
    assert min(per_image) >= 1 and max(per_image) >= 3


def test_voc_difficult_only_is_negative_in_train_ignored_in_test(tmp_path: Path, trees) -> None:
    images = {
        "000001": [("dog", 0), ("cat", 1)],  # cat: difficult only
        "000002": [("cat", 1), ("cat", 0), ("person", 1), ("person", 1)],
    }
    root = trees.voc(tmp_path / "data", {"train": images, "test": images})
    dog, cat, person = (VOC_CLASSES.index(c) for c in ("dog", "cat", "person"))
    train = load_records("voc2007", root, "train").targets
    test = load_records("voc2007", root, "test").targets
    assert train[0, dog] == 1 and train[0, cat] == 0 and test[0, cat] == -1
    assert train[1, cat] == 1 and test[1, cat] == 1  # one non-difficult instance is enough
    assert train[1, person] == 0 and test[1, person] == -1
    assert test[0, person] == 0  # absent stays negative
    ds = build_dataset("voc2007", root, "test", 16, train=False)
    assert ds.instances[0][1] == {
        "cls": cat, "area_frac": 150 / 1200, "occluded": None, "truncated": False,
        "difficult": True, "crowd": None,
    }  # fmt: skip


def test_coco_skips_unannotated_images_counts_crowds_and_sorts_ids(tmp_path: Path, trees) -> None:
    images = [
        {"id": 7, "file_name": "a.jpg", "width": 40, "height": 30},
        {"id": 3, "file_name": "empty.jpg", "width": 40, "height": 30},
        {"id": 9, "file_name": "crowd.jpg", "width": 20, "height": 10},
    ]
    anns = [
        {"id": 1, "image_id": 7, "category_id": 13, "bbox": [0, 0, 10, 6], "iscrowd": 0},
        {"id": 2, "image_id": 7, "category_id": 90, "bbox": [2, 2, 4, 4], "iscrowd": 0},
        {"id": 3, "image_id": 9, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1},
    ]
    root = trees.coco(tmp_path / "coco", "val2014", images, anns)
    ds = build_dataset("coco2014", root, "test", 16, train=False)
    assert ds.classes == ["person", "stop sign", "toothbrush"]  # sorted category id 1, 13, 90
    assert [Path(f).name for f in ds.files] == ["a.jpg", "crowd.jpg"]
    assert ds.targets.tolist() == [[0, 1, 1], [1, 0, 0]]
    crowd = ds.instances[1][0]
    assert crowd["crowd"] is True and crowd["area_frac"] == pytest.approx(0.5)
    assert ds.instances[0][0]["area_frac"] == pytest.approx(60 / 1200)


def test_coco_parse_is_cached_on_json_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path, trees
) -> None:
    images = [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30}]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "iscrowd": 0}]
    root = trees.coco(tmp_path / "coco", "train2014", images, anns)
    first = load_records("coco2014", root, "train", cache_dir=private_cache)
    assert list((private_cache / "annotations").glob("coco-*.npz"))

    def no_parse(*args, **kwargs):
        raise AssertionError("json.load called on a cache hit")

    monkeypatch.setattr(json, "load", no_parse)
    second = load_records("coco2014", root, "train", cache_dir=private_cache)
    assert second.files == first.files and np.array_equal(second.targets, first.targets)
    assert second.instances[0] == first.instances[0]
    # A rewritten annotation file (new size and mtime) is parsed again.
    path = root / "annotations" / "instances_train2014.json"
    path.write_text(path.read_text() + "\n")
    with pytest.raises(AssertionError, match="json.load called"):
        load_records("coco2014", root, "train", cache_dir=private_cache)


def test_wider_codes_and_crops(tmp_path: Path, trees) -> None:
    root = tmp_path / "wider"
    trees.jpeg(root / "Image" / "train" / "0--Parade" / "a.jpg", (60, 40))
    trees.jpeg(root / "Image" / "test" / "0--Parade" / "b.jpg", (60, 40))
    raw = [1, -1, 0, 1, -1, -1, 0, -1, -1, -1, -1, -1, -1, 1]
    for split, sub in (("trainval", "train"), ("test", "test")):
        data = {
            "images": [
                {
                    "file_name": f"{sub}/0--Parade/{'a' if sub == 'train' else 'b'}.jpg",
                    "targets": [
                        {"bbox": [10, 5, 12, 30], "attribute": raw},
                        {"bbox": [50, 20, 20, 30], "attribute": [-1] * 14},  # past the edge
                    ],
                }
            ]
        }
        path = root / "Annotations" / f"wider_attribute_{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    train = build_dataset("wider", root, "train", 32, train=True, augment="flip", normalize="half")
    test = build_dataset("wider", root, "test", 32, train=False, normalize="half")
    assert len(train) == len(test) == 2
    unspecified = np.asarray(raw) == 0
    assert (train.targets[0].numpy()[unspecified] == 0).all()
    assert (test.targets[0].numpy()[unspecified] == -2).all()
    assert train.targets[0].tolist() == test.targets[0].where(test.targets[0] != -2, 0).tolist()
    assert test.load_image(0).size == (12, 30)  # the box's own aspect, before any resize
    assert test.load_image(1).size == (20, 30)  # past the 60×40 image: padded, not clipped
    assert test.instances[1] == [] and test.instances[0][0]["truncated"] is False
    image, _, _ = test[0]
    assert image.shape == (3, 32, 32) and image.min() >= -1 and image.min() < 0


def test_synthetic_wider_crops_match_boxes(synth_roots: dict[str, Path]) -> None:
    root = synth_roots["wider"]
    data = json.loads((root / "Annotations" / "wider_attribute_test.json").read_text())
    raw = np.array([t["attribute"] for im in data["images"] for t in im["targets"]])
    ds = build_dataset("wider", root, "test", 32, train=False)
    assert np.array_equal(ds.targets.numpy(), np.where(raw == 0, -2, np.where(raw == 1, 1, 0)))
    train = build_dataset("wider", root, "train", 32, train=True)
    assert (train.targets >= 0).all()
    for i in range(0, len(ds), 7):
        expected = crop_box(ds.boxes[i])
        crop = ds.load_image(i)
        assert crop.size == (expected[2] - expected[0], expected[3] - expected[1])


def test_wider_box_past_each_edge_is_padded_black_as_pil_crop(tmp_path: Path) -> None:
    # The authors crop with PIL's img.crop([x, y, x + w, y + h]): outside the image is black,
    # -1 after WIDER's mean/std 0.5. Every source pixel is non-black, so padding is visible.
    width, height = 10, 8
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = 10 + 20 * np.arange(width)[None, :]
    pixels[..., 1] = 10 + 25 * np.arange(height)[:, None]
    pixels[..., 2] = 200
    root = tmp_path / "wider"
    (root / "Image" / "p").mkdir(parents=True)
    Image.fromarray(pixels).save(root / "Image" / "p" / "a.png")
    boxes = {
        "left": [-2.4, 1, 6, 6],  # PIL rounds: columns -2…3
        "top": [1, -3, 6, 6],
        "right": [7, 1, 6, 6],
        "bottom": [2, 5, 6, 6],
    }
    (root / "Annotations").mkdir()
    targets = [{"bbox": box, "attribute": [1] + [-1] * 13} for box in boxes.values()]
    data = {"images": [{"file_name": "p/a.png", "targets": targets}]}
    (root / "Annotations" / "wider_attribute_test.json").write_text(json.dumps(data))
    ds = build_dataset("wider", root, "test", 6, train=False, normalize="half")
    for i, (edge, (x, y, _, _)) in enumerate(boxes.items()):
        x0, y0 = round(x), round(y)
        expected = np.full((3, 6, 6), -1.0, np.float32)  # black after mean/std 0.5
        for r in range(6):
            for c in range(6):
                sx, sy = x0 + c, y0 + r
                if 0 <= sx < width and 0 <= sy < height:
                    expected[:, r, c] = pixels[sy, sx] / 255 * 2 - 1
        assert ds.load_image(i).size == (6, 6), edge
        image, _, _ = ds[i]
        assert (expected == -1).any(axis=0).any(), edge  # the box does reach past this edge
        np.testing.assert_allclose(image.numpy(), expected, atol=1e-6, err_msg=edge)
