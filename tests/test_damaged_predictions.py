"""A damaged predictions file (deleted, truncated, replaced or edited) is found, named and
isolated (issue 24): the store tells which listed file is not what its result recorded, and a
claim reading it is marked *damaged* with the command that redoes it while every other claim
is measured as usual. (The whole path through `check`, `status`, `run` and `report` on a real
training: tests/hardening/test_damaged_results.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_claim_seed_limits import RESNET, VIT, fill, spec_of

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import MeasureOptions, measure_claims
from benchmark.cli import main
from benchmark.experiment.registry import load_registry
from benchmark.store.predictions import Damage, listed_damage
from benchmark.store.results import load_result

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def registry():
    return load_registry(REPO / "experiments")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _edit(path: Path) -> None:
    """One byte flipped in the middle: same size, still a zip directory at the end."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def folder(tmp_path, registry):
    """Both Table 2 claims at seeds 0 and 1."""
    fill(tmp_path, registry, (RESNET, VIT), (0, 1), np.random.default_rng(3))
    return tmp_path


def _best(folder: Path, registry, cell: str, seed: int) -> tuple[Path, dict]:
    loaded = load_result(folder, spec_of(registry, cell, seed).hash)
    return loaded.path.parent / "predictions" / "best.npz", loaded.data


@pytest.mark.parametrize(
    "damage, quick_finds, problem",
    [
        (Path.unlink, True, "missing"),
        (_truncate, True, "truncated or replaced: not a zip archive"),
        (_edit, False, "changed: its sha256 is not the one its result recorded"),
    ],
    ids=["deleted", "truncated", "edited"],
)
def test_the_store_names_the_damaged_file(folder, registry, damage, quick_finds, problem):
    path, result = _best(folder, registry, registry.select("t2.*")[0].id, 0)
    assert listed_damage(path.parents[1], result) == ()
    damage(path)
    expected = (Damage("predictions/best.npz", problem),)
    assert listed_damage(path.parents[1], result, thorough=True) == expected
    # the quick check (status) reads a file's zip directory only: no edit inside it
    assert listed_damage(path.parents[1], result, thorough=False) == (
        expected if quick_finds else ()
    )


def test_absent_per_epoch_predictions_are_no_damage(folder, registry):
    """epoch_* files are kept only where cheap and never committed (.gitignore)."""
    path, result = _best(folder, registry, registry.select("t2.*")[0].id, 0)
    listed = {**result["predictions"], "epoch_3": {"file": "predictions/epoch_3.npz",
                                                  "sha256": "0" * 64}}  # fmt: skip
    assert listed_damage(path.parents[1], {**result, "predictions": listed}) == ()


def test_a_damaged_file_marks_only_the_claims_that_read_it(folder, registry, capsys):
    claims = [c for c in load_claims(registry) if c.id in (RESNET, VIT)]
    vit_baseline = next(c for c in claims if c.id == VIT).b.cell
    path, _ = _best(folder, registry, vit_baseline, 1)
    _truncate(path)
    options = MeasureOptions("smoke", seeds=(0, 1), resamples=50)
    measured = {r.claim.id: r for r in measure_claims(registry, claims, folder, options)}
    assert measured[RESNET].status == "measured" and measured[RESNET].seeds == (0, 1)
    damaged = measured[VIT]
    where = f"{path.parents[1].name}/predictions/best.npz"
    command = f"benchmark run claims:{VIT} --profile smoke --seeds 1 --results-dir {folder}"
    assert damaged.status == "damaged" and damaged.verdict is None and damaged.low is None
    assert damaged.damaged == (where,) and damaged.repair == command
    assert damaged.verdict_cell == f"damaged: {where} — repair: `{command}`"
    assert f"seed 1: {vit_baseline}: {where}: truncated" in damaged.reason
    # the command line: every claim rendered, the damaged one saying so in its row
    base = ["claims", "t2.*", "--profile", "smoke", "--results-dir", str(folder)]
    capsys.readouterr()
    assert main([*base, "--seeds", "0,1", "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(VIT))
    assert f"damaged: {where} — repair: `{command}`" in row
    assert main([*base, "--seeds", "0,1", "--resamples", "50", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[VIT]["status"] == "damaged" and rows[VIT]["repair"] == command
    assert rows[RESNET]["status"] == "measured" and rows[RESNET]["ci95"] is not None


def test_check_verifies_every_predictions_file(folder, registry, capsys):
    capsys.readouterr()
    assert main(["check", "--profile", "smoke", "--results-dir", str(folder)]) == 0
    assert "8 predictions file(s) present match" in capsys.readouterr().out
    path, _ = _best(folder, registry, registry.select("t2.*")[0].id, 1)
    _edit(path)
    assert main(["check", "--profile", "smoke", "--results-dir", str(folder)]) == 1
    out = capsys.readouterr().out
    (bad,) = [line for line in out.splitlines() if line.startswith("BAD")]
    assert bad.startswith(f"BAD {path}: changed: its sha256") and "1 bad" in out
