import math

import pytest
import torch

from benchmark.models.heads import CSRAHead, PlainHead

TEMPERATURES = {
    1: [1],
    2: [1, math.inf],
    4: [1, 2, 4, math.inf],
    6: [1, 2, 3, 4, 5, math.inf],
    8: [1, 2, 3, 4, 5, 6, 7, math.inf],
}


def csra_formula(x, class_weights, temperatures, lam):
    """docs/spec.md §1.3 in float64: s_k = x_k·m/‖m‖, logit = mean + λ·att, heads summed."""
    feats = x.double().flatten(2)  # B×D×N
    total = 0.0
    for weight, t in zip(class_weights, temperatures, strict=True):
        m = weight.double().reshape(weight.shape[0], -1)  # C×D
        s = torch.einsum("cd,bdn->bcn", m / m.norm(dim=1, keepdim=True), feats)
        if math.isinf(t):
            att = s.max(dim=-1).values
        else:
            att = (torch.softmax(t * s, dim=-1) * s).sum(dim=-1)
        total = total + s.mean(dim=-1) + lam * att
    return total


@pytest.mark.parametrize("num_heads", [1, 2, 4, 6, 8])
def test_csra_matches_the_formula_for_every_head_count(num_heads):
    head = CSRAHead(in_dim=12, num_classes=5, num_heads=num_heads, lam=0.4)
    x = torch.randn(3, 12, 4, 5)
    weights = [p for p in head.parameters() if p.ndim >= 2]
    assert len(weights) == num_heads
    assert all(w.shape == (5, 12, 1, 1) for w in weights)
    expected = csra_formula(x, weights, TEMPERATURES[num_heads], 0.4)
    torch.testing.assert_close(head(x).double(), expected, rtol=1e-5, atol=1e-5)


def authors_order(x, class_weights, temperatures, lam):
    """docs/spec.md §1.8's operation order in fp32, as the authors' code computes it: per head a 1×1
    conv, the scores divided by the class weights' norm, ``base + λ·att``; the heads' logits
    added to 0 one after the other."""
    logit = 0.0
    for weight, t in zip(class_weights, temperatures, strict=True):
        norm = torch.norm(weight, dim=1, keepdim=True).transpose(0, 1)  # 1×C×1×1
        score = (torch.nn.functional.conv2d(x, weight) / norm).flatten(2)
        base = torch.mean(score, dim=2)
        if math.isinf(t):
            att = torch.max(score, dim=2)[0]
        else:
            att = torch.sum(score * torch.softmax(score * t, dim=2), dim=2)
        logit = logit + (base + lam * att)
    return logit


@pytest.mark.parametrize("num_heads", [1, 2, 4, 6, 8])
def test_csra_is_bit_equal_to_the_authors_operation_order(num_heads):
    """Same function is not enough: other orders round differently in fp32, and training drifts
    from the authors' from the first step. Logits and the gradients of every head weight and of
    the features must be equal bit for bit."""
    torch.manual_seed(num_heads)
    head = CSRAHead(in_dim=64, num_classes=20, num_heads=num_heads, lam=0.4)
    weights = [head.heads[i].weight for i in range(num_heads)]
    x = torch.randn(4, 64, 7, 9, requires_grad=True)
    ours = head(x)
    theirs = authors_order(x, weights, TEMPERATURES[num_heads], 0.4)
    assert ours.dtype == torch.float32 and torch.equal(ours, theirs)
    up = torch.randn_like(ours)
    grads_ours = torch.autograd.grad(ours, [x, *weights], up)
    grads_theirs = torch.autograd.grad(theirs, [x, *weights], up)
    for a, b in zip(grads_ours, grads_theirs, strict=True):
        assert torch.equal(a, b)


def test_csra_keeps_the_published_parameter_names():
    head = CSRAHead(in_dim=8, num_classes=3, num_heads=6, lam=0.4)
    assert [name for name, _ in head.named_parameters()] == [f"heads.{i}.weight" for i in range(6)]


def test_csra_weight_order_follows_temperatures():
    # Give each head's class vectors a different direction: only the infinite-temperature head
    # (the last one) must produce the max-pooled attention term.
    head = CSRAHead(in_dim=1, num_classes=1, num_heads=2, lam=1.0)
    weights = [p for p in head.parameters() if p.ndim >= 2]
    x = torch.tensor([[[[0.0, 1.0, 2.0]]]])  # one channel, three locations
    with torch.no_grad():
        weights[0].fill_(1.0)  # T = 1 head: scores [0, 1, 2]
        weights[1].fill_(-1.0)  # T = ∞ head: scores [0, -1, -2], max 0
    soft = sum(math.exp(v) * v for v in (0, 1, 2)) / sum(math.exp(v) for v in (0, 1, 2))
    expected = (1.0 + soft) + (-1.0 + 0.0)
    assert head(x).item() == pytest.approx(expected, rel=1e-6)


def test_csra_hand_value_single_head():
    head = CSRAHead(in_dim=2, num_classes=1, num_heads=1, lam=0.1)
    with torch.no_grad():
        head.heads[0].weight.copy_(torch.tensor([3.0, 4.0]).view(1, 2, 1, 1))  # ‖m‖ = 5
    x = torch.tensor([[5.0, 0.0], [0.0, 5.0]]).T.reshape(1, 2, 1, 2)  # locations (5,0), (0,5)
    s = [3.0, 4.0]  # x_k·m/‖m‖
    att = sum(math.exp(v) * v for v in s) / sum(math.exp(v) for v in s)
    assert head(x).item() == pytest.approx(3.5 + 0.1 * att, rel=1e-6)


def test_csra_normalises_classes_not_features():
    head = CSRAHead(in_dim=8, num_classes=3, num_heads=4, lam=1.0)
    x = torch.randn(2, 8, 3, 3)
    before = head(x)
    with torch.no_grad():
        for p in head.parameters():
            p.mul_(7.0)
    torch.testing.assert_close(head(x), before)  # class-vector scale is irrelevant
    assert not torch.allclose(head(2 * x), before)  # feature scale is not


def test_csra_rejects_unknown_head_count():
    with pytest.raises(ValueError, match="num_heads"):
        CSRAHead(8, 3, num_heads=3, lam=0.1)


def test_plain_head_is_gap_then_linear():
    head = PlainHead(6, 4)
    x = torch.randn(2, 6, 3, 3)
    expected = x.mean(dim=(2, 3)) @ head.fc.weight.T + head.fc.bias
    torch.testing.assert_close(head(x), expected)
    assert head.fc.bias is not None
