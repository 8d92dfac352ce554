"""Pretrained backbone weights: a catalogue of local files, and how each one loads.

The suite never downloads weights at run time (docs/spec.md §1.4): every catalogue entry names
the file the user places under the weights root (``--weights-root`` or
``$BENCHMARK_WEIGHTS``) and where that file comes from. A pretrained timm tag (``timm:<tag>``)
is the only way to let timm fetch weights, and only because the user named it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn
from torch import nn

from benchmark.errors import MissingWeightsError, UserError
from benchmark.models.mini import MINI_BACKBONES

WEIGHTS_ENV = "BENCHMARK_WEIGHTS"
TIMM_PREFIX = "timm:"
CLASSIFIER_PREFIXES = ("fc.", "head.")  # ImageNet classifiers: never used by a multi-label head
MINI_WEIGHTS_DIR = "weights/mini"  # committed pretrained mini backbones, relative to the repo


@dataclass(frozen=True)
class WeightsEntry:
    """One released weight file: what it is called, where it comes from, what it loads into."""

    key: str
    filename: str
    backbone: str  # the timm model name whose (classifier-free) state dict the file fills
    source: str  # where a user gets the file, in one line
    note: str = ""
    alternates: tuple[str, ...] = ()  # other names under which the same weights are published


CATALOGUE: dict[str, WeightsEntry] = {
    entry.key: entry
    for entry in (
        WeightsEntry(
            key="resnet101-cutmix",
            filename="CutMix_ResNet101.pth",
            backbone="resnet101",
            source=(
                "CutMix authors' ResNet-101 + CutMix release (ImageNet top-1 err 20.17%), linked "
                "from the clovaai/CutMix-PyTorch README (its Dropbox file is model_best.pth.tar); "
                "the CSRA README re-hosts it as CutMix_ResNet101.pth"
            ),
            note=(
                "Raw release wraps the weights in 'state_dict' and prefixes keys with 'module.'; "
                "both are stripped. Keys are torchvision's, which timm's ResNet shares."
            ),
            alternates=("model_best.pth.tar",),
        ),
        WeightsEntry(
            key="resnet101-tv",
            filename="resnet101-5d3b4d8f.pth",
            backbone="resnet101",
            source=(
                "torchvision ResNet-101 IMAGENET1K_V1, "
                "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth "
                "(= timm resnet101.tv_in1k)"
            ),
            note="torchvision's current URL for the same V1 weights is resnet101-63fe2227.pth.",
            alternates=("resnet101-63fe2227.pth",),
        ),
        WeightsEntry(
            key="vit-large-jx",
            filename="jx_vit_large_p16_224-4ee7a4dc.pth",
            backbone="vit_large_patch16_224",
            source=(
                "original JAX ViT-L/16 (ImageNet-21k pretrained, 1k fine-tuned at 224) ported by "
                "timm: https://github.com/rwightman/pytorch-image-models/releases/download/"
                "v0.1-vitjx/jx_vit_large_p16_224-4ee7a4dc.pth"
            ),
            note=(
                "timm's nearest tag, vit_large_patch16_224.augreg_in21k_ft_in1k, is a different "
                "training (AugReg); it is not a substitute for this file."
            ),
        ),
        WeightsEntry(
            key="vit-base-jx",
            filename="jx_vit_base_p16_224-80ecf9dd.pth",
            backbone="vit_base_patch16_224",
            source=(
                "original JAX ViT-B/16 (ImageNet-21k pretrained, 1k fine-tuned at 224) ported by "
                "timm: https://github.com/rwightman/pytorch-image-models/releases/download/"
                "v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth (= timm "
                "vit_base_patch16_224.orig_in21k_ft_in1k)"
            ),
        ),
        *(
            WeightsEntry(
                key=f"{backbone.replace('_', '-')}-attributes",
                filename=f"{backbone}_attributes.pth",
                backbone=backbone,
                source=(
                    f"repository folder {MINI_WEIGHTS_DIR}/ (written by `benchmark pretrain "
                    "--profile mini`: the synthetic attribute corpus, docs/mini.md)"
                ),
                note="The mini profile's stand-in for ImageNet pretraining; timm classifier "
                "over the corpus's 21 attributes included, as in the ImageNet releases.",
            )
            for backbone in MINI_BACKBONES
        ),
    )
}


def weights_root(root: Path | str | None = None) -> Path | None:
    """The folder holding weight files: the argument, else ``$BENCHMARK_WEIGHTS``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else None


def catalogue_entry(key: str) -> WeightsEntry:
    if key not in CATALOGUE:
        known = ", ".join(sorted(CATALOGUE))
        raise UserError(f"unknown weights key {key!r} (catalogue: {known}, or timm:<tag>)")
    return CATALOGUE[key]


def resolve_weights(key: str, root: Path | str | None = None) -> Path:
    """Path of a catalogue entry's file; a clear one-line error when it is not there."""
    entry = catalogue_entry(key)
    folder = weights_root(root)
    if folder is None:
        raise MissingWeightsError(
            f"weights {key!r} need {entry.filename} in a weights folder: pass --weights-root or "
            f"set ${WEIGHTS_ENV}; the file comes from the {entry.source}"
        )
    for name in (entry.filename, *entry.alternates):
        if (folder / name).is_file():
            return folder / name
    raise MissingWeightsError(
        f"weights {key!r}: expected file {folder / entry.filename} is missing; "
        f"it comes from the {entry.source}"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, unwrapped from a release's 'state_dict' and 'module.'."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise MissingWeightsError(f"weights file {path} does not exist") from err
    except Exception as err:  # a truncated or foreign file: say which one
        raise UserError(f"weights file {path} cannot be read: {err}") from err
    for wrapper in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict):
        raise UserError(f"weights file {path} holds no state dict")
    return {_strip_module(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _strip_module(key: str) -> str:
    # DataParallel releases prefix every key with 'module.'.
    return key[len("module.") :] if key.startswith("module.") else key


def load_backbone_weights(model: nn.Module, path: Path) -> None:
    """Fill a classifier-free timm model from a file; any other mismatch is an error.

    ViT checkpoints pass through timm's own checkpoint filter, which resamples the position
    embedding when the model was built for another input size than the checkpoint
    (docs/spec.md §1.4).
    """
    state = read_state_dict(path)
    if _is_vit(model):
        state = checkpoint_filter_fn(state, model)
    state = {k: v for k, v in state.items() if not k.startswith(CLASSIFIER_PREFIXES)}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches; torch's message spans several lines
        detail = " ".join(str(err).split())
        raise UserError(f"weights file {path} does not match the backbone: {detail}") from err
    # Files saved before PyTorch 0.4.1 (torchvision's 2017 ResNets) carry no BatchNorm
    # 'num_batches_tracked' counters; the counter has no pretrained value, so it may be absent.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise UserError(
            f"weights file {path} does not match the backbone: "
            f"missing {_preview(missing)}, unexpected {_preview(result.unexpected_keys)}"
        )


def _is_vit(model: nn.Module) -> bool:
    return isinstance(model, VisionTransformer)


def _preview(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return f"[{shown}{more}]"
