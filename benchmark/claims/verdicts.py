"""The verdict rule, fixed in advance (docs/claims.md): what a 95 % interval of a claimed
difference says about the claim."""

from __future__ import annotations

VERDICTS = ("supported", "contradicted", "inconclusive")


def verdict(low: float, high: float) -> str:
    """The rule fixed in advance (docs/claims.md): the sign of the whole 95 % interval."""
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "inconclusive"


def consistent_with(claimed: float, low: float, high: float) -> bool:
    """Whether the paper's claimed difference lies inside our 95 % interval."""
    return low <= claimed <= high
