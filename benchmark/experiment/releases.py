"""The registry of published checkpoints: experiments/released.yaml and the key manifests.

A release is one published file (the MSL authors' or CSRA's). It names the registry run whose
architecture it loads into, the publisher's value, and the table cells it speaks to. A manifest
(experiments/released_manifests/<arch>.json) is the exact state-dict layout of the files of one
architecture, read from the publisher's own model class. Validation happens here, at the edge,
with the same kind of errors as the rest of the registry: file, release, field.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import RegistryError
from benchmark.experiment.profiles import get_profile, profile_backbone, resolve_run
from benchmark.experiment.registry import ID_PATTERN, Registry, _check_fields, _read_yaml
from benchmark.scoring.metrics import METRIC_NAMES
from benchmark.spec import DATASET_CLASSES, RunSpec

RELEASES_FILE = "released.yaml"
MANIFEST_DIR = "released_manifests"
# Manifest ids start with the publisher's backbone; the timm model with the same state-dict keys.
MANIFEST_BACKBONES = {
    "resnet101_": "resnet101",
    "vit_b16_224_": "vit_base_patch16_224",
    "vit_l16_224_": "vit_large_patch16_224",
}
RELEASE_FIELDS = {
    "file": str,
    "publisher": str,
    "origin": str,
    "reported": dict,
    "loads_into": list,
    "stand_in": str,
    "unmapped": str,
    "notes": list,
}
TARGET_FIELDS = {
    "manifest": str,
    "like": str,
    "backbone": str,
    "num_heads": int,
    "lam": float,
    "cells": list,
}


@dataclass(frozen=True)
class ManifestKey:
    name: str
    shape: tuple[int, ...]
    dtype: str  # float32 | int64
    kind: str  # parameter | buffer


@dataclass(frozen=True)
class Manifest:
    """The state-dict layout of one published architecture, keys in file order."""

    id: str
    backbone: str  # timm model name
    num_heads: int
    lam: float
    num_classes: int
    img_size: int
    keys: tuple[ManifestKey, ...]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {key.name: key.shape for key in self.keys}


@dataclass(frozen=True)
class Target:
    """One architecture a release's file can be: a manifest and the run it loads into."""

    manifest: str
    like: str
    backbone: str | None = None  # overrides of the `like` run, where no run matches exactly
    num_heads: int | None = None
    lam: float | None = None
    cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    id: str
    file: str
    publisher: str
    origin: str
    reported: dict[str, float]
    targets: tuple[Target, ...]  # empty when unmapped
    stand_in: str | None = None
    unmapped: str | None = None
    notes: tuple[str, ...] = ()
    dataset: str | None = None  # of the run it loads into; None when unmapped


@dataclass
class Releases:
    releases: dict[str, Release]
    manifests: dict[str, Manifest]
    path: Path

    def select(self, selector: str) -> list[Release]:
        """`released` (every release) or a glob over release ids (`msl-*`, `csra-voc-*`)."""
        selector = selector.strip()
        if selector in ("released", "all"):
            return list(self.releases.values())
        chosen = [r for r in self.releases.values() if fnmatch.fnmatchcase(r.id, selector)]
        if not chosen:
            raise RegistryError(
                f"selector {selector!r} matches no release (use 'released' or a glob over "
                f"release ids such as 'msl-*'; ids: {', '.join(self.releases)})"
            )
        return chosen

    def speaking_to(self, cell_id: str) -> list[tuple[Release, Target]]:
        """The releases (and their architecture) whose measured value belongs beside a cell."""
        return [(r, t) for r in self.releases.values() for t in r.targets if cell_id in t.cells]


