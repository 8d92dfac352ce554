"""Synthetic WIDER-Attribute scenes: people whose drawn appearance encodes the 14 attributes.

Each attribute has a visible cue (square head = Male, coloured top block = Hat, dark bar =
sunglass, horizontal bands = stripe, denim legs = jeans, ...). An attribute is left unspecified
(raw code 0) when its body region is mostly hidden or outside the image, as an annotator would,
and occasionally at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from benchmark.data.scenes import Canvas, hsv

# Real WIDER scene folders look like "0--Parade"; four scene types with different attribute
# priors give the context structure (formal wear at meetings, shorts at picnics and soccer).
SCENES = ("Parade", "Meeting", "Picnic", "Soccer")
REGIONS = {  # attribute indices per body region, and the region's rows as box fractions
    "head": ((0, 1, 2, 3, 11), (0.0, 0.26)),
    "torso": ((4, 5, 6, 12, 13), (0.26, 0.58)),
    "legs": ((7, 8, 9, 10), (0.58, 1.0)),
}
SKIN = ((224, 172, 140), (198, 134, 96), (141, 85, 54), (245, 205, 170))
SHIRTS = ((200, 40, 40), (40, 140, 60), (230, 230, 230), (120, 60, 160), (240, 140, 40))
TROUSERS = ((60, 60, 60), (110, 80, 50), (150, 150, 140))
DENIM = (60, 90, 170)
RANDOM_UNSPECIFIED = 0.06


@dataclass
class Person:
    """One annotated person box and its raw attribute codes (1 / -1 / 0)."""

    box: tuple[int, int, int, int]  # x, y, w, h (may extend beyond the image)
    attributes: list[int]
    occluded: float


def sample_attributes(rng: np.random.Generator, scene: int) -> np.ndarray:
    """0/1 attributes with real-world correlations (jeans ⇒ long pants, formal ⇒ long sleeves,
    skirts mostly on women) and scene-dependent priors."""
    a = np.zeros(14, dtype=np.int64)
    male = rng.random() < 0.55
    a[0] = male
    a[1] = rng.random() < (0.15 if male else 0.7)
    a[2] = rng.random() < (0.25 if SCENES[scene] in ("Picnic", "Soccer") else 0.08)
    a[3] = rng.random() < (0.35 if SCENES[scene] == "Parade" else 0.15)
    a[11] = rng.random() < 0.06
    formal = rng.random() < (0.6 if SCENES[scene] == "Meeting" else 0.08)
    a[6] = formal
    if formal:
        a[5] = 1
    else:
        upper = rng.random()
        a[4], a[5] = upper < 0.5, 0.5 <= upper < 0.85
        a[12] = rng.random() < 0.2
        a[13] = rng.random() < 0.15
    if not male and rng.random() < (0.1 if formal else 0.3):
        a[10] = 1
    else:
        sporty = SCENES[scene] in ("Picnic", "Soccer")
        if rng.random() < (0.35 if sporty else 0.75):
            a[9] = 1
            a[8] = not formal and rng.random() < 0.45
        else:
            a[7] = rng.random() < 0.8
    return a


def draw_person(rng: np.random.Generator, a: np.ndarray, w: int, h: int) -> tuple:
    """(mask h×w, RGB patch h×w×3) of a person with attributes ``a`` filling a w×h box."""
    img = Image.new("RGB", (w, h), (0, 0, 0))
    mask_img = Image.new("L", (w, h), 0)
    draw, mdraw = ImageDraw.Draw(img), ImageDraw.Draw(mask_img)

    def part(fx0, fy0, fx1, fy1, colour, ellipse=False):
        box = (fx0 * (w - 1), fy0 * (h - 1), fx1 * (w - 1), fy1 * (h - 1))
        (draw.ellipse if ellipse else draw.rectangle)(box, fill=tuple(int(c) for c in colour))
        (mdraw.ellipse if ellipse else mdraw.rectangle)(box, fill=1)

    skin = SKIN[int(rng.integers(len(SKIN)))]
    shirt = (30, 30, 45) if a[6] else SHIRTS[int(rng.integers(len(SHIRTS)))]
    pants = DENIM if a[8] else TROUSERS[int(rng.integers(len(TROUSERS)))]
    for lx in ((0.22, 0.47), (0.53, 0.78)):  # legs
        if a[9]:
            part(lx[0], 0.58, lx[1], 1.0, pants)
        elif a[7]:
            part(lx[0], 0.58, lx[1], 0.73, pants)
            part(lx[0], 0.73, lx[1], 1.0, skin)
        else:
            part(lx[0], 0.58, lx[1], 1.0, skin)
    if a[10]:
        poly = [(0.2, 0.58), (0.8, 0.58), (0.92, 0.82), (0.08, 0.82)]
        pts = [(x * (w - 1), y * (h - 1)) for x, y in poly]
        draw.polygon(pts, fill=(190, 70, 150))
        mdraw.polygon(pts, fill=1)
    wide = 0.1 if a[0] else 0.18  # broader shoulders for Male
    for ax in ((wide - 0.1, wide), (1 - wide, 1.1 - wide)):  # arms
        ax = (max(ax[0], 0.0), min(ax[1], 1.0))
        if a[5]:
            part(ax[0], 0.27, ax[1], 0.56, shirt)
        elif a[4]:
            part(ax[0], 0.27, ax[1], 0.37, shirt)
            part(ax[0], 0.37, ax[1], 0.56, skin)
        else:
            part(ax[0], 0.27, ax[1], 0.56, skin)
    part(wide, 0.26, 1 - wide, 0.6, shirt)  # torso
    if a[13]:
        for k in range(4):
            y0 = 0.3 + k * 0.075
            part(wide, y0, 1 - wide, y0 + 0.03, (245, 245, 245))
    if a[6]:
        part(0.44, 0.26, 0.56, 0.5, (240, 240, 240))
        part(0.48, 0.28, 0.52, 0.48, (150, 20, 30))
    if a[12]:
        part(0.4, 0.33, 0.6, 0.42, (250, 220, 0))
    if a[1]:
        part(0.22, 0.05, 0.78, 0.36, (70, 40, 20))
    part(0.3, 0.06, 0.7, 0.25, skin, ellipse=not a[0])  # head: square = Male
    if a[3]:
        part(0.24, 0.0, 0.76, 0.08, (220, 30, 30))
    if a[2]:
        part(0.31, 0.12, 0.69, 0.155, (15, 15, 15))
    if a[11]:
        part(0.34, 0.175, 0.66, 0.245, (250, 250, 250))
    return np.asarray(mask_img, dtype=bool), np.asarray(img, dtype=np.float32)


def person_scene(rng: np.random.Generator, size: int) -> tuple[Image.Image, int, list[Person]]:
    """(image, scene id, people): 1–4 people, overlaps, occluders and border truncation."""
    width, height = size, max(16, round(size * 0.75))
    scene = int(rng.integers(len(SCENES)))
    canvas = Canvas(rng, width, height, hsv(scene / len(SCENES) + 0.1, 0.25, 0.6))
    n = int(rng.choice((1, 2, 3, 4), p=(0.35, 0.3, 0.2, 0.15)))
    drawn = []
    for pid in range(n):
        h = max(12, round(height * rng.uniform(0.4, 0.95)))
        w = max(5, round(h / rng.uniform(2.2, 2.7)))
        x = int(rng.integers(-w // 5, width - w + w // 5 + 1))
        y = int(rng.integers(0, height - h + 1))
        if rng.random() < 0.2:  # cut by the bottom edge, as in many real photos
            y = height - h + round(h * rng.uniform(0.15, 0.4))
        attrs = sample_attributes(rng, scene)
        mask, patch = draw_person(rng, attrs, w, h)
        in_px = canvas.paste(x, y, mask, patch, pid)
        if rng.random() < 0.35:
            ow, oh = round(w * rng.uniform(0.5, 1.0)), round(h * rng.uniform(0.15, 0.4))
            oy = y + round(h * rng.uniform(0.0, 0.85))
            canvas.occluder(rng, x + round(w * rng.uniform(-0.3, 0.5)), oy, ow, oh)
        drawn.append((x, y, w, h, attrs, mask, in_px))
    visible = canvas.visible_counts(n)
    people = []
    for pid, (x, y, w, h, attrs, mask, in_px) in enumerate(drawn):
        codes = np.where(attrs == 1, 1, -1)
        for indices, (f0, f1) in REGIONS.values():
            r0, r1 = round(f0 * h), round(f1 * h)
            total = int(mask[r0:r1].sum())
            gy0, gy1 = max(y + r0, 0), min(y + r1, height)
            gx0, gx1 = max(x, 0), min(x + w, width)
            seen = int((canvas.owner[gy0:gy1, gx0:gx1] == pid).sum()) if gy1 > gy0 else 0
            if total == 0 or seen / total < 0.5:
                codes[list(indices)] = 0
        codes[rng.random(14) < RANDOM_UNSPECIFIED] = 0
        occluded = round(1.0 - int(visible[pid]) / max(in_px, 1), 3)
        people.append(Person((x, y, w, h), [int(c) for c in codes], occluded))
    return canvas.to_image(rng), scene, people
