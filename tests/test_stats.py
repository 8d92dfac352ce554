"""The paired two-level bootstrap: exact metrics on resamples, known answers, real pairing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from benchmark.claims.verdicts import consistent_with, verdict
from benchmark.scoring.bootstrap import ModelScorer, full_score, paired_bootstrap
from benchmark.scoring.metrics import METRIC_NAMES, score


def _targets(rng, n=400, c=6):
    targets = (rng.random((n, c)) < 0.3).astype(np.int8)
    targets[rng.random((n, c)) < 0.05] = -1
    targets[:c, :] = np.eye(c, dtype=np.int8)  # every class has a positive
    return targets


def _model(rng, targets, skill, shared=None, noise=0.3):
    """Scores that separate positives by ``skill`` above Gaussian noise; ``shared`` is the
    per-image difficulty two models of the same test set have in common."""
    base = shared if shared is not None else rng.standard_normal(targets.shape)
    return _sigmoid(skill * (targets == 1) + base + noise * rng.standard_normal(targets.shape))


def test_resampled_metrics_equal_benchmark_metrics_on_the_resampled_rows():
    rng = np.random.default_rng(0)
    targets = rng.choice([1, 0, 0, 0, -1, -2], size=(80, 7)).astype(np.int8)
    targets[:, 0] = np.where(targets[:, 0] == 1, 0, targets[:, 0])  # a class with no positive
    probs = np.round(rng.random((80, 7)) * 0.6 + 0.3 * (targets == 1), 2)  # many ties
    scorer = ModelScorer(probs, targets)
    draws = [np.sort(rng.integers(0, 80, 80)) for _ in range(6)]
    weights = np.stack([np.bincount(d, minlength=80) for d in draws])
    got = scorer.scores(weights, METRIC_NAMES)
    for row, rows in enumerate(draws):
        expected = score(probs[rows], targets[rows])
        for metric in METRIC_NAMES:
            assert got[metric][row] == pytest.approx(getattr(expected, metric), abs=1e-9)
    for metric in METRIC_NAMES:
        assert full_score(probs, targets, metric) == pytest.approx(
            getattr(score(probs, targets), metric), abs=1e-9
        )


def test_a_clear_gain_is_supported_and_matches_its_size():
    rng = np.random.default_rng(1)
    targets = _targets(rng)
    shared = rng.standard_normal(targets.shape)
    better = [(_model(rng, targets, 1.82, shared), targets) for _ in range(3)]
    worse = [(_model(rng, targets, 1.7, shared), targets) for _ in range(3)]
    result = paired_bootstrap(better, worse, "mAP", resamples=300, seed=0)
    assert result.mean == pytest.approx(3, abs=1)  # +3 mAP, little noise between seeds
    assert 0 < result.low < result.mean < result.high
    assert verdict(result.low, result.high) == "supported"
    assert result.seeds == 3 and result.images == 400 and result.sd is not None
    reversed_ = paired_bootstrap(worse, better, "mAP", resamples=300, seed=0)
    assert verdict(reversed_.low, reversed_.high) == "contradicted"
    assert reversed_.mean == pytest.approx(-result.mean)
    assert (reversed_.low, reversed_.high) == pytest.approx((-result.high, -result.low))


def test_identical_models_are_inconclusive_around_zero():
    rng = np.random.default_rng(2)
    targets = _targets(rng)
    shared = rng.standard_normal(targets.shape)
    models = [(_model(rng, targets, 1.5, shared), targets) for _ in range(2)]
    result = paired_bootstrap(models, models, "mAP", resamples=200, seed=0)
    assert result.low == result.high == result.mean == 0
    assert verdict(result.low, result.high) == "inconclusive"
    # other seeds of the same recipe: an interval that straddles zero, and is at least the
    # Student t interval of the two per-seed differences (t with 1 degree of freedom: wide)
    other = [(_model(rng, targets, 1.5, shared), targets) for _ in range(2)]
    result = paired_bootstrap(models, other, "mAP", resamples=300, seed=0)
    assert result.low < 0 < result.high
    t_half = scipy.stats.t.ppf(0.975, 1) * result.sd / np.sqrt(2)
    assert result.high - result.low > 0.9 * 2 * t_half
    assert verdict(result.low, result.high) == "inconclusive"


def test_pairing_is_real_shuffling_one_sides_images_widens_the_interval():
    """Same models, same full-set scores; only the image pairing is broken."""
    rng = np.random.default_rng(3)
    targets = _targets(rng, n=300)
    shared = rng.standard_normal(targets.shape)  # image difficulty both models share
    a = [(_sigmoid(2.0 * (targets == 1) + shared + 0.1 * rng.standard_normal(targets.shape)),
          targets)]  # fmt: skip
    b = [(_sigmoid(1.8 * (targets == 1) + shared + 0.1 * rng.standard_normal(targets.shape)),
          targets)]  # fmt: skip
    paired = paired_bootstrap(a, b, "mAP", resamples=300, seed=0)
    perm = rng.permutation(300)
    shuffled = [(b[0][0][perm], b[0][1][perm])]
    unpaired = paired_bootstrap(a, shuffled, "mAP", resamples=300, seed=0)
    assert unpaired.mean == pytest.approx(paired.mean)  # each model's own mAP is unchanged
    assert (unpaired.high - unpaired.low) > 2 * (paired.high - paired.low)


def test_seeded_and_seed_level_resampling():
    rng = np.random.default_rng(4)
    targets = _targets(rng, n=200)
    a = [(_model(rng, targets, s), targets) for s in (1.0, 2.5)]  # seeds disagree a lot
    b = [(_model(rng, targets, 1.5), targets) for _ in range(2)]
    first = paired_bootstrap(a, b, "CF1", resamples=100, seed=7)
    assert first == paired_bootstrap(a, b, "CF1", resamples=100, seed=7)
    assert first != paired_bootstrap(a, b, "CF1", resamples=100, seed=8)
    # images only (one seed each) vs seeds too: the seed spread must widen the interval
    one = paired_bootstrap(a[:1], b[:1], "mAP", resamples=200, seed=0)
    two = paired_bootstrap(a, b, "mAP", resamples=200, seed=0)
    assert two.high - two.low > one.high - one.low


def test_bad_inputs_are_refused():
    rng = np.random.default_rng(5)
    targets = _targets(rng, n=50)
    model = [(_model(rng, targets, 1.0), targets)]
    with pytest.raises(ValueError, match="same number of seeds"):
        paired_bootstrap(model, model * 2)
    with pytest.raises(ValueError, match="unknown metric"):
        paired_bootstrap(model, model, "AUC")
    with pytest.raises(ValueError, match="same 50 test images"):
        paired_bootstrap(model, [(model[0][0][:40], model[0][1][:40])])


def test_verdict_rule():
    assert verdict(0.1, 2.0) == "supported"
    assert verdict(-2.0, -0.1) == "contradicted"
    assert verdict(-1.0, 1.0) == verdict(0.0, 1.0) == verdict(0.0, 0.0) == "inconclusive"
    assert consistent_with(1.5, 0.2, 2.0) and not consistent_with(2.4, 0.2, 2.0)


def _sigmoid(x):
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def test_chance_and_context_floors_on_a_synthetic_tree(tmp_path):
    """The context-only scorer uses each image's scene group: with the true groups it beats a
    random scorer clearly; with the groups shuffled it falls back to chance."""
    from benchmark.data import build_dataset
    from benchmark.data.synthetic import context_groups, synthesize
    from benchmark.scoring.floors import chance_mean_ap, floors

    root = synthesize("voc2007", tmp_path / "voc", 200, 100, 32, 0)
    kw = dict(train=False, img_size=32, augment="flip", normalize="unit")
    train = build_dataset("voc2007", root, "train", **kw)
    test = build_dataset("voc2007", root, "test", **kw)
    train_groups = context_groups("voc2007", train.files, "train", 0, 32)
    test_groups = context_groups("voc2007", test.files, "test", 0, 32)
    assert set(test_groups.tolist()) == {0, 1, 2}
    found = floors(train.targets.numpy(), train_groups, test.targets.numpy(), test_groups)
    shuffled = floors(
        train.targets.numpy(),
        np.random.default_rng(0).permutation(train_groups),
        test.targets.numpy(),
        test_groups,
    )
    assert found["context_mAP"] > found["chance_mAP"] + 5
    assert abs(shuffled["context_mAP"] - found["chance_mAP"]) < 4
    # chance: seeded, and near each class's positive rate
    targets = test.targets.numpy()
    assert chance_mean_ap(targets) == chance_mean_ap(targets)
    rate = np.nanmean(
        [(targets[:, c] == 1).sum() / (targets[:, c] >= 0).sum()
         for c in range(targets.shape[1]) if (targets[:, c] == 1).any()]
    )  # fmt: skip
    assert found["chance_mAP"] == pytest.approx(rate * 100, abs=4)


def test_claims_sharing_a_model_reuse_its_bootstrap_scores():
    rng = np.random.default_rng(6)
    targets = _targets(rng, n=120)
    base, msl, other = ([(_model(rng, targets, s), targets)] for s in (1.0, 1.6, 1.3))
    cache: dict = {}
    first = paired_bootstrap(msl, base, resamples=64, seed=0, cache=cache)
    second = paired_bootstrap(other, base, resamples=64, seed=0, cache=cache)
    assert len(cache) == 3  # the shared baseline was scored once
    assert first == paired_bootstrap(msl, base, resamples=64, seed=0)
    assert second == paired_bootstrap(other, base, resamples=64, seed=0)