def load_releases(registry: Registry) -> Releases:
    """experiments/released.yaml beside the registry, validated against its runs and cells."""
    path = Path(registry.root) / RELEASES_FILE
    data = _read_yaml(path)
    _check_fields(path, "top level", data, {"releases": dict}, ("releases",))
    manifests = load_all_manifests(registry.root)
    releases: dict[str, Release] = {}
    for name, raw in data["releases"].items():
        where = f"release {name}"
        if not ID_PATTERN.fullmatch(str(name)):
            raise RegistryError(f"{path}: {where}: release ids use a-z, 0-9, '.', '_' and '-'")
        _check_fields(path, where, raw, RELEASE_FIELDS, ("file", "publisher", "origin", "reported"))
        for metric, value in raw["reported"].items():
            if metric not in METRIC_NAMES:
                raise RegistryError(
                    f"{path}: {where}: field 'reported': {metric!r} is not one of "
                    f"{', '.join(METRIC_NAMES)}"
                )
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise RegistryError(
                    f"{path}: {where}: field 'reported.{metric}': expected a number"
                )
        if ("loads_into" in raw) == ("unmapped" in raw):
            raise RegistryError(
                f"{path}: {where}: field 'loads_into': give exactly one of loads_into or unmapped"
            )
        targets = []
        datasets = set()
        for index, target_raw in enumerate(raw.get("loads_into") or []):
            target = _target(path, f"{where}: loads_into[{index}]", target_raw, registry)
            if target.manifest not in manifests:
                missing = Path(registry.root) / MANIFEST_DIR / f"{target.manifest}.json"
                raise RegistryError(
                    f"{path}: {where}: loads_into[{index}]: field 'manifest': no file {missing}"
                )
            _check_target(path, f"{where}: loads_into[{index}]", target, registry, manifests)
            datasets.add(registry.runs[target.like]["dataset"])
            targets.append(target)
        if "loads_into" in raw and not targets:
            raise RegistryError(f"{path}: {where}: field 'loads_into': list at least one target")
        if len(datasets) > 1:
            raise RegistryError(
                f"{path}: {where}: field 'loads_into': targets on different datasets "
                f"({', '.join(sorted(datasets))})"
            )
        files = [r.file for r in releases.values()]
        if raw["file"] in files or "/" in raw["file"]:
            raise RegistryError(
                f"{path}: {where}: field 'file': {raw['file']!r} must be a bare, unique file name"
            )
        releases[name] = Release(
            id=name,
            file=raw["file"],
            publisher=raw["publisher"],
            origin=raw["origin"],
            reported={k: float(v) for k, v in raw["reported"].items()},
            targets=tuple(targets),
            stand_in=raw.get("stand_in"),
            unmapped=raw.get("unmapped"),
            notes=tuple(str(n) for n in raw.get("notes", ())),
            dataset=datasets.pop() if datasets else None,
        )
    return Releases(releases, manifests, path)


def _target(path: Path, where: str, raw: Any, registry: Registry) -> Target:
    _check_fields(path, where, raw, TARGET_FIELDS, ("manifest", "like", "cells"))
    if raw["like"] not in registry.runs:
        raise RegistryError(f"{path}: {where}: field 'like': no run named {raw['like']!r}")
    by_id = {cell.id: cell for cell in registry.cells}
    for cell_id in raw["cells"]:
        if cell_id not in by_id:
            raise RegistryError(f"{path}: {where}: field 'cells': no cell named {cell_id!r}")
        if by_id[cell_id].dataset != registry.runs[raw["like"]]["dataset"]:
            raise RegistryError(
                f"{path}: {where}: field 'cells': {cell_id} is on {by_id[cell_id].dataset}, the "
                f"run {raw['like']} on {registry.runs[raw['like']]['dataset']}"
            )
        if by_id[cell_id].table == 1:
            raise RegistryError(
                f"{path}: {where}: field 'cells': {cell_id}: Table 1 has no published model"
            )
    return Target(
        manifest=raw["manifest"],
        like=raw["like"],
        backbone=raw.get("backbone"),
        num_heads=raw.get("num_heads"),
        lam=float(raw["lam"]) if "lam" in raw else None,
        cells=tuple(raw["cells"]),
    )


def target_architecture(target: Target, registry: Registry) -> dict[str, Any]:
    """The paper-profile architecture a target loads into: its run with the overrides."""
    run = registry.runs[target.like]
    return {
        "backbone": target.backbone or run["backbone"],
        "arch": run["arch"],
        "num_heads": target.num_heads if target.num_heads is not None else run["num_heads"],
        "lam": target.lam if target.lam is not None else run["lam"],
        "num_classes": DATASET_CLASSES[run["dataset"]],
        "img_size": run["img_size"],
    }


