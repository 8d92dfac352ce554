import pytest

from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.train.loop import lr_factor


def test_warmup_is_linear_per_iteration_then_steps_every_lr_step_epochs():
    spec = resolve_run(load_registry(), "voc-resnetcut-csra", "paper")
    assert (spec.warmup_epochs, spec.lr_step, spec.lr_gamma) == (2, 4, 0.1)
    iters = 10
    assert lr_factor(0, iters, spec) == pytest.approx(1 / 20)
    assert lr_factor(9, iters, spec) == pytest.approx(10 / 20)
    assert lr_factor(19, iters, spec) == pytest.approx(1.0)
    assert lr_factor(39, iters, spec) == pytest.approx(1.0)  # epoch 4 still at full rate
    assert lr_factor(40, iters, spec) == pytest.approx(0.1)  # after 4 epochs: ×0.1
    assert lr_factor(80, iters, spec) == pytest.approx(0.01)


def test_coco_and_wider_step_every_five_epochs():
    registry = load_registry()
    for run in ("coco-resnetcut-csra", "wider-vitl-csra"):
        spec = resolve_run(registry, run, "paper")
        assert spec.lr_step == 5
        assert lr_factor(5 * 3, 3, spec) == pytest.approx(0.1)
        assert lr_factor(5 * 3 - 1, 3, spec) == pytest.approx(1.0)
