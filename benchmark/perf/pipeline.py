"""Data-pipeline throughput with and without MSL masking, through the suite's real code.

A synthetic VOC tree (JPEGs at VOC's typical 500-px side) is read through the suite's own
loader (``make_loader``) and training set (``build_train_set``, as ``fit`` builds it: the
train transform decodes, flips, crops with RandomResizedCrop and converts to a tensor) by one
worker: the main process, so decode, augment and mask run in sequence and every cost is
counted, none hidden by overlap with another process. Each batch is then masked as the
training loop does it: keep-maps drawn from the pre-sized cached pool and multiplied into the
batch on the device.

Loading and masking are timed batch by batch within the same pass, so the two parts of a
sample's cost are measured moments apart on the same images: a burst of load from another
process inflates both alike and leaves their ratio, the masking overhead, intact.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmark.data.masks import MaskPool
from benchmark.data.synthetic import synthesize
from benchmark.perf.timing import Samples, paired_ratio, synchronize
from benchmark.spec import RunSpec
from benchmark.train.inference import build_train_set, make_loader
from benchmark.train.job_context import JobContext
from benchmark.train.seeding import generator

VOC_SIDE = 500  # VOC2007 images are about 500×375
WORKERS = 0  # the main process is the one worker (see above)


def synthetic_voc(folder: Path, images: int, seed: int = 0) -> Path:
    """A VOC2007 tree in the official layout under ``folder``; returns its root."""
    return synthesize("voc2007", Path(folder), images, 1, VOC_SIDE, seed)


@dataclass
class PipelineTimes:
    """Per timed pass: seconds delivering the batches (load) and seconds masking them (mask)."""

    load: Samples = field(default_factory=Samples)
    mask: Samples = field(default_factory=Samples)

    @property
    def plain_s(self) -> float:
        """Median seconds per pass without masking."""
        return float(statistics.median(self.load.wall))

    def overhead(self, cpu: bool = False) -> float:
        """Masked ÷ plain time, pass by pass (each pass's load plus its own mask time), median.

        ``cpu``: in process CPU time, a cross-check of the wall-clock ratio.
        """
        load, mask = (self.load.cpu, self.mask.cpu) if cpu else (self.load.wall, self.mask.wall)
        return paired_ratio(_sums(load, mask), load)


def _sums(a: list[float], b: list[float]) -> list[float]:
    return [x + y for x, y in zip(a, b, strict=True)]


def time_pipeline(
    spec: RunSpec,
    ctx: JobContext,
    pool: MaskPool,
    device: torch.device,
    passes: int,
    warmup: int = 1,
) -> tuple[int, PipelineTimes]:
    """(samples per pass, times of ``passes`` passes over the run's training split, read from
    ``ctx``'s data root, after ``warmup`` passes)."""
    dataset = build_train_set(spec, ctx)
    loader = make_loader(dataset, spec.batch_size, ctx, True, 0)
    mask_gen = generator(1)
    times = PipelineTimes()
    for index in range(warmup + passes):
        load_wall = load_cpu = mask_wall = mask_cpu = 0.0
        batches = iter(loader)
        while True:
            t0, c0 = time.perf_counter(), time.process_time()
            batch = next(batches, None)
            if batch is None:
                break
            images = batch[0].to(device, non_blocking=True)
            synchronize(device)
            t1, c1 = time.perf_counter(), time.process_time()
            keep = pool.sample(len(images), mask_gen).to(device, non_blocking=True)
            images = images * keep
            synchronize(device)
            t2, c2 = time.perf_counter(), time.process_time()
            load_wall, load_cpu = load_wall + t1 - t0, load_cpu + c1 - c0
            mask_wall, mask_cpu = mask_wall + t2 - t1, mask_cpu + c2 - c1
        if index >= warmup:
            times.load.wall.append(load_wall)
            times.load.cpu.append(load_cpu)
            times.mask.wall.append(mask_wall)
            times.mask.cpu.append(mask_cpu)
    return len(dataset), times
