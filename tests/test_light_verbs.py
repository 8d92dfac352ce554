"""Status apart from planning: `benchmark list` and `benchmark report` over stored results are
functions of the registry and the result files, and import no torch (a second or more of
start-up, and no live probes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = (
    "import sys\n"
    "from benchmark.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n"
    "sys.exit(code)\n"
)


@pytest.mark.parametrize(
    "verb",
    [
        ["list", "all"],
        ["list", "all", "--profile", "mini", "--results-dir", str(REPO / "results" / "mini")],
        ["report", "--profile", "mini", "--results-dir", str(REPO / "results" / "mini")],
    ],
    # not `check`: it validates every backbone name against timm's model registry, which
    # imports torch (a typo like `resnet1O1` must fail it: issue 19)
    ids=["list-empty", "list-mini", "report-mini"],
)
def test_light_verbs_import_no_torch(verb: list[str], tmp_path: Path) -> None:
    if verb[0] == "report":
        verb = [*verb, "--out", str(tmp_path / "report")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCHMARK_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *verb],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "NO TORCH", proc.stdout[-2000:]
