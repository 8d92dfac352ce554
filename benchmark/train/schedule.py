"""The learning rate of every training iteration, as the authors' code produces it
(docs/spec.md §1.8).

The MSL and CSRA scripts build ``StepLR(step, γ)`` and then their ``WarmUpLR`` over the
``T = warmup_epochs × iterations per epoch`` first iterations. ``WarmUpLR`` sets the rate to
``base·t/(T + 1e-8)`` after its t-th step (t = 0 when it is built), and is stepped after every
optimizer step of the warm-up epochs; ``StepLR`` is stepped after every epoch and multiplies the
rate the optimizer holds by γ after each epoch whose 1-based number is a multiple of ``step``.
So, with iteration k counted from 1 over the whole run:

- k ≤ T trains at ``base·(k−1)/(T + 1e-8)``: the first iteration at 0;
- after the warm-up the rate starts from ``base·T/(T + 1e-8)`` (a hair under base) and is
  multiplied by γ, one multiplication at a time, after each epoch e ≥ warmup_epochs with
  e % step = 0 (without warm-up it starts from base, after each epoch e ≥ 1);
- a decay due inside the warm-up reaches only the first iteration of the next epoch: the
  warm-up's next step overwrites it.

The arithmetic is Python's float arithmetic in the authors' order, so the optimizer sees the
same rates bit for bit. The rate is a function of (epoch, iteration) alone: a run resumed from
``last.pt`` continues the same sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WARMUP_EPSILON = 1e-8  # the authors' WarmUpLR divides by total_iters + 1e-8


@dataclass(frozen=True)
class WarmupStepLR:
    """Per param group ``bases`` (its rate without warm-up or decay), the run's schedule."""

    bases: tuple[float, ...]
    iters_per_epoch: int
    warmup_epochs: int
    step_epochs: int  # StepLR's step size
    gamma: float

    @classmethod
    def for_run(cls, spec: Any, optimizer: Any, iters_per_epoch: int) -> WarmupStepLR:
        """The schedule of a RunSpec over an optimizer's groups, read before any step."""
        return cls(
            bases=tuple(group["lr"] for group in optimizer.param_groups),
            iters_per_epoch=iters_per_epoch,
            warmup_epochs=spec.warmup_epochs,
            step_epochs=spec.lr_step,
            gamma=spec.lr_gamma,
        )

    @property
    def warmup_iters(self) -> int:
        return self.warmup_epochs * self.iters_per_epoch

    def rate(self, base: float, epoch: int, index: int) -> float:
        """The rate iteration ``index`` of epoch ``epoch`` (both from 0) trains at."""
        total = self.warmup_iters
        if total > 0 and epoch < self.warmup_epochs:
            k = epoch * self.iters_per_epoch + index + 1
            lr = base * (k - 1) / (total + WARMUP_EPSILON)
            if index == 0 and epoch > 0 and epoch % self.step_epochs == 0:
                lr = lr * self.gamma  # StepLR after epoch `epoch`, before the warm-up's next step
            return lr
        lr = base * total / (total + WARMUP_EPSILON) if total > 0 else base
        for finished in range(max(self.warmup_epochs, 1), epoch + 1):  # 1-based epochs done
            if finished % self.step_epochs == 0:
                lr = lr * self.gamma
        return lr

    def rates(self, epoch: int, index: int) -> list[float]:
        return [self.rate(base, epoch, index) for base in self.bases]

    def apply(self, optimizer: Any, epoch: int, index: int) -> None:
        """Set every group's rate for this iteration (before ``optimizer.step()``)."""
        groups: Sequence[dict] = optimizer.param_groups
        for group, lr in zip(groups, self.rates(epoch, index), strict=True):
            group["lr"] = lr
