"""Image pipelines of docs/spec.md §1.8. Masks are not applied here: the engine multiplies the
normalised batch by the keep-map on the device, after these transforms (docs/spec.md §1.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchvision import transforms as T

from benchmark.errors import UserError

AUGMENTS = ("flip_rrc", "flip")
NORMALIZATIONS = ("unit", "half")
RRC_SCALE = (0.7, 1.0)


def build_transform(
    train: bool, img_size: int, augment: str = "flip_rrc", normalize: str = "unit"
) -> Callable[..., torch.Tensor]:
    """PIL image → float tensor 3×S×S.

    Train: horizontal flip, then RandomResizedCrop(S, scale 0.7–1.0) for ``flip_rrc`` (VOC,
    COCO) or a plain resize to S×S for ``flip`` (WIDER). Test: resize to S×S, aspect not kept.
    ``unit`` leaves values in [0, 1]; ``half`` maps them to [-1, 1] (mean 0.5, std 0.5).
    """
    if augment not in AUGMENTS:
        raise UserError(f"augment: unknown value {augment!r} (allowed: {', '.join(AUGMENTS)})")
    if normalize not in NORMALIZATIONS:
        raise UserError(
            f"normalize: unknown value {normalize!r} (allowed: {', '.join(NORMALIZATIONS)})"
        )
    if img_size < 1:
        raise UserError(f"img_size: must be positive, got {img_size}")
    size = (img_size, img_size)
    steps: list[Callable] = []
    if train:
        steps.append(T.RandomHorizontalFlip())
        if augment == "flip_rrc":
            steps.append(T.RandomResizedCrop(size, scale=RRC_SCALE, antialias=True))
        else:
            steps.append(T.Resize(size, antialias=True))
    else:
        steps.append(T.Resize(size, antialias=True))
    steps.append(T.ToTensor())
    if normalize == "half":
        steps.append(T.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]))
    return T.Compose(steps)
