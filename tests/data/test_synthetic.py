"""Synthetic trees are a pure function of their arguments, and refuse to clobber real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.data.synthetic import synthesize
from benchmark.errors import UserError


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["voc2007", "coco2014", "wider"])
def test_same_seed_same_bytes(tmp_path: Path, name: str) -> None:
    a = _tree(synthesize(name, tmp_path / "a", 12, 6, 48, seed=1))
    b = _tree(synthesize(name, tmp_path / "b", 12, 6, 48, seed=1))
    assert a == b and len(a) > 12
    c = _tree(synthesize(name, tmp_path / "c", 12, 6, 48, seed=2))
    assert a != c
    # Rewriting over a previous synthetic tree replaces it.
    again = _tree(synthesize(name, tmp_path / "c", 12, 6, 48, seed=1))
    assert again == a


def test_refuses_a_non_synthetic_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "keep.txt").write_text("user data")
    with pytest.raises(UserError, match="not empty and holds no SYNTHETIC.json"):
        synthesize("voc2007", tmp_path / "real", 2, 2, 32, seed=0)
    with pytest.raises(UserError, match="--images: must be at least 1"):
        synthesize("voc2007", tmp_path / "x", 0, 2, 32, seed=0)


def test_worker_processes_write_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    import benchmark.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "PARALLEL_MIN", 1)  # split even a tiny tree over workers
    for name in ("voc2007", "coco2014", "wider"):
        serial = _tree(synthesize(name, tmp_path / f"{name}-1", 10, 3, 48, seed=3))
        parallel = _tree(synthesize(name, tmp_path / f"{name}-2", 10, 3, 48, seed=3, workers=2))
        assert parallel == serial
