"""One implementation of each concern: a second copy would drift, so these look for one in the
package's source. Each check names the one place a concern lives; code elsewhere that does the
same thing by hand fails here with the file and line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark"


def _sources() -> dict[str, str]:
    return {
        path.relative_to(PACKAGE.parent).as_posix(): path.read_text()
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _code_lines(text: str) -> list[tuple[int, str]]:
    """Lines of code, without comments and docstrings (what a copy would be made of)."""
    docstrings = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    return [
        (number, line.split("#", 1)[0])
        for number, line in enumerate(text.splitlines(), 1)
        if number not in docstrings
    ]


# concern → (pattern of a hand-made copy, the files allowed to hold it)
CONCERNS = {
    "the cache folder's setting and default (resolved once at the command line)": (
        r"BENCHMARK_CACHE|\.cache/benchmark|\.cache\"|Path\.home\(\)",
        {"benchmark/cli/settings.py"},
    ),
    "atomic file writes (temp file, fsync, rename)": (
        r"\bos\.replace\(|mkstemp\(|NamedTemporaryFile\(|\bfsync\(",
        {
            "benchmark/store/results.py",  # the one writer
            "benchmark/launch/lock.py",  # a lock take-over renames a lock file, not data
            "benchmark/train/job_context.py",  # a whole synthetic tree renamed into place
            "benchmark/train/checkpoint.py",  # an unreadable checkpoint set aside
        },
    ),
    "the run lock's acquire loop": (r"\.try_acquire\(", {"benchmark/launch/lock.py"}),
    "is this result done": (
        r"\[\"status\"\]\s*==\s*\"done\"",
        {"benchmark/store/results.py", "benchmark/experiment/plan.py", "benchmark/report/latex.py"},
    ),
    "a model's setup for scoring (device, channels_last, compile)": (
        r"\.to\(memory_format=|\.compile\(mode=",
        {"benchmark/train/inference.py"},
    ),
    "a run's dataset split (root, transform, --skip-bad, cache), for training, test or perf": (
        r"\bbuild_dataset\(|\"test\",$",
        {"benchmark/train/inference.py", "benchmark/data/dataset_factory.py"},
    ),
    "a test image's mask in a masked condition (the engine of evaluate_model and evaluate)": (
        r"\.for_indices\(",
        {
            "benchmark/train/model_evaluation.py",  # the one engine
            "benchmark/data/masks.py",  # the rule itself (as tensors)
            "benchmark/data/pools.py",  # the rule itself (as arrays)
            "benchmark/report/images.py",  # the report's figure draws the same masks
            # BatchNorm re-estimation: a training image's mask
            "benchmark/train/checkpoint_evaluation.py",
        },
    ),
    "CSRA's head counts and their temperatures (the registry validates, the model builds)": (
        r"\(1,\s*2,\s*4,\s*6,\s*8\)|math\.inf\)",
        {"benchmark/spec.py"},
    ),
    # The HTML report is the markdown rendered (report/html.py): a second renderer of the
    # legends and section texts would say something else sooner or later.
    "the report's words (legends, section notes) turned into a document": (
        r"\b(LEGEND|LAST_LEGEND|SUBSET_NOTE|THROUGHPUT_NOTE|NO_FAILURES|NO_SUBSETS|NO_THROUGHPUT)\b",
        {"benchmark/report/wording.py", "benchmark/report/markdown.py"},
    ),
    "EvalSpec → RunSpec, and a stored spec by its kind": (
        r"isinstance\([^)]*(EvalSpec|RunSpec)\)|\.run\s+if\s|RunSpec\s+if\s",
        {"benchmark/spec.py"},
    ),
}


@pytest.mark.parametrize("concern", CONCERNS)
def test_a_concern_is_implemented_in_one_place(concern: str) -> None:
    pattern, allowed = CONCERNS[concern]
    copies = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _sources().items()
        if name not in allowed
        for number, line in _code_lines(text)
        if re.search(pattern, line.rstrip())
    ]
    assert not copies, f"{concern}: a second implementation:\n" + "\n".join(copies)


def test_the_lock_loop_is_used_by_every_place_that_waits_on_a_run() -> None:
    sources = _sources()
    for name in ("benchmark/launch/job.py", "benchmark/launch/torchrun.py"):
        assert "take_lock(" in sources[name], name


def test_a_spec_names_its_training_run_and_kind() -> None:
    from benchmark.experiment.profiles import resolve_eval
    from benchmark.experiment.registry import load_registry
    from benchmark.spec import spec_from_dict

    registry = load_registry(PACKAGE.parent / "experiments")
    ev = resolve_eval(registry, "voc-resnetcut-csra-masked", "smoke")
    assert ev.trained_run is ev.run and ev.run.trained_run is ev.run
    assert (ev.kind, ev.run.kind) == ("eval", "train")
    for spec in (ev, ev.run):
        assert spec_from_dict(spec.kind, spec.to_dict()) == spec
