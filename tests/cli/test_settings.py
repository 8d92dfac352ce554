"""Flags resolved once (issue 25, deliverable 2): each verb turns its arguments into one frozen
settings object at the edge, checked there, and nothing below `benchmark.cli` reads argparse;
seeds are distinct and 0 or more, loader workers 0 or more (issue 24, items 2 and 10)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from benchmark.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "benchmark"
# The verbs over a results folder: their handler reads its arguments in one place only.
SETTINGS_VERBS = ("list", "status", "check", "claims", "report", "compare", "run", "evaluate")


def _error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_nothing_below_cli_reads_argparse():
    """No module outside benchmark/cli takes or builds an argparse.Namespace (gpu-check's own
    script entry point, benchmark.perf.gpucheck.main, parses its three flags itself)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "cli") or path == PACKAGE / "perf" / "gpucheck.py":
            continue
        text = path.read_text()
        if "argparse" in text or "Namespace" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


@pytest.mark.parametrize("verb", SETTINGS_VERBS)
def test_a_verbs_handler_reads_its_arguments_only_to_resolve_them(verb):
    """`cmd_<verb>(args)`'s first statement is `s = <Verb>Settings.from_args(args)`; no other
    statement of it reads `args`, so every flag is checked before any work and resolved once."""
    module = "list" if verb == "list" else verb
    tree = ast.parse((PACKAGE / "cli" / f"{module}.py").read_text())
    handler = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == f"cmd_{verb}"
    )
    first, *rest = handler.body
    assert isinstance(first, ast.Assign) and ast.unparse(first.value).endswith(".from_args(args)")
    reads = [
        n for stmt in rest for n in ast.walk(stmt) if isinstance(n, ast.Name) and n.id == "args"
    ]
    assert reads == [], f"cmd_{verb} reads args after resolving it"


def test_settings_are_frozen_and_resolved(tmp_path, monkeypatch):
    from benchmark.cli.run import RunSettings

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["run", "t4.*", "--profile", "smoke", "--seeds", "2,0", "--epochs", "3", "--device", "cpu"]
    )
    s = RunSettings.from_args(args)
    assert s.results.folder == Path("results/smoke") and s.job.results_dir == s.results.folder
    assert s.results.plan.seeds == (2, 0) and s.results.plan.epochs == 3
    assert s.job.num_workers == 0 and s.job.device == "cpu"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.results = None  # type: ignore[misc]
    assert args.profile == "smoke"  # resolving wrote nothing back into the arguments


def test_the_inferred_profile_is_not_written_back_into_the_arguments(tmp_path, capsys):
    from benchmark.cli.settings import ReadingSettings

    folder = tmp_path / "results"
    (folder / "abc").mkdir(parents=True)
    (folder / "abc" / "result.json").write_text('{"profile": "smoke"}')
    args = build_parser().parse_args(["status", "--results-dir", str(folder)])
    s = ReadingSettings.from_args(args)
    assert s.results.profile == "smoke" and args.profile is None
    assert "profile smoke: inferred from the results in" in capsys.readouterr().err


@pytest.mark.parametrize(
    "seeds,says",
    [
        ("0,0,0", "--seeds 0,0,0: seed 0 given more than once"),
        ("0,1,1", "--seeds 0,1,1: seed 1 given more than once"),
        ("-1", "--seeds -1: seeds are whole numbers ≥ 0, got -1"),
        ("0,x", "--seeds: expected comma-separated integers, got '0,x'"),
    ],
)
@pytest.mark.parametrize("verb", ["run", "status", "claims", "report"])
def test_repeated_or_negative_seeds_are_refused(verb, seeds, says, tmp_path, capsys):
    extra = ["--dry-run"] if verb == "run" else []
    code = main([verb, "t6.*", "--profile", "smoke", "--seeds", seeds,
                 "--results-dir", str(tmp_path / "r"), *extra])  # fmt: skip
    assert code == 2
    assert _error(capsys).startswith(f"benchmark: error: {says}")


@pytest.mark.parametrize("verb", [["run", "t4.*", "--dry-run"], ["evaluate", "released"]])
def test_negative_workers_are_refused(verb, tmp_path, capsys):
    code = main([*verb, "--profile", "smoke", "--workers", "-1", "--device", "cpu",
                 "--results-dir", str(tmp_path / "r")])  # fmt: skip
    assert code == 2
    assert _error(capsys) == "benchmark: error: --workers: must be 0 or more, got -1"


def test_claims_checks_the_rules_baselines_once(tmp_path, monkeypatch, capsys):
    """`benchmark claims` on mini prints the regime rule's baseline checks (the recipe rule's
    parts among them) that measuring the claims already made: one pass over the baselines'
    results for floor and flatness, not two."""
    import benchmark.claims.measurement as measurement
    import benchmark.claims.recipe_rule as recipe_rule
    import benchmark.cli.claims as claims_verb

    calls = []
    real = recipe_rule.check_baselines

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(recipe_rule, "check_baselines", counted)
    monkeypatch.setattr(measurement, "check_baselines", counted)
    monkeypatch.setattr(claims_verb, "check_baselines", counted)  # the verb imports it by name
    folder = tmp_path / "results"
    folder.mkdir()
    assert main(["claims", "t6.*", "--profile", "mini", "--results-dir", str(folder),
                 "--resamples", "10"]) == 0  # fmt: skip
    assert "The regime rule" in capsys.readouterr().out
    assert len(calls) == 1
