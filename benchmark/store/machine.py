"""What a number depends on below the Python code: the processor and torch's kernel choices.

The same code, seed and torch build give bit-identical results on the same machine, but not
across processors: torch dispatches its CPU kernels by instruction set (AVX-512 or AVX2, see
`torch.backends.cpu.get_cpu_capability()`), oneDNN picks convolution algorithms per processor,
and the thread count changes the order of floating-point reductions. Every result records these
so that `benchmark compare` can say whether two results ran under the same kernels
(docs/mini.md, "Reproducibility").
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

# Environment variables that change which kernels run or how work is split.
KERNEL_ENV = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA", "MKL_CBWR", "CUBLAS_WORKSPACE_CONFIG",
)  # fmt: skip
# The fields that decide whether two results ran the same kernels (same → bit-identical).
KERNEL_FIELDS = ("cpu_model", "cpu_capability", "threads", "torch_build", "env")


def cpu_model() -> str:
    """The processor's marketing name (/proc/cpuinfo on Linux, else what platform says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compute_environment() -> dict[str, Any]:
    """The processor, torch's CPU kernel choices and its build, as recorded in provenance."""
    import torch  # only when recording provenance: light verbs import this module

    build = torch.__config__.show()
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled),
        "mkl": torch.backends.mkl.is_available(),
        "openmp": torch.backends.openmp.is_available(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        # the whole build configuration (compiler, MKL and oneDNN versions, flags), hashed
        "torch_build": hashlib.sha256(build.encode()).hexdigest()[:12],
        "env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
    }
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["cudnn_benchmark"] = torch.backends.cudnn.benchmark
        info["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        info["tf32_cudnn"] = torch.backends.cudnn.allow_tf32
    return info


def same_kernels(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool | None:
    """Whether two recorded environments ran the same CPU kernels; None when either result
    predates the record."""
    if not a or not b:
        return None
    return all(a.get(k) == b.get(k) for k in KERNEL_FIELDS)
