"""`benchmark perf`: the figures it prints, the FLOP count behind MFU, and the steps it times."""

import argparse
import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import torch

from benchmark.cli.perf import _table, register
from benchmark.data.masks import MaskPool
from benchmark.errors import UserError
from benchmark.perf.flops import mfu, peak_tflops, step_flops
from benchmark.perf.steps import build_trainer, perf_spec, random_batch
from benchmark.perf.suite import TARGETS
from benchmark.perf.timing import interleaved
from benchmark.train.seeding import generator

REQUIRED = (
    "supervised_step_s",
    "msl_step_s",
    "msl_step_ratio",
    "fused_msl_step_s",
    "data_plain_per_s",
    "data_masked_per_s",
    "mask_overhead",
    "metrics_coco_s",
    "eval_images_per_s",
    "supervised_step_flops",
    "msl_step_flops",
    "msl_images_per_s",
)


def _perf(argv: list[str]) -> int:
    """The verb through a parser built with ``register``, as ``benchmark`` builds its own."""
    parser = argparse.ArgumentParser(prog="benchmark")
    register(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["perf", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    deterministic = torch.are_deterministic_algorithms_enabled()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = _perf(
            [
                "--model",
                "test_resnet",
                "--img-size",
                "64",
                "--repeats",
                "2",
                "--data-images",
                "6",
                "--device",
                "cpu",
                "--cache-dir",
                str(cache),
                "--json",
            ]
        )
    assert code == 0
    # The loop's CPU determinism setting is on while measuring and restored afterwards.
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    return json.loads(out.getvalue())


def test_json_has_every_figure_positive_and_finite(tiny_result):
    for key in REQUIRED:
        value = tiny_result[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, key
    assert tiny_result["device"] == "cpu" and tiny_result["model"] == "test_resnet"
    assert tiny_result["img_size"] == 64 and tiny_result["batch"] == 6
    assert tiny_result["torch"] == torch.__version__
    assert all(len(v) == 2 for v in tiny_result["timings_s"].values())
    assert "mfu_msl" not in tiny_result  # no peak on a CPU unless --peak-tflops names one
    # the default is the paper profiles' tf32, which a CPU computes in strict fp32 (and says so)
    assert tiny_result["precision"]["requested"] == "tf32"
    assert tiny_result["precision"]["computed"] == "fp32"


def test_ratios_are_computed_from_the_reported_timings(tiny_result):
    r, t, cpu = tiny_result, tiny_result["timings_s"], tiny_result["cpu_times_s"]
    # On a CPU the step ratios are paired round by round in rounds of their own, run with one
    # thread and timed in process CPU time (which other processes cannot stretch): the median
    # of msl_i / supervised_i, with the interquartile range of those ratios beside it.
    assert r["step_ratio_basis"] == "process CPU time, 1 thread(s), alternating rounds"
    for variant in ("msl", "fused_msl"):
        rounds = sorted(
            m / s for m, s in zip(cpu[f"{variant}_1thread"], cpu["supervised_1thread"], strict=True)
        )
        assert r[f"{variant}_step_ratio"] == pytest.approx(sum(rounds) / 2)  # median of two
        low, high = r["step_ratio_iqr"][variant]
        assert rounds[0] <= low <= r[f"{variant}_step_ratio"] <= high <= rounds[1]
    assert r["msl_step_s"] == pytest.approx(sum(t["msl"]) / 2)  # the process's threads
    passes = sorted((a + b) / a for a, b in zip(t["data_load"], t["data_mask"], strict=True))
    assert r["mask_overhead"] == pytest.approx(sum(passes) / 2) and r["mask_overhead"] > 1
    # Masked time per sample ÷ plain time per sample.
    assert r["mask_overhead"] == pytest.approx(r["data_plain_per_s"] / r["data_masked_per_s"])
    assert r["msl_images_per_s"] == pytest.approx(r["batch"] / r["msl_step_s"])
    assert r["msl_step_flops"] == 2 * r["supervised_step_flops"]
    assert set(r["targets_met"]) == set(TARGETS)


def test_text_output_names_each_figure_and_its_target(tiny_result):
    text = _table(tiny_result, TARGETS)
    assert "MSL / supervised" in text and "COCO val scale" in text
    assert "precision tf32 (computed as fp32)" in text
    assert text.count("≤ ") == len(TARGETS)
    low, high = tiny_result["step_ratio_iqr"]["msl"]
    assert text.splitlines()[-1] == (
        "step ratios: median of 2 per-round ratios (process CPU time, 1 thread(s), alternating "
        f"rounds); interquartile range msl {low:.3f}–{high:.3f}×, "
        + "fused_msl {:.3f}–{:.3f}×".format(*tiny_result["step_ratio_iqr"]["fused_msl"])
    )


def test_bad_flags_are_user_errors():
    with pytest.raises(UserError, match="--batch"):
        _perf(["--batch", "0"])
    with pytest.raises(UserError, match="no-such-net"):
        _perf(["--model", "no-such-net", "--device", "cpu", "--repeats", "1"])


def test_resnet101_step_flops_are_three_forward_passes():
    # ResNet-101 at 224 is 7.8 GMACs = 15.6 GFLOP forward; backward is about twice that.
    flops = step_flops(perf_spec("resnet101", 224, 2), ("supervised",))
    per_image = flops["supervised"] / 2
    assert 2.7 * 15.6e9 < per_image < 3.1 * 15.6e9


def test_peak_table_and_mfu():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA H200") == 989.0
    # MFU is read against the peak of the arithmetic that ran: TF32 at half bf16's rate
    assert peak_tflops("NVIDIA H100 80GB HBM3", "tf32") == 494.5
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "fp32") == 19.5
    assert peak_tflops("Some Future GPU") is None
    assert mfu(494.5e12, 1.0, 989.0) == pytest.approx(0.5)


def test_timing_alternates_variants_and_drops_warmup_rounds():
    """a b, then b a: neither variant always runs first while the machine's load drifts."""
    calls = []
    samples = interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        repeats=2,
        warmup=1,
        device=torch.device("cpu"),
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [len(s.wall) for s in samples.values()] == [2, 2]
    assert all(len(s.cpu) == 2 for s in samples.values())


def _msl_losses(backbone: str) -> tuple[float, float]:
    """Separate and fused MSL steps from the same weights, batch and masks."""
    spec = perf_spec(backbone, 32, 4)
    torch.manual_seed(0)
    trainer = build_trainer(spec, torch.device("cpu"))
    batch = random_batch(spec, torch.device("cpu"))
    keep = torch.rand(8, 32, 32, generator=generator(3)) > 0.5
    pool = MaskPool(keep, 1 - keep.float().mean(dim=(1, 2)), "test")
    separate = trainer.step("msl", batch, pool, generator(7))
    fused = trainer.step("fused_msl", batch, pool, generator(7))
    return separate, fused


def test_fused_and_separate_msl_steps_agree_without_batchnorm():
    separate, fused = _msl_losses("test_vit")  # LayerNorm only
    assert fused == pytest.approx(separate, rel=1e-5)


def test_fused_msl_differs_with_batchnorm():
    # BatchNorm normalises the clean and masked halves together when fused (docs/spec.md §1.1).
    separate, fused = _msl_losses("test_resnet")
    assert fused != pytest.approx(separate, rel=1e-4)


def test_the_data_pipeline_reads_the_training_split_as_a_run_does(tmp_path):
    """perf times the training set `fit` trains on, built by the same function: a run's
    `--skip-bad` (and cache folder) hold there too. perf's own copy once dropped both, so a
    corrupt image stopped the timing where the run would have skipped it."""
    from benchmark.data import build_dataset
    from benchmark.perf.pipeline import synthetic_voc, time_pipeline
    from benchmark.train.job_context import JobContext

    root = synthetic_voc(tmp_path / "voc2007", 6)
    bad = build_dataset("voc2007", root, "train", 32, train=False).files[1]
    Path(bad).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    spec = perf_spec("test_resnet", 32, 2)
    keep = torch.rand(4, 32, 32, generator=generator(3)) > 0.5
    pool = MaskPool(keep, 1 - keep.float().mean(dim=(1, 2)), "test")
    ctx = JobContext(results_dir=tmp_path, data_root=tmp_path, device="cpu", progress=False)
    with pytest.raises(UserError, match="cannot decode image"):
        time_pipeline(spec, ctx, pool, torch.device("cpu"), passes=1)
    ctx = JobContext(**{**ctx.__dict__, "skip_bad": True})
    samples, times = time_pipeline(spec, ctx, pool, torch.device("cpu"), passes=1)
    assert samples == 6 and len(times.load.wall) == 1
