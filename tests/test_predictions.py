"""Per-image predictions files: round trip, determinism, validation on load."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest

from benchmark.errors import DataError
from benchmark.scoring.metrics import score
from benchmark.store.predictions import (
    Predictions,
    load_predictions,
    predictions_path,
    save_predictions,
)


def _preds(n: int = 12, c: int = 4, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    targets = rng.choice([1, 0, 0, -1, -2], size=(n, c))
    targets[0] = 1  # every class has a positive
    return Predictions.build(rng.random((n, c)), [f"img/{i:03d}.jpg" for i in range(n)], targets)


def test_round_trip_keeps_ids_targets_and_float16_scores(tmp_path):
    preds = _preds()
    path = predictions_path(tmp_path / "abc", "best")
    assert path == tmp_path / "abc" / "predictions" / "best.npz"
    digest = save_predictions(path, preds)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    back = load_predictions(path, expected_sha256=digest)
    assert back.probs.dtype == np.float32 and back.targets.dtype == np.int8
    np.testing.assert_array_equal(back.probs, preds.probs.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(back.targets, preds.targets)
    assert back.image_ids.tolist() == preds.image_ids.tolist()
    assert back.targets_sha256 == preds.targets_sha256
    # stored as float16: scoring the file moves mAP by far less than the printed 0.1
    assert abs(score(back.probs, back.targets).mAP - score(preds.probs, preds.targets).mAP) < 0.05
    with zipfile.ZipFile(path) as archive:
        assert {i.filename for i in archive.infolist()} == {
            "probs.npy", "image_ids.npy", "targets.npy", "targets_sha256.npy",
        }  # fmt: skip


def test_same_predictions_give_the_same_bytes(tmp_path):
    a = save_predictions(tmp_path / "a.npz", _preds())
    b = save_predictions(tmp_path / "b.npz", _preds())
    assert a == b


def test_targets_digest_depends_on_row_order():
    preds = _preds()
    flipped = Predictions.build(preds.probs[::-1], preds.image_ids[::-1], preds.targets[::-1])
    assert flipped.targets_sha256 != preds.targets_sha256
    realigned = flipped.aligned_to(preds.image_ids)
    assert realigned.targets_sha256 == preds.targets_sha256
    np.testing.assert_array_equal(realigned.probs, preds.probs)


def test_aligning_to_other_images_is_refused():
    preds = _preds()
    with pytest.raises(ValueError, match="not among"):
        preds.aligned_to(np.array(["elsewhere.jpg", *preds.image_ids[1:].tolist()]))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(targets_sha256=np.asarray("0" * 64)), "targets_sha256 does not match"),
        (lambda d: d.update(image_ids=d["image_ids"][:-1]), "image ids for"),
        (lambda d: d.update(probs=d["probs"] * 3), r"probabilities in \[0, 1\]"),
        (lambda d: d.pop("targets"), "no targets"),
    ],
)
def test_a_bad_file_is_a_data_error_naming_it(tmp_path, change, message):
    preds = _preds()
    good = tmp_path / "good.npz"
    save_predictions(good, preds)
    with np.load(good) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    bad = tmp_path / "bad.npz"
    np.savez_compressed(bad, **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_predictions(bad)
    assert str(bad) in str(info.value)


def test_missing_truncated_or_tampered_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_predictions(tmp_path / "none.npz")
    path = tmp_path / "p.npz"
    digest = save_predictions(path, _preds())
    with pytest.raises(DataError, match="sha256"):
        load_predictions(path, expected_sha256="f" * 64)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="not a readable predictions file"):
        load_predictions(path, expected_sha256=None)
    assert digest


def test_build_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same N×C shape"):
        Predictions.build(np.zeros((3, 2)), ["a", "b", "c"], np.zeros((3, 3)))
    with pytest.raises(ValueError, match="not unique"):
        Predictions.build(np.zeros((2, 2)), ["a", "a"], np.zeros((2, 2)))
