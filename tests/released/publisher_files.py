"""Files in the publishers' layout, written by tests from a manifest or from a suite model
(the writer is the package's, which `scripts/gpu-check` uses too)."""

from __future__ import annotations

from pathlib import Path

from benchmark.perf.release_file import manifest_state, save_bare

REGISTRY = Path(__file__).resolve().parents[2] / "experiments"

__all__ = ["REGISTRY", "manifest_state", "save_bare"]
