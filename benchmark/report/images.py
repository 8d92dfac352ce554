"""Figures drawn from pixels: the mask gallery (supplement Fig. 6) and qualitative predictions
(supplement Figs. 1–5).

Both read masks through ``benchmark.data.pools`` only — the same pools, sizes, seeds and mask
choice the evaluation used — so the masked images shown are exactly the inputs the models scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure as MplFigure
from PIL import Image

from benchmark.data.pools import load_pool_arrays
from benchmark.report.document import DATASET_NAMES
from benchmark.report.plots import to_png

GALLERY_POOLS = ("low", "high")
GALLERY_COLUMNS = 8
QUALITATIVE_EXAMPLES = 4
TOP_K = 3


class FigureSkipped(Exception):
    """A figure's inputs are absent; the message says which, for the report's note."""


def load_pool(pool: str, size: int, source: str | Path, cache_dir: Path | None = None) -> Any:
    """The mask pool as NumPy arrays (no torch), the same masks evaluation drew."""
    return load_pool_arrays(pool, size, source, cache_dir=cache_dir)


def as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def mask_gallery(size: int, source: str | Path, cache_dir: Path | None = None) -> bytes:
    """Masks spread over each training pool's range, holes in white as in the NVIDIA files."""
    fig = MplFigure(figsize=(1.4 * GALLERY_COLUMNS, 1.6 * len(GALLERY_POOLS)))
    axes = fig.subplots(len(GALLERY_POOLS), GALLERY_COLUMNS, squeeze=False)
    for row, name in zip(axes, GALLERY_POOLS, strict=True):
        pool = load_pool(name, size, source, cache_dir)
        keep = as_numpy(pool.keep).astype(bool)
        ratios = as_numpy(pool.ratios) if getattr(pool, "ratios", None) is not None else None
        picks = np.linspace(0, len(keep) - 1, GALLERY_COLUMNS).round().astype(int)
        for ax, index in zip(row, picks, strict=True):
            ratio = float(ratios[index]) if ratios is not None else 1 - keep[index].mean()
            ax.imshow(~keep[index], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"#{index}: {ratio:.2f}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{name} pool", fontsize=9)
    fig.suptitle(
        f"Irregular masks ({source if isinstance(source, str) else 'NVIDIA'}, {size} px):"
        " index and hole ratio"
    )
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.02, top=0.8, wspace=0.1, hspace=0.4)
    return to_png(fig)


def qualitative_figure(
    dataset: str,
    models: Sequence[tuple[str, dict[str, Any]]],
    size: int,
    mask_seed: int,
    source: str | Path,
    cache_dir: Path | None = None,
    condition: str = "high",
) -> bytes:
    """Test images, their masked versions, ground truth and each model's top predictions."""
    examples = [result.get("examples") or {} for _, result in models]
    indices = examples[0].get("indices") if examples else None
    if not indices:
        raise FigureSkipped("the evaluation results hold no example images")
    if any(ex.get("indices") != indices for ex in examples):
        raise FigureSkipped("the models were evaluated on different example images")
    if any(condition not in (ex.get("probs") or {}) for ex in examples):
        raise FigureSkipped(f"the evaluation results hold no '{condition}' predictions")
    files = [Path(f) for f in examples[0].get("files") or []][:QUALITATIVE_EXAMPLES]
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        raise FigureSkipped(f"test image files are missing (e.g. {missing[0] if missing else '?'})")
    count = len(files)
    pool = load_pool(condition, size, source, cache_dir)
    keep = as_numpy(pool.for_indices(np.asarray(indices[:count], dtype=np.int64), mask_seed))
    keep = keep.reshape(count, size, size).astype(np.float32)
    classes = models[0][1].get("classes") or []
    fig = MplFigure(figsize=(9, 2.4 * count + 0.75))
    axes = fig.subplots(count, 3, squeeze=False, gridspec_kw={"width_ratios": [1, 1, 1.6]})
    for k, (row, path) in enumerate(zip(axes, files, strict=True)):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR)) / 255.0
        row[0].imshow(pixels)
        row[1].imshow(pixels * keep[k][..., None])
        row[0].set_title(path.name, fontsize=7)
        row[1].set_title(f"{condition} mask, hole ratio {1 - keep[k].mean():.2f}", fontsize=7)
        targets = examples[0]["targets"][k]
        lines = [
            "ground truth: "
            + (", ".join(_name(classes, c) for c, t in enumerate(targets) if t == 1) or "none")
        ]
        for (label, _), ex in zip(models, examples, strict=True):
            lines.append(f"{label}: " + _top(ex["probs"][condition][k], targets, classes))
        row[2].text(
            0.0, 0.5, "\n".join(lines), fontsize=8, va="center", family="DejaVu Sans", wrap=True
        )
        for ax in row:
            ax.set_axis_off()
    fig.suptitle(
        f"{DATASET_NAMES.get(dataset, dataset)}: predictions on masked test images "
        f"(top {TOP_K}, ✓ = in the ground truth)"
    )
    fig.subplots_adjust(
        left=0.02,
        right=0.98,
        bottom=0.02,
        top=1 - 0.75 / fig.get_figheight(),
        wspace=0.05,
        hspace=0.25,
    )
    return to_png(fig)


def _name(classes: Sequence[str], index: int) -> str:
    return str(classes[index]) if index < len(classes) else f"class {index}"


def _top(probs: Sequence[float], targets: Sequence[int], classes: Sequence[str]) -> str:
    order = np.argsort(-np.asarray(probs), kind="stable")[:TOP_K]
    return ", ".join(
        f"{_name(classes, int(c))} {probs[c]:.2f}{' ✓' if targets[c] == 1 else ''}" for c in order
    )
