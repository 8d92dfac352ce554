"""The per-job lock: one file naming its owner, ``PID HOST``, so each job (a training or an
evaluation) is done once.

A lock whose owner died is taken over. A lock from another host is respected, since its PID
cannot be checked from here (Slurm jobs share one results folder); a lock without a PID counts
as held while it is young (its owner is between creating and writing it). Take-overs are
serialised by a second file, so two processes that both find the same stale lock cannot both
take it. This module imports no torch: `benchmark status` reads locks through it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

LOCK = ".lock"
POLL_S = 1.0
FRESH_S = 10.0  # a lock file without a PID this young is being written, not abandoned


class JobLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK
        self.stamp = f"{os.getpid()} {socket.gethostname()}\n"

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._create(self.path):
            return True
        seen = _read(self.path)
        if seen is None or lock_held(seen, self.path):  # None: just released; retry next poll
            return False
        guard = self.path.with_name(LOCK + ".takeover")
        if not self._create(guard):
            other = _read(guard)
            if other is not None and not lock_held(other, guard):
                guard.unlink(missing_ok=True)  # its taker died mid-takeover; retry next poll
            return False
        try:
            if _read(self.path) != seen:  # someone took it over while we looked
                return False
            tmp = self.path.with_name(f"{LOCK}.{os.getpid()}")
            tmp.write_text(self.stamp)
            os.replace(tmp, self.path)
            return True
        finally:
            guard.unlink(missing_ok=True)

    def release(self) -> None:
        if _read(self.path) == self.stamp:
            self.path.unlink(missing_ok=True)

    def holder(self) -> str:
        """Who holds it, for messages; how to clear it when that cannot be checked from here."""
        fields = (_read(self.path) or "").split()
        if len(fields) < 2:
            return "owner unknown"
        if fields[1] == socket.gethostname():
            return f"PID {fields[0]}"
        return f"PID {fields[0]} on {fields[1]}; if that run is gone, delete {self.path}"

    def _create(self, path: Path) -> bool:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(self.stamp)
        return True


def take_lock(
    lock: JobLock,
    done: Callable[[], bool],
    on_busy: Callable[[JobLock], None] | None = None,
    wait: bool = True,
) -> str:
    """The one way to take a job's lock. ``locked``: ours now, the run is to be done.
    ``done``: the run finished — before we came, or in another process while we waited — and
    the lock is not held. ``busy``: another process holds it and ``wait`` is False."""
    if done():
        return "done"
    told = False
    while not lock.try_acquire():
        if done():
            return "done"
        if not wait:
            return "busy"
        if not told and on_busy is not None:
            on_busy(lock)
            told = True
        time.sleep(POLL_S)
    if done():  # finished by the other process just before it released the lock
        lock.release()
        return "done"
    return "locked"


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""


def lock_held(stamp: str, path: Path) -> bool:
    """Whether the owner a lock file names may still be running."""
    fields = stamp.split()
    try:
        pid = int(fields[0])
    except (IndexError, ValueError):
        try:  # no PID yet: held while young (being written), stale once old (garbage)
            return time.time() - path.stat().st_mtime < FRESH_S
        except FileNotFoundError:
            return False
    if len(fields) > 1 and fields[1] != socket.gethostname():
        return True
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that PID is running (ours included)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_locked(folder: Path) -> bool:
    """Whether a live process (here, or on another host) holds the lock of a run's folder."""
    path = Path(folder) / LOCK
    try:
        stamp = path.read_text()
    except OSError:
        return False
    return lock_held(stamp, path)
