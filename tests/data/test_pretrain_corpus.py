"""The pretraining corpus: disjoint from the mini benchmark's scenes, labels that mean what they
say, and the same bytes for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmark.data import pretrain_corpus as pc
from benchmark.data.classes import VOC_CLASSES
from benchmark.data.people import person_scene
from benchmark.data.scenes import HUES, SHAPES, object_scene
from benchmark.data.synthetic import SPLIT_CODES, VOC_GROUPS, _groups, _rng
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile

MINI = get_profile("mini").synthetic


def _first_draw(rng: np.random.Generator) -> int:
    return int(rng.integers(2**63))


def test_corpus_streams_never_meet_a_mini_scene_stream():
    """Every image of the mini benchmark has its own generator; none of them is a corpus one."""
    benchmark = {
        _first_draw(_rng(MINI.seed, dataset, split, i))
        for dataset in ("voc2007", "coco2014", "wider")
        for split, n in (("train", MINI.train_images), ("test", MINI.test_images))
        for i in range(n)
    }
    assert len(benchmark) == 3 * (MINI.train_images + MINI.test_images)
    corpus = {
        _first_draw(pc.corpus_rng(seed, split, i))
        for seed in (0, 1)
        for split, n in (("train", 3000), ("val", 1000))
        for i in range(n)
    }
    assert not benchmark & corpus
    assert set(SPLIT_CODES) == {"train", "test"}  # the benchmark's key layout this relies on


def _thumb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB").resize((24, 24), Image.BILINEAR), dtype=np.float32)


def test_no_corpus_image_is_a_copy_of_a_mini_scene():
    """Content check on a sample: every corpus image differs from every benchmark image by far
    more than a resized, re-encoded copy would (mean absolute difference of 24 px colour
    thumbnails: ≤ 1.3 for such a copy, ≥ 16 between distinct scenes when this was written)."""
    voc = _groups(VOC_CLASSES, VOC_GROUPS)
    scenes = []
    for split in ("train", "test"):
        for i in range(15):
            scenes.append(object_scene(_rng(MINI.seed, "voc2007", split, i), 128, voc, 20)[0])
            scenes.append(person_scene(_rng(MINI.seed, "wider", split, i), 128)[0])
    bench = np.stack([_thumb(s) for s in scenes])
    corpus = pc.build_corpus("train", 80, 96, 0, progress=False).images
    thumbs = np.stack([_thumb(Image.fromarray(img)) for img in corpus])
    distance = np.abs(thumbs[:, None] - bench[None]).mean(axis=(2, 3, 4))
    pair = np.unravel_index(distance.argmin(), distance.shape)
    assert distance.min() > 5.0, f"corpus image {pair[0]} near-copies benchmark scene {pair[1]}"


def test_targets_follow_the_visibility_rule():
    """1 iff some object carrying the attribute is shown; -1 only where hidden ones carry it."""
    counts = np.zeros(3)
    for i in range(60):
        _, objects = pc.draw_scene(pc.corpus_rng(0, "train", i), 96)
        row = pc.attribute_targets(objects)
        shown = {a for o in objects if o.shown for a in o.attributes}
        hidden = {a for o in objects if not o.shown for a in o.attributes} - shown
        assert set(np.flatnonzero(row == 1)) == shown
        assert set(np.flatnonzero(row == -1)) == hidden
        assert set(np.flatnonzero(row == 0)).isdisjoint(shown | hidden)
        counts += [len(shown), len(hidden), len(objects)]
        for o in objects:  # one attribute of each kind per object
            shape, hue, texture = o.attributes
            assert shape < len(SHAPES) <= hue < len(SHAPES) + HUES <= texture < len(pc.ATTRIBUTES)
    assert counts[1] > 0  # the ignore rule was exercised


def test_a_positive_hue_is_visible_in_the_pixels():
    """Independent of the owner map: a positive hue family has saturated pixels of that hue."""
    checked = 0
    for i in range(40):
        image, row = pc.attribute_scene(pc.corpus_rng(0, "val", i), 96)
        hsv = np.asarray(image.convert("HSV"), dtype=np.float32).reshape(-1, 3) / 255
        colourful = hsv[(hsv[:, 1] > 0.5) & (hsv[:, 2] > 0.3)]
        for family in np.flatnonzero(row[len(SHAPES) : len(SHAPES) + HUES] == 1):
            offset = (colourful[:, 0] * HUES - family + HUES / 2) % HUES - HUES / 2
            assert np.count_nonzero(np.abs(offset) < 0.5) >= pc.MIN_PIXELS // 2, (i, family)
            checked += 1
    assert checked > 40


def test_same_seed_same_bytes_other_seed_other_images():
    a = pc.build_corpus("val", 12, 64, 3, progress=False)
    b = pc.build_corpus("val", 12, 64, 3, progress=False)
    assert pc.encode(a) == pc.encode(b)
    assert a.digest() == b.digest()
    prefix = pc.build_corpus("val", 5, 64, 3, progress=False)  # image i is independent of N
    assert np.array_equal(prefix.images, a.images[:5])
    other = pc.build_corpus("val", 12, 64, 4, progress=False)
    assert not np.array_equal(other.images, a.images)
    train = pc.build_corpus("train", 12, 64, 3, progress=False)
    assert not np.array_equal(train.images, a.images)
    assert a.images.shape == (12, 64, 64, 3) and a.targets.shape == (12, len(pc.ATTRIBUTES))


def test_cache_round_trip_and_damaged_entry(tmp_path):
    built = pc.load_or_build(tmp_path, "train", 6, 48, 0, progress=False)
    path = pc.corpus_path(tmp_path, "train", 6, 48, 0)
    first = path.read_bytes()
    again = pc.load_or_build(tmp_path, "train", 6, 48, 0, progress=False)
    assert np.array_equal(again.images, built.images)
    assert np.array_equal(again.targets, built.targets)
    path.write_bytes(first[:100])  # truncated entry: rebuilt, same bytes
    pc.load_or_build(tmp_path, "train", 6, 48, 0, progress=False)
    assert path.read_bytes() == first


@pytest.mark.parametrize(
    ("args", "word"), [(("dev", 4, 64, 0), "split"), (("train", 0, 64, 0), "images"),
                       (("train", 4, 16, 0), "size")]
)  # fmt: skip
def test_bad_arguments_name_the_field(args, word):
    with pytest.raises(UserError, match=word):
        pc.build_corpus(*args, progress=False)
