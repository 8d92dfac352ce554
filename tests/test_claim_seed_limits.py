"""A verdict never outruns its seeds (issue 24): with one seed a claim is *one seed* (image noise
only), a claim measured on fewer seeds than asked — or than the other claims of its table —
says so in its verdict cell, in `benchmark claims` (table and --json) and in claims.csv; a
repeated or negative seed is refused."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmark.claims.claim_registry import load_claims
from benchmark.claims.measurement import MeasureOptions, measure_claims
from benchmark.cli import main
from benchmark.experiment.plan import PlanOptions
from benchmark.experiment.profiles import resolve_run
from benchmark.experiment.registry import load_registry
from benchmark.report.formats import render_claims_csv
from benchmark.store.predictions import Predictions, predictions_path, save_predictions
from benchmark.store.results import job_dir, write_result

REPO = Path(__file__).resolve().parents[1]
RESNET, VIT = "t2.resnet-cut.voc2007", "t2.vit.voc2007"  # one table: a group


@pytest.fixture(scope="module")
def registry():
    return load_registry(REPO / "experiments")


def write_train_result(folder: Path, spec, preds: Predictions) -> None:
    """A finished smoke training whose content is what claims read: its best predictions."""
    path = predictions_path(folder / spec.hash, "best")
    listed = {"best": {"file": "predictions/best.npz", "sha256": save_predictions(path, preds)}}
    write_result(
        folder,
        {"kind": "train", "hash": spec.hash, "name": spec.name, "status": "done",
         "profile": "smoke", "spec": spec.to_dict(), "predictions": listed,
         "provenance": {"seed": spec.seed}},
    )  # fmt: skip


def fill(folder: Path, registry, claim_ids, seeds, rng) -> None:
    """Both sides of each claim at each seed: side a clearly better, seeds disagreeing."""
    claims = {c.id: c for c in load_claims(registry)}
    targets = (rng.random((300, 20)) < 0.2).astype(np.int8)
    targets[:20] = np.eye(20, dtype=np.int8)
    shared = rng.standard_normal(targets.shape)
    ids = [f"JPEGImages/{i:05d}.jpg" for i in range(300)]
    for claim_id in claim_ids:
        claim = claims[claim_id]
        for seed in seeds:
            for cell, skill in ((claim.a.cell, 2.4), (claim.b.cell, 1.6)):
                run = registry.cell(cell).run
                spec = resolve_run(registry, run, "smoke", seed=seed, mask_source="procedural")
                logits = (skill + 0.3 * rng.standard_normal()) * (targets == 1) + shared
                probs = 1 / (1 + np.exp(-(logits + 0.2 * rng.standard_normal(targets.shape))))
                write_train_result(folder, spec, Predictions.build(probs, ids, targets))


def spec_of(registry, cell: str, seed: int):
    run = registry.cell(cell).run
    return resolve_run(registry, run, "smoke", seed=seed, mask_source="procedural")


@pytest.fixture
def three_seeds(tmp_path, registry):
    """Both Table 2 claims at seeds 0–2, then seed 2 of ViT's MSL side deleted."""
    fill(tmp_path, registry, (RESNET, VIT), (0, 1, 2), np.random.default_rng(0))
    vit_msl = {c.id: c for c in load_claims(registry)}[VIT].a.cell
    (job_dir(tmp_path, spec_of(registry, vit_msl, 2).hash) / "result.json").unlink()
    return tmp_path


def test_one_seed_is_no_verdict_whatever_the_interval_says(tmp_path, registry):
    fill(tmp_path, registry, (RESNET,), (0,), np.random.default_rng(1))
    claim = [c for c in load_claims(registry) if c.id == RESNET]
    (result,) = measure_claims(registry, claim, tmp_path, MeasureOptions("smoke", resamples=100))
    assert result.low > 0  # the interval alone would say "supported"
    assert result.verdict == "one seed" and result.interval_verdict == "supported"
    assert result.consistent is None  # an image-noise interval cannot test the paper's number
    assert result.verdict_cell == "one seed; image noise only"


def test_a_seed_missing_on_one_side_is_said_in_the_verdict_cell(three_seeds, registry):
    claims = [c for c in load_claims(registry) if c.id in (RESNET, VIT)]
    asked = MeasureOptions("smoke", seeds=(0, 1, 2), resamples=100)
    held = MeasureOptions("smoke", seeds=(0, 1, 2), resamples=100, held_seeds=True)
    for options in (asked, held):  # --seeds 0,1,2, and the seeds the results hold
        measured = {r.claim.id: r for r in measure_claims(registry, claims, three_seeds, options)}
        full, short = measured[RESNET], measured[VIT]
        assert full.seeds == (0, 1, 2) and full.seed_note == ""
        assert short.seeds == (0, 1) and short.expected_seeds == 3
        assert short.verdict_cell.endswith("; 2 of 3 seeds"), short.verdict_cell
        assert not full.verdict_cell.endswith("seeds")


def test_seeds_read_from_the_results_expect_what_the_group_has(tmp_path, registry):
    """mini runs Tables 1–3 at seed 0 only: a one-seed table is not 'short' of the others'."""
    fill(tmp_path, registry, (RESNET, VIT), (0,), np.random.default_rng(2))
    claims = [c for c in load_claims(registry) if c.id in (RESNET, VIT)]
    options = MeasureOptions("smoke", seeds=(0, 1, 2), resamples=50, held_seeds=True)
    for result in measure_claims(registry, claims, tmp_path, options):
        assert result.expected_seeds == 1
        assert result.verdict_cell == "one seed; image noise only"


def test_benchmark_claims_and_claims_csv_carry_the_seed_limits(three_seeds, registry, capsys):
    base = ["claims", "t2.*", "--profile", "smoke", "--results-dir", str(three_seeds)]
    capsys.readouterr()
    assert main([*base, "--resamples", "50", "--json"]) == 0  # seeds: those the results hold
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[VIT]["seeds"] == [0, 1] and rows[VIT]["expected_seeds"] == 3
    assert rows[VIT]["seed_note"] == "2 of 3 seeds"
    assert rows[VIT]["verdict_text"].endswith("; 2 of 3 seeds")
    assert main([*base, "--resamples", "50", "--seeds", "0"]) == 0
    table = capsys.readouterr().out
    line = next(line for line in table.splitlines() if line.startswith(VIT))
    assert "one seed; image noise only" in line  # in the row, not a footnote
    options = MeasureOptions("smoke", seeds=(0, 1, 2), resamples=50)
    claims = [c for c in load_claims(registry) if c.id in (RESNET, VIT)]
    results = measure_claims(registry, claims, three_seeds, options)
    text = render_claims_csv(SimpleNamespace(claims=results))
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["id"] == VIT)
    assert row["seed_note"] == "2 of 3 seeds" and row["verdict_text"].endswith("2 of 3 seeds")


@pytest.mark.parametrize("seeds", [(0, 0, 0), (1, 0, 1), (-1,), ()])
def test_repeated_or_negative_seeds_are_refused(seeds):
    with pytest.raises(ValueError, match="seed"):
        PlanOptions("smoke", seeds)
    with pytest.raises(ValueError, match="seed"):
        MeasureOptions("smoke", seeds)


@pytest.mark.parametrize("text", ["0,0,0", "-1", "2,1,2"])
def test_the_command_line_refuses_them_in_one_line(text, tmp_path, capsys):
    capsys.readouterr()
    code = main(["claims", "--profile", "smoke", "--results-dir", str(tmp_path), "--seeds", text])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--seeds" in err, err
