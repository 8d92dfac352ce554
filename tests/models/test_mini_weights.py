"""The committed pretrained mini backbones (weights/mini): the files their record lists, made
with the current recipe, loading strictly through the weights path, and still scoring the
held-out corpus as the record says."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import timm
import torch

from benchmark.data.pretrain_corpus import ATTRIBUTES, build_corpus
from benchmark.models.backbones import build_backbone
from benchmark.models.mini import MINI_BACKBONES
from benchmark.models.weights import CATALOGUE, MINI_WEIGHTS_DIR
from benchmark.train.pretraining import (
    MINI_PRETRAIN,
    RECORD_FILE,
    Normalise,
    evaluate_attributes,
)

FOLDER = Path(__file__).resolve().parents[2] / MINI_WEIGHTS_DIR
SAMPLE = 200  # held-out images rescored here (the record scored 1,000)


def _record() -> dict:
    return json.loads((FOLDER / RECORD_FILE).read_text())


def test_record_lists_every_backbone_with_the_current_recipe():
    record = _record()
    assert record["recipe"] == asdict(MINI_PRETRAIN)
    assert record["attributes"] == list(ATTRIBUTES)
    assert record["command"] == "benchmark pretrain --profile mini"
    assert [b["backbone"] for b in record["backbones"]] == list(MINI_BACKBONES)
    for entry in record["backbones"]:
        data = (FOLDER / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        assert len(entry["val_mAP"]) == MINI_PRETRAIN.epochs


def test_committed_weights_load_strictly_and_score_as_recorded():
    val = build_corpus("val", SAMPLE, MINI_PRETRAIN.img_size, MINI_PRETRAIN.corpus_seed, False)
    for entry in _record()["backbones"]:
        name = entry["backbone"]
        key = next(k for k, e in CATALOGUE.items() if e.filename == entry["file"])
        assert CATALOGUE[key].backbone == name
        # The path a mini v2 run takes: catalogue key + weights root, classifier dropped,
        # any other missing or unexpected tensor an error.
        backbone = build_backbone(name, MINI_PRETRAIN.img_size, key, weights_root=FOLDER)
        saved = torch.load(FOLDER / entry["file"], weights_only=True)
        for tensor_name, tensor in backbone.model.state_dict().items():
            torch.testing.assert_close(tensor, saved[tensor_name], msg=tensor_name)
        # The whole file (classifier included) is the trained attribute model.
        model = timm.create_model(name, num_classes=len(ATTRIBUTES))
        model.load_state_dict(saved, strict=True)
        mAP = evaluate_attributes(model, Normalise(name), val, batch_size=100)
        assert abs(mAP - entry["val_mAP"][-1]) < 5.0, (name, mAP, entry["val_mAP"][-1])
        assert mAP > 60.0  # chance on this split is ~32


def test_a_mini_training_records_the_sha256_of_the_file_it_starts_from(tmp_path):
    """The identity names only the catalogue key; the result keeps the file's bytes' digest."""
    from benchmark.experiment.profiles import resolve_run
    from benchmark.experiment.registry import load_registry
    from benchmark.train.job_context import JobContext
    from benchmark.train.loop import initial_weights

    registry = load_registry(FOLDER.parents[1] / "experiments")
    files = {e["file"]: e["sha256"] for e in _record()["backbones"]}
    for run in ("voc-resnetcut-csra", "wider-vitb-plain", "coco-vitl-csra"):
        spec = resolve_run(registry, run, "mini")
        recorded = initial_weights(spec, JobContext(tmp_path, weights_root=FOLDER))
        assert recorded["key"] == spec.weights and files[recorded["file"]] == recorded["sha256"]
    smoke = resolve_run(registry, "voc-resnetcut-csra", "smoke")
    assert initial_weights(smoke, JobContext(tmp_path, weights_root=FOLDER)) is None
