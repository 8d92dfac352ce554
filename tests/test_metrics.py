import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from benchmark.scoring.metrics import average_precision, score


def test_ap_matches_sklearn_on_tie_free_scores():
    rng = np.random.default_rng(0)
    scores = rng.random((500, 7))
    targets = (rng.random((500, 7)) < 0.2).astype(int)
    ours = average_precision(scores, targets)
    for c in range(7):
        assert ours[c] == pytest.approx(average_precision_score(targets[:, c], scores[:, c]))
    assert score(scores, targets).mAP == pytest.approx(100 * np.mean(ours))


def test_ap_matches_sklearn_on_float32_model_outputs():
    rng = np.random.default_rng(1)
    scores = rng.random((2000, 5)).astype(np.float32)
    targets = (rng.random((2000, 5)) < 0.1).astype(np.int8)
    ours = average_precision(scores, targets)
    ref = [average_precision_score(targets[:, c], scores[:, c]) for c in range(5)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_ap_hand_computed_with_ties_in_input_order():
    # ranking: 0.9 (+), 0.5 (- first in input), 0.5 (+), 0.1 (+)  → (1/1 + 2/3 + 3/4) / 3
    scores = np.array([[0.5], [0.5], [0.9], [0.1]])
    targets = np.array([[0], [1], [1], [1]])
    assert average_precision(scores, targets)[0] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    # the same scores with the tied pair swapped in input order rank the positive first
    assert average_precision(scores[[1, 0, 2, 3]], targets[[1, 0, 2, 3]])[0] == pytest.approx(
        (1 + 1 + 3 / 4) / 3
    )


def test_ignored_entries_are_dropped_before_ranking():
    scores = np.array([[0.9], [0.8], [0.7], [0.6]])
    with_ignored = np.array([[-1], [1], [0], [1]])
    dropped = average_precision(scores[1:], with_ignored[1:])
    assert average_precision(scores, with_ignored)[0] == pytest.approx(dropped[0])
    assert average_precision(scores, np.array([[-2], [1], [0], [1]]))[0] == pytest.approx(
        dropped[0]
    )
    assert dropped[0] == pytest.approx((1 + 2 / 3) / 2)


def test_cf1_is_f1_of_averages_not_macro_f1():
    # class 0: 2 GT, predicted 1 correct → P 1, R 0.5; class 1: 1 GT, 4 predicted, 1 correct
    scores = np.array([[0.9, 0.9], [0.1, 0.9], [0.1, 0.9], [0.2, 0.9]])
    targets = np.array([[1, 1], [1, 0], [0, 0], [0, 0]])
    result = score(scores, targets)
    cp, cr = (1 + 0.25) / 2, (0.5 + 1) / 2
    assert result.CP == pytest.approx(100 * cp)
    assert result.CR == pytest.approx(100 * cr)
    assert result.CF1 == pytest.approx(100 * 2 * cp * cr / (cp + cr))
    macro_f1 = np.mean([2 * 1 * 0.5 / 1.5, 2 * 0.25 * 1 / 1.25])
    assert result.CF1 != pytest.approx(100 * macro_f1)
    op, orc = 2 / 5, 2 / 3
    assert result.OP == pytest.approx(100 * op)
    assert result.OR == pytest.approx(100 * orc)
    assert result.OF1 == pytest.approx(100 * 2 * op * orc / (op + orc))


def test_minus_two_is_negative_in_precision_recall_but_ignored_in_ap():
    scores = np.array([[0.9], [0.8], [0.2]])
    targets_unspecified = np.array([[-2], [1], [0]])
    targets_ignored = np.array([[-1], [1], [0]])
    a = score(scores, targets_unspecified)
    b = score(scores, targets_ignored)
    assert a.mAP == pytest.approx(b.mAP) == pytest.approx(100.0)
    assert a.OP == pytest.approx(
        50.0
    )  # the unspecified entry predicted positive is a false positive
    assert b.OP == pytest.approx(100.0)  # an ignored entry is not counted at all


def test_class_without_positives_is_excluded_and_reported():
    scores = np.array([[0.9, 0.3], [0.2, 0.8]])
    targets = np.array([[1, 0], [0, 0]])
    result = score(scores, targets)
    assert result.AP[1] is None
    assert result.classes_without_positives == [1]
    assert result.mAP == pytest.approx(100.0)


def test_pred_count_floor_of_one_and_threshold_inclusive():
    scores = np.array([[0.5, 0.1], [0.4, 0.1]])
    targets = np.array([[1, 1], [0, 0]])
    result = score(scores, targets)
    assert result.CP == pytest.approx(50.0)  # class 0: 1/1; class 1: 0 / max(0, 1)
    assert result.CR == pytest.approx(50.0)


def test_a_class_without_predictions_counts_one_before_the_sums():
    # The authors' cal_PR sets each class's prediction count to max(count, 1) before summing,
    # so a class with no score >= 0.5 adds one prediction to OP's denominator.
    scores = np.array([[0.9, 0.4, 0.6], [0.8, 0.3, 0.1], [0.7, 0.1, 0.1], [0.2, 0.2, 0.1]])
    targets = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]])
    # class 0: 3 predicted, 2 TP, 2 GT; class 1: 0 predicted (counts 1), 0 TP, 1 GT;
    # class 2: 1 predicted, 1 TP, 2 GT.
    result = score(scores, targets)
    assert result.OP == pytest.approx(100 * 3 / 5)  # max(sum, 1) over the total gave 3/4
    assert result.OR == pytest.approx(100 * 3 / 5)
    assert result.OF1 == pytest.approx(100 * 3 / 5)
    cp, cr = (2 / 3 + 0 + 1) / 3, (1 + 0 + 1 / 2) / 3
    assert result.CP == pytest.approx(100 * cp)
    assert result.CR == pytest.approx(100 * cr)
    assert result.CF1 == pytest.approx(100 * 2 * cp * cr / (cp + cr))


