"""docs/spec.md §1.8 pipelines: sizes, value ranges, and which randomness each one has."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.data.transforms import build_transform
from benchmark.errors import UserError


@pytest.fixture
def image() -> Image.Image:
    """Black, white and a gradient side by side: extremes survive resizing, flips show."""
    pixels = np.zeros((30, 50, 3), dtype=np.uint8)
    pixels[:, 20:35] = 255
    pixels[:, 35:, 0] = np.linspace(0, 255, 15, dtype=np.uint8)
    pixels[10:20, :, 1] = 128
    return Image.fromarray(pixels)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("augment", ["flip_rrc", "flip"])
def test_shapes_and_ranges(image: Image.Image, train: bool, augment: str) -> None:
    unit = build_transform(train, 24, augment, "unit")(image)
    half = build_transform(train, 24, augment, "half")(image)
    assert unit.shape == half.shape == (3, 24, 24)  # aspect not kept
    assert unit.min() >= 0 and unit.max() <= 1 and unit.max() > 0.9
    assert half.min() >= -1 and half.max() <= 1 and half.min() < -0.9


def test_test_transform_is_a_plain_resize(image: Image.Image) -> None:
    out = build_transform(False, 24, "flip_rrc", "unit")(image)
    expected = torch.tensor(np.array(image.resize((24, 24), Image.BILINEAR))).float()
    assert torch.allclose(out, expected.permute(2, 0, 1) / 255, atol=0.05)
    half = build_transform(False, 24, "flip_rrc", "half")(image)
    assert torch.allclose(half, out * 2 - 1, atol=1e-6)


def test_flip_only_augmentation_flips_and_never_crops(image: Image.Image) -> None:
    plain = build_transform(False, 24, "flip", "unit")(image)
    seen = set()
    torch.manual_seed(0)
    for _ in range(20):
        out = build_transform(True, 24, "flip", "unit")(image)
        if torch.allclose(out, plain):
            seen.add("same")
        elif torch.allclose(out, plain.flip(-1)):
            seen.add("flipped")
        else:
            seen.add("other")
    assert seen == {"same", "flipped"}


def test_random_resized_crop_varies(image: Image.Image) -> None:
    torch.manual_seed(0)
    transform = build_transform(True, 24, "flip_rrc", "unit")
    outs = [transform(image) for _ in range(4)]
    assert not all(torch.allclose(outs[0], o) for o in outs[1:])


def test_unknown_values_are_user_errors() -> None:
    with pytest.raises(UserError, match="normalize: unknown value 'imagenet'"):
        build_transform(True, 24, "flip", "imagenet")
    with pytest.raises(UserError, match="augment"):
        build_transform(True, 24, "cutmix", "unit")
