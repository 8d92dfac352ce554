"""Several runs on one device: `benchmark run SELECTOR --runs-per-gpu K` (local executor).

At the paper's batch of 6 one run leaves most of a large GPU idle, so K worker processes share
each visible device (on a CPU: K processes, cores ÷ K threads each). Every worker walks the same
job list in order and takes the next job whose per-job lock it can get — the lock of
`benchmark.launch.lock`, unchanged: a job locked by another worker is left to it and one already
done is skipped, so no run is trained twice, and each run resumes from its `last.pt` as always.
What a worker could not finish (it died) is run afterwards by the parent, as a plain
`benchmark run` would.

Workers die with their parent. Each worker's stdin is a pipe from the parent: when the parent
exits in any way (SIGKILL and SIGTERM included), the pipe closes and the worker stops the run it
is in as Ctrl-C would, then removes the job files. Ctrl-C is the parent's to handle: workers
start with SIGINT ignored, and the parent stops them with SIGTERM, so each run stopped prints one
line and no worker prints a traceback. A stopped run resumes from its `last.pt` next time.

K is sized from memory: the device's free memory and a measured per-run footprint — one eager
training step of the costliest pending model (forward FLOPs × batch), at its run's precision
(fp32 activations take twice bf16's), in a fresh process, its
peak memory (CUDA: reserved by PyTorch, plus the CUDA context; CPU: resident set size) plus a
margin for CUDA-graph pools and loader buffers. `auto` takes as many as fit (at most
``AUTO_MAX``, one on a CPU, where a single run already uses every core); an explicit K that
does not fit stops before any work, naming the sizes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import torch

from benchmark.data.pools import PROCEDURAL_COUNTS
from benchmark.errors import UserError
from benchmark.launch.core_share import core_share
from benchmark.launch.job import Job, execute, execute_locked
from benchmark.launch.jobfile import job_from_dict, job_to_dict
from benchmark.launch.lock import JobLock, take_lock
from benchmark.models import build_model
from benchmark.models.macs import forward_gmacs
from benchmark.store.results import atomic_write_json, is_done, job_dir, load_result
from benchmark.train.objectives import msl_step_loss, supervised_step_loss
from benchmark.train.precision import autocast, configure_precision

AUTO = "auto"
AUTO_MAX = 8
MARGIN = 1.25  # CUDA-graph memory pools, loader pin buffers, allocator fragmentation
CUDA_CONTEXT_BYTES = 600 * 2**20  # per process, outside PyTorch's allocator
GIB = 2**30
START_WAIT_S = 300.0  # how long a worker waits for the others to start before going alone
STOP_WAIT_S = 60.0  # how long a stopped worker may take to leave its run before it is killed


class Stopped(KeyboardInterrupt):
    """A worker told to stop (SIGTERM, or its parent gone): the run in progress is left as
    Ctrl-C leaves it, resumable, and the worker exits."""


def free_memory_bytes(device: str) -> int:
    """Free memory where runs will live: the GPU's, or the host's available RAM."""
    if device.startswith("cuda"):
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def costliest(jobs: list[Job]) -> Job:
    return max(
        jobs, key=lambda j: forward_gmacs(j.spec.trained_run) * j.spec.trained_run.batch_size
    )


def measure_footprint(job: Job, device: str) -> int:
    """Peak memory of one eager training step of the job's model: on a GPU in a fresh process
    (this one must not hold a CUDA context while the runs work); on a CPU here, where the
    resident set after the step is what a worker process holds (PyTorch loaded, model, step)."""
    if not device.startswith("cuda"):
        return _probe(job_to_dict(job), device)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        peak = pool.apply(_probe, (job_to_dict(job), device))
    return peak + CUDA_CONTEXT_BYTES


def _probe(job_dict: dict, device_name: str) -> int:
    """One MSL (or supervised) step at the run's batch and size, random weights and inputs."""
    spec = job_from_dict(job_dict).spec.trained_run
    device = torch.device(device_name)
    model = build_model(dataclasses.replace(spec, weights=None)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=spec.momentum)
    size, batch = spec.img_size, spec.batch_size
    x = torch.rand(batch, 3, size, size, device=device)
    y = (torch.rand(batch, spec.num_classes, device=device) < 0.2).float()
    cuda = device.type == "cuda"
    pool = None
    if spec.method == "msl":  # the mask pool lives on the device for the whole run
        pool = torch.ones(PROCEDURAL_COUNTS["high"], 1, size, size, dtype=torch.bool, device=device)
    model.train()
    configure_precision(spec.precision, device)
    with autocast(spec.precision, device):  # the run's: fp32 activations take twice bf16's
        if pool is None:
            loss, _ = supervised_step_loss(model, x, y)
        else:
            loss, _ = msl_step_loss(model, x, x * pool[:batch].float(), y, fused=spec.fused)
    loss.backward()
    optimizer.step()
    if cuda:
        return int(torch.cuda.max_memory_reserved(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


def runs_per_device(option: int | str, jobs: list[Job], device: str) -> int:
    """How many runs share the device: ``option`` checked against memory (or chosen by it)."""
    cpu = not device.startswith("cuda")
    if option == 1 or not jobs or (option == AUTO and (cpu or len(jobs) == 1)):
        return 1
    job = costliest(jobs)
    footprint = measure_footprint(job, device)
    need = int(footprint * MARGIN)
    free = free_memory_bytes(device)
    fit = free // need
    sizes = (
        f"one run needs {need / GIB:.2f} GiB ({job.name}: one training step measured at "
        f"{footprint / GIB:.2f} GiB, + {MARGIN - 1:.0%} margin) and {free / GIB:.2f} GiB "
        f"are free on {device}"
    )
    if option == AUTO:
        k = max(1, min(fit, AUTO_MAX, len(jobs)))
        print(f"--runs-per-gpu auto: {k} ({sizes})")
        return k
    if option > fit:
        hint = f"use --runs-per-gpu {fit} or fewer" if fit else "not even one run fits"
        raise UserError(
            f"--runs-per-gpu {option}: {option} runs × {need / GIB:.2f} GiB = "
            f"{option * need / GIB:.2f} GiB do not fit: {sizes}; {hint}"
        )
    return int(option)


def devices_for(ctx_device: str) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES value per device the workers spread over (None: leave it)."""
    if ctx_device not in ("auto", "cuda"):
        return [None]  # cpu, or one named device (cuda:N): every worker uses it
    if not torch.cuda.is_available():
        return [None]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    return ids


def run_packed(jobs: list[Job], k: int, folder: Path) -> list[str]:
    """The jobs over K worker processes per device; a status per job, in order."""
    ctx = jobs[0].ctx
    devices = devices_for(ctx.device)
    workers = k * len(devices)
    threads = max(1, (os.cpu_count() or 1) // workers)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    job_list = folder / f"jobs-{os.getpid()}.json"
    listed = [job_to_dict(j) for j in jobs]
    if workers > 1:  # several progress bars on one terminal garble each other; epoch lines stay
        for entry in listed:
            entry["ctx"]["progress"] = False
    atomic_write_json(job_list, listed)
    print(f"{len(jobs)} job(s) over {workers} worker process(es), {k} per device")
    processes = []
    try:
        for index in range(workers):
            env = dict(os.environ)
            device = devices[index % len(devices)]
            if device is not None:
                env["CUDA_VISIBLE_DEVICES"] = device
            elif not ctx.device.startswith("cuda"):
                env["OMP_NUM_THREADS"] = str(threads)  # the CPU's cores split between workers
            command = [sys.executable, "-m", "benchmark.launch.packing", str(job_list)]
            command += [str(index), str(workers)]
            processes.append(_start_worker(command, env))
        for process in processes:
            process.wait()
    except KeyboardInterrupt:  # Ctrl-C: each worker stops its run, one line each, then we go
        _stop(processes)
        raise
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdin.close()
        _remove_job_files(job_list)
    statuses = []
    for job in jobs:
        loaded = load_result(job.ctx.results_dir, job.hash)
        if loaded.problem is None:
            statuses.append(loaded.data["status"])
        else:  # its worker died before writing: run it here, as a plain `benchmark run` would
            statuses.append(execute(job, True))
    return statuses


def resolve_device(device: str) -> str:
    """Where sizing looks: ``auto`` is the first GPU when there is one, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _start_worker(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A worker whose stdin is our pipe (it watches for the pipe to close: we are gone) and
    which ignores SIGINT from its first instruction: the ignored disposition survives exec, and
    Python then installs no KeyboardInterrupt handler. Ctrl-C at the terminal reaches the whole
    process group; only this process acts on it (see ``_stop``)."""
    if threading.current_thread() is not threading.main_thread():  # signals: main thread only
        return subprocess.Popen(command, env=env, stdin=subprocess.PIPE)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.Popen(command, env=env, stdin=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(processes: list[subprocess.Popen]) -> None:
    """Stop every worker (SIGTERM: it leaves its run as Ctrl-C would) and wait for them."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_WAIT_S
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def _remove_job_files(job_list: Path) -> None:
    """The job list and the workers' start markers (by the parent, or by a worker whose parent
    is gone)."""
    job_list.unlink(missing_ok=True)
    for what in ("ready", "tried"):
        for marker in job_list.parent.glob(f"{job_list.stem}.{what}-*"):
            marker.unlink(missing_ok=True)


def _raise_stopped(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the stop itself is not interrupted
    raise Stopped


def _watch_parent() -> None:
    """Block on stdin, the parent's pipe. End of file: the parent has exited, however it
    died; stop as if told to, and if the run has not let go after STOP_WAIT_S, exit anyway
    (its lock names a dead process then, and its `last.pt` lets the next run resume)."""
    while os.read(0, 512):  # the raw descriptor: a daemon thread must hold no stdin lock
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_WAIT_S)
    os._exit(1)


class RunNamedLines(io.TextIOBase):
    """A worker's standard output: while it runs a job, each line that does not name the run
    already carries the run's name after its indentation, so the epoch lines of K workers
    interleaving on one terminal say whose they are. Text passes straight through (nothing is
    held back); only the start of a line is looked at."""

    def __init__(self, out: io.TextIOBase) -> None:
        self.out = out
        self.run_name: str | None = None
        self._line_start = True

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            if self._line_start:
                piece = self._named(piece)
            self.out.write(piece)
            self._line_start = piece.endswith("\n")
        return len(text)

    def _named(self, piece: str) -> str:
        if self.run_name is None or not piece.strip() or self.run_name in piece:
            return piece
        body = piece.lstrip(" ")
        return f"{piece[: len(piece) - len(body)]}[{self.run_name}] {body}"

    @property
    def encoding(self) -> str:
        return self.out.encoding

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return self.out.isatty()

    def fileno(self) -> int:
        return self.out.fileno()


def worker(job_list: Path, index: int, workers: int) -> int:
    """Walk the jobs in order, running each one whose lock this process gets; 130 when
    stopped (by the parent, or because the parent is gone)."""
    signal.signal(signal.SIGTERM, _raise_stopped)
    threading.Thread(target=_watch_parent, daemon=True).start()
    sys.stdout = out = RunNamedLines(sys.stdout)
    try:
        return _take_jobs(Path(job_list), index, workers, out)
    except Stopped:
        _remove_job_files(Path(job_list))  # the parent may have died without removing them
        return 130


def _take_jobs(job_list: Path, index: int, workers: int, out: RunNamedLines) -> int:
    try:
        jobs = [job_from_dict(d) for d in json.loads(job_list.read_text())]
    except FileNotFoundError:  # removed by a worker whose parent died before we started
        return 130
    _start_together(job_list, index, workers)
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    # On a CPU the worker's fixed threads are taken from the folder's runners, as a plain
    # runner's are (benchmark.launch.core_share): other terminals wait for them.
    cores = core_share(jobs)
    failed = False
    try:
        # Worker i starts at job i, so K workers begin on K different runs: job j < K is left
        # to worker j until it has tried it (a fast worker would otherwise take it too).
        n = len(jobs)
        for position in [(index + step) % n for step in range(n)]:
            job = jobs[position]
            if position < workers and position != index:
                _wait_for_first_try(job_list, position)
            folder = job_dir(job.ctx.results_dir, job.hash)
            lock = JobLock(folder)
            done = partial(is_done, job.ctx.results_dir, job.hash)
            taken = take_lock(lock, done, wait=False)
            if position == index:
                _marker(job_list, "tried", index).touch()
            if taken != "locked":
                continue  # done already, or another worker has it
            try:
                print(f"[worker {index}] {job.kind} {job.name} [{job.hash}]", flush=True)
                packed = {"worker": index, "pid": os.getpid(), "started": time.time()}
                threads = torch.get_num_threads()
                out.run_name = job.name
                with cores.hold(threads) if cores is not None else nullcontext():
                    failed |= execute_locked(job, folder, packed=packed) == "failed"
            finally:
                out.run_name = None
                lock.release()
    finally:
        if cores is not None:
            cores.leave()
    return 1 if failed else 0


def _marker(job_list: Path, what: str, index: int) -> Path:
    """A worker's marker beside the job list: ``ready`` (started), ``tried`` (its first job)."""
    return job_list.with_name(f"{job_list.stem}.{what}-{index}")


def _wait_for_first_try(job_list: Path, index: int) -> None:
    """Until worker ``index`` has tried its first job (or, if it died first, for a while)."""
    deadline = time.monotonic() + START_WAIT_S
    while not _marker(job_list, "tried", index).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _start_together(job_list: Path, index: int, workers: int) -> None:
    """Wait until every worker has started (Python and torch loaded), so the K workers take
    their first K runs at once instead of the first one taking several while others load."""
    _marker(job_list, "ready", index).touch()
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if len(list(job_list.parent.glob(f"{job_list.stem}.ready-*"))) >= workers:
            return
        time.sleep(0.01)  # the K workers set off within 10 ms of each other


if __name__ == "__main__":
    sys.exit(worker(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
