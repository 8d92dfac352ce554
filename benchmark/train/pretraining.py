"""Pretraining the mini backbones on the attribute corpus: the mini profile's "ImageNet" step.

Each backbone is trained as timm builds it for classification (its own pooling and a linear
classifier over the corpus's attributes), with a multi-label BCE loss, then saved as a plain
state dict of that timm model — classifier included, as in the torchvision / JAX ViT releases —
which the weights path (``benchmark.models.weights``) loads into a classifier-free backbone.
The recipe was fixed from a pilot (docs/mini.md, "mini v2: pretraining").

Each family is pretrained on the input normalisation of the paper's release it stands in for:
ImageNet mean/std for the ResNet (torchvision, CutMix), mean 0.5 / std 0.5 for the ViTs (the JAX
ViT files). Fine-tuning then feeds whatever the registry's dataset recipe says, as the paper's
cells feed their ImageNet weights. (The pilot also showed the mini ViTs do not learn at all from
uncentred [0, 1] inputs: they collapse to the label prior within a few dozen steps.)
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import timm
import torch
from torch import nn
from tqdm import tqdm

from benchmark.data.pretrain_corpus import ATTRIBUTES, Corpus
from benchmark.models.backbones import model_family
from benchmark.models.mini import MINI_BACKBONES
from benchmark.models.weights import CATALOGUE
from benchmark.scoring.metrics import score
from benchmark.store.results import atomic_write_bytes, atomic_write_json
from benchmark.train.seeding import derive_seed, seed_everything

log = logging.getLogger("benchmark.pretrain")

RECORD_FILE = "PRETRAIN.json"
NORMALISATION = {  # family → (mean, std) of the release the mini backbone stands in for
    "resnet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # torchvision / CutMix
    "vit": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # JAX ViT
}


@dataclass(frozen=True)
class PretrainRecipe:
    """Everything a pretraining run depends on besides the code."""

    train_images: int
    val_images: int
    img_size: int
    corpus_seed: int
    epochs: int
    batch_size: int
    lr_resnet: float  # AdamW peak rate per family: the pilot's best differed by 10×
    lr_vit: float
    weight_decay: float
    warmup_epochs: int
    shift: int  # random translation, pixels each way (with horizontal flips)
    seed: int  # initialisation and batch order


# Chosen from the pilot in docs/mini.md ("mini v2: pretraining"); one recipe for all three.
MINI_PRETRAIN = PretrainRecipe(
    train_images=6000,
    val_images=1000,
    img_size=96,
    corpus_seed=0,
    epochs=16,
    batch_size=16,
    lr_resnet=1e-2,
    lr_vit=1e-3,
    weight_decay=0.05,
    warmup_epochs=1,
    shift=8,
    seed=0,
)


def weights_filename(backbone: str) -> str:
    """The catalogue's file name for a mini backbone's pretrained weights."""
    for entry in CATALOGUE.values():
        if entry.backbone == backbone and entry.key.endswith("-attributes"):
            return entry.filename
    raise KeyError(backbone)


@dataclass
class Pretrained:
    """One backbone's pretraining outcome, as the record file lists it."""

    backbone: str
    file: str
    sha256: str
    parameters: int
    val_mAP: list[float]  # held-out attribute mAP after each epoch
    train_loss: list[float]
    wall_s: float
    cpu_s: float  # process CPU time: on a shared machine, wall time ≈ cpu_s / threads when quiet


