import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.models.backbones import build_backbone
from benchmark.models.mcar import MCAR, crop_and_resize, localize_1d


def profile(n: int, values: dict[int, float], base: float = 0.0) -> np.ndarray:
    p = np.full(n, base)
    for i, v in values.items():
        p[i] = v
    return p


def test_single_peak_keeps_the_above_threshold_run():
    # Normalised: 5 → 1, 3 → 0.6 (kept), 2 → 0.4 (dropped).
    p = profile(16, {2: 2.0, 3: 3.0, 4: 5.0, 5: 3.0, 6: 3.0, 7: 2.0})
    assert localize_1d(p) == (3, 7)


def test_threshold_is_on_min_max_normalised_values():
    # Same shape shifted and scaled: the box must not move.
    p = profile(16, {2: 2.0, 3: 3.0, 4: 5.0, 5: 3.0, 6: 3.0, 7: 2.0})
    assert localize_1d(10.0 + 0.01 * p) == (3, 7)


def test_two_peaks_the_higher_wins_even_if_shorter():
    p = profile(16, {1: 4.0, 2: 4.0, 3: 4.0, 4: 4.0, 5: 4.0, 9: 5.0, 10: 4.5})
    assert localize_1d(p) == (9, 11)


def test_two_equal_peaks_the_longer_run_wins():
    p = profile(16, {1: 5.0, 2: 5.0, 8: 5.0, 9: 5.0, 10: 5.0})
    assert localize_1d(p) == (8, 11)
    q = profile(16, {1: 5.0, 2: 4.0, 3: 4.0, 4: 4.0, 9: 5.0})  # ties are about run length
    assert localize_1d(q) == (1, 5)


def test_flat_profile_gives_mcar_central_box():
    assert localize_1d(np.full(64, 0.3)) == (8, 56)
    assert localize_1d(np.full(18, 0.9)) == (3, 16)
    noise = np.random.default_rng(0).normal(0, 1e-9, 64)
    assert localize_1d(0.5 + noise) == (8, 56)  # float noise of an upsampled flat map


@pytest.mark.parametrize(("spike", "box"), [(30, (26, 34)), (0, (0, 8)), (63, (56, 64))])
def test_minimum_side_is_an_eighth_grown_around_the_run(spike, box):
    assert localize_1d(profile(64, {spike: 1.0})) == box


def test_run_longer_than_minimum_is_untouched():
    p = profile(64, {i: 1.0 for i in range(10, 30)})
    assert localize_1d(p) == (10, 30)


def test_crop_and_resize_equals_per_box_interpolate():
    images = torch.randn(2, 3, 40, 40)
    boxes = torch.tensor(
        [[[0, 40, 0, 40], [5, 20, 10, 35]], [[30, 40, 0, 8], [12, 13, 7, 27]]], dtype=torch.float
    )
    crops = crop_and_resize(images, boxes, (40, 40))
    assert crops.shape == (4, 3, 40, 40)
    for i, (b, k) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        x1, x2, y1, y2 = boxes[b, k].long().tolist()
        region = images[b : b + 1, :, y1:y2, x1:x2]
        expected = F.interpolate(region, size=(40, 40), mode="bilinear", align_corners=True)
        torch.testing.assert_close(crops[i : i + 1], expected, atol=1e-4, rtol=1e-4)


@pytest.fixture
def mcar():
    return MCAR(build_backbone("test_resnet", 64), num_classes=6)


def test_mcar_forward_backward(mcar):
    x, y = torch.randn(3, 3, 64, 64), torch.randint(0, 2, (3, 6)).float()
    s_g, s_l = mcar(x)
    assert s_g.shape == s_l.shape == (3, 6)
    assert s_g.dtype == s_l.dtype == torch.float32
    assert ((s_g > 0) & (s_g < 1) & (s_l > 0) & (s_l < 1)).all()
    loss = mcar.supervised_loss((s_g, s_l), y)
    expected = F.binary_cross_entropy(s_g, y) + F.binary_cross_entropy(s_l, y)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert mcar.classifier.weight.grad.abs().sum() > 0
    assert mcar.classifier.bias.grad.abs().sum() > 0
    assert mcar.backbone.model.conv1[0].weight.grad.abs().sum() > 0
    torch.testing.assert_close(mcar.probabilities((s_g, s_l)), torch.maximum(s_g, s_l))


def test_mcar_local_score_is_max_over_top4_crops(mcar):
    mcar.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        s_g, s_l = mcar(x)
        s_g_again, features = mcar._scores(x)
        boxes = mcar.boxes(features, s_g_again, (64, 64))
        crop_scores, _ = mcar._scores(crop_and_resize(x, boxes, (64, 64)))
    assert boxes.shape == (2, 4, 4)
    widths, heights = boxes[..., 1] - boxes[..., 0], boxes[..., 3] - boxes[..., 2]
    assert (widths >= 8).all() and (heights >= 8).all()  # S/8
    assert (boxes >= 0).all() and (boxes <= 64).all()
    torch.testing.assert_close(s_l, crop_scores.view(2, 4, 6).amax(dim=1))
    torch.testing.assert_close(s_g, s_g_again)


def test_mcar_boxes_follow_the_top_predicted_classes(mcar):
    # A map with one hot cell per class: each selected class must get the box around its cell.
    mcar.eval()
    with torch.no_grad():
        mcar.classifier.weight.zero_()
        mcar.classifier.bias.zero_()
        mcar.classifier.weight[:4, :4, 0, 0] = 10 * torch.eye(4)
    features = torch.zeros(1, 96, 4, 4)
    for c, (row, col) in enumerate([(0, 0), (0, 3), (3, 0), (3, 3)]):
        features[0, c, row, col] = 1.0
    s_g = torch.tensor([[0.1, 0.9, 0.2, 0.8, 0.7, 0.95]])  # top-4 classes: 5, 1, 3, 4
    boxes = mcar.boxes(features, s_g, (64, 64))[0]
    # Class 1 peaks at column 3 (right edge), row 0 (top edge).
    x1, x2, y1, y2 = boxes[1].tolist()
    assert x2 == 64 and x1 >= 32 and y1 == 0 and y2 <= 32
    # Class 3 peaks at the bottom-right cell.
    x1, x2, y1, y2 = boxes[2].tolist()
    assert x2 == 64 and y2 == 64 and x1 >= 32 and y1 >= 32
    # Classes 5 and 4 have flat (all-zero-logit) maps: MCAR's central box.
    assert boxes[0].tolist() == boxes[3].tolist() == [8, 56, 8, 56]


def test_mcar_loss_stays_finite_for_saturated_probabilities(mcar):
    s = torch.tensor([[0.0, 1.0]], requires_grad=True)
    loss = mcar.supervised_loss((s, s), torch.tensor([[1.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all() and (s.grad != 0).all()


def test_mcar_runs_on_the_meta_device_for_shape_and_flop_counting():
    with torch.device("meta"):
        model = MCAR(build_backbone("test_resnet", 64), num_classes=6)
        s_g, s_l = model(torch.empty(2, 3, 64, 64))
    assert s_g.shape == s_l.shape == (2, 6) and s_l.is_meta
