"""timm backbones as feature-map extractors: every one returns B×D×h×w.

The heads of the paper (CSRA, MCAR, SST) all work on a spatial map, so a ResNet gives its layer4
output (D×S/32×S/32) and a ViT gives its patch tokens after the final norm, class token dropped,
reshaped to D×S/16×S/16 (docs/spec.md §1.4). The family is read from the timm model class, not
the name, so timm's tiny test models and small real members take the same path as the paper's
backbones.
"""

from __future__ import annotations

import math
from pathlib import Path

import timm
import torch
from timm.models.resnet import ResNet
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from benchmark.errors import MissingWeightsError, UserError
from benchmark.models import mini  # noqa: F401  (registers the mini profile's backbones)
from benchmark.models.weights import (
    CATALOGUE,
    TIMM_PREFIX,
    catalogue_entry,
    load_backbone_weights,
    resolve_weights,
)

FAMILIES = {ResNet: "resnet", VisionTransformer: "vit"}


def model_family(name: str) -> str:
    """'resnet' or 'vit', from the class timm builds for ``name`` (on the meta device: free)."""
    try:
        with torch.device("meta"):
            probe = timm.create_model(name, pretrained=False, num_classes=0)
    except RuntimeError as err:  # timm's "Unknown model"
        raise UserError(f"unknown timm backbone {name!r}: {err}") from err
    for cls, family in FAMILIES.items():
        if isinstance(probe, cls):
            return family
    raise UserError(
        f"backbone {name!r} is a timm {type(probe).__name__}; the suite supports ResNet and "
        "VisionTransformer backbones"
    )


def backbone_stride(name: str) -> int:
    """Input pixels per cell of a backbone's final feature map (a ResNet's output stride, a
    ViT's patch), read from the model timm builds (on the meta device: free)."""
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, num_classes=0)
    return FeatureBackbone(model, model_family(name), name).stride


class FeatureBackbone(nn.Module):
    """A timm model reduced to its spatial feature map."""

    def __init__(self, model: nn.Module, family: str, name: str) -> None:
        super().__init__()
        self.model = model
        self.family = family
        self.name = name
        self.out_dim: int = model.num_features
        if family == "vit":
            self.stride: int = model.patch_embed.patch_size[0]
            self.num_prefix_tokens: int = model.num_prefix_tokens
        else:
            self.stride = model.feature_info[-1]["reduction"]

    def feature_size(self, img_size: int) -> int:
        """Side of the feature map for a square input, without running the network."""
        if self.family == "vit":
            return img_size // self.stride  # non-overlapping patches, no padding
        # Every stride-2 stage of a timm ResNet pads so that it rounds up.
        return math.ceil(img_size / self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.family == "resnet":
            return self.model.forward_features(x)
        tokens = self.model.forward_features(x)[:, self.num_prefix_tokens :]
        h, w = x.shape[-2] // self.stride, x.shape[-1] // self.stride
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[-1], h, w)


def build_backbone(
    name: str,
    img_size: int,
    weights: str | Path | None = None,
    *,
    weights_root: Path | str | None = None,
) -> FeatureBackbone:
    """A timm backbone returning B×D×h×w, with ``out_dim`` = D.

    ``weights``: None (random init), a catalogue key (file under the weights root), a path to a
    checkpoint file, or ``timm:<tag>`` (timm fetches that pretrained tag; only when named).
    ViTs are built for ``img_size`` so their position embedding has S/16×S/16 entries; a 224
    checkpoint is resampled to it on load by timm's checkpoint filter.
    """
    family = model_family(name)
    kwargs: dict = {"num_classes": 0}
    if family == "vit":
        kwargs["img_size"] = img_size
    if isinstance(weights, str) and weights.startswith(TIMM_PREFIX):
        model = _create_timm_pretrained(name, weights[len(TIMM_PREFIX) :], kwargs)
        return FeatureBackbone(model, family, name)
    model = timm.create_model(name, pretrained=False, **kwargs)
    path = weights_file(name, weights, weights_root)
    if path is not None:
        load_backbone_weights(model, path)
    return FeatureBackbone(model, family, name)


def weights_file(
    name: str, weights: str | Path | None, weights_root: Path | str | None
) -> Path | None:
    """The file a backbone's ``weights`` load from (None: random init or a timm tag)."""
    if weights is None or (isinstance(weights, str) and weights.startswith(TIMM_PREFIX)):
        return None
    if isinstance(weights, str) and weights in CATALOGUE:
        entry = catalogue_entry(weights)
        if entry.backbone != name:
            raise UserError(
                f"weights {weights!r} are for {entry.backbone}, not for backbone {name!r}"
            )
        return resolve_weights(weights, weights_root)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise MissingWeightsError(
            f"weights {str(weights)!r} is neither a catalogue key ({', '.join(sorted(CATALOGUE))})"
            f" nor an existing file (looked for {path.resolve()})"
        )
    return path


def _create_timm_pretrained(name: str, tag: str, kwargs: dict) -> nn.Module:
    """timm's own pretrained weights: the one path where the network may be used."""
    arch, _, tag_part = tag.rpartition(".")
    if arch and arch != name:
        raise UserError(f"pretrained tag {tag!r} is for {arch}, not for backbone {name!r}")
    full = f"{name}.{tag_part or tag}"
    try:
        return timm.create_model(full, pretrained=True, **kwargs)
    except (OSError, RuntimeError, ValueError) as err:
        raise MissingWeightsError(f"timm could not provide pretrained {full!r}: {err}") from err
