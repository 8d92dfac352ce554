"""`benchmark data synth` says what it wrote (issue 19, item 10) and shows progress on a
terminal (item 3)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from benchmark.cli import main


def test_coco_synth_writes_every_image_asked_for_and_says_why_fewer_are_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "coco"
    code = main(["data", "synth", "coco2014", "--out", str(out), "--images", "30", "--size",
                 "32", "--test-images", "2"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert len(list((out / "train2014").glob("*.jpg"))) == 30
    data = json.loads((out / "annotations" / "instances_train2014.json").read_text())
    samples = len({a["image_id"] for a in data["annotations"]})
    assert samples < 30  # seed 0 has empty scenes among its first 30
    assert f"images: train 30, test 2; samples: train {samples}," in printed
    assert f"{30 - samples} training and" in printed and "empty scenes" in printed


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_synth_shows_progress_on_a_terminal(tmp_path: Path, monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    code = main(["data", "synth", "voc2007", "--out", str(tmp_path / "voc"), "--images", "12",
                 "--size", "32", "--test-images", "3"])  # fmt: skip
    assert code == 0
    shown = terminal.getvalue()
    assert "synthetic voc2007 train" in shown and "12/12" in shown
    assert "synthetic voc2007 test" in shown and "3/3" in shown
