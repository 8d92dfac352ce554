"""``verify`` lists every problem at once; the ``data`` CLI verbs print, exit 0/1/2."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.data.synthetic import synthesize
from benchmark.data.verify import check_archive, verify_dataset


@pytest.mark.parametrize("name", ["voc2007", "coco2014", "wider"])
def test_clean_synthetic_tree_verifies(tmp_path: Path, name: str) -> None:
    root = synthesize(name, tmp_path / name, 6, 4, 48, seed=0)
    assert verify_dataset(name, root) == []


def test_voc_problems_are_all_listed(tmp_path: Path) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 6, 4, 48, seed=0)
    base = root / "VOCdevkit" / "VOC2007"
    (base / "JPEGImages" / "000002.jpg").unlink()
    (base / "JPEGImages" / "000003.jpg").write_bytes(b"garbage")
    (base / "Annotations" / "000004.xml").write_text("<annotation>")
    (base / "ImageSets" / "Main" / "test.txt").write_text("")
    problems = verify_dataset("voc2007", root)
    text = "\n".join(problems)
    assert "000002.xml: names image" in text and "000002.jpg" in text
    assert "000003.jpg: image does not decode" in text
    assert "000004.xml: malformed XML" in text
    assert "test.txt: split list is empty" in text and "the test split has no samples" in text
    assert "the train split has 4 samples, expected 6 (SYNTHETIC.json)" in text


def test_real_tree_is_held_to_official_counts(tmp_path: Path) -> None:
    root = synthesize("voc2007", tmp_path / "voc", 3, 2, 48, seed=0)
    (root / "SYNTHETIC.json").unlink()
    problems = verify_dataset("voc2007", root)
    assert any("3 samples, expected 5011 (the official count)" in p for p in problems)
    assert any("2 samples, expected 4952" in p for p in problems)


def test_wider_box_outside_its_image(tmp_path: Path) -> None:
    root = synthesize("wider", tmp_path / "wider", 3, 2, 48, seed=0)
    path = root / "Annotations" / "wider_attribute_test.json"
    data = json.loads(path.read_text())
    data["images"][0]["targets"][0]["bbox"] = [500, 10, 20, 40]
    path.write_text(json.dumps(data))
    problems = verify_dataset("wider", root)
    assert any("images[0].targets[0]" in p and "lies outside" in p for p in problems)


def test_archives_checked_by_md5_and_contents(tmp_path: Path) -> None:
    fake = tmp_path / "VOCtrainval_06-Nov-2007.tar"
    inner = tmp_path / "VOCdevkit" / "VOC2007" / "x.txt"
    inner.parent.mkdir(parents=True)
    inner.write_text("x")
    with tarfile.open(fake, "w") as tar:
        tar.add(tmp_path / "VOCdevkit", arcname="VOCdevkit")
    problems = check_archive("voc2007", fake)
    assert len(problems) == 1 and "differs from the published c52e2795" in problems[0]

    wrong = tmp_path / "VOCtest_06-Nov-2007.tar"
    with tarfile.open(wrong, "w") as tar:
        tar.add(inner, arcname="something/else.txt")
    assert any("lacks VOCdevkit/VOC2007" in p for p in check_archive("voc2007", wrong))
    (tmp_path / "wider_attribute_image.tgz").write_bytes(b"not an archive")
    problems = check_archive("wider", tmp_path / "wider_attribute_image.tgz")
    assert problems and "does not open as an archive" in problems[0]
    assert "not an official" in check_archive("coco2014", fake)[0]
    assert "archive not found" in check_archive("coco2014", tmp_path / "train2014.zip")[0]


def test_cli_verbs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "coco"
    code = main(["data", "synth", "coco2014", "--out", str(out), "--images", "8", "--size", "48",
                 "--seed", "3", "--test-images", "5"])  # fmt: skip
    assert code == 0 and "samples: train" in capsys.readouterr().out

    assert main(["data", "stats", "coco2014", "--root", str(out), "--split", "test", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert len(stats["classes"]) == 80 and stats["images"] <= 5 and stats["ignored"] == [0] * 80
    assert sum(stats["positives"]) >= stats["images"]
    assert main(["data", "stats", "coco2014", "--root", str(out), "--split", "train"]) == 0
    assert "positives" in capsys.readouterr().out

    assert main(["data", "verify", "coco2014", "--root", str(out)]) == 0
    assert "no problems" in capsys.readouterr().out
    next((out / "train2014").iterdir()).write_bytes(b"junk")
    assert main(["data", "verify", "coco2014", "--root", str(out)]) == 1
    assert "image does not decode" in capsys.readouterr().out

    gallery = tmp_path / "gallery.png"
    args = ["data", "masks", "--source", "procedural", "--pool", "low", "--size", "32"]
    assert main([*args, "--json", "--gallery", str(gallery)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["count"] == 951 and stats["border_hole_fraction"] == 0.0
    assert 0.01 < stats["ratio_min"] <= stats["ratio_mean"] <= stats["ratio_max"] <= 0.1
    assert gallery.stat().st_size > 1000

    missing = str(tmp_path / "no")
    assert main(["data", "stats", "coco2014", "--root", missing, "--split", "test"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["data", "masks", "--source", "procedural", "--pool", "mid"]) == 2
