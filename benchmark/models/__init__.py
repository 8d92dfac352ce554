"""Networks of the paper's table rows: timm backbones, plain/CSRA heads, MCAR, SST."""

from benchmark.models.backbones import FeatureBackbone, build_backbone
from benchmark.models.classifier import FeatureMapClassifier
from benchmark.models.heads import CSRAHead, PlainHead
from benchmark.models.mcar import MCAR, localize_1d
from benchmark.models.model_factory import build_model
from benchmark.models.protocol import MultiLabelModel
from benchmark.models.sst import SST
from benchmark.models.weights import CATALOGUE, resolve_weights

__all__ = [
    "CATALOGUE",
    "CSRAHead",
    "FeatureBackbone",
    "FeatureMapClassifier",
    "MCAR",
    "MultiLabelModel",
    "PlainHead",
    "SST",
    "build_backbone",
    "build_model",
    "localize_1d",
    "resolve_weights",
]