def _check_target(
    path: Path, where: str, target: Target, registry: Registry, manifests: dict[str, Manifest]
) -> None:
    manifest = manifests[target.manifest]
    arch = target_architecture(target, registry)
    if arch["arch"] != "csra":
        raise RegistryError(
            f"{path}: {where}: field 'like': run {target.like} has a {arch['arch']} head; every "
            f"published file has a CSRA head"
        )
    expected = {
        "backbone": manifest.backbone,
        "num_heads": manifest.num_heads,
        "lam": manifest.lam,
        "num_classes": manifest.num_classes,
        "img_size": manifest.img_size,
    }
    for key, value in expected.items():
        if arch[key] != value:
            field = key if key in TARGET_FIELDS else "like"
            raise RegistryError(
                f"{path}: {where}: field {field!r}: run {target.like} gives {key} {arch[key]!r}, "
                f"manifest {manifest.id} has {value!r}"
                + (" (override it in the entry)" if key in TARGET_FIELDS else "")
            )


def load_manifest(path: Path) -> Manifest:
    """One manifest JSON, checked for the fields the loader relies on."""
    if not path.is_file():
        raise RegistryError(f"{path}: manifest not found")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise RegistryError(f"{path}: not valid JSON: {exc}") from None
    try:
        arch_id = data["arch_id"]
        constructor = data["constructor"]
        keys = tuple(
            ManifestKey(str(name), tuple(int(d) for d in shape), str(dtype), str(kind))
            for name, shape, dtype, kind in data["keys"]
        )
        num_heads = int(constructor.get("num_heads", constructor.get("cls_num_heads")))
        lam = float(constructor["lam"])
        classes = int(constructor.get("num_classes", constructor.get("cls_num_cls")))
        img_size = int(data["img_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"{path}: malformed manifest ({type(exc).__name__}: {exc})") from None
    if arch_id != path.stem:
        raise RegistryError(f"{path}: field 'arch_id': {arch_id!r} differs from the file name")
    if len(keys) != data.get("num_keys", len(keys)):
        raise RegistryError(f"{path}: field 'keys': {len(keys)} keys, num_keys says otherwise")
    backbone = next((b for p, b in MANIFEST_BACKBONES.items() if arch_id.startswith(p)), None)
    if backbone is None:
        raise RegistryError(f"{path}: field 'arch_id': unknown backbone in {arch_id!r}")
    return Manifest(arch_id, backbone, num_heads, lam, classes, img_size, keys)


def load_all_manifests(root: Path) -> dict[str, Manifest]:
    """Every manifest of the registry folder (to say which architecture a stray file is)."""
    folder = Path(root) / MANIFEST_DIR
    return {p.stem: load_manifest(p) for p in sorted(folder.glob("*.json"))}


def target_run(
    registry: Registry,
    release_id: str,
    target: Target,
    profile: str,
    precision: str | None = None,
) -> RunSpec:
    """The RunSpec a release's file loads into, for a profile: its `like` run with the target's
    overrides, named after the release. No pretrained weights: the file carries every weight.
    It computes at ``precision`` (None: the profile's, tf32 for the paper profile)."""
    spec = resolve_run(registry, target.like, profile, precision=precision)
    prof = get_profile(profile)
    backbone = spec.backbone
    if target.backbone is not None:
        backbone = target.backbone
        if prof.backbones is not None:
            backbone = profile_backbone(prof, target.backbone)
    return dataclasses.replace(
        spec,
        name=release_id,
        backbone=backbone,
        weights=None,
        num_heads=target.num_heads if target.num_heads is not None else spec.num_heads,
        lam=target.lam if target.lam is not None else spec.lam,
    )


def known_layouts(releases: Releases) -> dict[str, dict[str, tuple[int, ...]]]:
    """Each published architecture's layout, labelled with the releases that have it (what a
    misfit file is compared with, to say which one it looks like)."""
    labels: dict[str, list[str]] = {m: [] for m in releases.manifests}
    for release in releases.releases.values():
        for target in release.targets:
            labels[target.manifest].append(release.id)
    return {
        f"architecture {m} ({'release ' + ', '.join(ids) if ids else 'no release'})": (
            releases.manifests[m].shapes()
        )
        for m, ids in labels.items()
    }
