"""Flags and files resolved once (issue 25, deliverable 2): a verb reads its results folder once
to learn its profile and seeds, and `benchmark run` reads each result file of its plan once to
decide what to do, and once more for the summary it prints after running."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import benchmark.store.results as store
from benchmark.cli import build_parser, main
from benchmark.cli.claims import ClaimsSettings
from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.registry import load_registry

REPO = Path(__file__).resolve().parents[2]


def test_the_results_folder_is_read_once_for_its_profile_seeds_and_notes(
    tmp_path, monkeypatch, capsys
):
    """`claims` with neither --profile nor --seeds: the profile, the seeds the folder holds and
    the note about another profile's results all come from one pass over the folder."""
    folder = tmp_path / "results"
    (folder / "abc").mkdir(parents=True)
    (folder / "abc" / "result.json").write_text(
        '{"profile": "smoke", "status": "done", "provenance": {"seed": 2}}'
    )
    passes = []
    real = store.iter_result_files
    monkeypatch.setattr(store, "iter_result_files", lambda d: passes.append(d) or real(d))
    args = build_parser().parse_args(["claims", "t6.*", "--results-dir", str(folder)])
    results = ClaimsSettings.from_args(args).results
    assert "profile smoke: inferred from the results" in capsys.readouterr().err
    assert results.profile == "smoke" and results.plan.seeds == (2,)
    assert passes == [folder]


def test_run_reads_each_result_once_to_plan_its_work_and_once_for_its_summary(
    tmp_path, monkeypatch, capsys
):
    """Stale, damaged (by sha256), done for the pre-flight, done for launching: one read of each
    result file answers them all; the summary after running reads them again, once."""
    registry = load_registry(REPO / "experiments")
    plan = build_plan(registry, registry.select("t6.*"), PlanOptions("mini"))
    hashes = {*plan.runs, *plan.evals}
    folder = tmp_path / "results"
    for spec_hash in hashes:  # the committed mini results: every one of them done
        shutil.copytree(REPO / "results" / "mini" / spec_hash, folder / spec_hash)
    reads: Counter[str] = Counter()
    real = store.read_result

    def counted(path, expected_hash=None):
        reads[Path(path).parent.name] += 1
        return real(path, expected_hash)

    monkeypatch.setattr(store, "read_result", counted)
    argv = ["run", "t6.*", "--profile", "mini", "--results-dir", str(folder), "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{len(hashes)} of {len(hashes)} job(s) already done: not launched" in out
    assert set(reads) == hashes and set(reads.values()) == {2}, reads
