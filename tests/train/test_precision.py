"""Precision is a named, recorded choice (docs/spec.md §1.8, docs/fidelity.md): fp32, tf32 (the
paper profiles' default: fp32 tensors with TF32 allowed, as the authors' torch) or bf16 (opt-in).
It is part of a result's identity, every result records what was computed, and status and
the report say which precision their numbers are."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.cli import main
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.report.report_builder import build_report
from benchmark.train.precision import autocast, configure_precision

CELL = "t4.resnet-cut-csra.voc2007"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_the_paper_profiles_default_to_tf32_and_the_cpu_profiles_to_fp32(registry):
    run = "voc-resnetcut-csra-msl-high"
    assert resolve_run(registry, run, "paper").precision == "tf32"
    assert resolve_run(registry, run, "paper-synth").precision == "tf32"
    for profile in ("smoke", "mini"):
        spec = resolve_run(registry, run, profile)
        # fp32 stays out of the identity: the committed mini results keep their hashes
        assert spec.precision == "fp32" and "precision" not in spec.identity()
    tf32 = resolve_run(registry, run, "paper")
    bf16 = resolve_run(registry, run, "paper", precision="bf16")
    fp32 = resolve_run(registry, run, "paper", precision="fp32")
    assert len({tf32.hash, bf16.hash, fp32.hash}) == 3  # a bf16 result is another result
    assert bf16.identity()["precision"] == "bf16"


def test_tf32_is_allowed_on_cuda_only_for_tf32_and_bf16_autocasts():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    expected = {("tf32", cuda): True, ("fp32", cuda): False, ("bf16", cuda): False,
                ("tf32", cpu): False}  # fmt: skip
    try:
        for (precision, device), allowed in expected.items():
            configure_precision(precision, device)
            assert torch.backends.cuda.matmul.allow_tf32 is allowed, (precision, device)
            assert torch.backends.cudnn.allow_tf32 is allowed, (precision, device)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    x = torch.randn(2, 3)
    with autocast("bf16", cpu):
        assert (x @ x.T).dtype == torch.bfloat16
    with autocast("tf32", cpu):
        assert (x @ x.T).dtype == torch.float32
    with pytest.raises(ValueError, match="unknown precision"):
        configure_precision("fp16", cpu)


class Probe(torch.nn.Module):
    """A linear model that notes the dtype its layer computed in."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.seen: list[torch.dtype] = []

    def forward(self, x):
        out = self.fc(x.flatten(1)[:, :4])
        self.seen.append(out.dtype)
        return out.float()

    def supervised_loss(self, out, y):
        return torch.nn.functional.binary_cross_entropy_with_logits(out, y)

    def probabilities(self, out):
        return torch.sigmoid(out.float())


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16), ("tf32", torch.float32),
                                                  ("fp32", torch.float32)])  # fmt: skip
def test_training_and_evaluation_steps_compute_at_the_precision(precision, dtype):
    from benchmark.train.inference import predict
    from benchmark.train.loop import _forward_backward

    model = Probe()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    images, labels = torch.rand(2, 3, 4, 4), torch.ones(2, 3)
    _forward_backward(model, optimizer, images, None, labels, False, 1.0, precision)
    loader = [(images, labels, torch.arange(2), [])]
    predict(model, loader, torch.device("cpu"), precision)
    assert model.seen == [dtype, dtype]


def _result(workdir, spec_hash):
    return json.loads((workdir / "results" / "smoke" / spec_hash / "result.json").read_text())


