"""A generic pretraining corpus for the mini profile's backbones: the ImageNet of its scenes.

The benchmark's scenes (``synthetic.py``) label *classes*, each a fixed (shape, colour,
texture) triple, and group them into context scenes. This corpus labels *visual attributes*
instead — which shapes, hue families and textures are visible — with every attribute drawn
independently, so a backbone learns the parts classes are made of without ever being told a
class, the way ImageNet is generic with respect to VOC.

It cannot contain a benchmark image: its own scene composition (square canvas, free background
hue, 1–5 objects of any shape × hue × texture, hues jittered inside their family, no context
groups) and its own random streams (a generator key the benchmark's never uses, see
``_rng``). It reuses the benchmark's drawing primitives (``scenes.py``), and each image goes
through the same JPEG encoding as a benchmark image, so pixels look alike where it matters.

Targets use the metric codes: 1 an attribute is visible, 0 it is absent, -1 (ignored) only
heavily hidden objects carry it. The corpus is a pure function of (images, size, seed): the same
arguments give the same bytes (``encode``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from benchmark.data.scenes import HUES, SHAPES, TEXTURES, Canvas, hsv, shape_mask, textured
from benchmark.errors import UserError
from benchmark.scoring.metrics import IGNORE_ALL
from benchmark.store.results import atomic_write_bytes

CORPUS_VERSION = 1
ATTRIBUTES = (
    *(f"shape:{s}" for s in SHAPES),
    *(f"hue:{round(360 * k / HUES):03d}" for k in range(HUES)),  # family centre, degrees
    *(f"texture:{t}" for t in TEXTURES),
)
SPLITS = ("train", "val")
# First entry of every corpus generator key. The benchmark's keys are [seed, dataset code 1–3,
# split 0/1, image]; this tag and the 3-entry key keep the two families of streams apart.
STREAM_TAG = 0x70726574  # "pret"
SPLIT_CODES = {"train": 0, "val": 1}
JPEG_QUALITY = 90  # as the benchmark's scenes (synthetic.JPEG_QUALITY)
OBJECTS = (1, 2, 3, 4, 5)
OBJECT_P = (0.2, 0.25, 0.25, 0.18, 0.12)
AREA_RANGE = (0.008, 0.3)  # log-uniform fraction of the image per object box
HUE_JITTER = 0.35  # of a hue family's width: families stay apart, colours are not the classes'
MIN_VISIBLE = 0.3  # fraction of an object's in-image pixels that must show for a positive
MIN_PIXELS = 12


@dataclass(frozen=True)
class Corpus:
    """Images (N×S×S×3 uint8) with attribute targets (N×A int8: 1 / 0 / -1), one split."""

    images: np.ndarray
    targets: np.ndarray
    split: str
    seed: int

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def digest(self) -> str:
        """sha256 of the split, seed, shapes and pixel and target bytes (what the pretraining
        record keeps, to tie weights to the exact corpus they saw)."""
        digest = hashlib.sha256(f"{self.split}:{self.seed}:{self.images.shape}:".encode())
        digest.update(np.ascontiguousarray(self.images).tobytes())
        digest.update(np.ascontiguousarray(self.targets).tobytes())
        return digest.hexdigest()


def build_corpus(split: str, images: int, size: int, seed: int, progress: bool = True) -> Corpus:
    """Render ``images`` corpus images of ``split`` at ``size`` px (one generator per image, so
    image i does not depend on how many are drawn)."""
    if split not in SPLITS:
        raise UserError(f"corpus split: unknown {split!r} (allowed: {', '.join(SPLITS)})")
    if images < 1:
        raise UserError(f"corpus images: must be at least 1, got {images}")
    if size < 32:
        raise UserError(f"corpus image size: must be at least 32, got {size}")
    pixels = np.empty((images, size, size, 3), dtype=np.uint8)
    targets = np.empty((images, len(ATTRIBUTES)), dtype=np.int8)
    bar = tqdm(range(images), desc=f"corpus {split}", unit="img", disable=not progress)
    for i in bar:
        image, targets[i] = attribute_scene(corpus_rng(seed, split, i), size)
        pixels[i] = _jpeg_roundtrip(image)
    return Corpus(pixels, targets, split, seed)


def corpus_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([STREAM_TAG, seed, SPLIT_CODES[split], index])


@dataclass(frozen=True)
class DrawnObject:
    """One corpus object: its attribute indices and how much of it shows."""

    attributes: tuple[int, int, int]  # shape, hue family, texture (indices into ATTRIBUTES)
    in_image: int  # pixels of its shape inside the image
    visible: int  # of those, pixels no later object or occluder covers

    @property
    def shown(self) -> bool:
        return self.visible >= MIN_PIXELS and self.visible >= MIN_VISIBLE * max(self.in_image, 1)


def attribute_scene(rng: np.random.Generator, size: int) -> tuple[Image.Image, np.ndarray]:
    """One square scene of 1–5 objects with independent attributes, and its target row."""
    image, objects = draw_scene(rng, size)
    return image, attribute_targets(objects)


def attribute_targets(objects: list[DrawnObject]) -> np.ndarray:
    """1 where a shown object has the attribute, -1 where only hidden ones have it, else 0."""
    row = np.zeros(len(ATTRIBUTES), dtype=np.int8)
    for obj in objects:
        for a in obj.attributes:
            if obj.shown:
                row[a] = 1
            elif row[a] == 0:
                row[a] = IGNORE_ALL  # only hidden evidence: neither positive nor negative
    return row


def draw_scene(rng: np.random.Generator, size: int) -> tuple[Image.Image, list[DrawnObject]]:
    """The corpus's own composition (no context groups, any background hue, square canvas)
    drawn with the benchmark's primitives."""
    tint = hsv(rng.random(), rng.uniform(0.0, 0.35), rng.uniform(0.35, 0.8))
    canvas = Canvas(rng, size, size, tint)
    drawn = []  # (attribute indices, pixels inside the image) per object id
    for obj in range(int(rng.choice(OBJECTS, p=OBJECT_P))):
        shape = int(rng.integers(len(SHAPES)))
        family = int(rng.integers(HUES))
        texture = int(rng.integers(len(TEXTURES)))
        hue = (family + rng.uniform(-HUE_JITTER, HUE_JITTER)) / HUES
        colour = hsv(hue, rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))
        area = np.exp(rng.uniform(*np.log(AREA_RANGE))) * size * size
        aspect = np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
        w = int(np.clip(round(np.sqrt(area * aspect)), 4, size))
        h = int(np.clip(round(np.sqrt(area / aspect)), 4, size))
        x = int(rng.integers(-w // 4, size - w + w // 4 + 1))  # up to a quarter off-image
        y = int(rng.integers(-h // 4, size - h + h // 4 + 1))
        patch = textured(colour, TEXTURES[texture], w, h, 1.0)
        in_px = canvas.paste(x, y, shape_mask(SHAPES[shape], w, h), patch, obj)
        if rng.random() < 0.3:  # a grey occluder over part of it
            ow, oh = round(w * rng.uniform(0.3, 0.7)), round(h * rng.uniform(0.3, 0.7))
            ox, oy = x + round(rng.uniform(0, 1) * w) - ow // 2, y + round(rng.uniform(0, 1) * h)
            canvas.occluder(rng, ox, oy - oh // 2, ow, oh)
        drawn.append(((shape, len(SHAPES) + family, len(SHAPES) + HUES + texture), in_px))
    if rng.random() < 0.25:  # a free-standing occluder
        w, h = (int(v) for v in rng.uniform(0.1, 0.3, size=2) * size)
        canvas.occluder(rng, int(rng.integers(size)), int(rng.integers(size)), w, h)
    visible = canvas.visible_counts(len(drawn))
    objects = [
        DrawnObject(attrs, in_px, int(seen))
        for (attrs, in_px), seen in zip(drawn, visible, strict=True)
    ]
    return canvas.to_image(rng), objects


def _jpeg_roundtrip(image: Image.Image) -> np.ndarray:
    """The pixels a loader would read back from the benchmark's JPEG files."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8)


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: same corpus, same bytes
FIELDS = ("images", "targets", "meta")


def encode(corpus: Corpus) -> bytes:
    """Compressed .npz bytes of a corpus, deterministic for its contents."""
    meta = np.asarray(
        f"version={CORPUS_VERSION};split={corpus.split};seed={corpus.seed};"
        f"attributes={','.join(ATTRIBUTES)}"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in zip(FIELDS, (corpus.images, corpus.targets, meta), strict=True):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def corpus_path(cache: Path, split: str, images: int, size: int, seed: int) -> Path:
    name = f"corpus-v{CORPUS_VERSION}-{split}-{images}x{size}-s{seed}.npz"
    return Path(cache) / "pretrain" / name


def load_or_build(
    cache: Path, split: str, images: int, size: int, seed: int, progress: bool = True
) -> Corpus:
    """The corpus from its cache file when present and readable, else rendered and cached."""
    path = corpus_path(cache, split, images, size, seed)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return Corpus(data["images"], data["targets"], split, seed)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a damaged cache entry is rebuilt
    corpus = build_corpus(split, images, size, seed, progress)
    atomic_write_bytes(path, encode(corpus))
    return corpus
