"""The result store: one JSON file per run and per evaluation, written atomically.

Layout: ``<results_dir>/<hash>/result.json`` beside ``checkpoints/`` and ``log.txt``. The folder
name is the identity hash of the resolved spec, so a result can always be matched back to its
configuration; a ``checksum`` over the file's content catches hand edits.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from benchmark.spec import spec_from_dict
from benchmark.store.fingerprint import current_fingerprint
from benchmark.store.machine import compute_environment

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
SLURM_FILE = "slurm.json"  # a submitted Slurm job's id, beside the run (`benchmark status`)
STATUSES = ("done", "failed")
HASH_PATTERN = re.compile(r"^[0-9a-f]{12}$")
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """The project's one atomic file writer: ``write(handle)`` fills a temp file in the same
    folder, which is fsynced, then renamed over ``path``. A crash leaves the old file or the
    new one, never a part; readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a failed write() or fsync() names no file: say which
        raise


def probe_write(folder: Path) -> None:
    """Raise the OSError that writing a file in ``folder`` would meet (a read-only folder, a
    full or read-only disk): a probe file is created there and removed."""
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=".tmp")
    os.close(fd)
    os.unlink(probe)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def job_dir(results_dir: Path, spec_hash: str) -> Path:
    """The folder of one run; refuses anything that is not a bare identity hash."""
    if not HASH_PATTERN.fullmatch(spec_hash):  # match() would let a trailing newline through
        raise ValueError(f"not a run identity: {spec_hash!r}")
    return Path(results_dir) / spec_hash


def checksum(result: dict[str, Any]) -> str:
    body = {k: v for k, v in result.items() if k != "checksum"}
    payload = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def result_record(
    spec,
    name: str,
    profile: str | None,
    status: str,
    error: str | None,
    body: dict[str, Any],
    provenance: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """A result file's content: what ran (the spec, its kind and hash), how it ended, the body
    the job returned, where and with what it ran, and its wall time since ``started``."""
    return {
        "kind": spec.kind,
        "hash": spec.hash,
        "name": name,
        "profile": profile,
        "status": status,
        "error": error,
        "spec": spec.to_dict(),
        **body,
        "provenance": provenance,
        "timings": {**body.get("timings", {}), "wall_s": time.time() - started},
    }


def write_result(results_dir: Path, result: dict[str, Any]) -> Path:
    result = {"schema_version": SCHEMA_VERSION, **result}
    result["checksum"] = checksum(result)
    path = job_dir(results_dir, result["hash"]) / RESULT_FILE
    atomic_write_json(path, result)
    return path


@dataclass
class LoadedResult:
    path: Path
    data: dict[str, Any] | None
    problem: str | None  # why the file cannot be trusted; None when valid

    @property
    def done(self) -> bool:
        """Valid and finished: the one test of "is this result done"."""
        return self.problem is None and self.data["status"] == "done"


def read_result(path: Path, expected_hash: str | None = None) -> LoadedResult:
    """Read and validate a result file; never raises for a bad file, reports the problem."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return LoadedResult(Path(path), None, "missing")
    except (OSError, ValueError) as exc:
        return LoadedResult(Path(path), None, f"unreadable JSON: {exc}")
    if not isinstance(data, dict):
        return LoadedResult(Path(path), None, "not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        return LoadedResult(Path(path), data, f"unknown schema_version {version!r}")
    for key in ("kind", "hash", "status", "spec", "checksum"):
        if key not in data:
            return LoadedResult(Path(path), data, f"missing field {key!r}")
    if data["checksum"] != checksum(data):
        return LoadedResult(Path(path), data, "checksum mismatch: the file was edited by hand")
    if data["status"] not in STATUSES:
        return LoadedResult(Path(path), data, f"unknown status {data['status']!r}")
    try:
        actual = spec_from_dict(data["kind"], data["spec"]).hash
    except (TypeError, KeyError, ValueError) as exc:
        return LoadedResult(Path(path), data, f"spec does not parse: {exc}")
    if actual != data["hash"]:
        return LoadedResult(Path(path), data, f"config hash {actual} does not match {data['hash']}")
    if expected_hash is not None and data["hash"] != expected_hash:
        return LoadedResult(
            Path(path), data, f"stored under {expected_hash} but hash is {data['hash']}"
        )
    if Path(path).parent.name != data["hash"]:
        return LoadedResult(Path(path), data, f"folder name does not match hash {data['hash']}")
    return LoadedResult(Path(path), data, None)


def load_result(results_dir: Path, spec_hash: str) -> LoadedResult:
    return read_result(job_dir(results_dir, spec_hash) / RESULT_FILE, spec_hash)


def is_done(results_dir: Path, spec_hash: str) -> bool:
    """Whether a valid result marked `done` is stored for this run or evaluation."""
    return load_result(results_dir, spec_hash).done


def iter_result_files(results_dir: Path) -> list[Path]:
    return sorted(Path(results_dir).glob(f"*/{RESULT_FILE}"))


@dataclass(frozen=True)
class HeldResults:
    """What a results folder holds of one profile."""

    files: int  # readable result files of the profile, whatever their status
    seeds: tuple[int, ...]  # the seeds of its done results, ascending


def held_results(results_dir: Path) -> dict[str, HeldResults]:
    """Profile → what the folder holds of it, from one pass over its result files (unreadable
    ones skipped): which profile a folder is of, and which seeds a reading verb counts."""
    files: dict[str, int] = {}
    seeds: dict[str, set[int]] = {}
    for path in iter_result_files(results_dir):
        try:
            data = json.loads(path.read_text())
            profile = data.get("profile")
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(profile, str):
            continue
        files[profile] = files.get(profile, 0) + 1
        provenance = data.get("provenance")
        seed = provenance.get("seed") if isinstance(provenance, dict) else None
        if data.get("status") == "done" and isinstance(seed, int):
            seeds.setdefault(profile, set()).add(seed)
    return {p: HeldResults(n, tuple(sorted(seeds.get(p, ())))) for p, n in files.items()}


def seeds_in(results_dir: Path, profile: str) -> tuple[int, ...]:
    """The seeds of the done results of ``profile`` in the folder, ascending."""
    held = held_results(results_dir).get(profile)
    return held.seeds if held is not None else ()


def provenance(seed: int, device: str) -> dict[str, Any]:
    """Where and with what a number was produced."""
    # numpy and torch only when recording a result: light verbs import this module
    import numpy
    import torch

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
    for name in ("torchvision", "timm"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    commit, dirty = git_state()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        # the science sources' fingerprint: status and the report flag a result made by
        # other code as stale (benchmark.store.fingerprint); not part of the run's identity
        "code": current_fingerprint(),
        "versions": versions,
        "device": device,
        "compute": compute_environment(),
        "host": platform.node(),
        "seed": seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def git_state() -> tuple[str | None, bool | None]:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None
