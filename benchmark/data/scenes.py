"""Drawing primitives for synthetic scenes: class signatures, textures, occluders, and an owner
map that records which object is visible at each pixel, so occlusion is measured, not guessed.

Every class gets a unique (shape, colour) pair plus a texture, all chosen so a small CNN can
tell them apart at 64–128 px; occluders are grey, so they never look like a class.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("disc", "square", "triangle", "diamond", "cross", "ring", "star", "hexagon")
HUES = 10
TEXTURES = ("solid", "stripes", "dots")
BACKGROUND = -1
OCCLUDER = -2


def hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.asarray(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255


COLOURS = np.stack([hsv(i / HUES, 0.85, 0.95) for i in range(HUES)])


def class_signature(c: int) -> tuple[str, np.ndarray, str]:
    """(shape, RGB colour, texture) of class ``c``; (shape, colour) is unique for c < 80."""
    shape = c % len(SHAPES)
    colour = (c // len(SHAPES) + shape) % HUES
    return SHAPES[shape], COLOURS[colour], TEXTURES[(c // len(SHAPES)) % len(TEXTURES)]


@lru_cache(maxsize=4096)
def shape_mask(shape: str, w: int, h: int) -> np.ndarray:
    """Bool h×w mask of a shape filling its box (cached: sizes repeat a lot)."""
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    x1, y1 = w - 1, h - 1
    if shape == "disc":
        draw.ellipse((0, 0, x1, y1), fill=1)
    elif shape == "square":
        draw.rectangle((0, 0, x1, y1), fill=1)
    elif shape == "triangle":
        draw.polygon([(x1 / 2, 0), (x1, y1), (0, y1)], fill=1)
    elif shape == "diamond":
        draw.polygon([(x1 / 2, 0), (x1, y1 / 2), (x1 / 2, y1), (0, y1 / 2)], fill=1)
    elif shape == "cross":
        draw.rectangle((x1 * 0.33, 0, x1 * 0.67, y1), fill=1)
        draw.rectangle((0, y1 * 0.33, x1, y1 * 0.67), fill=1)
    elif shape == "ring":
        draw.ellipse((0, 0, x1, y1), fill=1)
        draw.ellipse((x1 * 0.3, y1 * 0.3, x1 * 0.7, y1 * 0.7), fill=0)
    elif shape == "star":
        points = []
        for k in range(10):
            r = 0.5 if k % 2 == 0 else 0.22
            a = -math.pi / 2 + k * math.pi / 5
            points.append((x1 / 2 + r * x1 * math.cos(a), y1 / 2 + r * y1 * math.sin(a)))
        draw.polygon(points, fill=1)
    else:  # hexagon
        points = [
            (x1 / 2 + 0.5 * x1 * math.cos(a), y1 / 2 + 0.5 * y1 * math.sin(a))
            for a in np.arange(6) * math.pi / 3
        ]
        draw.polygon(points, fill=1)
    mask = np.asarray(img, dtype=bool).copy()
    mask.flags.writeable = False
    return mask


def textured(colour: np.ndarray, texture: str, w: int, h: int, shade: float) -> np.ndarray:
    """h×w×3 float patch of ``colour`` with a texture: stripes or dots in a darker shade."""
    factor = np.ones((h, w), dtype=np.float32)
    period = max(2, min(w, h) // 4)
    yy, xx = np.mgrid[0:h, 0:w]
    if texture == "stripes":
        factor[((xx + yy) // period) % 2 == 1] = 0.5
    elif texture == "dots":
        factor[((xx % period) < period / 2) & ((yy % period) < period / 2)] = 0.45
    return factor[..., None] * (colour * shade)


class Canvas:
    """An RGB float image plus an owner map (object id, BACKGROUND or OCCLUDER per pixel)."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, tint: np.ndarray):
        self.width, self.height = width, height
        # Mostly brightness variation, a little colour: the group tint stays the context cue.
        low = rng.uniform(-28, 28, size=(3, 4, 1)) + rng.uniform(-8, 8, size=(3, 4, 3))
        noise = Image.fromarray(np.uint8(low + 128)).resize((width, height), Image.BILINEAR)
        gradient = np.linspace(1.1, 0.85, height, dtype=np.float32)[:, None, None]
        self.rgb = tint * gradient + (np.asarray(noise, dtype=np.float32) - 128)
        self.owner = np.full((height, width), BACKGROUND, dtype=np.int16)
        self._clutter(rng)

    def paste(self, x: int, y: int, mask: np.ndarray, patch: np.ndarray, owner: int) -> int:
        """Draw ``patch`` where ``mask`` is set, box top-left at (x, y) (may be off-image);
        returns how many of the mask's pixels fall inside the image."""
        h, w = mask.shape
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x1 <= x0 or y1 <= y0:
            return 0
        local = mask[y0 - y : y1 - y, x0 - x : x1 - x]
        self.rgb[y0:y1, x0:x1][local] = patch[y0 - y : y1 - y, x0 - x : x1 - x][local]
        self.owner[y0:y1, x0:x1][local] = owner
        return int(np.count_nonzero(local))

    def occluder(self, rng: np.random.Generator, x: int, y: int, w: int, h: int) -> None:
        """A grey textured patch (rectangle or ellipse): hides what is below, is no class."""
        w, h = max(w, 2), max(h, 2)
        mask = shape_mask("square" if rng.random() < 0.5 else "disc", w, h)
        grey = np.full(3, rng.uniform(50, 210), dtype=np.float32)
        patch = textured(grey, TEXTURES[int(rng.integers(3))], w, h, 1.0)
        patch = patch + rng.normal(0, 12, size=(h, w, 1)).astype(np.float32)
        self.paste(x, y, mask, patch, OCCLUDER)

    def visible_counts(self, n: int) -> np.ndarray:
        """Visible pixels of objects 0…n-1."""
        owners = self.owner[self.owner >= 0]
        return np.bincount(owners, minlength=n)[:n]

    def to_image(self, rng: np.random.Generator) -> Image.Image:
        noise = rng.normal(0, 5, size=self.rgb.shape).astype(np.float32)
        return Image.fromarray(np.clip(self.rgb + noise, 0, 255).astype(np.uint8))

    def _clutter(self, rng: np.random.Generator) -> None:
        """A few thin grey lines: background structure that is not an object."""
        img = Image.new("L", (self.width, self.height), 0)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            pts = rng.uniform(0, 1, size=4) * np.array([self.width, self.height] * 2)
            draw.line(list(map(float, pts)), fill=1, width=max(1, self.width // 96))
        lines = np.asarray(img, dtype=bool)
        self.rgb[lines] = self.rgb[lines] * 0.6 + 40


@dataclass
class Placed:
    """One annotated object (or crowd) of a synthetic scene, with its measured visibility."""

    cls: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 clipped to the image, exclusive end
    truncated: bool
    occluded: float  # fraction of its in-image pixels hidden by later objects or occluders
    visible: int  # visible pixels (COCO "area")
    area_frac: float  # clipped box area / image area
    crowd: bool = False


OBJECT_COUNTS = (1, 2, 3, 4)
OBJECT_COUNT_P = (0.35, 0.3, 0.2, 0.15)
AREA_RANGE = (0.006, 0.25)  # log-uniform box area fraction: ~43 % of objects below 0.03
ASPECTS = ((1.0, 0.75), (0.75, 1.0), (1.0, 1.0))  # landscape, portrait, square
ASPECT_P = (0.6, 0.2, 0.2)


def group_tint(g: int, groups: int) -> np.ndarray:
    """A desaturated background colour per context group: the scene-level cue for context."""
    return hsv(g / groups + 0.05, 0.3, 0.62)


def scene_frame(rng: np.random.Generator, size: int, n_groups: int) -> tuple[int, int, int]:
    """(width, height, context group): a scene's first draws. ``synthetic.context_groups``
    replays them to recover an image's group without drawing it."""
    fw, fh = ASPECTS[int(rng.choice(len(ASPECTS), p=ASPECT_P))]
    width, height = max(8, round(size * fw)), max(8, round(size * fh))
    return width, height, int(rng.integers(n_groups))


def object_scene(
    rng: np.random.Generator,
    size: int,
    groups: list[list[int]],
    n_classes: int,
    empty_prob: float = 0.0,
    crowd_prob: float = 0.0,
    area_range: tuple[float, float] = AREA_RANGE,
) -> tuple[Image.Image, list[Placed]]:
    """A VOC/COCO-style scene: 1–4 objects mostly from one context group, varied sizes,
    occluders, overlaps and border truncation."""
    image, placed, _ = object_scene_with_classes(
        rng, size, groups, n_classes, empty_prob, crowd_prob, area_range
    )
    return image, placed


def object_scene_with_classes(
    rng: np.random.Generator,
    size: int,
    groups: list[list[int]],
    n_classes: int,
    empty_prob: float = 0.0,
    crowd_prob: float = 0.0,
    area_range: tuple[float, float] = AREA_RANGE,
) -> tuple[Image.Image, list[Placed], np.ndarray]:
    """``object_scene`` plus its class map: the class visible at each pixel (-1 where the
    background or an occluder shows), read from the owner map — what the regime rule's
    object-scale part measures (benchmark.data.mask_geometry)."""
    width, height, g = scene_frame(rng, size, len(groups))
    canvas = Canvas(rng, width, height, group_tint(g, len(groups)))
    n = 0 if rng.random() < empty_prob else int(rng.choice(OBJECT_COUNTS, p=OBJECT_COUNT_P))
    drawn: list[tuple[int, tuple[int, int, int, int], int, list[int]]] = []
    for _ in range(n):
        in_context = rng.random() < 0.8
        cls = int(rng.choice(groups[g])) if in_context else int(rng.integers(n_classes))
        drawn.append(_draw_object(rng, canvas, cls, _next_id(drawn), area_range))
    if n and rng.random() < crowd_prob:
        drawn.append(_draw_crowd(rng, canvas, int(rng.choice(groups[g])), _next_id(drawn)))
    for _ in range(int(rng.random() < 0.3)):  # a free-standing occluder anywhere
        w, h = (int(v) for v in rng.uniform(0.1, 0.3, size=2) * (width, height))
        canvas.occluder(rng, int(rng.integers(width)), int(rng.integers(height)), w, h)
    visible = canvas.visible_counts(_next_id(drawn))
    placed = []
    for cls, box, in_px, ids in drawn:
        seen = int(visible[ids].sum())
        x0, y0, x1, y1 = box
        clipped = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
        placed.append(
            Placed(
                cls=cls,
                box=clipped,
                truncated=clipped != box,
                occluded=round(1.0 - seen / max(in_px, 1), 3),
                visible=seen,
                area_frac=(clipped[2] - clipped[0]) * (clipped[3] - clipped[1]) / (width * height),
                crowd=len(ids) > 1,
            )
        )
    owner_class = np.full(_next_id(drawn) + 1, -1, dtype=np.int16)  # last entry: not an object
    for cls, _, _, ids in drawn:
        owner_class[ids] = cls
    owner = np.where(canvas.owner >= 0, canvas.owner, len(owner_class) - 1)
    return canvas.to_image(rng), placed, owner_class[owner]


def _next_id(drawn: list) -> int:
    return sum(len(ids) for *_, ids in drawn)


def _object_size(rng: np.random.Generator, canvas: Canvas, area_range=AREA_RANGE) -> tuple:
    area = math.exp(rng.uniform(*np.log(area_range))) * canvas.width * canvas.height
    aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.6)))
    w = int(min(max(round(math.sqrt(area * aspect)), 3), canvas.width))
    h = int(min(max(round(math.sqrt(area / aspect)), 3), canvas.height))
    return w, h


