"""Per-image predictions: what a model scored on each test image, kept beside its result.

The paired statistics of the claims (benchmark.scoring.bootstrap) need more than a result's summary
metrics: they recompute a metric on resampled test images, for two models on the same images.
One ``.npz`` file per evaluated model state holds

- ``probs``: N×C probabilities, stored as float16 (loaded back as float32: float16 is exact in
  float32, so the loaded scores always rank the same way),
- ``image_ids``: N strings naming each test image (its file, relative to the dataset),
- ``targets``: N×C int8 score codes 1 / 0 / -1 / -2 (benchmark.scoring.metrics),
- ``targets_sha256``: a digest of the targets, so two files can be checked to be on the same
  test set without comparing the matrices.

Files live in ``<result dir>/predictions/<key>.npz`` and are written atomically with fixed zip
timestamps, so the same predictions always give the same bytes (and the same file digest),
which the result records beside each file's name. ``listed_damage`` compares a result's listed
files with what is on disk: a deleted, truncated, replaced or edited file makes the result
*damaged* (`benchmark status`, `check`, `claims`, `report` say which file; `run` redoes it).
Numpy only: reading predictions never imports torch.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import DataError
from benchmark.scoring.metrics import IGNORE_AP
from benchmark.store.results import atomic_write_bytes

PREDICTIONS_DIR = "predictions"
FIELDS = ("probs", "image_ids", "targets", "targets_sha256")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# Per-epoch predictions are kept only where cheap and are not committed (.gitignore): a result
# whose epoch_* files are absent is whole; one present but changed is still damage.
_PER_EPOCH = re.compile(r"^epoch_\d+$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so identical predictions give identical bytes


@dataclass(frozen=True)
class Predictions:
    probs: np.ndarray  # N×C float
    image_ids: np.ndarray  # N str
    targets: np.ndarray  # N×C int8 codes 1/0/-1/-2
    targets_sha256: str

    @classmethod
    def build(cls, probs, image_ids, targets) -> Predictions:
        """From a model's outputs: coerces the types and computes the targets' digest."""
        targets = np.ascontiguousarray(np.asarray(targets), dtype=np.int8)
        preds = cls(
            probs=np.asarray(probs, dtype=np.float32),
            image_ids=np.asarray([str(i) for i in image_ids], dtype=np.str_),
            targets=targets,
            targets_sha256=targets_digest(targets),
        )
        problem = preds.problem()
        if problem is not None:
            raise ValueError(problem)
        return preds

    @property
    def num_images(self) -> int:
        return int(self.probs.shape[0])

    def problem(self) -> str | None:
        """Why these predictions cannot be scored, or None."""
        probs, targets, ids = self.probs, self.targets, self.image_ids
        if probs.ndim != 2 or targets.shape != probs.shape:
            return f"probs {probs.shape} and targets {targets.shape} must be the same N×C shape"
        if ids.shape != (probs.shape[0],):
            return f"{ids.shape[0] if ids.ndim else 0} image ids for {probs.shape[0]} rows"
        if len(set(ids.tolist())) != ids.shape[0]:
            return "image ids are not unique"
        if not np.all(np.isfinite(probs)) or probs.min(initial=0) < 0 or probs.max(initial=0) > 1:
            return "probs must be finite probabilities in [0, 1]"
        if (
            targets.dtype != np.int8
            or targets.min(initial=0) < IGNORE_AP
            or targets.max(initial=0) > 1
        ):
            return "targets must be int8 codes 1, 0, -1, -2"
        if targets_digest(targets) != self.targets_sha256:
            return "targets_sha256 does not match the targets"
        return None

    def aligned_to(self, image_ids: np.ndarray) -> Predictions:
        """The same predictions with rows in the order of ``image_ids`` (same set of images)."""
        if np.array_equal(self.image_ids, image_ids):
            return self
        position = {name: row for row, name in enumerate(self.image_ids.tolist())}
        try:
            rows = np.array([position[name] for name in np.asarray(image_ids).tolist()])
        except KeyError as exc:
            raise ValueError(f"image {exc.args[0]!r} is not among these predictions") from None
        if rows.shape[0] != self.num_images:
            raise ValueError(f"{rows.shape[0]} image ids for {self.num_images} predictions")
        targets = self.targets[rows]
        return Predictions(self.probs[rows], self.image_ids[rows], targets, targets_digest(targets))


def targets_digest(targets: np.ndarray) -> str:
    """sha256 over the targets' shape and int8 bytes (row order matters)."""
    targets = np.ascontiguousarray(targets, dtype=np.int8)
    digest = hashlib.sha256(f"{targets.shape[0]}x{targets.shape[1]}:".encode())
    digest.update(targets.tobytes())
    return digest.hexdigest()


