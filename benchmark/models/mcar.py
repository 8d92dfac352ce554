"""MCAR: global and local streams sharing one network (Gao & Zhou, TIP 2021; docs/spec.md §1.6).

Global stream: ``s_g = σ(W·gwp(F(I)) + b)`` with gwp = (GMP + GAP)/2. Class attention maps
``A = σ(W ⋆ F(I).detach() + b)``; for the top-4 classes by predicted ``s_g`` (in training too) a
box is read off the map's x and y max profiles; each box is cropped from the (normalised) input,
resized to S×S and passed through the same network; ``s_l`` is the max over the 4 crops.
Loss ``BCE(s_g, y) + BCE(s_l, y)`` on probabilities; inference ``max(s_g, s_l)``.

Choices where MCAR's code and a clean statement differ (each keeps MCAR's behaviour in substance):
- Profiles are taken, as in MCAR's code, after upsampling the selected maps to the input size
  (bilinear, align_corners=True), so boxes are in input pixels directly.
- Runs are exactly the above-threshold samples; MCAR's code slices its segments one index to the
  left of the sign change (an off-by-one of one pixel at input resolution).
- A flat profile (no localisation evidence) gives MCAR's central box [⌈n/8⌉, ⌈7n/8⌉); "flat"
  allows float noise (range ≤ 1e-6 relative), where MCAR's code tests exact equality.
- The minimum side ⌈n/8⌉ is reached by growing the run around its centre, clamped to the image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.models.protocol import MultiLabelModel, bce_on_probabilities

TOP_K = 4
THRESHOLD = 0.5
MIN_SIDE_FRACTION = 1 / 8
FLAT_TOLERANCE = 1e-6  # relative range below which a profile counts as flat


def localize_1d(
    profile: np.ndarray | torch.Tensor,
    threshold: float = THRESHOLD,
    min_fraction: float = MIN_SIDE_FRACTION,
) -> tuple[int, int]:
    """Half-open interval [start, end) of the object along one axis of a max profile.

    Min-max normalise, keep the above-threshold run holding the peak (ties between runs that
    reach the peak: the longer, then the first), and grow it to at least ⌈n·min_fraction⌉.
    """
    if isinstance(profile, torch.Tensor):
        profile = profile.detach().float().cpu().numpy()
    p = np.asarray(profile, dtype=np.float64).reshape(-1)
    n = p.size
    min_size = min(n, math.ceil(n * min_fraction))
    lo, hi = p.min(), p.max()
    if hi - lo <= FLAT_TOLERANCE * max(abs(hi), 1.0):  # float noise of a flat map is not a peak
        return math.ceil(n * min_fraction), math.ceil(n * (1 - min_fraction))
    above = (p - lo) / (hi - lo) > threshold
    edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    peak = p == hi
    best: tuple[int, int] | None = None
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if peak[s:e].any() and (best is None or e - s > best[1] - best[0]):
            best = (s, e)
    assert best is not None  # the peak is always above the threshold
    start, end = best
    if end - start < min_size:
        centre = (start + end) / 2
        start = min(max(math.floor(centre - min_size / 2), 0), n - min_size)
        end = start + min_size
    return start, end


def localize_boxes(
    x_profiles: torch.Tensor, y_profiles: torch.Tensor, threshold: float = THRESHOLD
) -> torch.Tensor:
    """Boxes (x1, x2, y1, y2), half-open pixel intervals, for ...×W and ...×H profiles."""
    xs = x_profiles.detach().float().cpu().numpy()
    ys = y_profiles.detach().float().cpu().numpy()
    lead = xs.shape[:-1]
    boxes = [
        (*localize_1d(px, threshold), *localize_1d(py, threshold))
        for px, py in zip(xs.reshape(-1, xs.shape[-1]), ys.reshape(-1, ys.shape[-1]), strict=True)
    ]
    return torch.tensor(boxes, dtype=torch.float32).view(*lead, 4)


def crop_and_resize(
    images: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """Crops of ``images`` (B×3×H×W) at ``boxes`` (B×K×4) resized to ``size``: one grid_sample.

    Reproduces ``F.interpolate(img[:, :, y1:y2, x1:x2], size, bilinear, align_corners=True)``
    for every box at once: output pixel i samples input pixel x1 + i·(x2−1−x1)/(out−1).
    """
    b, k = boxes.shape[:2]
    height, width = images.shape[-2:]
    out_h, out_w = size
    boxes = boxes.to(device=images.device, dtype=torch.float32).view(b * k, 4)
    x1, x2, y1, y2 = boxes.unbind(dim=1)
    tx = torch.linspace(0.0, 1.0, out_w, device=images.device)
    ty = torch.linspace(0.0, 1.0, out_h, device=images.device)
    px = x1[:, None] + tx[None, :] * (x2 - 1 - x1)[:, None]  # (BK, out_w) input pixel coords
    py = y1[:, None] + ty[None, :] * (y2 - 1 - y1)[:, None]
    gx = 2 * px / max(width - 1, 1) - 1  # align_corners=True: −1/+1 are the corner pixels
    gy = 2 * py / max(height - 1, 1) - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    source = images.unsqueeze(1).expand(b, k, *images.shape[1:]).reshape(b * k, *images.shape[1:])
    return F.grid_sample(
        source.float(), grid, mode="bilinear", padding_mode="border", align_corners=True
    )


class MCAR(MultiLabelModel):
    """``forward`` returns ``(s_g, s_l)``, B×C probabilities each (fp32)."""

    def __init__(self, backbone: nn.Module, num_classes: int, top_k: int = TOP_K) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Conv2d(backbone.out_dim, num_classes, kernel_size=1, bias=True)
        self.top_k = min(top_k, num_classes)

    def _scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        pooled = (features.amax(dim=(2, 3)) + features.mean(dim=(2, 3))) / 2  # gwp
        logits = self.classifier(pooled[:, :, None, None]).flatten(1)
        return torch.sigmoid(logits.float()), features

    @torch.no_grad()
    def boxes(
        self, features: torch.Tensor, s_g: torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        """B×K×4 boxes (x1, x2, y1, y2) in input pixels for the top-K classes by ``s_g``."""
        top = s_g.topk(self.top_k, dim=1).indices  # B×K
        maps = torch.sigmoid(self.classifier(features.detach()).float())  # B×C×h×w
        maps = maps.gather(1, top[:, :, None, None].expand(-1, -1, *maps.shape[-2:]))
        if maps.is_meta:  # shape-only runs (FLOP counting): whole-image boxes cost the same
            return torch.tensor([0.0, size[1], 0.0, size[0]]).expand(*top.shape, 4)
        maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=True)
        return localize_boxes(maps.amax(dim=2), maps.amax(dim=3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, size = x.shape[0], (x.shape[-2], x.shape[-1])
        s_g, features = self._scores(x)
        with torch.no_grad():
            crops = crop_and_resize(x, self.boxes(features, s_g, size), size).to(x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last):
            crops = crops.contiguous(memory_format=torch.channels_last)
        s_crops, _ = self._scores(crops)
        s_l = s_crops.view(b, self.top_k, -1).amax(dim=1)
        return s_g, s_l

    def supervised_loss(
        self, out: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor
    ) -> torch.Tensor:
        s_g, s_l = out
        return bce_on_probabilities(s_g, targets) + bce_on_probabilities(s_l, targets)

    def probabilities(self, out: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        s_g, s_l = out
        return torch.maximum(s_g.float(), s_l.float())