def pretrain_backbone(
    backbone: str,
    train: Corpus,
    val: Corpus,
    recipe: PretrainRecipe,
    progress: bool = True,
) -> tuple[nn.Module, Pretrained]:
    """Train ``backbone`` (a timm model with an attribute classifier) on ``train``; the returned
    record holds the held-out mAP after every epoch."""
    start, cpu_start = time.perf_counter(), time.process_time()
    seed_everything(derive_seed(recipe.seed, 0, MINI_BACKBONES.index(backbone)))
    model = timm.create_model(backbone, pretrained=False, num_classes=len(ATTRIBUTES))
    normalise = Normalise(backbone)
    lr = recipe.lr_vit if normalise.family == "vit" else recipe.lr_resnet
    decay, no_decay = [], []
    for name, param in model.named_parameters():  # no decay on norms, biases, tokens
        (no_decay if param.ndim <= 1 or "token" in name or "pos_embed" in name else decay).append(
            param
        )
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
    )  # fmt: skip
    steps_per_epoch = math.ceil(len(train) / recipe.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _warmup_cosine(recipe.warmup_epochs * steps_per_epoch,
                                  recipe.epochs * steps_per_epoch)
    )  # fmt: skip
    images = torch.from_numpy(train.images).permute(0, 3, 1, 2)  # uint8 N×3×S×S
    targets = torch.from_numpy(train.targets.astype(np.float32))
    known = torch.from_numpy(train.targets >= 0)
    val_maps, losses = [], []
    for epoch in range(recipe.epochs):
        gen = torch.Generator().manual_seed(derive_seed(recipe.seed, epoch, 1))
        order = torch.randperm(len(train), generator=gen)
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"{backbone} {epoch + 1}/{recipe.epochs}",
            unit="batch",
            disable=not progress,
        )
        for step in bar:
            rows = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            x = normalise(augment(images[rows], recipe.shift, gen))
            logits = model(x)
            weight = known[rows].float()  # ignored targets contribute nothing
            loss = nn.functional.binary_cross_entropy_with_logits(
                logits, targets[rows].clamp(min=0), weight=weight, reduction="sum"
            ) / weight.sum().clamp(min=1)
            if not torch.isfinite(loss):
                raise RuntimeError(f"{backbone}: non-finite loss at epoch {epoch + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(rows)
            seen += len(rows)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        losses.append(round(total / seen, 5))
        val_maps.append(round(evaluate_attributes(model, normalise, val, recipe.batch_size), 3))
        log.info("%s epoch %d: loss %.4f, val mAP %.2f", backbone, epoch + 1, losses[-1],
                 val_maps[-1])  # fmt: skip
    record = Pretrained(
        backbone=backbone,
        file="",
        sha256="",
        parameters=sum(p.numel() for p in model.parameters()),
        val_mAP=val_maps,
        train_loss=losses,
        wall_s=round(time.perf_counter() - start, 1),
        cpu_s=round(time.process_time() - cpu_start, 1),
    )
    return model, record


def augment(batch: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """uint8 B×3×S×S → float in [0, 1] (the ``unit`` normalisation of VOC and COCO cells),
    each image flipped left-right with probability ½ and translated by up to ``shift`` px
    (edges replicated). Every corpus shape is left-right symmetric, so labels hold."""
    x = batch.float() / 255
    flip = torch.rand(len(x), generator=gen) < 0.5
    x[flip] = x[flip].flip(-1)
    if shift > 0:
        size = x.shape[-1]
        padded = nn.functional.pad(x, (shift,) * 4, mode="replicate")
        offsets = torch.randint(0, 2 * shift + 1, (len(x), 2), generator=gen).tolist()
        x = torch.stack(
            [padded[i, :, dy : dy + size, dx : dx + size] for i, (dy, dx) in enumerate(offsets)]
        )
    return x


@torch.no_grad()
def evaluate_attributes(
    model: nn.Module, normalise: Callable, corpus: Corpus, batch_size: int
) -> float:
    """Attribute mAP (percent) of ``model`` on ``corpus``, ignored targets left out."""
    model.eval()
    images = torch.from_numpy(corpus.images).permute(0, 3, 1, 2)
    probs = [
        torch.sigmoid(model(normalise(images[i : i + batch_size].float() / 255)))
        for i in range(0, len(corpus), batch_size)
    ]
    return score(torch.cat(probs).numpy(), corpus.targets.astype(np.int64)).mAP


class Normalise:
    """[0, 1] images → the normalisation of ``backbone``'s family (NORMALISATION)."""

    def __init__(self, backbone: str) -> None:
        self.family = model_family(backbone)
        mean, std = NORMALISATION[self.family]
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _warmup_cosine(warm: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))

    return factor


def save_weights(model: nn.Module, path: Path) -> str:
    """The model's plain state dict (a timm classifier, as the ImageNet releases are), written
    atomically; returns the file's sha256."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def pretrain_all(
    out: Path,
    train: Corpus,
    val: Corpus,
    recipe: PretrainRecipe,
    backbones: tuple[str, ...] = MINI_BACKBONES,
    command: str = "",
    progress: bool = True,
) -> dict:
    """Pretrain ``backbones`` one after the other, then write every file and last the record
    (``PRETRAIN.json``: the recipe, the corpus and each file's figures and sha256). Nothing is
    written until every backbone is trained, so an interrupted run leaves ``out`` as it was."""
    trained = [pretrain_backbone(b, train, val, recipe, progress) for b in backbones]
    records = []
    for model, record in trained:
        record.file = weights_filename(record.backbone)
        record.sha256 = save_weights(model, Path(out) / record.file)
        records.append(record)
    data = {
        "command": command,
        "recipe": asdict(recipe),
        "attributes": list(ATTRIBUTES),
        "normalisation": {f: {"mean": [*m], "std": [*s]} for f, (m, s) in NORMALISATION.items()},
        "corpus": {"train_sha256": train.digest(), "val_sha256": val.digest()},
        "machine": f"{platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}",
        "backbones": [asdict(r) for r in records],
    }
    atomic_write_json(Path(out) / RECORD_FILE, data)
    return data


def with_overrides(recipe: PretrainRecipe, **changes) -> PretrainRecipe:
    """``recipe`` with the CLI's overrides (None = keep)."""
    return replace(recipe, **{k: v for k, v in changes.items() if v is not None})