def authors_threshold_metrics(scores, targets):
    """CSRA's cal_PR procedure, written out: per-class counts, the floor of one, then sums."""
    gt, tp, pred = [], [], []
    for c in range(scores.shape[1]):
        keep = targets[:, c] != -1  # ignored everywhere; -2 is a negative here
        s, t = scores[keep, c], (targets[keep, c] == 1).astype(float)
        gt.append(t.sum())
        pred.append(max((s >= 0.5).sum(), 1))
        tp.append((t * (s >= 0.5)).sum())
    gt, tp, pred = map(np.array, (gt, tp, pred))
    return {
        "OP": tp.sum() / pred.sum(),
        "OR": tp.sum() / gt.sum(),
        "CP": np.mean(tp / pred),
        "CR": np.mean(tp / gt),
    }


def test_threshold_metrics_match_the_authors_procedure_with_silent_classes():
    rng = np.random.default_rng(3)
    scores = rng.random((300, 12)) * 0.9
    scores[:, [2, 7]] *= 0.5  # two classes never reach 0.5
    targets = rng.choice([1, 0, 0, 0, -1, -2], size=(300, 12))
    targets[0] = 1  # every class has ground truth (the authors' CR divides by it)
    result = score(scores, targets)
    expected = authors_threshold_metrics(scores, targets)
    for name, value in expected.items():
        assert getattr(result, name) == pytest.approx(100 * value, rel=1e-12)


def authors_ap(scores, targets):
    """CSRA's cal_mAP procedure per class: drop ignored entries, np.argsort(-s), the loop."""
    out = []
    for c in range(scores.shape[1]):
        keep = (targets[:, c] == 0) | (targets[:, c] == 1)
        predict, target = scores[keep, c].astype(np.float64), targets[keep, c]
        order = np.argsort(-predict)
        target = target[order]
        pre, obj = 0.0, 0.0
        for i in range(len(target)):
            if target[i] == 1:
                obj += 1.0
                pre += obj / (i + 1)
        out.append(pre / obj)
    return np.array(out)


def tied_inputs(seed=0, n=3000, classes=6):
    """Model-like float32 scores rounded to 0.01 (many ties) with VOC/WIDER ignore codes."""
    rng = np.random.default_rng(seed)
    targets = rng.choice([1, 0, 0, 0, 0, -1, -2], size=(n, classes)).astype(np.int8)
    logits = rng.normal(size=targets.shape) + 2.0 * (targets == 1)
    scores = np.round(1 / (1 + np.exp(-logits)), 2).astype(np.float32)
    return scores, targets


def test_authors_tie_order_is_numpy_default_argsort():
    for seed in range(3):
        scores, targets = tied_inputs(seed)
        ours = average_precision(scores, targets, tie_order="authors")
        np.testing.assert_allclose(ours, authors_ap(scores, targets), rtol=1e-12)
        stable = average_precision(scores, targets)
        assert not np.allclose(stable, ours, rtol=1e-9)  # ties really fall differently here
    assert score(scores, targets, tie_order="authors").mAP == pytest.approx(
        100 * np.mean(authors_ap(scores, targets))
    )


def test_tie_order_changes_ap_only_and_agrees_without_ties():
    rng = np.random.default_rng(4)
    scores = rng.random((4000, 8))  # float64: no ties
    targets = rng.choice([1, 0, 0, -1, -2], size=(4000, 8))
    np.testing.assert_allclose(
        average_precision(scores, targets, tie_order="authors"),
        average_precision(scores, targets),
        rtol=1e-12,
    )
    tied, codes = tied_inputs(1)
    a, b = score(tied, codes), score(tied, codes, tie_order="authors")
    assert a.mAP != b.mAP
    assert [getattr(a, m) for m in ("CP", "CR", "OP", "OR")] == [
        getattr(b, m) for m in ("CP", "CR", "OP", "OR")
    ]


def test_unknown_tie_order_is_refused():
    with pytest.raises(ValueError, match="tie_order: unknown value 'random'"):
        score(np.array([[0.5]]), np.array([[1]]), tie_order="random")


@pytest.mark.parametrize(
    "scores,targets,message",
    [
        (np.zeros((3, 2)), np.zeros((3, 3)), "shape mismatch"),
        (np.array([[np.nan, 0.1]]), np.array([[1, 0]]), "non-finite score at row 0"),
        (np.array([[0.2, 0.1]]), np.array([[1, 3]]), "unknown target code 3 at row 0, column 1"),
    ],
)
def test_bad_inputs_are_named(scores, targets, message):
    with pytest.raises(ValueError, match=message):
        score(scores, targets)