def _draw_object(
    rng: np.random.Generator, canvas: Canvas, cls: int, first_id: int, area_range=AREA_RANGE
) -> tuple:
    shape, colour, texture = class_signature(cls)
    w, h = _object_size(rng, canvas, area_range)
    if rng.random() < 0.15:  # truncated: 20–50 % of one side beyond a border
        out = rng.uniform(0.2, 0.5)
        side = int(rng.integers(4))
        x = int(rng.integers(0, canvas.width - w + 1))
        y = int(rng.integers(0, canvas.height - h + 1))
        x = -round(out * w) if side == 0 else canvas.width - w + round(out * w) if side == 1 else x
        y = -round(out * h) if side == 2 else canvas.height - h + round(out * h) if side == 3 else y
    else:
        x = int(rng.integers(0, canvas.width - w + 1))
        y = int(rng.integers(0, canvas.height - h + 1))
    patch = textured(colour, texture, w, h, rng.uniform(0.8, 1.1))
    in_px = canvas.paste(x, y, shape_mask(shape, w, h), patch, first_id)
    if rng.random() < 0.45:  # an occluder over part of it
        ow, oh = round(w * rng.uniform(0.35, 0.8)), round(h * rng.uniform(0.35, 0.8))
        ox = x + round(rng.uniform(-0.3, 0.9) * w) - ow // 2
        oy = y + round(rng.uniform(-0.3, 0.9) * h) - oh // 2
        canvas.occluder(rng, ox, oy, ow, oh)
    return cls, (x, y, x + w, y + h), in_px, [first_id]


def _draw_crowd(rng: np.random.Generator, canvas: Canvas, cls: int, first_id: int) -> tuple:
    """3–6 tiny same-class objects annotated as one crowd region (COCO ``iscrowd``)."""
    shape, colour, texture = class_signature(cls)
    cx, cy = rng.uniform(0.2, 0.8) * canvas.width, rng.uniform(0.2, 0.8) * canvas.height
    ids, boxes, in_px = [], [], 0
    for k in range(int(rng.integers(3, 7))):
        w, h = _object_size(rng, canvas, (0.002, 0.005))
        x = int(np.clip(cx + rng.normal(0, 0.08) * canvas.width, 0, canvas.width - w))
        y = int(np.clip(cy + rng.normal(0, 0.08) * canvas.height, 0, canvas.height - h))
        patch = textured(colour, texture, w, h, rng.uniform(0.8, 1.1))
        in_px += canvas.paste(x, y, shape_mask(shape, w, h), patch, first_id + k)
        ids.append(first_id + k)
        boxes.append((x, y, x + w, y + h))
    b = np.asarray(boxes)
    box = (int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max()))
    return cls, box, in_px, ids
