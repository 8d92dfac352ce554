"""Procedural stand-in for the NVIDIA irregular masks when their files are absent
(docs/spec.md §1.2).

Thick random-walk brush strokes and blobs are added until the hole ratio reaches a target drawn
uniformly inside the requested bucket; an addition that overshoots the bucket is undone and
retried smaller. Masks are drawn at the target size directly (no 512-px detour), which keeps a
951-mask pool at 64 px to a second or two.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

NVIDIA_SIZE = 512
BORDER = 50  # the NVIDIA masks' hole-free border, in pixels at 512
MAX_FAILURES = 6
# Targets are drawn from the lower 80 % of the bucket: the last accepted shape overshoots the
# target a little, and this keeps the pool means near the NVIDIA ones (high 0.547, low 0.058).
TARGET_SPAN = 0.95


def border_width(size: int) -> int:
    """The 50/512 border band at ``size`` pixels."""
    return int(round(BORDER * size / NVIDIA_SIZE))


def generate_pool(
    count: int, size: int, low: float, high: float, border: bool, seed: int | list[int]
) -> np.ndarray:
    """``count`` hole maps (bool, True = hole), each with a ratio in ``(low, high]``."""
    rng = np.random.default_rng(seed)
    return np.stack([generate_mask(rng, size, low, high, border) for _ in range(count)])


def generate_mask(
    rng: np.random.Generator, size: int, low: float, high: float, border: bool
) -> np.ndarray:
    """One hole map with ratio in ``(low, high]``, grown until it reaches a random target."""
    total = size * size
    target = low + (high - low) * TARGET_SPAN * rng.random()
    margin = border_width(size) if border else 0
    canvas = Image.new("L", (size, size), 0)
    holes, shrink, failures = 0, 1.0, 0
    while holes <= low * total or (holes < target * total and failures < MAX_FAILURES):
        # Brushes sized to the remaining gap: a 0.55 mask takes ~10 shapes instead of ~30, and
        # the last one rarely overshoots the target by much.
        gap = max(target - holes / total, 0.01)
        scale = shrink * min(max(math.sqrt(gap / 0.1), 0.5), 3.0)
        trial = canvas.copy()
        _add_shape(ImageDraw.Draw(trial), rng, size, margin, scale)
        if margin:
            _clear_border(trial, size, margin)
        trial_holes = total - trial.histogram()[0]
        if trial_holes > high * total:  # overshoot: reject, draw smaller next time
            failures += 1
            shrink = max(shrink * 0.7, 1.0 / size)
            continue
        canvas, holes = trial, trial_holes
    return np.asarray(canvas) > 0


def _add_shape(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, margin: int, scale: float
) -> None:
    lo, hi = margin, size - 1 - margin
    if rng.random() < 0.7:
        _stroke(draw, rng, size, lo, hi, scale)
    else:
        _blob(draw, rng, size, lo, hi, scale)


def _stroke(draw: ImageDraw.ImageDraw, rng, size: int, lo: int, hi: int, scale: float) -> None:
    """A thick random walk with round joints, like a brush drag."""
    u = rng.random(19)  # one draw per stroke: scalar calls dominate the cost at small sizes
    width = max(1, int(round(size * (0.03 + 0.08 * u[0]) * scale)))
    n = 2 + int(u[1] * 6)
    x, y = lo + (hi - lo) * u[2], lo + (hi - lo) * u[3]
    angle = 2 * math.pi * u[4]
    reach = size * max(scale, 0.25)
    r = width / 2
    points = [(x, y)]
    for k in range(n):
        angle += 1.8 * (u[5 + k] - 0.5) * 2  # a wandering direction
        step = reach * (0.06 + 0.16 * u[12 + k])
        x = min(max(x + step * math.cos(angle), lo), hi)
        y = min(max(y + step * math.sin(angle), lo), hi)
        points.append((x, y))
    draw.line(points, fill=255, width=width)
    for px, py in points:
        draw.ellipse((px - r, py - r, px + r, py + r), fill=255)


def _blob(draw: ImageDraw.ImageDraw, rng, size: int, lo: int, hi: int, scale: float) -> None:
    """An irregular polygon around a centre: the rounder holes of the NVIDIA set."""
    cx, cy = rng.uniform(lo, hi, size=2)
    radius = size * rng.uniform(0.03, 0.14) * scale
    n = int(rng.integers(5, 11))
    angles = np.sort(rng.uniform(0, 2 * math.pi, size=n))
    radii = radius * rng.uniform(0.5, 1.3, size=n)
    points = [
        (float(cx + r * math.cos(a)), float(cy + r * math.sin(a)))
        for a, r in zip(angles, radii, strict=True)
    ]
    draw.polygon(points, fill=255)


def _clear_border(img: Image.Image, size: int, margin: int) -> None:
    draw = ImageDraw.Draw(img)
    far = size - margin
    bands = ((0, 0, size, margin), (0, far, size, size), (0, 0, margin, size), (far, 0, size, size))
    for x0, y0, x1, y1 in bands:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=0)
