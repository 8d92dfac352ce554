"""RunSpec → model: the one place that maps a table row's architecture to modules."""

from __future__ import annotations

from pathlib import Path

from benchmark.errors import UserError
from benchmark.models.backbones import build_backbone
from benchmark.models.classifier import FeatureMapClassifier
from benchmark.models.heads import CSRAHead, PlainHead
from benchmark.models.mcar import MCAR
from benchmark.models.protocol import MultiLabelModel
from benchmark.models.sst import SST
from benchmark.spec import CSRA_TEMPERATURES, RunSpec


def build_model(spec: RunSpec, weights_root: Path | None = None) -> MultiLabelModel:
    """The run's network, backbone weights loaded (or random when ``spec.weights`` is None)."""
    if spec.arch == "csra" and spec.num_heads not in CSRA_TEMPERATURES:
        raise UserError(
            f"run {spec.name!r}: CSRA num_heads={spec.num_heads} is not one of "
            f"{sorted(CSRA_TEMPERATURES)}"
        )
    backbone = build_backbone(spec.backbone, spec.img_size, spec.weights, weights_root=weights_root)
    classes = spec.num_classes
    if spec.arch == "plain":
        return FeatureMapClassifier(backbone, PlainHead(backbone.out_dim, classes))
    if spec.arch == "csra":
        head = CSRAHead(backbone.out_dim, classes, spec.num_heads, spec.lam)
        return FeatureMapClassifier(backbone, head)
    if spec.arch == "mcar":
        return MCAR(backbone, classes)
    if spec.arch == "sst":
        return SST(backbone, classes, spec.img_size)
    raise UserError(f"run {spec.name!r}: unknown arch {spec.arch!r}")
