"""Fault injection for the hardening tests: helpers to import, and a `benchmark` wrapper to run.

As a script (`python faults.py run …`), it runs the real `benchmark` command with one fault
armed by environment variables — no hook lives in the package itself:

- ``FAULT_KILL_ON_REPLACE=NAME``: SIGKILL this process at the moment an atomic write would
  rename its complete temp file onto a file called NAME (after the data is written and
  fsynced, before ``os.replace``): the worst instant for a checkpoint or result.
- ``FAULT_KILL_ON_CALL=MODULE:ATTR:N``: SIGKILL on the N-th call of ``MODULE.ATTR``.
- ``FAULT_HOLD_LOCK=FILE``: once this process holds a run's lock, print ``fault: holding``
  and keep it until FILE exists.
- ``FAULT_START_AFTER=FILE``: start only once FILE exists (the import happens before).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CELL = "t4.resnet-cut-csra.voc2007"  # one training run: ResNet + CSRA on synthetic VOC
EVAL_CELL = "t6.csra-resnet-cut.voc2007"  # the Table 6 evaluation of that run's checkpoint
ONE_EPOCH = ["--profile", "smoke", "--epochs", "1", "--no-progress"]


def cli_env(cache: Path, **faults: str) -> dict[str, str]:
    return {
        **os.environ,
        "BENCHMARK_EXPERIMENTS": str(REPO / "experiments"),
        "BENCHMARK_CACHE": str(cache),
        "PYTHONUNBUFFERED": "1",
        **faults,
    }


def run_benchmark(
    args: list[str], cwd: Path, cache: Path, **faults: str
) -> subprocess.CompletedProcess:
    """`benchmark ARGS` in a fresh process with the given faults armed."""
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=cwd,
        env=cli_env(cache, **faults),
        capture_output=True,
        text=True,
        timeout=300,
    )


def start_benchmark(args: list[str], cwd: Path, cache: Path, log: Path, **faults: str):
    """Like `run_benchmark`, in the background, its output going to `log` (read it while it
    runs with `wait_for_text`)."""
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            cwd=cwd,
            env=cli_env(cache, **faults),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def wait_for_text(log: Path, text: str, procs: list[subprocess.Popen], timeout: float = 120):
    """Block until `text` appears in `log`; fail (killing `procs`) if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    for proc in procs:
        proc.kill()
        proc.wait()
    raise AssertionError(f"{text!r} never appeared in {log}:\n{log.read_text()}")


def dead_pid() -> int:
    """The PID of a process that has exited (reuse within a test is vanishingly unlikely)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def results(folder: Path, kind: str | None = None) -> dict[str, dict[str, Any]]:
    """Result files under a results folder, by hash (only `kind` when given)."""
    found = {}
    for path in sorted(Path(folder).glob("*/result.json")):
        data = json.loads(path.read_text())
        if kind is None or data["kind"] == kind:
            found[data["hash"]] = data
    return found


def only(folder: Path, kind: str) -> dict[str, Any]:
    (data,) = results(folder, kind).values()
    return data


def train_metrics(folder: Path) -> dict[str, Any]:
    data = only(folder, "train")
    assert data["status"] == "done", data.get("error")
    return {
        "best": data["metrics"]["best"],
        "last": data["metrics"]["last"],
        "losses": [row["loss"] for row in data["history"]],
    }


# ---- the wrapper ------------------------------------------------------------------------


def _kill_on_replace(name: str) -> None:
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.basename(os.fspath(dst)) == name and os.fspath(src).endswith(".tmp"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *args, **kwargs)

    os.replace = replace


def _kill_on_call(target: str) -> None:
    module_name, attr, nth = target.split(":")
    module = importlib.import_module(module_name)
    real = getattr(module, attr)
    calls = [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(module, attr, wrapped)


def _hold_lock(flag: str) -> None:
    from benchmark.launch import lock as job

    real = job.JobLock.try_acquire

    def try_acquire(self) -> bool:
        acquired = real(self)
        if acquired:
            print(f"fault: holding {self.path}", flush=True)
            while not os.path.exists(flag):
                time.sleep(0.05)
        return acquired

    job.JobLock.try_acquire = try_acquire


def _main() -> None:
    import benchmark.cli
    import benchmark.train.loop  # noqa: F401 — torch and timm load before any waiting

    if os.environ.get("FAULT_KILL_ON_REPLACE"):
        _kill_on_replace(os.environ["FAULT_KILL_ON_REPLACE"])
    if os.environ.get("FAULT_KILL_ON_CALL"):
        _kill_on_call(os.environ["FAULT_KILL_ON_CALL"])
    if os.environ.get("FAULT_HOLD_LOCK"):
        _hold_lock(os.environ["FAULT_HOLD_LOCK"])
    start_after = os.environ.get("FAULT_START_AFTER")
    while start_after and not os.path.exists(start_after):
        time.sleep(0.05)
    sys.exit(benchmark.cli.main(sys.argv[1:]))


if __name__ == "__main__":
    _main()
