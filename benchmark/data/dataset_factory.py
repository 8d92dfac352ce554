"""Entry points the engine uses: a split's records, or a ready Dataset with its transform."""

from __future__ import annotations

from pathlib import Path

from benchmark.data.coco import load_coco
from benchmark.data.dataset import MultiLabelDataset
from benchmark.data.layout import check_split, dataset_info, find_root
from benchmark.data.records import Records
from benchmark.data.transforms import build_transform
from benchmark.data.voc import load_voc
from benchmark.data.wider import load_wider

LOADERS = {"voc2007": load_voc, "coco2014": load_coco, "wider": load_wider}


def load_records(
    name: str,
    root: str | Path,
    split: str,
    problems: list[str] | None = None,
    cache_dir: Path | None = None,
) -> Records:
    """Labels and instances of a split, without decoding images (COCO and WIDER parses are
    cached under ``cache_dir`` when one is given; VOC's XML is quick to read)."""
    dataset_info(name)
    check_split(split)
    return LOADERS[name](find_root(name, root), split, problems, cache_dir)


def build_dataset(
    name: str,
    root: str | Path,
    split: str,
    img_size: int,
    train: bool,
    augment: str = "flip_rrc",
    normalize: str = "unit",
    skip_bad: bool = False,
    cache_dir: Path | None = None,
) -> MultiLabelDataset:
    """A dataset in its official layout under ``root`` (VOC train = trainval; COCO train =
    train2014, test = val2014; WIDER train = trainval). ``train`` turns augmentation on."""
    transform = build_transform(train, img_size, augment, normalize)
    records = load_records(name, root, split, cache_dir=cache_dir)
    return MultiLabelDataset(records, transform, skip_bad=skip_bad, image_size=img_size)
