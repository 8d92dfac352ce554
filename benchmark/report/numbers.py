"""How numbers look in a report: one decimal, rounded half up as the paper prints them.

Binary floats make ``f"{86.65:.1f}"`` print 86.6; the paper's tables round 86.65 to 86.7, so
values go through their shortest decimal repr before rounding.
"""

from __future__ import annotations

import math
import numbers
from decimal import ROUND_HALF_UP, Decimal

DASH = "—"  # not measured (yet)
MISSING = "–"  # the paper prints no value here


def is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def round1(value: float) -> float:
    """Round to one decimal, half up, as the paper does."""
    return float(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def fmt(value: float | None) -> str:
    return f"{round1(value):.1f}" if is_number(value) else MISSING


def fmt_signed(value: float | None, minus: str = "-") -> str:
    """A difference with its sign; a difference that rounds to zero prints as +0.0."""
    if not is_number(value):
        return MISSING
    rounded = round1(value)
    if rounded == 0:
        return "+0.0"
    return f"+{rounded:.1f}" if rounded > 0 else f"{minus}{abs(rounded):.1f}"


def fmt_diff(a: float | None, b: float | None, minus: str = "-") -> str:
    """``a − b`` as the printed numbers read: both rounded first, so 92.45 vs 92.4 reads +0.1."""
    if not (is_number(a) and is_number(b)):
        return MISSING
    return fmt_signed(float(Decimal(str(round1(a))) - Decimal(str(round1(b)))), minus)


def fmt_mean_std(mean: float | None, std: float | None) -> str:
    """``mean ± std`` over seeds; the mean alone for a single seed."""
    if not is_number(mean):
        return DASH
    return f"{fmt(mean)} ± {fmt(std)}" if is_number(std) else fmt(mean)


def fmt_rate(value: float | None) -> str:
    """Throughput in samples/s: one decimal, thousands grouped for readability."""
    return f"{round1(value):,.1f}" if is_number(value) else DASH


def fmt_duration(seconds: float | None) -> str:
    """Wall time at the scale that reads best: seconds, minutes or hours."""
    if not is_number(seconds):
        return DASH
    if seconds < 120:
        return f"{round1(seconds):.1f} s"
    if seconds < 7200:
        return f"{round1(seconds / 60):.1f} min"
    return f"{round1(seconds / 3600):.1f} h"
