"""How the training masks meet a profile's scenes and feature maps: the numbers behind the
regime rule's object-scale and feature-cell parts (docs/mini.md, "mini v3").

- **Object scale**: over the training split's (image, positive class) pairs, the share whose
  class is at least 90 % hidden when the image gets a training crop and a high-pool training
  mask. A class is its instances' boxes (their union), as the real datasets' figures the rule
  compares with are measured; the share over its visible pixels (the generator's class map:
  occluders and overlaps taken out) is reported beside it. The crop's parameters are
  torchvision's own ``RandomResizedCrop.get_params`` (the training transform's scale and
  ratio); the horizontal flip is left out, as flipping an image under a uniformly drawn mask
  changes no share.
- **Feature cells**: over every mask of the high pool, the share of the final feature map's
  cells — the stride × stride block of input pixels each cell stands for — that are at least
  90 % holes.

Every draw is seeded per image, so a sample of images gives the same numbers as the full
measurement does for those images (the regime tests recompute one).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torchvision import transforms as T

from benchmark.data.pools import load_pool_arrays
from benchmark.data.synthetic import GENERATOR_VERSION, scene_classes
from benchmark.data.transforms import RRC_SCALE

HIDDEN = 0.9  # a class or a cell counts as hidden from this share of hole pixels on
DRAWS = 4  # crops and masks drawn per training image
POOL = "high"  # the training pool the rule measures (MSL's, and Table 6's test pool)
RRC_RATIO = (3 / 4, 4 / 3)  # torchvision's default, which the training transform keeps
DATASET_CODES = {"voc2007": 1, "coco2014": 2}


@dataclass(frozen=True)
class ObjectScale:
    """One dataset's training split under training crops and high-pool masks."""

    dataset: str
    samples: int  # training images with at least one positive class
    pairs: int  # (image, positive class) pairs, each counted once per draw
    hidden: int  # of them, at least HIDDEN of the class's boxes in holes (the rule's measure)
    hidden_visible: int  # at least HIDDEN of the class's visible pixels in holes (information)
    median_area: float  # median over (image, class) of the union of the class's boxes / image
    per_image: tuple[tuple[int, int], ...]  # (pairs, hidden) of each training image, in order

    @property
    def hidden_fraction(self) -> float:
        return self.hidden / self.pairs if self.pairs else float("nan")

    @property
    def hidden_visible_fraction(self) -> float:
        return self.hidden_visible / self.pairs if self.pairs else float("nan")


def image_scale(
    dataset: str,
    i: int,
    size: int,
    seed: int,
    object_area,
    holes: np.ndarray,
    draws: int = DRAWS,
) -> tuple[int, int, int, list[float]]:
    """(pairs, hidden by boxes, hidden by visible pixels, box-union areas) of training image
    ``i`` over ``draws`` crops and masks; ``holes`` is the pool (N×S×S, True = hole)."""
    classes, boxes = scene_classes(dataset, "train", i, size, seed, object_area)
    if not boxes:
        return 0, 0, 0, []
    height, width = classes.shape
    regions = {}  # class → (union of its boxes, its visible pixels)
    for c, class_boxes in boxes.items():
        union = np.zeros((height, width), dtype=bool)
        for x0, y0, x1, y1 in class_boxes:
            union[y0:y1, x0:x1] = True
        regions[c] = (union, classes == c)
    rng = np.random.default_rng([seed, DATASET_CODES[dataset], i])
    side = holes.shape[-1]
    pairs = hidden = hidden_visible = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        for _ in range(draws):
            top, left, h, w = T.RandomResizedCrop.get_params(
                torch.empty(1, height, width), scale=list(RRC_SCALE), ratio=list(RRC_RATIO)
            )
            hole = holes[int(rng.integers(len(holes)))]
            # the mask in the crop's pixel grid: the crop is resized to side × side as a whole
            ys = np.minimum(((np.arange(h) + 0.5) * side / h).astype(int), side - 1)
            xs = np.minimum(((np.arange(w) + 0.5) * side / w).astype(int), side - 1)
            hole_crop = hole[np.ix_(ys, xs)]
            window = (slice(top, top + h), slice(left, left + w))
            for union, visible in regions.values():
                pairs += 1
                hidden += _hidden(union[window], hole_crop)
                hidden_visible += _hidden(visible[window], hole_crop)
    return pairs, hidden, hidden_visible, [float(u.mean()) for u, _ in regions.values()]


