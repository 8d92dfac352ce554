"""Every file the suite writes for later runs goes through one atomic writer that fsyncs:
results, checkpoints, cache entries, reports. A copy that skipped the fsync (or wrote in place)
could leave a torn file after a power cut."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data.cache import save_arrays
from benchmark.store.results import atomic_write_bytes, atomic_write_json
from benchmark.train import checkpoint


@pytest.mark.parametrize(
    "write",
    [
        lambda path: atomic_write_bytes(path, b"x"),
        lambda path: atomic_write_json(path, {"x": 1}),
        lambda path: save_arrays(path, {"x": np.arange(3)}),
        lambda path: checkpoint.save(path, {"model": {"w": torch.zeros(2)}}),
    ],
    ids=["bytes", "json", "cache entry", "checkpoint"],
)
def test_writes_are_fsynced_then_renamed_into_place(tmp_path: Path, monkeypatch, write) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    target = tmp_path / "sub" / "file.bin"
    write(target)
    assert events == ["fsync", "replace"]
    assert target.is_file() and not list(target.parent.glob(".*.tmp"))
