import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.models.backbones import build_backbone
from benchmark.models.classifier import FeatureMapClassifier
from benchmark.models.heads import CSRAHead, PlainHead
from benchmark.models.protocol import MultiLabelModel
from benchmark.train.objectives import msl_step_loss, supervised_step_loss


def sig(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def bce(z: float, y: float) -> float:
    return -(y * math.log(sig(z)) + (1 - y) * math.log(1 - sig(z)))


class LogitsIn(MultiLabelModel):
    """The input is the logits: lets the tests feed msl_step_loss exact logits and read the
    gradient of the loss with respect to each branch's logits."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Identity()

    def forward(self, x):
        return self.backbone(x)


@pytest.mark.parametrize("fused", [False, True])
def test_msl_step_against_hand_computation(fused):
    z = [[2.0, -1.0], [0.5, 0.0]]
    z_m = [[1.0, 1.0], [-0.5, 3.0]]
    y = [[1.0, 0.0], [0.0, 1.0]]
    cells = [(i, j) for i in range(2) for j in range(2)]
    clean = sum(bce(z[i][j], y[i][j]) for i, j in cells) / 4
    masked = sum(bce(z_m[i][j], y[i][j]) for i, j in cells) / 4
    mse = sum((sig(z[i][j]) - sig(z_m[i][j])) ** 2 for i, j in cells) / 4
    expected = 0.3 * clean + 0.2 * masked + 0.5 * mse
    got, out = msl_step_loss(
        LogitsIn(), torch.tensor(z), torch.tensor(z_m), torch.tensor(y), fused=fused
    )
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert out.tolist() == z  # the clean output comes back for the epoch's running metrics


def test_msl_step_is_fp32_for_bf16_logits():
    z = torch.randn(4, 3).bfloat16()
    loss, _ = msl_step_loss(LogitsIn(), z, z.flip(0), torch.ones(4, 3))
    assert loss.dtype == torch.float32


@pytest.mark.parametrize("fused", [False, True])
def test_consistency_term_has_no_stop_gradient(fused):
    # Analytic gradients of L for one cell; a stop-gradient (detach) on either branch's
    # probabilities would drop the consistency part of that branch's gradient.
    z = torch.tensor([[0.3]], requires_grad=True)
    z_m = torch.tensor([[-0.4]], requires_grad=True)
    y = 1.0
    loss, _ = msl_step_loss(LogitsIn(), z, z_m, torch.tensor([[y]]), fused=fused)
    loss.backward()
    p, p_m = sig(0.3), sig(-0.4)
    d_z = 0.3 * (p - y) + 0.5 * 2 * (p - p_m) * p * (1 - p)
    d_zm = 0.2 * (p_m - y) + 0.5 * 2 * (p_m - p) * p_m * (1 - p_m)
    assert z.grad.item() == pytest.approx(d_z, rel=1e-5)
    assert z_m.grad.item() == pytest.approx(d_zm, rel=1e-5)


def plain_vit() -> FeatureMapClassifier:
    """A model without BatchNorm (and without dropout): fused == separate."""
    return FeatureMapClassifier(build_backbone("test_vit", 32), PlainHead(64, 4))


def bn_resnet() -> FeatureMapClassifier:
    return FeatureMapClassifier(build_backbone("test_resnet", 64), CSRAHead(96, 4, 2, 0.3))


def test_msl_step_reaches_both_inputs():
    model = bn_resnet().train()
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    x_m = (x.detach() * (torch.rand(2, 1, 64, 64) > 0.5)).requires_grad_()
    loss, out = msl_step_loss(model, x, x_m, torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0]]))
    loss.backward()
    assert x.grad.abs().sum() > 0 and x_m.grad.abs().sum() > 0
    assert out.shape == (2, 4)


def test_msl_step_on_a_batchnorm_model_is_the_formula():
    model = bn_resnet().train()
    x, x_m = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    y = torch.randint(0, 2, (2, 4)).float()
    loss, out = msl_step_loss(model, x, x_m, y)
    z, z_m = model(x), model(x_m)  # same weights; BatchNorm batch statistics in train mode
    expected = (
        0.3 * F.binary_cross_entropy_with_logits(z, y)
        + 0.2 * F.binary_cross_entropy_with_logits(z_m, y)
        + 0.5 * F.mse_loss(torch.sigmoid(z), torch.sigmoid(z_m))
    )
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(out, z)


def test_fused_equals_separate_without_batchnorm():
    model = plain_vit().train()
    x, x_m = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 32, 32)
    y = torch.randint(0, 2, (3, 4)).float()
    separate, out_s = msl_step_loss(model, x, x_m, y)
    fused, out_f = msl_step_loss(model, x, x_m, y, fused=True)
    torch.testing.assert_close(fused, separate, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out_f, out_s, rtol=1e-5, atol=1e-5)


def test_fused_changes_batchnorm_statistics():
    model = bn_resnet().train()
    x, x_m = torch.randn(3, 3, 64, 64), torch.zeros(3, 3, 64, 64)
    y = torch.randint(0, 2, (3, 4)).float()
    separate, _ = msl_step_loss(model, x, x_m, y)
    fused, _ = msl_step_loss(model, x, x_m, y, fused=True)
    assert not torch.allclose(fused, separate)


class TwoOutputs(MultiLabelModel):
    """Tuple output, own loss and own probabilities: what MCAR and SST look like to MSL."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(5, 3)
        self.head = nn.Linear(3, 3)

    def forward(self, x):
        a = self.backbone(x)
        return a, self.head(a)

    def supervised_loss(self, out, targets):
        return (out[0] - targets).pow(2).mean() + 2 * (out[1] - targets).abs().mean()

    def probabilities(self, out):
        return torch.sigmoid(out[0] + out[1])


def test_msl_step_uses_the_model_loss_and_probabilities_for_tuples():
    model = TwoOutputs()
    x, x_m, y = torch.randn(4, 5), torch.randn(4, 5), torch.rand(4, 3).round()
    loss, out = msl_step_loss(model, x, x_m, y)
    o, o_m = model(x), model(x_m)
    expected = (
        0.3 * model.supervised_loss(o, y)
        + 0.2 * model.supervised_loss(o_m, y)
        + 0.5 * (model.probabilities(o) - model.probabilities(o_m)).pow(2).mean()
    )
    torch.testing.assert_close(loss, expected)
    fused, out_f = msl_step_loss(model, x, x_m, y, fused=True)
    torch.testing.assert_close(fused, expected)
    assert isinstance(out_f, tuple) and out_f[1].shape == (4, 3)
    torch.testing.assert_close(out_f[1], out[1])


def test_supervised_step_is_the_model_loss():
    model = TwoOutputs()
    x, y = torch.randn(4, 5), torch.rand(4, 3).round()
    loss, out = supervised_step_loss(model, x, y)
    torch.testing.assert_close(loss, model.supervised_loss(model(x), y))
    torch.testing.assert_close(out[1], model(x)[1])