def _hidden(region: np.ndarray, hole: np.ndarray) -> bool:
    """At least HIDDEN of a region's pixels are holes; a region the crop left out is hidden."""
    shown = int(region.sum())
    return shown == 0 or int((region & hole).sum()) >= HIDDEN * shown


def object_scale(
    dataset: str,
    images: int,
    size: int,
    seed: int,
    object_area,
    holes: np.ndarray,
    draws: int = DRAWS,
) -> ObjectScale:
    """The object-scale numbers of the first ``images`` training images of a tree."""
    per_image, areas, visible = [], [], 0
    for i in range(images):
        pairs, hidden, seen, a = image_scale(dataset, i, size, seed, object_area, holes, draws)
        per_image.append((pairs, hidden))
        visible += seen
        areas += a
    return ObjectScale(
        dataset=dataset,
        samples=sum(1 for p, _ in per_image if p),
        pairs=sum(p for p, _ in per_image),
        hidden=sum(h for _, h in per_image),
        hidden_visible=visible,
        median_area=float(np.median(areas)) if areas else float("nan"),
        per_image=tuple(per_image),
    )


def hidden_cells(holes: np.ndarray, stride: int, threshold: float = HIDDEN) -> float:
    """Share of feature cells (stride × stride input blocks; border cells keep the pixels
    they have) that are at least ``threshold`` holes, over every mask of ``holes``."""
    count, side, _ = holes.shape
    cells = math.ceil(side / stride)
    pad = cells * stride - side
    padded = np.pad(holes, ((0, 0), (0, pad), (0, pad))).astype(np.float32)
    inside = np.pad(np.ones((side, side), np.float32), ((0, pad), (0, pad)))
    hole_sum = padded.reshape(count, cells, stride, cells, stride).sum(axis=(2, 4))
    pixels = inside.reshape(cells, stride, cells, stride).sum(axis=(1, 3))
    return float((hole_sum >= threshold * pixels).mean())


def training_holes(size: int, source: str, cache_dir=None) -> np.ndarray:
    """The high training pool at ``size`` px as hole maps (N×S×S, True = hole)."""
    return ~load_pool_arrays(POOL, size, source, cache_dir).keep


def measure(
    synthetic: dict,
    img_size: int,
    strides: dict[str, int],
    source: str = "procedural",
    cache_dir=None,
    draws: int = DRAWS,
    images: int | None = None,
) -> dict:
    """The geometry record of a profile: ``synthetic`` maps VOC/COCO to their SynthSpec,
    ``strides`` each backbone to its final map's stride. ``images`` limits the training images
    measured (a sample; the record then says so)."""
    holes = training_holes(img_size, source, cache_dir)
    scales = {}
    for dataset, synth in synthetic.items():
        n = synth.train_images if images is None else min(images, synth.train_images)
        scale = object_scale(
            dataset, n, synth.image_size, synth.seed, synth.object_area, holes, draws
        )
        scales[dataset] = {
            "samples": scale.samples,
            "pairs": scale.pairs,
            "hidden": scale.hidden,
            "hidden_fraction": scale.hidden_fraction,
            "hidden_visible_fraction": scale.hidden_visible_fraction,
            "median_area": scale.median_area,
            "per_image": [list(p) for p in scale.per_image],
        }
    cells = {
        backbone: {
            "stride": stride,
            "map": math.ceil(img_size / stride),
            "hidden_fraction": hidden_cells(holes, stride),
        }
        for backbone, stride in strides.items()
    }
    return {
        "settings": {
            "img_size": img_size,
            "mask_source": source,
            "pool": POOL,
            "pool_masks": len(holes),
            "hidden": HIDDEN,
            "draws": draws,
            "crop_scale": list(RRC_SCALE),
            "crop_ratio": list(RRC_RATIO),
            "generator_version": GENERATOR_VERSION,
            "synthetic": {d: _synth_dict(s) for d, s in synthetic.items()},
            "images_measured": images,
        },
        "object_scale": scales,
        "feature_cells": cells,
    }


def _synth_dict(synth) -> dict:
    data = asdict(synth)
    if data.get("object_area") is not None:
        data["object_area"] = list(data["object_area"])
    return data
