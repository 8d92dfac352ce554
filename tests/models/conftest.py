import pytest
import torch

from benchmark.spec import RunSpec


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)


@pytest.fixture
def make_spec():
    """Factory of smoke-sized RunSpecs; tests override the fields they exercise."""
    return _run_spec


def _run_spec(**overrides) -> RunSpec:
    fields = dict(
        name="test-run",
        dataset="voc2007",
        backbone="test_resnet",
        weights=None,
        arch="plain",
        num_heads=1,
        lam=0.1,
        method="supervised",
        mask_pool=None,
        img_size=64,
        epochs=1,
        lr_step=1,
        augment="flip_rrc",
        normalize="unit",
    )
    fields.update(overrides)
    return RunSpec(**fields)
