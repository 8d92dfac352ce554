"""What a planned run costs: its training compute, counted, and its time, from measured rates.

Compute: images × epochs × one training step per image (forward + backward ≈ 3 × the counted
forward MACs; MSL runs two forward passes per image). Time, two ways:

- **CPU**: the committed mini results were made on the 2-core development VM; a run with a
  finished result of the same name there uses its own measured throughput; any other run the
  VM's effective rate over those results (MACs per second of training), which is a floor, not
  a promise, for large backbones (small models use a CPU less efficiently).
- **GPU**: the `benchmark perf` figures recorded in docs/measurements (H100, batch 6, the
  paper's, eager), through the suite's one GPU-time model, `benchmark.perf.projection` (the
  one `scripts/gpu-check` projects the whole suite with): a measured model uses its rate, any
  other the rate of its backbone family's measured model scaled by counted MACs. Figures are
  kept per precision; a run uses those of its own precision where there are some, else the
  others' — and the estimate says which it assumed (``gpu_assumes``).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from benchmark.experiment.profiles import PAPER_COUNTS
from benchmark.models.macs import forward_gmacs
from benchmark.perf.projection import Throughput, project
from benchmark.spec import RunSpec
from benchmark.store.results import iter_result_files, read_result

REPO = Path(__file__).resolve().parents[2]
CPU_RESULTS = REPO / "results" / "mini"  # made on the 2-core development VM
GPU_MEASUREMENTS = REPO / "docs" / "measurements"
# Before precision was recorded (issue 23), every CUDA measurement ran under bf16 autocast.
UNRECORDED_GPU_PRECISION = "bf16"
PAPER_TRAIN_IMAGES = {name: counts[0] for name, counts in PAPER_COUNTS.items()}
STEP_PER_FORWARD = 3  # forward + backward ≈ 3 forwards


def train_images(spec: RunSpec) -> int:
    """Images a run trains on per epoch: its set less the held-out validation share."""
    total = spec.synth.train_images if spec.synth else PAPER_TRAIN_IMAGES[spec.dataset]
    return total - round(total * spec.val_fraction)


def step_gmacs(spec: RunSpec) -> float:
    """One training step of one image, in GMACs."""
    return forward_gmacs(spec) * STEP_PER_FORWARD * (2 if spec.method == "msl" else 1)


@dataclass(frozen=True)
class RunCost:
    """What one planned training costs: its compute, counted, and its time, from measured rates."""

    samples: int  # training images over every epoch
    tmacs: float
    cpu_seconds: float | None  # on the 2-core CPU VM; None without a measured rate
    gpu_seconds: float | None  # on the measured GPU; None without figures of its family
    gpu_precision: str | None  # the precision of the GPU figures that time it (gpu_assumes)


class Rates:
    """Measured training rates, read once: per run name on the CPU VM, per backbone on a GPU."""

    def __init__(self, cpu_results: Path = CPU_RESULTS, gpu: Path = GPU_MEASUREMENTS):
        self.cpu_by_name: dict[str, float] = {}  # run name → training samples per second
        cpu_rates = []
        for path in iter_result_files(cpu_results):
            data = read_result(path, path.parent.name).data
            if not data or data.get("kind") != "train" or data.get("status") != "done":
                continue
            spec = RunSpec.from_dict(data["spec"])
            per_s = float(data["train_samples_per_s"])
            self.cpu_by_name[spec.name] = per_s
            cpu_rates.append(per_s * step_gmacs(spec))  # GMAC/s
        self.cpu_gmacs_per_s = statistics.median(cpu_rates) if cpu_rates else None
        # precision → one run alone, batch 6, eager
        self.gpu_measured: dict[str, list[Throughput]] = {}
        self.gpu_name = None
        for path in sorted(Path(gpu).glob("*.json")):
            data = json.loads(path.read_text())
            if data.get("batch") != 6 or data.get("compile"):
                continue
            self.gpu_name = data.get("device_name")
            key = (data["model"], "csra", data["img_size"])  # perf times ResNet/ViT + CSRA
            precision = (data.get("precision") or {}).get("computed", UNRECORDED_GPU_PRECISION)
            self.gpu_measured.setdefault(precision, []).append(
                Throughput(
                    key,
                    msl=data["msl_images_per_s"],
                    supervised=data["supervised_images_per_s"],
                    eval=data["eval_images_per_s"],
                    precision=precision,
                )
            )

    def cost(self, spec: RunSpec) -> RunCost:
        """The run's training compute, counted once, and its times from the measured rates."""
        samples = train_images(spec) * spec.epochs
        tmacs = samples * step_gmacs(spec) / 1000
        if spec.name in self.cpu_by_name and spec.synth is not None:
            cpu = samples / self.cpu_by_name[spec.name]
        else:
            cpu = None if self.cpu_gmacs_per_s is None else tmacs * 1000 / self.cpu_gmacs_per_s
        precision = self.gpu_assumes(spec)
        gpu = None if precision is None else self._gpu_seconds(spec, precision)
        return RunCost(samples, tmacs, cpu, gpu, precision)

    def gpu_assumes(self, spec: RunSpec) -> str | None:
        """The precision whose GPU figures time ``spec``: its own when measured, else the
        first measured (an assumption the estimate states), None without figures."""
        if spec.precision in self.gpu_measured:
            return spec.precision
        return next(iter(sorted(self.gpu_measured)), None)

    def _gpu_seconds(self, spec: RunSpec, precision: str) -> float | None:
        """Training time on the measured GPU (evaluations not included), or None."""
        counts = {spec.dataset: (train_images(spec), 0)}
        try:
            row = project([spec], [], self.gpu_measured[precision], counts=counts)["runs"][0]
        except ValueError:  # no measured model of its backbone family
            return None
        return row["train_hours"] * 3600


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 100 else f"{hours:,.0f} h"
