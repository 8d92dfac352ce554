"""The regime rule's data parts (benchmark.data.mask_geometry, `benchmark data regime`): hidden
feature cells and hidden (image, class) pairs, and the record committed with the mini profile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.data.mask_geometry import (
    _hidden,
    hidden_cells,
    image_scale,
    object_scale,
    training_holes,
)
from benchmark.data.synthetic import GENERATOR_VERSION, scene_classes
from benchmark.experiment.profiles import get_profile
from benchmark.models.backbones import backbone_stride

REPO = Path(__file__).resolve().parents[2]
RECORD = REPO / "experiments" / "regime" / "mini.json"


def test_a_cell_is_hidden_from_nine_tenths_of_its_pixels_on():
    holes = np.zeros((2, 32, 32), dtype=bool)
    holes[0, :16, :16] = True  # one 16 × 16 cell, entirely
    holes[1, :16, :14] = True  # 14/16 of a cell: 87.5 %, not hidden
    assert hidden_cells(holes[:1], 16) == pytest.approx(1 / 4)
    assert hidden_cells(holes[1:], 16) == 0.0
    assert hidden_cells(holes[1:], 8) == pytest.approx(2 / 16)  # two 8 × 8 cells fully
    # border cells keep the pixels they have: 30 px at stride 16 → 2 × 2 cells of 16 and 14
    edge = np.zeros((1, 30, 30), dtype=bool)
    edge[0, 16:, 16:] = True
    assert hidden_cells(edge, 16) == pytest.approx(1 / 4)


def test_a_class_is_hidden_when_nine_tenths_of_its_boxes_are_or_the_crop_drops_it():
    region = np.zeros((10, 10), dtype=bool)
    region[:, :5] = True  # 50 pixels
    hole = np.zeros((10, 10), dtype=bool)
    hole[:9, :5] = True  # 45 of them: 90 %
    assert _hidden(region, hole)
    hole[8, :5] = False  # 40: 80 %
    assert not _hidden(region, hole)
    assert _hidden(np.zeros((10, 10), dtype=bool), hole)  # cropped out entirely


def test_the_class_map_and_labels_replay_the_written_tree(tmp_path):
    from benchmark.data.dataset_factory import build_dataset
    from benchmark.data.synthetic import synthesize

    root = synthesize("voc2007", tmp_path / "voc", 12, 1, 128, 0, object_area=(0.03, 0.7))
    data = build_dataset("voc2007", root, "train", img_size=96, train=False)
    for i in range(12):
        classes, boxes = scene_classes("voc2007", "train", i, 128, 0, (0.03, 0.7))
        assert sorted(boxes) == list(np.flatnonzero(data.targets[i].numpy() == 1))
        assert set(np.unique(classes)) - {-1} <= set(range(20))


def test_measuring_is_seeded_per_image(tmp_path):
    holes = training_holes(96, "procedural", tmp_path)
    first = object_scale("coco2014", 6, 128, 0, None, holes)
    again = [image_scale("coco2014", i, 128, 0, None, holes)[:2] for i in range(6)]
    assert first.per_image == tuple(again)
    assert first.pairs == sum(p for p, _ in again) and first.hidden == sum(h for _, h in again)


def test_the_committed_record_matches_the_profile_and_a_recomputed_sample(tmp_path):
    """experiments/regime/mini.json is what `benchmark data regime --profile mini --write`
    gives for the profile as it is: its settings, strides, and the first images recomputed."""
    record = json.loads(RECORD.read_text())
    settings = record["settings"]
    profile = get_profile("mini")
    assert settings["generator_version"] == GENERATOR_VERSION
    assert settings["img_size"] == profile.img_size and settings["images_measured"] is None
    for backbone, cells in record["feature_cells"].items():
        assert cells["stride"] == backbone_stride(backbone)
    holes = training_holes(settings["img_size"], settings["mask_source"], tmp_path)
    assert len(holes) == settings["pool_masks"]
    assert hidden_cells(holes, 8) == pytest.approx(record["feature_cells"]["mini_resnet"]
                                                   ["hidden_fraction"])  # fmt: skip
    for dataset, measured in record["object_scale"].items():
        synth = profile.synth_for(dataset)
        assert len(measured["per_image"]) == synth.train_images
        assert measured["pairs"] == sum(p for p, _ in measured["per_image"])
        assert measured["hidden"] == sum(h for _, h in measured["per_image"])
        for i in range(8):
            pairs, hidden, _, _ = image_scale(
                dataset, i, synth.image_size, synth.seed, synth.object_area, holes,
                settings["draws"],
            )  # fmt: skip
            assert [pairs, hidden] == measured["per_image"][i], (dataset, i)


def test_the_verb_prints_the_parts_and_refuses_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    assert main(["data", "regime", "--profile", "mini", "--images", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["settings"]["images_measured"] == 3
    assert len(record["object_scale"]["voc2007"]["per_image"]) == 3
    assert record["feature_cells"]["mini_resnet"]["map"] == 12
    assert main(["data", "regime", "--profile", "mini", "--images", "3", "--write"]) == 2
    assert "--write records the whole training split" in capsys.readouterr().err
    assert main(["data", "regime", "--profile", "paper"]) == 2
    assert "real data has no generator" in capsys.readouterr().err
