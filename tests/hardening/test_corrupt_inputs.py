"""Corrupt inputs are named, never a crash: `benchmark data verify` lists each bad file and
exits 1; training on a tree with a truncated JPEG fails naming the file, or with --skip-bad
finishes and records it. (Garbage JPEGs, malformed XML, empty split lists and WIDER boxes
outside their image are tests/data/test_verify_cli.py's.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from faults import CELL, ONE_EPOCH, only
from PIL import Image

from benchmark.cli import main
from benchmark.data.synthetic import synthesize
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.train.job_context import synthetic_tree


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header intact: opens, fails to decode


def _verify(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["data", "verify", *args])
    return code, capsys.readouterr().out


def test_verify_names_truncated_images_and_incomplete_coco_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    voc = synthesize("voc2007", tmp_path / "voc", 4, 3, 48, seed=0)
    jpeg = voc / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000002.jpg"
    _truncate(jpeg)
    code, out = _verify(capsys, "voc2007", "--root", str(voc))
    assert code == 1 and f"{jpeg}: image does not decode" in out and "truncated" in out

    coco = synthesize("coco2014", tmp_path / "coco", 4, 3, 48, seed=0)
    val = coco / "annotations" / "instances_val2014.json"
    data = json.loads(val.read_text())
    del data["images"][0]["file_name"]
    del data["annotations"][1]["bbox"]
    val.write_text(json.dumps(data))
    train = coco / "annotations" / "instances_train2014.json"
    train.write_text(json.dumps({k: v for k, v in json.loads(train.read_text()).items()
                                 if k != "categories"}))  # fmt: skip
    code, out = _verify(capsys, "coco2014", "--root", str(coco))
    assert code == 1
    assert f"{val}: images[0] needs 'id', 'file_name', 'width', 'height'" in out
    assert f"{val}: annotations[1] needs 'image_id', 'category_id', 'bbox'" in out
    assert f"{train}: fields 'images', 'annotations', 'categories' must be lists" in out


def test_verify_masks_names_each_bad_mask(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "masks"
    folder.mkdir()
    binary = np.zeros((32, 32), np.uint8)
    binary[4:12, 4:12] = 255
    for n in range(4):
        Image.fromarray(binary).save(folder / f"{n:05d}.png")
    grey = folder / "00001.png"
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(grey)
    cut = folder / "00002.png"
    _truncate(cut)
    code, out = _verify(capsys, "masks", "--root", str(folder))
    assert code == 1
    assert f"{grey}: mask is not binary" in out and f"{cut}: mask does not decode" in out
    assert "11996 of 12000 mask files missing (00004.png, 00005.png, 00006.png …)" in out
    assert "00000.png" not in out and "00003.png" not in out


def test_training_on_a_truncated_jpeg_fails_naming_it_or_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    cache = tmp_path / "cache"  # private: this test damages the synthetic tree
    monkeypatch.setenv("BENCHMARK_CACHE", str(cache))
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(Path(__file__).parents[2] / "experiments"))
    spec = resolve_run(load_registry(), "voc-resnetcut-csra", "smoke")
    base = synthetic_tree(spec, cache) / "VOCdevkit" / "VOC2007"  # the tree `run` reads
    first = (base / "ImageSets" / "Main" / "trainval.txt").read_text().split()[0]
    bad = base / "JPEGImages" / f"{first}.jpg"
    _truncate(bad)
    folder = tmp_path / "results"
    args = ["run", CELL, *ONE_EPOCH, "--results-dir", str(folder)]

    # A DataLoader worker re-raises the error with its traceback inside the message: the
    # recorded reason must still be the one line that names the file.
    capsys.readouterr()
    assert main([*args, "--workers", "1"]) == 1
    console = capsys.readouterr()
    failed = only(folder, "train")
    assert failed["status"] == "failed"
    assert failed["error"].startswith(f"{bad}: cannot decode image") and "\n" not in failed["error"]
    assert f"FAILED voc-resnetcut-csra [{failed['hash']}]: {bad}: cannot decode" in console.out
    assert "Traceback" not in console.out + console.err

    capsys.readouterr()
    assert main([*args, "--skip-bad"]) == 0  # the failed run is retried, skipping the file
    done = only(folder, "train")
    assert done["status"] == "done" and done["skipped_files"] == [str(bad)]
