"""Interleaved timing: robust medians on a machine shared with other work.

Variants are timed in alternating rounds (A, B, C, then C, B, A, …) rather than one after the
other, so a slow spell of the machine (another process, throttling) hits every variant of a
round alike, and no variant always runs first or last while the load drifts. Ratios are
therefore taken round by round (B_i / A_i, then the median, with the interquartile range of
the per-round ratios as their spread): a paired estimate that stays honest when absolute times
drift, where a ratio of two medians can pair a slow round of one variant with a fast round of
the other. Each call records wall-clock time
(the figure reported) and the process's CPU time (all threads): on a CPU run the CPU time
barely moves when other processes steal the cores, so it cross-checks a noisy wall clock.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Samples:
    """Seconds per timed call of one variant."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return float(statistics.median(self.wall))

    @property
    def cpu_median(self) -> float:
        return float(statistics.median(self.cpu))

    @property
    def spread(self) -> float:
        """Slowest ÷ fastest round: near 1 on a quiet machine."""
        return max(self.wall) / min(self.wall)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(
    variants: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    device: torch.device,
) -> dict[str, Samples]:
    """Time each variant ``repeats`` times in alternating rounds, after ``warmup`` rounds."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    samples = {name: Samples() for name in variants}
    names = list(variants)
    for round_index in range(warmup + repeats):
        for name in names if round_index % 2 == 0 else names[::-1]:
            fn = variants[name]
            synchronize(device)
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            synchronize(device)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_index >= warmup:
                samples[name].wall.append(wall)
                samples[name].cpu.append(cpu)
    return samples


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median of the per-round ratios ``num[i] / den[i]``."""
    return float(statistics.median(a / b for a, b in zip(num, den, strict=True)))


def ratio_spread(num: list[float], den: list[float]) -> tuple[float, float]:
    """The interquartile range of the per-round ratios ``num[i] / den[i]``."""
    ratios = [a / b for a, b in zip(num, den, strict=True)]
    if len(ratios) == 1:
        return ratios[0], ratios[0]
    low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
    return float(low), float(high)
