"""Training follows docs/spec.md's recipe bit for bit: a short CPU training of a tiny ResNet + CSRA
through the real `fit()` leaves, after every optimizer step, exactly the parameters and
BatchNorm buffers of a step-by-step reference loop written here from docs/spec.md's formulas:

- SGD, momentum 0.9, weight decay 1e-4 on every parameter (BatchNorm and biases included);
- two groups: the backbone at the base rate, the head at ×10 (docs/spec.md §1.8);
- the rate of iteration k: the authors' warm-up, base·(k−1)/(T + 1e-8) over the first 2 epochs,
  then ×γ every `lr_step` epochs, one multiplication at a time;
- MSL: two forward passes (clean, then masked), each normalised by BatchNorm with its own
  batch's statistics, and L = 0.3·BCE(clean) + 0.2·BCE(masked) + 0.5·MSE(σ(clean), σ(masked)).

The reference sees the batches and masked images `fit()` drew (recorded by a forward hook) and
starts from the same initial weights; everything else it computes itself. fp32 on a CPU, so
"equal" means torch.equal.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook

from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.train import loop
from benchmark.train.job_context import JobContext

MOMENTUM, WEIGHT_DECAY, HEAD_MULT = 0.9, 1e-4, 10.0


def spec_rate(base, k, iters_per_epoch, warmup_epochs, step, gamma):
    """docs/spec.md §1.8: the rate 1-based iteration k trains at."""
    total = warmup_epochs * iters_per_epoch
    epoch = (k - 1) // iters_per_epoch + 1  # 1-based
    if total and k <= total:
        lr = base * (k - 1) / (total + 1e-8)
        first_of_epoch = (k - 1) % iters_per_epoch == 0
        if first_of_epoch and epoch > 1 and (epoch - 1) % step == 0:
            lr = lr * gamma  # StepLR's decay due after the previous epoch, before the warm-up's
        return lr
    lr = base * total / (total + 1e-8) if total else base
    for done in range(max(warmup_epochs, 1), epoch):
        if done % step == 0:
            lr = lr * gamma
    return lr


class Recorder:
    """What `fit()` did: the model it built (and a copy of its initial state), each training
    forward's input and targets, and every parameter and buffer after each optimizer step."""

    def __init__(self):
        self.model = None
        self.initial = None
        self.inputs: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []
        self.after_step: list[dict[str, torch.Tensor]] = []

    def build(self, real_build):
        def build_model(*args, **kwargs):
            model = real_build(*args, **kwargs)
            self.model, self.initial = model, copy.deepcopy(model)
            model.register_forward_pre_hook(self._input)
            real_loss = model.supervised_loss

            def supervised_loss(out, targets):
                if model.training:
                    self.targets.append(targets.clone())
                return real_loss(out, targets)

            model.supervised_loss = supervised_loss
            return model

        return build_model

    def _input(self, module, args):
        if module.training:
            self.inputs.append(args[0].clone())

    def step_taken(self, optimizer, args, kwargs):
        self.after_step.append(
            {name: t.detach().clone() for name, t in self.model.state_dict().items()}
        )


def reference_training(initial, inputs, targets, rates):
    """docs/spec.md's loop, step by step: yields the model's state after each step."""
    model = copy.deepcopy(initial)
    model.train()
    params = dict(model.named_parameters())
    head = {n for n in params if not n.startswith("backbone.")}
    buffers = {}
    for step, (lr_backbone, lr_head) in enumerate(rates):
        clean, masked = inputs[2 * step], inputs[2 * step + 1]
        y = targets[2 * step]
        out = model(clean)  # two passes: BatchNorm sees each batch on its own
        out_m = model(masked)
        loss = (
            0.3 * F.binary_cross_entropy_with_logits(out, y)
            + 0.2 * F.binary_cross_entropy_with_logits(out_m, y)
            + 0.5 * F.mse_loss(torch.sigmoid(out), torch.sigmoid(out_m))
        )
        for p in params.values():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for name, p in params.items():
                d = p.grad.add(p, alpha=WEIGHT_DECAY)  # weight decay on every parameter
                if name not in buffers:
                    buffers[name] = d.clone()
                else:
                    buffers[name].mul_(MOMENTUM).add_(d)
                p.add_(buffers[name], alpha=-(lr_head if name in head else lr_backbone))
        yield {name: t.detach().clone() for name, t in model.state_dict().items()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A smoke MSL run (timm's test ResNet + CSRA, 64 px) over 4 epochs of 3 iterations:
    2 warm-up epochs, ×0.1 after epoch 2, through the real `fit()`."""
    folder = tmp_path_factory.mktemp("trajectory")
    registry = load_registry()
    spec = resolve_run(registry, "voc-resnetcut-csra-msl-high", "smoke", mask_source="procedural")
    spec = dataclasses.replace(spec, epochs=4, warmup_epochs=2, lr_step=2)
    ctx = JobContext(results_dir=folder, cache_dir=folder / "cache", progress=False)
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "build_model", recorder.build(loop.build_model))
        handle = register_optimizer_step_post_hook(recorder.step_taken)
        try:
            loop.fit(spec, ctx, folder / "run")
        finally:
            handle.remove()
    return spec, recorder


def test_fit_is_bit_equal_to_the_reference_loop_after_every_step(trained):
    spec, rec = trained
    steps = len(rec.after_step)
    iters = steps // spec.epochs
    assert steps == 12 and iters == 3 and len(rec.inputs) == 2 * steps
    assert (spec.momentum, spec.weight_decay, spec.head_lr_mult) == (
        MOMENTUM,
        WEIGHT_DECAY,
        HEAD_MULT,
    )
    rates = [
        tuple(
            spec_rate(base, k, iters, spec.warmup_epochs, spec.lr_step, spec.lr_gamma)
            for base in (spec.lr, spec.lr * HEAD_MULT)
        )
        for k in range(1, steps + 1)
    ]
    assert rates[0] == (0.0, 0.0) and rates[-1][0] < rates[5][0]  # warm-up from 0, one decay
    reference = reference_training(rec.initial, rec.inputs, rec.targets, rates)
    bn = [n for n in rec.after_step[0] if n.endswith("running_var")]
    assert bn, "the tiny ResNet must have BatchNorm for the two-pass check to mean anything"
    for step, (ours, theirs) in enumerate(zip(rec.after_step, reference, strict=True)):
        assert ours.keys() == theirs.keys()
        for name in ours:
            assert torch.equal(ours[name], theirs[name]), (
                f"step {step + 1}: {name} differs by "
                f"{(ours[name].double() - theirs[name].double()).abs().max().item():.3g}"
            )


def test_the_masked_pass_sees_masked_pixels_and_the_first_step_does_not_move(trained):
    """The recording is what the check rests on: a clean and a masked batch per step, the
    masked one zeroed where its mask is, and the authors' first iteration at rate 0 (weights
    unchanged by the step, BatchNorm statistics updated by its two passes)."""
    spec, rec = trained
    clean, masked = rec.inputs[0], rec.inputs[1]
    assert clean.shape == masked.shape and clean.shape[-1] == spec.img_size
    hidden = masked == 0
    assert hidden.any() and torch.equal(masked[~hidden], clean[~hidden])
    first = rec.after_step[0]
    initial = rec.initial.state_dict()
    weights = [n for n, _ in rec.initial.named_parameters()]
    assert all(torch.equal(first[n], initial[n]) for n in weights)
    assert not all(torch.equal(first[n], initial[n]) for n in first if n.endswith("running_mean"))
