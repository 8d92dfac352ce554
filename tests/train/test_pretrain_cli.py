"""`benchmark pretrain`: runs end to end on a tiny corpus; bad flags stop it before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.cli import main, pretrain
from benchmark.models.backbones import build_backbone
from benchmark.models.mini import MINI_BACKBONES
from benchmark.models.weights import MINI_WEIGHTS_DIR

TINY = ["--images", "12", "--val-images", "6", "--epochs", "1", "--no-progress"]


def test_pretrain_verb_writes_weights_the_mini_backbones_load(tmp_path, capsys):
    out, cache = tmp_path / "weights", tmp_path / "cache"
    argv = ["pretrain", "--profile", "mini", "--out", str(out), "--cache-dir", str(cache), *TINY]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "PRETRAIN.json").read_text())
    assert record["command"] == (
        f"benchmark pretrain --profile mini --out {out} --epochs 1 --images 12 --val-images 6"
    )
    assert record["recipe"]["train_images"] == 12 and record["recipe"]["epochs"] == 1
    for entry, backbone in zip(record["backbones"], MINI_BACKBONES, strict=True):
        assert entry["backbone"] == backbone and backbone in printed
        key = backbone.replace("_", "-") + "-attributes"
        build_backbone(backbone, 96, key, weights_root=out)  # strict: raises on any mismatch
    assert sorted(p.name for p in (cache / "pretrain").iterdir()) == [
        "corpus-v1-train-12x96-s0.npz",
        "corpus-v1-val-6x96-s0.npz",
    ]


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--profile", "paper"], "--profile"),
        (["--profile", "mini", "--epochs", "0"], "--epochs"),
        (["--profile", "mini", "--images", "-3"], "--images"),
        (["--profile", "mini", "--lr", "0"], "--lr"),
        (["--profile", "mini", "--backbones", "resnet101"], "--backbones"),
        (["--profile", "nope"], "profile"),
    ],
)
def test_bad_flags_exit_2_before_any_work(tmp_path, capsys, flags, named):
    out = tmp_path / "weights"
    # Tiny sizes first (a later flag wins): a broken check then fails fast instead of
    # pretraining at full size.
    argv = ["pretrain", *TINY, *flags, "--out", str(out), "--cache-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]
    assert not out.exists() and not (tmp_path / "pretrain").exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    argv = ["pretrain", "--profile", "mini", *TINY, "--out", str(target)]
    assert main(argv + ["--cache-dir", str(tmp_path / "cache")]) == 2
    assert "--out" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_default_out_is_the_catalogues_folder():
    # The verb keeps torch out of its module, so it names the folder itself.
    assert pretrain.DEFAULT_OUT == Path(MINI_WEIGHTS_DIR)
