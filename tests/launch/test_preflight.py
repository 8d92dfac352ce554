"""The paper profile's pre-flight (issue 19, item 5) names every missing piece at once, before
any training, with the flags the user typed."""

from __future__ import annotations

from pathlib import Path

from benchmark.cli import main
from benchmark.data.synthetic import synthesize


def test_paper_preflight_names_every_missing_piece_at_once(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    voc = synthesize("voc2007", data / "voc2007", 6, 4, 48, seed=0) / "VOCdevkit" / "VOC2007"
    (voc / "ImageSets" / "Main" / "test.txt").unlink()  # a split list
    first, second = (voc / "ImageSets" / "Main" / "trainval.txt").read_text().split()[:2]
    (voc / "Annotations" / f"{first}.xml").unlink()  # an annotation file
    (voc / "JPEGImages" / f"{second}.jpg").write_bytes(b"not a jpeg")  # an image
    (tmp_path / "weights").mkdir()
    code = main(["run", "t4.resnet-cut-csra.*", "--profile", "paper", "--data-root", str(data),
                 "--weights-root", str(tmp_path / "weights")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("benchmark: error: cannot start: 5 problem(s), nothing was trained")
    assert "CutMix_ResNet101.pth is missing" in err  # the weights, once for both runs
    assert "(needed by voc-resnetcut-csra, coco-resnetcut-csra)" in err
    assert f"Annotations/{first}.xml: annotation file missing" in err
    assert "ImageSets/Main/test.txt: split list missing" in err
    assert f"JPEGImages/{second}.jpg: image does not decode" in err
    assert f"--data-root {data}: does not hold the expected layout; MS-COCO" in err  # no coco2014/
    assert "--root" not in err and "Traceback" not in err
    assert not (tmp_path / "results").exists()
