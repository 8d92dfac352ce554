"""CUDA graphs by default on CUDA, eager fallback that says why, static shapes (CPU-testable:
a recording backend stands in for inductor, a failing one for a broken compiler)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import pytest
import torch

import benchmark.train.graphs as graphs
import benchmark.train.inference as inference
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.spec import SynthSpec
from benchmark.train.job_context import JobContext
from benchmark.train.loop import fit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec():
    """An MSL smoke run on 8 train / 7 test images: batches of 6 + 2 and 6 + 1."""
    registry = load_registry(REPO / "experiments")
    spec = resolve_run(
        registry, "voc-resnetcut-csra-msl-high", "smoke", epochs=1, mask_source="procedural"
    )
    return dataclasses.replace(spec, synth=SynthSpec(8, 7, 96, seed=0))


def _fit(spec, folder: Path, mode: str) -> dict:
    ctx = JobContext(
        results_dir=folder, cache_dir=folder.parent / "cache", progress=False, compile_mode=mode
    )
    return fit(spec, ctx, folder / "run")


@pytest.fixture(scope="module")
def fallback(spec, tmp_path_factory):
    """A run whose compiler fails at once: it falls back, and trains eagerly from step one."""

    def broken(gm, example_inputs):
        raise RuntimeError("no C++ compiler on this machine")

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(inference, "compile_in_place", lambda m, mode: m.compile(backend=broken))
        body = _fit(spec, tmp_path_factory.mktemp("fallback"), "default")
    return {**body, "printed": printed.getvalue()}


def _numbers(body: dict) -> list:
    return [(row["loss"], row["mAP"]) for row in body["history"]]


def test_full_batches_run_compiled_partial_ones_eagerly_with_the_same_numbers(
    spec, fallback, tmp_path, monkeypatch
):
    batches = []  # the batch size of every image input a graph was compiled for

    def recording(gm, example_inputs):
        batches.extend(
            t.shape[0] for t in example_inputs if torch.is_tensor(t) and t.shape[1:] == (3, 64, 64)
        )
        return gm.forward

    monkeypatch.setattr(inference, "compile_in_place", lambda m, mode: m.compile(backend=recording))
    body = _fit(spec, tmp_path, "default")
    assert body["compile"] == "default" and body["compile_fallback"] is None
    assert batches and set(batches) == {6}  # no graph for the last 2 train / 1 test images
    assert _numbers(body) == _numbers(fallback)  # the compiled path computes eager's numbers


def test_a_compile_failure_falls_back_to_eager_and_says_why(fallback):
    why = (
        "BackendCompilerFailed on the first compiled train call: "
        "RuntimeError: no C++ compiler on this machine"
    )
    assert fallback["compile"] == "none" and fallback["compile_fallback"] == why
    assert f"compile: running eagerly ({why})" in fallback["printed"]


def test_auto_means_cuda_graphs_on_cuda_and_eager_on_cpu():
    assert graphs.resolve_mode("auto", torch.device("cuda")) == "reduce-overhead"
    assert graphs.resolve_mode("auto", torch.device("cpu")) is None
    assert graphs.resolve_mode("none", torch.device("cuda")) is None
    assert graphs.resolve_mode("max-autotune", torch.device("cpu")) == "max-autotune"
    assert JobContext(results_dir=Path(".")).compile_mode == "auto"
