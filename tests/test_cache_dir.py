"""One cache folder: every verb documents the same default, the command line resolves it once
(--cache-dir, else $BENCHMARK_CACHE, else ./.cache/benchmark) and everything cached — synthetic
trees, mask pools, COCO/WIDER annotation parses — goes there, never to the home folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmark.cli import build_parser, main
from benchmark.cli.settings import add_cache_flag, cache_from

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HELP = "$BENCHMARK_CACHE or .cache/benchmark"


@pytest.mark.parametrize(
    "verb", [["run"], ["report"], ["perf"], ["data", "stats"], ["data", "masks"]]
)
def test_every_verb_states_the_same_cache_default(verb: list[str], capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*verb, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--cache-dir" in text and DEFAULT_HELP in text


def test_the_cache_folder_is_resolved_once(tmp_path: Path, monkeypatch) -> None:
    parser = argparse.ArgumentParser()
    add_cache_flag(parser)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCHMARK_CACHE", raising=False)
    assert cache_from(parser.parse_args([])) == Path(".cache/benchmark")
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "env"))
    assert cache_from(parser.parse_args([])) == tmp_path / "env"
    flag = ["--cache-dir", str(tmp_path / "flag")]
    assert cache_from(parser.parse_args(flag)) == tmp_path / "flag"
    assert not list(tmp_path.iterdir()), "resolving the cache folder wrote something"


@pytest.fixture
def no_cache_setting(tmp_path: Path, monkeypatch) -> Path:
    """A home folder of our own and no $BENCHMARK_CACHE: only --cache-dir says where."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("BENCHMARK_CACHE", raising=False)
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REPO / "experiments"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_data_stats_caches_the_coco_parse_under_cache_dir(tmp_path: Path, no_cache_setting):
    root = tmp_path / "coco"
    assert main(["data", "synth", "coco2014", "--out", str(root), "--images", "4",
                 "--size", "32"]) == 0  # fmt: skip
    cache = tmp_path / "cache"
    args = ["data", "stats", "coco2014", "--root", str(root), "--split", "train"]
    assert main([*args, "--cache-dir", str(cache)]) == 0
    assert [f for f in _files(cache) if f.startswith("annotations/coco-")]
    assert _files(no_cache_setting) == []
    assert not (Path.cwd() / ".cache").exists()


def test_a_coco_run_keeps_every_cache_in_cache_dir(tmp_path: Path, no_cache_setting):
    cache = tmp_path / "cache"
    cell = "t4.resnet-cut-csra.coco2014"
    args = ["run", cell, "--profile", "smoke", "--epochs", "1", "--no-progress",
            "--results-dir", str(tmp_path / "r")]  # fmt: skip
    assert main([*args, "--cache-dir", str(cache)]) == 0
    kinds = {f.split("/")[0] for f in _files(cache)}
    assert {"synthetic", "annotations"} <= kinds, kinds
    assert _files(no_cache_setting) == []  # the COCO parse used to land in ~/.cache/benchmark
    assert not (Path.cwd() / ".cache").exists()
