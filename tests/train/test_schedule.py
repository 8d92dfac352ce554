"""The learning rate of every iteration is the authors' (docs/spec.md §1.8): their WarmUpLR stepped
per iteration over the first 2 epochs — iteration k of T at base·(k−1)/(T+1e-8), the first at 0 —
and their StepLR per epoch, multiplying the rate the optimizer holds by γ.

The expected rates are written here from docs/spec.md's rule as the authors' scripts run it (two
schedulers stepped at their points of the loop), independently of benchmark.train.schedule,
and compared exactly: with the rates the schedule gives, and with the rates the optimizer
actually used inside the real `fit()` (read by a hook on `optimizer.step`), resume included.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager

import pytest
from torch.optim.optimizer import register_optimizer_step_pre_hook

from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.train.job_context import JobContext
from benchmark.train.loop import fit
from benchmark.train.schedule import WarmupStepLR


def authors_rates(base, iters_per_epoch, epochs, warmup_epochs, step, gamma):
    """docs/spec.md §1.8 as the authors' loop runs it: the rate each iteration trains at, in order.

    WarmUpLR is built after StepLR and sets base·t/(T + 1e-8) at its t-th step (t = 0 when
    built); it steps after every iteration of epochs 1…warmup_epochs. StepLR steps after every
    epoch and multiplies the current rate by γ when its epoch count is a multiple of ``step``.
    """
    total = iters_per_epoch * warmup_epochs
    lr, warm_steps, used = base, 0, []
    if warmup_epochs > 0:
        lr = base * warm_steps / (total + 1e-8)
    for epoch in range(1, epochs + 1):
        for _ in range(iters_per_epoch):
            used.append(lr)
            if warmup_epochs > 0 and epoch <= warmup_epochs:
                warm_steps += 1
                lr = base * warm_steps / (total + 1e-8)
        if epoch % step == 0:
            lr = lr * gamma
    return used


SCHEDULES = [  # (iterations per epoch, epochs, warm-up epochs, step, γ)
    (10, 13, 2, 4, 0.1),  # VOC's shape
    (7, 12, 2, 5, 0.1),  # COCO and WIDER's
    (3, 6, 2, 1, 0.1),  # a decay due inside the warm-up reaches one iteration
    (4, 5, 1, 1, 0.5),  # smoke's shape
    (5, 6, 0, 2, 0.1),  # no warm-up
    (1, 5, 3, 2, 0.1),  # one iteration per epoch
]


@pytest.mark.parametrize(("iters", "epochs", "warmup", "step", "gamma"), SCHEDULES)
def test_every_iteration_trains_at_the_authors_rate(iters, epochs, warmup, step, gamma):
    bases = (0.01, 0.01 * 10.0)  # backbone and head groups
    schedule = WarmupStepLR(bases, iters, warmup, step, gamma)
    for base in bases:
        expected = authors_rates(base, iters, epochs, warmup, step, gamma)
        got = [schedule.rate(base, e, i) for e in range(epochs) for i in range(iters)]
        assert got == expected  # exact: the same Python float arithmetic


def test_the_paper_schedule_starts_at_zero_and_decays_on_the_authors_iterations():
    spec = resolve_run(load_registry(), "voc-resnetcut-csra", "paper")
    assert (spec.warmup_epochs, spec.lr_step, spec.lr_gamma) == (2, 4, 0.1)
    iters = 836  # VOC trainval at batch 6
    schedule = WarmupStepLR((0.01, 0.1), iters, 2, 4, 0.1)
    assert schedule.rates(0, 0) == [0.0, 0.0]
    assert schedule.rates(0, 1) == [0.01 / (2 * iters + 1e-8), 0.1 / (2 * iters + 1e-8)]
    full = 0.01 * (2 * iters) / (2 * iters + 1e-8)  # a hair under 0.01 after the warm-up
    assert schedule.rate(0.01, 2, 0) == full == schedule.rate(0.01, 3, iters - 1)
    assert schedule.rate(0.01, 4, 0) == full * 0.1  # after epoch 4
    assert schedule.rate(0.01, 8, 0) == full * 0.1 * 0.1  # sequential, not 0.1 ** 2


@contextmanager
def optimizer_rates():
    """Every group's rate at every `optimizer.step()` of any optimizer, in call order."""
    seen: list[list[float]] = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append([g["lr"] for g in opt.param_groups])
    )
    try:
        yield seen
    finally:
        handle.remove()


def _smoke_spec(**changes):
    registry = load_registry()
    spec = resolve_run(registry, "voc-resnetcut-csra-msl-high", "smoke", mask_source="procedural")
    return dataclasses.replace(spec, **changes)


def test_fit_trains_at_the_authors_rates_and_a_resumed_run_continues_them(tmp_path):
    """The real loop, through a hook on optimizer.step: a run of 2 epochs, then the same run
    resumed from its last.pt to 5 epochs (warm-up 2, step 1: a decay due after epoch 1 inside
    the warm-up, then after every epoch)."""
    ctx = JobContext(results_dir=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    out = tmp_path / "run"
    spec = _smoke_spec(epochs=2, warmup_epochs=2, lr_step=1, lr_gamma=0.5)
    with optimizer_rates() as first:
        fit(spec, ctx, out)
    with optimizer_rates() as resumed:
        fit(dataclasses.replace(spec, epochs=5), ctx, out)
    train_images = 24 - round(24 * spec.val_fraction)
    iters = math.ceil(train_images / spec.batch_size)
    assert len(first) == 2 * iters and len(resumed) == 3 * iters
    for group, base in enumerate((spec.lr, spec.lr * spec.head_lr_mult)):
        expected = authors_rates(base, iters, 5, 2, 1, 0.5)
        assert [rates[group] for rates in first + resumed] == expected
    assert first[0] == [0.0, 0.0]  # the authors' first iteration does not move the weights


def test_fit_without_warm_up_starts_at_the_base_rate(tmp_path):
    ctx = JobContext(results_dir=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    spec = _smoke_spec(epochs=2, warmup_epochs=0, lr_step=1)
    with optimizer_rates() as seen:
        fit(spec, ctx, tmp_path / "run")
    iters = len(seen) // 2
    for group, base in enumerate((spec.lr, spec.lr * spec.head_lr_mult)):
        assert [rates[group] for rates in seen] == authors_rates(base, iters, 2, 0, 1, 0.1)
    assert seen[0] == [0.01, 0.1]
