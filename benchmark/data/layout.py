"""Where each dataset lives on disk, where its archives come from, and how big it should be.

``find_root`` forgives a ``--root`` that is one level off (the folder the archives were unpacked
into, one of its children, or its parent), because that is the mistake users actually make.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import DataError, UserError


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset: layout, archives (with MD5 where published), counts."""

    name: str
    title: str
    layout: str  # one line: the tree below the root
    archives: dict[str, str | None]  # official archive name -> MD5 (None: none published)
    archive_tops: dict[str, tuple[str, ...]]  # archive name -> top entries it must contain
    source: str
    counts: dict[str, int]  # samples per split after the loader's filtering


# MD5s: VOC from torchvision's datasets/voc.py; COCO as used by LAVIS, GluonCV and torchvision-R
# (the annotation zip's value equals the S3 ETag of the official file). WIDER-Attribute publishes
# none, so its archives are only opened and checked for their top folders.
DATASETS: dict[str, DatasetInfo] = {
    "voc2007": DatasetInfo(
        name="voc2007",
        title="PASCAL VOC 2007",
        layout="ROOT/VOCdevkit/VOC2007/{JPEGImages,Annotations,ImageSets/Main/{trainval,test}.txt}",
        archives={
            "VOCtrainval_06-Nov-2007.tar": "c52e279531787c972589f7e41ab4ae64",
            "VOCtest_06-Nov-2007.tar": "b6e924de25625d8de591ea690078ad9f",
        },
        archive_tops={
            "VOCtrainval_06-Nov-2007.tar": ("VOCdevkit/VOC2007",),
            "VOCtest_06-Nov-2007.tar": ("VOCdevkit/VOC2007",),
        },
        source="http://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
        counts={"train": 5011, "test": 4952},
    ),
    "coco2014": DatasetInfo(
        name="coco2014",
        title="MS-COCO 2014",
        layout="ROOT/{train2014,val2014}/*.jpg and ROOT/annotations/instances_{train,val}2014.json",
        archives={
            "train2014.zip": "0da8c0bd3d6becc4dcb32757491aca88",
            "val2014.zip": "a3d79f5ed8d289b7a7554ce06a5782b3",
            "annotations_trainval2014.zip": "0a379cfc70b0e71301e0f377548639bd",
        },
        archive_tops={
            "train2014.zip": ("train2014",),
            "val2014.zip": ("val2014",),
            "annotations_trainval2014.zip": ("annotations",),
        },
        source="https://cocodataset.org/#download",
        counts={"train": 82081, "test": 40137},
    ),
    "wider": DatasetInfo(
        name="wider",
        title="WIDER-Attribute",
        layout="ROOT/Image/{train,val,test}/... and "
        "ROOT/Annotations/wider_attribute_{trainval,test}.json",
        archives={"wider_attribute_image.tgz": None, "wider_attribute_annotation.zip": None},
        archive_tops={
            "wider_attribute_image.tgz": ("Image",),
            "wider_attribute_annotation.zip": (
                "wider_attribute_trainval.json",
                "wider_attribute_test.json",
            ),
        },
        source="http://mmlab.ie.cuhk.edu.hk/projects/WIDERAttribute.html",
        counts={"train": 28345, "test": 29179},
    ),
}
SPLITS = ("train", "test")


def dataset_info(name: str) -> DatasetInfo:
    """The DatasetInfo for ``name``; a UserError names the allowed values otherwise."""
    if name not in DATASETS:
        raise UserError(f"dataset: unknown name {name!r} (allowed: {', '.join(DATASETS)})")
    return DATASETS[name]


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"split: unknown value {split!r} (allowed: train, test)")


def find_root(name: str, root: str | Path, flag: str = "--root") -> Path:
    """The folder that holds the dataset's top-level entries (see ``DATASETS[name].layout``).

    Tries ``root`` itself, then its parent (``--root`` pointed one level down, e.g. at
    ``VOCdevkit``), then its children (``--root`` pointed at the folder holding the unpacked
    dataset folder). A DataError gives the expected layout and the official archives, naming
    the root by ``flag``, the option the user typed it with.
    """
    info = dataset_info(name)
    root = Path(root).expanduser()
    if root.is_dir():
        candidates = [root, root.parent]
        candidates += sorted(p for p in root.iterdir() if p.is_dir())
        for candidate in candidates:
            if _matches(name, candidate):
                return candidate
    state = "does not exist" if not root.exists() else "does not hold the expected layout"
    archives = " + ".join(info.archives)
    raise DataError(
        f"{flag} {root}: {state}; {info.title} expected as {info.layout} "
        f"(unpack {archives} from {info.source} into ROOT)"
    )


def _matches(name: str, path: Path) -> bool:
    if name == "voc2007":
        return (path / "VOCdevkit" / "VOC2007").is_dir()
    if name == "coco2014":
        return (path / "annotations").is_dir() and any(
            (path / sub / split).is_dir()
            for sub in (".", "images")
            for split in ("train2014", "val2014")
        )
    return (path / "Image").is_dir() and any(
        (path / sub / "wider_attribute_trainval.json").is_file()
        or (path / sub / "wider_attribute_test.json").is_file()
        for sub in ("Annotations", "Anno", ".")
    )


def coco_image_dir(root: Path, folder: str) -> Path:
    """``ROOT/train2014`` or, as in CSRA's layout, ``ROOT/images/train2014``."""
    direct = root / folder
    nested = root / "images" / folder
    return nested if not direct.is_dir() and nested.is_dir() else direct


def wider_annotation(root: Path, split: str) -> Path:
    """``ROOT/Annotations/wider_attribute_<split>.json`` (also found in ``Anno/`` or ROOT)."""
    name = f"wider_attribute_{'trainval' if split == 'train' else 'test'}.json"
    for sub in ("Annotations", "Anno", "."):
        if (root / sub / name).is_file():
            return root / sub / name
    return root / "Annotations" / name
