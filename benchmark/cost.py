"""What one run costs in model arithmetic: for `benchmark run --dry-run` and the GPU-hours
projection (`benchmark.perf.projection`). Plain data and arithmetic, no torch.

Forward GMACs per image at each backbone's native size (SPEC §5: ResNet-101 at 448 ≈ 31);
cost grows with the pixel count, and an architecture may run the backbone several times per
image (MCAR: the global pass plus four local crops at full size ≈ 5 passes). Heads are a small
fraction of a backbone and are not counted.
"""

from __future__ import annotations

from benchmark.spec import RunSpec

GMACS = {  # backbone → (forward GMACs per image, at this input size)
    "resnet101": (31.0, 448),
    "vit_large_patch16_224": (61.6, 224),
    "vit_base_patch16_224": (17.6, 224),
}
ARCH_PASSES = {"plain": 1, "csra": 1, "sst": 1, "mcar": 5}
# The real datasets' training / test samples (SPEC §2; WIDER counts person boxes).
PAPER_COUNTS = {"voc2007": (5011, 4952), "coco2014": (82081, 40137), "wider": (28345, 29179)}


def forward_gmacs(spec: RunSpec) -> float:
    """Forward GMACs of one image through the run's model (0 for a backbone not listed)."""
    gmacs, native = GMACS.get(spec.backbone, (0.0, spec.img_size))
    return gmacs * (spec.img_size / native) ** 2 * ARCH_PASSES[spec.arch]


def train_passes(spec: RunSpec, train_images: int) -> int:
    """Forward passes of whole images over the run's training (MSL: clean + masked)."""
    return train_images * spec.epochs * (2 if spec.method == "msl" else 1) * ARCH_PASSES[spec.arch]
