"""Where a run reads its inputs and writes its outputs, and on what device.

Kept apart from RunSpec on purpose: moving data or weights to another folder must not change a
run's identity.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.data.synthetic import synthesize
from benchmark.errors import DataError
from benchmark.spec import RunSpec

DATASET_FOLDERS = {"voc2007": "voc2007", "coco2014": "coco2014", "wider": "wider"}


@dataclass(frozen=True)
class JobContext:
    results_dir: Path
    data_root: Path | None = None  # holds voc2007/, coco2014/, wider/ (or the official trees)
    weights_root: Path | None = None
    masks_root: Path | None = None
    cache_dir: Path | None = None  # synthetic trees, mask pools, annotation parses (--cache-dir)
    device: str = "auto"
    num_workers: int = 0
    skip_bad: bool = False
    progress: bool = True
    sync_bn: bool = False  # SyncBatchNorm across processes under torchrun
    # torch.compile mode (benchmark.train.graphs): auto = CUDA graphs on CUDA, none elsewhere;
    # none = eager. Speed only, so not part of the identity; the result records what ran.
    compile_mode: str | None = "auto"

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def masks_for(self, mask_source: str | None) -> str | Path:
        """The masks behind a spec's ``mask_source`` (a name: nvidia | procedural), as
        benchmark.data.masks.load_pool takes them: the NVIDIA folder, or "procedural"."""
        if mask_source == "nvidia":
            if self.masks_root is None:
                raise ValueError("mask_source nvidia needs --masks-root")
            return self.masks_root
        return "procedural"

    def dataset_root(self, spec: RunSpec) -> Path:
        """The real dataset's folder, or the synthetic tree for this spec (written once)."""
        if spec.synth is None:
            if self.data_root is None:
                raise DataError(
                    f"no --data-root given for {spec.dataset} (the paper profile reads the real "
                    f"dataset; --profile smoke runs on synthetic data without it)"
                )
            candidate = Path(self.data_root) / DATASET_FOLDERS[spec.dataset]
            return candidate if candidate.exists() else Path(self.data_root)
        if self.cache_dir is None:
            raise ValueError("a synthetic dataset needs a cache folder (JobContext.cache_dir)")
        return synthetic_tree(spec, self.cache_dir)


def synthetic_tree(spec: RunSpec, cache_dir: Path) -> Path:
    synth = spec.synth
    name = (
        f"{spec.dataset}-n{synth.train_images}-t{synth.test_images}-s{synth.image_size}"
        f"-seed{synth.seed}"
    )
    if synth.object_area is not None:
        name += "-area{:g}-{:g}".format(*synth.object_area)
    final = Path(cache_dir) / "synthetic" / name
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place, so a concurrent or killed writer leaves no half tree.
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{name}."))
    try:
        synthesize(
            spec.dataset,
            tmp,
            synth.train_images,
            synth.test_images,
            synth.image_size,
            synth.seed,
            workers=os.cpu_count() or 1,  # used only for large trees (paper-synth)
            object_area=synth.object_area,
        )
        os.replace(tmp, final)
    except OSError:
        if not final.exists():
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def device_name(device: torch.device) -> str:
    """What a result records as its device: the GPU's name, or the CPU's and its threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