def _status(capsys, *extra):
    capsys.readouterr()
    assert main(["status", CELL, "--profile", "smoke", "--json", *extra]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    return entry


def test_a_run_records_its_precision_and_is_found_only_at_it(workdir, capsys):
    run = ["run", CELL, "--profile", "smoke", "--epochs", "1", "--no-progress"]
    assert main([*run, "--precision", "bf16"]) == 0
    assert "precision bf16" in capsys.readouterr().out
    bf16 = _status(capsys, "--epochs", "1", "--precision", "bf16")
    assert bf16["status"] == "done" and bf16["precision"] == "bf16"
    assert _result(workdir, bf16["hashes"][0])["precision"] == {
        "requested": "bf16",
        "computed": "bf16",  # CPU autocast: what ran
    }
    # the profile's own precision (fp32) does not read the bf16 result as its own
    plain = _status(capsys, "--epochs", "1")
    assert plain["status"] == "pending" and plain["precision"] == "fp32"
    # tf32 on a CPU: allowed, and computed in strict fp32 — the result says so
    assert main([*run, "--precision", "tf32"]) == 0
    tf32 = _status(capsys, "--epochs", "1", "--precision", "tf32")
    recorded = _result(workdir, tf32["hashes"][0])["precision"]
    assert recorded["requested"] == "tf32" and recorded["computed"] == "fp32"
    assert "Ampere" in recorded["why"]
    capsys.readouterr()
    assert main(["status", CELL, "--profile", "smoke", "--epochs", "1", "--precision", "bf16"]) == 0
    assert "precision bf16: bf16 autocast: a speed choice, not the paper protocol's" in (
        capsys.readouterr().out
    )
    report = build_report(
        load_registry(),
        workdir / "results" / "smoke",
        PlanOptions("smoke", epochs=1, precision="tf32"),
        selector=CELL,
        figures=False,
    )
    assert report.header.precision.startswith("tf32 — fp32 tensors, TF32 allowed")
    assert report.header.precision.endswith("computed as fp32 in 1 result")


def test_an_unknown_precision_is_refused_before_any_work(workdir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", CELL, "--profile", "smoke", "--precision", "fp16"])
    assert exc.value.code == 2
    assert "--precision: invalid choice: 'fp16'" in capsys.readouterr().err
    assert not (workdir / "results").exists()


def test_evaluate_model_scores_at_its_precision_which_is_part_of_the_identity(tmp_path):
    """`benchmark.evaluate_model` (the engine `benchmark evaluate` runs through) computes its
    prepare step and every prediction at ``precision`` — the paper profile's tf32 by default —
    records what ran, and a bf16 evaluation is another evaluation."""
    import benchmark
    from benchmark.data.synthetic import synthesize
    from benchmark.errors import UserError

    voc = synthesize("voc2007", tmp_path / "voc2007", train_images=2, test_images=4,
                     image_size=48, seed=0)  # fmt: skip
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(4, 20),
    )  # fmt: skip
    seen: list[torch.dtype] = []
    model[3].register_forward_hook(lambda module, args, out: seen.append(out.dtype))

    def evaluate(**kw):
        seen.clear()
        return benchmark.evaluate_model(
            model, "voc2007", voc, img_size=32, conditions=("clean",), cache_dir=tmp_path / "c",
            prepare=lambda m, device: {"dtype": str(m(torch.rand(1, 3, 32, 32)).dtype)}, **kw,
        )  # fmt: skip

    default = evaluate()
    assert default.spec.precision == "tf32" and default.prepared == {"dtype": "torch.float32"}
    assert default.body()["precision"]["computed"] == "fp32"  # a CPU has no TF32
    assert set(seen) == {torch.float32}
    bf16 = evaluate(precision="bf16")
    assert bf16.prepared == {"dtype": "torch.bfloat16"} and set(seen) == {torch.bfloat16}
    assert bf16.body()["precision"] == {"requested": "bf16", "computed": "bf16"}
    fp32 = evaluate(precision="fp32")
    assert "precision" not in fp32.spec.identity()  # as RunSpec: omitted at fp32
    assert len({default.spec.hash, bf16.spec.hash, fp32.spec.hash}) == 3
    with pytest.raises(UserError, match="precision: unknown 'fp16'"):
        evaluate(precision="fp16")
