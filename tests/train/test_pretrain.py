"""Pretraining the mini backbones: files the weights path loads, a record that matches them,
augmentations that keep the labels true."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from benchmark.data.pretrain_corpus import build_corpus
from benchmark.models.backbones import build_backbone
from benchmark.models.mini import MINI_BACKBONES
from benchmark.models.weights import CATALOGUE
from benchmark.train.pretraining import (
    MINI_PRETRAIN,
    RECORD_FILE,
    Normalise,
    augment,
    pretrain_all,
    weights_filename,
    with_overrides,
)

TINY = with_overrides(MINI_PRETRAIN, train_images=16, val_images=8, epochs=1, batch_size=8)


@pytest.fixture(scope="module")
def tiny_corpus():
    return (
        build_corpus("train", TINY.train_images, TINY.img_size, 0, progress=False),
        build_corpus("val", TINY.val_images, TINY.img_size, 0, progress=False),
    )


def test_pretrained_files_load_through_the_catalogue(tmp_path, tiny_corpus):
    train, val = tiny_corpus
    record = pretrain_all(tmp_path, train, val, TINY, command="test", progress=False)
    assert [b["backbone"] for b in record["backbones"]] == list(MINI_BACKBONES)
    assert json.loads((tmp_path / RECORD_FILE).read_text()) == record
    for entry in record["backbones"]:
        path = tmp_path / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert len(entry["val_mAP"]) == TINY.epochs and 0 < entry["val_mAP"][0] <= 100
        key = next(k for k, e in CATALOGUE.items() if e.filename == entry["file"])
        backbone = build_backbone(entry["backbone"], 96, key, weights_root=tmp_path)
        saved = torch.load(path, weights_only=True)
        loaded = backbone.model.state_dict()
        assert set(saved) - set(loaded) <= {"fc.weight", "fc.bias", "head.weight", "head.bias"}
        for name, tensor in loaded.items():  # every backbone tensor came from the file
            torch.testing.assert_close(tensor, saved[name], msg=name)


def test_every_mini_backbone_has_a_catalogue_file():
    for backbone in MINI_BACKBONES:
        entry = next(e for e in CATALOGUE.values() if e.filename == weights_filename(backbone))
        assert entry.backbone == backbone and entry.filename.endswith(".pth")


def test_augment_flips_and_shifts_whole_images_only():
    batch = torch.zeros(64, 3, 32, 32, dtype=torch.uint8)
    batch[:, :, 12:20, 4:10] = 255  # a bar left of centre
    out = augment(batch, 4, torch.Generator().manual_seed(0))
    assert out.shape == (64, 3, 32, 32) and out.dtype == torch.float32 and out.max() == 1.0
    assert torch.all(out.sum(dim=(1, 2, 3)) == 3 * 8 * 6)  # the bar is moved, never cut
    left = out[:, 0, :, :16].sum(dim=(1, 2)) > out[:, 0, :, 16:].sum(dim=(1, 2))
    assert 10 < int(left.sum()) < 54  # about half flipped
    again = augment(batch, 4, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_each_family_sees_its_releases_normalisation():
    grey = torch.full((1, 3, 4, 4), 0.5)
    assert torch.all(Normalise("mini_vit_large")(grey) == 0)  # JAX ViT: mean 0.5, std 0.5
    resnet = Normalise("mini_resnet")(grey)  # torchvision: ImageNet mean and std
    torch.testing.assert_close(resnet[0, :, 0, 0], torch.tensor([0.0655, 0.1964, 0.4178]),
                               atol=1e-4, rtol=0)  # fmt: skip
