import pytest
import torch

from benchmark.models import build_model
from benchmark.train.objectives import msl_step_loss

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize(
    ("arch", "backbone", "size"),
    [
        ("plain", "vit_tiny_patch16_224", 224),
        ("csra", "resnet18", 224),
        ("mcar", "resnet18", 288),
        ("sst", "resnet18", 224),
    ],
)
@pytest.mark.parametrize("fused", [False, True])
def test_msl_step_under_cuda_bf16_autocast_channels_last(make_spec, arch, backbone, size, fused):
    spec = make_spec(arch=arch, backbone=backbone, img_size=size, num_heads=6, lam=0.4)
    model = build_model(spec).cuda().to(memory_format=torch.channels_last).train()
    x = torch.randn(4, 3, size, size, device="cuda").contiguous(memory_format=torch.channels_last)
    keep = (torch.rand(4, 1, size, size, device="cuda") > 0.5).float()
    y = (torch.rand(4, 20, device="cuda") > 0.8).float()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss, out = msl_step_loss(model, x, x * keep, y, fused=fused)
        probs = model.probabilities(out)
    loss.backward()
    assert loss.dtype == probs.dtype == torch.float32
    assert torch.isfinite(loss) and probs.shape == (4, 20)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
