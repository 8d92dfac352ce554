"""The verdict rule, fixed in advance (docs/claims.md): what a 95 % interval of a claimed
difference says about the claim, and what it cannot say with fewer than two seeds."""

from __future__ import annotations

ONE_SEED = "one seed"
VERDICTS = ("supported", "contradicted", "inconclusive", ONE_SEED)
MIN_SEEDS = 2  # below this no seed-to-seed variation is measured: the interval is image noise


def verdict(low: float, high: float) -> str:
    """The rule fixed in advance (docs/claims.md): the sign of the whole 95 % interval."""
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "inconclusive"


def seeded_verdict(low: float, high: float, seeds: int) -> str:
    """The verdict of an interval measured on ``seeds`` paired seeds: *one seed* below
    MIN_SEEDS, whatever its sign (it leaves out how much training seeds differ, often as much
    as the images), else the sign rule."""
    return ONE_SEED if seeds < MIN_SEEDS else verdict(low, high)


def consistent_with(claimed: float, low: float, high: float) -> bool:
    """Whether the paper's claimed difference lies inside our 95 % interval."""
    return low <= claimed <= high
