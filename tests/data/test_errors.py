"""Bad roots, bad annotations and bad images fail with one line naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from benchmark.data import build_dataset
from benchmark.data.layout import find_root
from benchmark.data.synthetic import synthesize
from benchmark.errors import DataError, UserError


@pytest.mark.parametrize("name", ["voc2007", "coco2014", "wider"])
def test_root_may_be_one_level_up_or_down(tmp_path: Path, name: str) -> None:
    root = synthesize(name, tmp_path / "unpacked" / "ds", 3, 2, 32, seed=0)
    assert find_root(name, root) == root
    assert find_root(name, root.parent) == root  # the folder holding the dataset folder
    child = {"voc2007": "VOCdevkit", "coco2014": "annotations", "wider": "Image"}[name]
    assert find_root(name, root / child) == root  # e.g. --root VOCdevkit
    assert len(build_dataset(name, root / child, "train", 16, train=False)) > 0


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("voc2007", ["VOCdevkit/VOC2007", "VOCtrainval_06-Nov-2007.tar", "VOCtest_06-Nov-2007"]),
        ("coco2014", ["instances_{train,val}2014.json", "train2014.zip", "annotations_trainval"]),
        ("wider", ["wider_attribute_{trainval,test}.json", "WIDERAttribute.html"]),
    ],
)
def test_missing_root_explains_layout_and_archives(tmp_path: Path, name, needles) -> None:
    with pytest.raises(DataError) as err:
        build_dataset(name, tmp_path / "nowhere", "train", 32, train=True)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert "does not exist" in message
    for needle in needles:
        assert needle in message


def test_bad_arguments_are_user_errors(tmp_path: Path) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 2, 2, 32, seed=0)
    with pytest.raises(UserError, match="dataset: unknown name 'imagenet'"):
        build_dataset("imagenet", root, "train", 32, train=True)
    with pytest.raises(UserError, match="split: unknown value 'val'"):
        build_dataset("voc2007", root, "val", 32, train=True)
    with pytest.raises(UserError, match="augment: unknown value"):
        build_dataset("voc2007", root, "train", 32, train=True, augment="mixup")


def test_malformed_xml_names_the_file(tmp_path: Path) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 3, 2, 32, seed=0)
    xml = root / "VOCdevkit" / "VOC2007" / "Annotations" / "000002.xml"
    xml.write_text("<annotation><filename>000002.jpg</filename><size>")
    with pytest.raises(DataError, match=rf"{xml}: malformed XML"):
        build_dataset("voc2007", root, "train", 32, train=True)
    xml.write_text(
        "<annotation><filename>000002.jpg</filename><size><width>32</width>"
        "<height>24</height></size><object><name>unicorn</name></object></annotation>"
    )
    with pytest.raises(DataError, match=rf"{xml}: object 0: field <name>: unknown class"):
        build_dataset("voc2007", root, "train", 32, train=True)


def test_annotation_naming_a_missing_image_names_both(tmp_path: Path) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 3, 2, 32, seed=0)
    image = root / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000003.jpg"
    image.unlink()
    with pytest.raises(DataError) as err:
        build_dataset("voc2007", root, "train", 32, train=True)
    assert "000003.xml" in str(err.value) and str(image) in str(err.value)

    coco = synthesize("coco2014", tmp_path / "coco", 4, 2, 32, seed=0)
    missing = sorted((coco / "val2014").iterdir())[0]
    missing.unlink()
    with pytest.raises(DataError) as err:
        build_dataset("coco2014", coco, "test", 32, train=False)
    assert "instances_val2014.json" in str(err.value) and str(missing) in str(err.value)


def _corrupt_first_image(root: Path) -> tuple[int, str]:
    ds = build_dataset("voc2007", root, "train", 32, train=False)
    Path(ds.files[1]).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return 1, ds.files[1]


def test_corrupt_image_raises_naming_it(tmp_path: Path) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 4, 2, 32, seed=0)
    index, path = _corrupt_first_image(root)
    ds = build_dataset("voc2007", root, "train", 32, train=False)
    with pytest.raises(DataError, match=rf"{path}: cannot decode image"):
        ds[index]


@pytest.mark.parametrize("workers", [0, 2])
def test_skip_bad_drops_the_sample_and_reports_the_file(tmp_path: Path, workers: int) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 4, 2, 32, seed=0)
    index, path = _corrupt_first_image(root)
    ds = build_dataset("voc2007", root, "train", 24, train=True, skip_bad=True)
    assert ds[index] is None
    ds.collate([])  # drain what the direct call above recorded
    loader = DataLoader(ds, batch_size=2, shuffle=False, num_workers=workers, collate_fn=ds.collate)
    batches = list(loader)
    images, targets, indices, bad = batches[0]
    assert images.shape == (1, 3, 24, 24) and targets.shape == (1, 20)
    assert indices.tolist() == [0] and bad == [path]
    images, _, indices, bad = batches[1]
    assert indices.tolist() == [2, 3] and bad == [] and images.dtype == torch.float32
    images, targets, indices, bad = ds.collate([ds[index]])  # a batch with nothing left
    assert images.shape == (0, 3, 24, 24) and targets.shape == (0, 20) and bad == [path]
