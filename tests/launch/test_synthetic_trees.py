"""Synthetic trees are written once, in the launching process, before any worker starts:
parallel workers would otherwise each write the same tree at the same time."""

from __future__ import annotations

from pathlib import Path

from benchmark.experiment.plan import PlanOptions, build_plan
from benchmark.experiment.registry import load_registry
from benchmark.launch.runner import execute_plan
from benchmark.train.job_context import JobContext

REPO = Path(__file__).resolve().parents[2]


class _Recorder:
    """An executor that runs nothing and records which trees existed when it was called."""

    def __init__(self, cache: Path):
        self.cache, self.seen = cache, []

    def execute(self, jobs):
        self.seen.append(sorted(p.name for p in (self.cache / "synthetic").iterdir()))
        return ["done"] * len(jobs)


def test_each_tree_exists_before_the_executor_runs_and_is_written_once(tmp_path):
    registry = load_registry(REPO / "experiments")
    cells = registry.select("t6.*")  # VOC and COCO, trainings then evaluations
    plan = build_plan(registry, cells, PlanOptions("smoke"))
    ctx = JobContext(tmp_path / "results", cache_dir=tmp_path / "cache")
    executor = _Recorder(tmp_path / "cache")
    execute_plan(plan, ctx, executor)
    trees = executor.seen[0]
    assert [t.split("-n")[0] for t in trees] == ["coco2014", "voc2007"]
    assert executor.seen == [trees, trees]  # the trainings, then the evaluations: no new tree