def predictions_key(name: str) -> str:
    """The file key of a checkpoint (``best``, ``last``, ``val_best``, ``epoch_3``) or of an
    evaluation condition (``high``; ``bucket:2`` → ``bucket-2``: no ':' in file names)."""
    key = name.replace(":", "-")
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a predictions key: {name!r}")
    return key


def predictions_path(result_dir: Path, key: str) -> Path:
    return Path(result_dir) / PREDICTIONS_DIR / f"{predictions_key(key)}.npz"


def encode(preds: Predictions) -> bytes:
    """The compressed .npz bytes of ``preds`` (probs as float16), deterministic."""
    problem = preds.problem()
    if problem is not None:
        raise ValueError(problem)
    arrays = {
        "probs": preds.probs.astype(np.float16),
        "image_ids": preds.image_ids,
        "targets": preds.targets,
        "targets_sha256": np.asarray(preds.targets_sha256),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def save_predictions(path: Path, preds: Predictions) -> str:
    """Write ``preds`` atomically; returns the file's sha256 (for the result JSON)."""
    data = encode(preds)
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def load_predictions(path: Path, expected_sha256: str | None = None) -> Predictions:
    """Read and validate one predictions file; a DataError names the file and the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: predictions file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read predictions: {exc.strerror or exc}") from None
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise DataError(f"{path}: sha256 does not match the one its result records")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [name for name in FIELDS if name not in archive.files]
            if missing:
                raise DataError(f"{path}: not a predictions file (no {', '.join(missing)})")
            preds = Predictions(
                probs=archive["probs"].astype(np.float32),
                image_ids=archive["image_ids"].astype(np.str_),
                targets=archive["targets"],
                targets_sha256=str(archive["targets_sha256"].item()),
            )
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable predictions file ({exc})") from None
    problem = preds.problem()
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    return preds


@dataclass(frozen=True)
class Damage:
    """A predictions file a done result lists that is not what the result recorded."""

    file: str  # as the result lists it: relative to the result's folder
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def listed_damage(result_dir: Path, result: dict, thorough: bool = True) -> tuple[Damage, ...]:
    """The predictions files a result lists that are missing or changed.

    ``thorough``: each file's sha256 against the one the result recorded (finds any edit;
    reads every byte). Otherwise only that each file is there and is a zip archive holding the
    four arrays — one small read of its directory, which finds a deleted, truncated or replaced
    file but not an edit inside it (`benchmark status`; `check` and `run` are thorough)."""
    damage = []
    for key, listed in (result.get("predictions") or {}).items():
        problem = file_problem(Path(result_dir) / listed["file"], listed["sha256"], thorough)
        if problem == "missing" and _PER_EPOCH.fullmatch(key):
            continue
        if problem is not None:
            damage.append(Damage(listed["file"], problem))
    return tuple(damage)


def file_problem(path: Path, sha256: str, thorough: bool = True) -> str | None:
    """Why one listed predictions file is not what its result recorded, or None."""
    if not path.is_file():
        return "missing"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
        if thorough:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except zipfile.BadZipFile:
        return "truncated or replaced: not a zip archive"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    missing = [f for f in FIELDS if f"{f}.npy" not in names]
    if missing:
        return f"not a predictions file (no {', '.join(missing)})"
    if thorough and digest != sha256:
        return "changed: its sha256 is not the one its result recorded"
    return None
