"""The BatchNorm rule the claims layer uses without building a model
(benchmark.experiment.batchnorm) against the models themselves: every run of every profile,
and every published file's architecture, built and searched for BatchNorm layers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from benchmark.experiment.batchnorm import has_batchnorm
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.experiment.releases import load_releases, target_run
from benchmark.models import build_model

REGISTRY = Path(__file__).resolve().parents[2] / "experiments"


def _norms(spec) -> tuple[bool, bool]:
    """(any BatchNorm, any LayerNorm) in the run's model, built on the meta device (free)."""
    with torch.device("meta"):
        model = build_model(dataclasses.replace(spec, weights=None))
    kinds = [type(m) for m in model.modules()]
    batchnorm = any(issubclass(k, torch.nn.modules.batchnorm._BatchNorm) for k in kinds)
    return batchnorm, any(issubclass(k, torch.nn.LayerNorm) for k in kinds)


@pytest.mark.parametrize("profile", ["smoke", "mini", "paper"])
def test_the_rule_is_what_every_built_model_contains(profile):
    registry = load_registry(REGISTRY)
    specs = [resolve_run(registry, name, profile) for name in registry.runs]
    releases = load_releases(registry)
    specs += [
        target_run(registry, release.id, target, profile)
        for release in releases.releases.values()
        for target in release.targets
    ]
    # a head with BatchNorm on a ViT: no registry run has one, the rule must still say so
    vit = next(s for s in specs if "vit" in s.backbone)
    specs.append(dataclasses.replace(vit, name="vit-sst", arch="sst"))
    seen = {}
    for spec in specs:
        key = (spec.backbone, spec.arch)
        if key not in seen:
            seen[key] = _norms(spec)
        batchnorm, layernorm = seen[key]
        assert has_batchnorm(spec) == batchnorm, f"{spec.name}: {key}"
        if "vit" in spec.backbone and spec.arch != "sst":  # paper's, timm's test, mini ViTs
            assert layernorm and not batchnorm, key
    # both kinds are present in every profile, so the comparison is not vacuous
    assert {b for b, _ in seen.values()} == {True, False}
