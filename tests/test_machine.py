"""Provenance records what decides bit-identical reruns: the processor and torch's CPU kernels
(issue 19, item 1)."""

from __future__ import annotations

import torch

from benchmark.store.machine import KERNEL_FIELDS, same_kernels
from benchmark.store.results import provenance


def test_provenance_records_the_processor_and_the_kernel_choices(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    compute = provenance(0, "cpu")["compute"]
    assert compute["cpu_model"]
    assert compute["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert compute["threads"] == torch.get_num_threads()
    assert len(compute["torch_build"]) == 12
    assert compute["env"] == {"OMP_NUM_THREADS": "2"}
    assert set(KERNEL_FIELDS) <= set(compute)


def test_same_kernels_means_same_processor_instruction_set_threads_and_build():
    here = provenance(0, "cpu")["compute"]
    assert same_kernels(here, dict(here)) is True
    assert same_kernels(here, {**here, "cpu_capability": "AVX2"}) is False
    assert same_kernels(here, {**here, "threads": here["threads"] + 1}) is False
    assert same_kernels(here, {**here, "mkl": not here["mkl"]}) is True  # not a kernel choice
    assert same_kernels(here, None) is None  # results written before the record existed
