"""Which models have BatchNorm, decided from a resolved run without building it.

The BatchNorm-matched verdicts (docs/claims.md) apply to a claim only when both of its models
have BatchNorm layers, and `benchmark claims` and the report must know which without importing
torch. The rule below is what the built models contain (tests/models/test_batchnorm_rule.py
builds every run of every profile and checks it): the ResNet family normalises with
BatchNorm, the ViTs (the paper's and timm's test and mini ones alike) with LayerNorm only, and
SST's label branch adds a BatchNorm2d whatever the backbone.
"""

from __future__ import annotations

from benchmark.experiment.profiles import backbone_family
from benchmark.spec import RunSpec

BATCHNORM_FAMILIES = ("resnet",)
BATCHNORM_HEADS = ("sst",)


def has_batchnorm(spec: RunSpec) -> bool:
    """Whether the run's model has any BatchNorm layer (running statistics to re-estimate)."""
    return backbone_family(spec.backbone) in BATCHNORM_FAMILIES or spec.arch in BATCHNORM_HEADS


def describe_model(spec: RunSpec) -> str:
    """The model as a reader names it: backbone and head."""
    return f"{spec.backbone} + {spec.arch} head"
