"""Which code made a result's numbers: a fingerprint of the science sources.

A run's identity (``spec.py``) hashes its configuration only, so a change to the loss, a model
or a loader would leave every result "done". Each result therefore records, in its provenance,
the sha256 of the sources that determine its numbers (``SCIENCE_SOURCES``) and one hash per
file. The fingerprint is *not* part of the identity — a comment edit must not orphan results —
but a done result whose fingerprint differs from the current code is reported ``stale`` with
the files that changed, and ``benchmark run --rerun-stale`` reruns it. Results written before
fingerprints were recorded carry none and stay done, with a note.

Only files are read (no imports), so planning and the report stay light. Contents are hashed
with line endings normalised and keyed by their path inside the package, so every clone and
every operating system gets the same fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # benchmark/
FILE_HASH_DIGITS = 16  # per-file hashes name the changed files; the total uses full hashes

# Every module whose code can change a number in a result, relative to the package.
SCIENCE_SOURCES: tuple[str, ...] = (
    # what a number means, and how a registry run becomes a resolved spec
    "scoring/metrics.py",
    "scoring/breakdown.py",
    "scoring/floors.py",
    "spec.py",
    "experiment/profiles.py",
    "experiment/releases.py",
    # data: loaders, label codes, crops, transforms, masks, synthetic trees
    "data/__init__.py",
    "data/dataset_factory.py",
    "data/cache.py",
    "data/classes.py",
    "data/coco.py",
    "data/dataset.py",
    "data/layout.py",
    "data/masks.py",
    "data/people.py",
    "data/pools.py",
    "data/procedural.py",
    "data/records.py",
    "data/scenes.py",
    "data/synthetic.py",
    "data/transforms.py",
    "data/voc.py",
    "data/wider.py",
    # models
    "models/__init__.py",
    "models/backbones.py",
    "models/model_factory.py",
    "models/checkpoint_files.py",
    "models/classifier.py",
    "models/heads.py",
    "models/mcar.py",
    "models/mini.py",
    "models/protocol.py",
    "models/sst.py",
    "models/weights.py",
    # training and evaluation
    "train/__init__.py",
    "train/checkpoint.py",
    "train/job_context.py",
    "train/checkpoint_evaluation.py",
    "train/graphs.py",
    "train/inference.py",
    "train/loop.py",
    "train/model_evaluation.py",
    "train/objectives.py",
    "train/precision.py",
    "train/schedule.py",
    "train/seeding.py",
    # data-parallel sharding and gathering of predictions
    "train/distributed.py",
)

# Modules of the science packages that cannot change a number, and why (a test checks that
# every module of data/, models/ and train/ is in one list or the other).
NOT_SCIENCE: dict[str, str] = {
    "data/pretrain_corpus.py": "renders the pretraining corpus; a run reads only the weights "
    "file pretraining made (its sha256 is in weights/mini/PRETRAIN.json)",
    "data/stats.py": "dataset statistics for `benchmark data stats`",
    "data/verify.py": "layout checks for `benchmark data verify`",
    "data/mask_geometry.py": "measures the regime rule's object scale and feature cells for "
    "`benchmark data regime`; no run imports it",
    "models/macs.py": "MAC counting for the cost column of `benchmark run --dry-run`",
    "train/pretraining.py": "makes the weights/mini files; a run reads only those files",
}

NO_FINGERPRINT_NOTE = "no code fingerprint (made before fingerprints were recorded)"


def file_digest(path: Path) -> str:
    """sha256 of a source file with CRLF and CR line endings read as LF."""
    data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def source_fingerprint(root: Path = PACKAGE_ROOT) -> dict[str, Any]:
    """``{"sha256": total, "files": {path: short hash}}`` over ``SCIENCE_SOURCES`` under
    ``root`` (the package folder). A listed file that is missing raises FileNotFoundError."""
    digests = {name: file_digest(Path(root) / name) for name in sorted(SCIENCE_SOURCES)}
    total = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    return {
        "sha256": total,
        "files": {name: digest[:FILE_HASH_DIGITS] for name, digest in digests.items()},
    }


@functools.cache
def current_fingerprint() -> dict[str, Any]:
    """The fingerprint of the code running now (read once per process)."""
    return source_fingerprint()


@dataclass(frozen=True)
class CodeCheck:
    """How a result's recorded fingerprint compares with the current code."""

    state: str  # current | stale | unrecorded
    changed: tuple[str, ...] = ()  # files added, removed or edited since the result was made

    @property
    def note(self) -> str | None:
        if self.state == "stale":
            changed = ", ".join(self.changed) or "unknown files"
            return f"stale: made by other code (changed since: {changed})"
        if self.state == "unrecorded":
            return NO_FINGERPRINT_NOTE
        return None


def check_code(result: dict[str, Any], current: dict[str, Any] | None = None) -> CodeCheck:
    """Compare the fingerprint in a result's provenance with ``current`` (default: this code)."""
    recorded = (result.get("provenance") or {}).get("code")
    if not isinstance(recorded, dict) or "sha256" not in recorded:
        return CodeCheck("unrecorded")
    current = current_fingerprint() if current is None else current
    if recorded["sha256"] == current["sha256"]:
        return CodeCheck("current")
    old, new = recorded.get("files") or {}, current["files"]
    changed = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
    return CodeCheck("stale", tuple(changed))
