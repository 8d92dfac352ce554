"""Runners on one results folder share the CPU's cores instead of each taking them all.

Two `benchmark run` processes on one results folder (two terminals) used to run every CPU job
with all the cores each: four threads on two cores, and PyTorch's OpenMP threads spin while
they wait for one another, so both crawled (Table 4 smoke, 20 epochs: 740 s with two
processes against 46 s with one). Now each CPU job first takes its cores from a registry of
the folder's runners on this host (``.runners/``, one small file per process, judged by
PID as the run locks are):

- a runner's share is cores ÷ the runners that want cores now (running a job, waiting for
  cores, or between two jobs within the last ``LINGER_S``), at least 1, and never more than
  the threads the process started with (``OMP_NUM_THREADS`` is honoured);
- it waits while the threads the others hold leave less than its share free, so the threads
  at work on a host never exceed its cores; a job keeps its thread count from start to end.

One runner alone keeps every core, as before. Two runners take one core each per job (on two
cores), as `--runs-per-gpu 2`'s workers do; those workers keep their fixed one thread and take
it from the same registry. The thread count changes a CPU run's last bits, not its identity;
each result records the threads it ran with (`compare` says when two results differ in it).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from benchmark.launch.lock import pid_alive

if TYPE_CHECKING:  # the job module imports this one
    from benchmark.launch.job import Job

try:
    import fcntl
except ImportError:  # not POSIX: the registry goes unguarded (see CoreShare._locked)
    fcntl = None

RUNNERS = ".runners"
POLL_S = 0.25  # cheap: one small folder listed under a file lock
LINGER_S = 5.0  # a runner between two jobs still counts: it is about to start the next one


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def core_share(jobs: list[Job]) -> CoreShare | None:
    """The registry entry through which CPU jobs take their cores; None for GPU jobs."""
    if not jobs or jobs[0].ctx.torch_device().type != "cpu":
        return None
    return CoreShare(jobs[0].ctx.results_dir)


class CoreShare:
    """This process's entry in a results folder's runner registry."""

    def __init__(self, results_dir: Path, cores: int | None = None):
        self.folder = Path(results_dir) / RUNNERS
        self.host = socket.gethostname()
        self.entry = self.folder / f"{self.host}-{os.getpid()}.json"
        self.cores = cores or available_cores()
        self.base = torch.get_num_threads()  # what this process would use alone

    @contextmanager
    def hold(self, threads: int | None = None, say=print) -> Iterator[int]:
        """Cores for one job, waited for when the other runners hold them: ``threads`` of them
        (a packed worker's fixed count) or this runner's share, set as torch's thread count
        for the job and restored after. Yields the thread count."""
        self.folder.mkdir(parents=True, exist_ok=True)
        told = False
        while True:
            with self._locked():
                others = self._others()
                want = threads or max(1, min(self.base, self.cores // (1 + len(others))))
                busy = sum(entry["threads"] for entry in others)
                if busy + want <= self.cores or busy == 0:
                    self._write("running", want)
                    break
                self._write("waiting", 0)
            if not told:
                say(
                    f"  waiting for a core: other runners on this results folder use {busy} of "
                    f"{self.cores} (PIDs {', '.join(str(e['pid']) for e in others)})"
                )
                told = True
            time.sleep(POLL_S)
        saved = torch.get_num_threads()
        if threads is None and want != saved:
            torch.set_num_threads(want)
        try:
            yield want
        finally:
            if torch.get_num_threads() != saved:
                torch.set_num_threads(saved)
            with self._locked():
                self._write("between", 0)

    def leave(self) -> None:
        """This runner is done: it no longer counts."""
        with self._locked():
            self.entry.unlink(missing_ok=True)

    def _write(self, state: str, threads: int) -> None:
        entry = {"pid": os.getpid(), "state": state, "threads": threads, "since": time.time()}
        self.entry.write_text(json.dumps(entry))

    def _others(self) -> list[dict]:
        """The other runners on this host that want cores now; entries of dead processes are
        removed."""
        found = []
        for path in self.folder.glob(f"{self.host}-*.json"):
            if path == self.entry:
                continue
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # gone, or a writer killed mid-write: its PID decides below
            if not pid_alive(int(entry.get("pid", 0))):
                path.unlink(missing_ok=True)
            elif entry["state"] != "between" or time.time() - entry["since"] < LINGER_S:
                found.append(entry)
        return found

    def _locked(self):
        """Registry reads and writes one runner at a time (POSIX; elsewhere unguarded)."""
        return nullcontext() if fcntl is None else _flock(self.folder / "registry.lock")


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
