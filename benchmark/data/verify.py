"""``benchmark data verify``: every problem of a dataset tree (or its archives), listed at once,
so a user fixes a broken download in one pass instead of one crash at a time."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from benchmark.data.classes import CLASSES
from benchmark.data.dataset_factory import LOADERS
from benchmark.data.layout import SPLITS, dataset_info, find_root
from benchmark.data.synthetic import MARKER, read_marker
from benchmark.errors import DataError


def verify_dataset(name: str, root: str | Path, archives: list[Path] | None = None) -> list[str]:
    """Problems found (empty when clean): layout, class list, malformed annotations, missing
    or undecodable images, empty splits, sample counts (official ones for real data, the
    ``SYNTHETIC.json`` ones for synthetic trees), WIDER boxes outside their image, archives."""
    info = dataset_info(name)
    problems: list[str] = []
    try:
        base = find_root(name, root)
    except DataError as err:
        problems.append(str(err))
        base = None
    if base is not None:
        marker = read_marker(base)
        for split in SPLITS:
            split_problems: list[str] = []
            records = LOADERS[name](base, split, split_problems)
            problems += split_problems
            n = len(records.files)
            if n == 0:
                problems.append(f"{base}: the {split} split has no samples")
            elif list(records.classes) != list(CLASSES[name]):
                problems.append(f"{base}: {split} class list differs from the official one")
            expected = marker["counts"][split] if marker else info.counts[split]
            if n and n != expected:
                source = MARKER if marker else "the official count"
                problems.append(
                    f"{base}: the {split} split has {n} samples, expected {expected} ({source})"
                )
            problems += undecodable(sorted(set(records.files)))
    for archive in archives or []:
        problems += check_archive(name, Path(archive))
    return problems


MASK_FILES = 12000  # the NVIDIA irregular mask testing set: 00000.png … 11999.png


def verify_masks(folder: str | Path) -> list[str]:
    """Problems of an NVIDIA mask folder, all at once: missing files (one line for the lot),
    files that do not decode and masks that are not binary, each named."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder}: mask folder not found (expected 00000.png … 11999.png)"]
    names = [f"{n:05d}.png" for n in range(MASK_FILES)]
    present = set(os.listdir(folder))
    missing = [name for name in names if name not in present]
    problems = []
    if missing:
        shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
        problems.append(f"{folder}: {len(missing)} of {MASK_FILES} mask files missing ({shown})")
    files = [str(folder / name) for name in names if name in present]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = pool.map(_mask_problem, files)
        problems += [p for p in tqdm(results, total=len(files), desc="masks", disable=None) if p]
    return problems


def _mask_problem(path: str) -> str | None:
    try:
        with Image.open(path) as img:
            values = np.asarray(img.convert("L"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return f"{path}: mask does not decode ({err})"
    if np.any((values != 0) & (values != 255)):
        return f"{path}: mask is not binary (values other than 0 and 255)"
    return None


def undecodable(files: list[str]) -> list[str]:
    """Images that exist but fail PIL's verify() or a full decode (missing ones are reported
    by the loaders). Threads: decoding releases the GIL."""
    existing = [f for f in files if os.path.isfile(f)]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = pool.map(_decode_problem, existing)
        return [p for p in tqdm(results, total=len(existing), desc="decode", disable=None) if p]


def _decode_problem(path: str) -> str | None:
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return f"{path}: image does not decode ({err})"
    return None


def check_archive(name: str, archive: Path) -> list[str]:
    """Known archive name; MD5 where one is published (VOC, COCO); opens as tar/zip and holds
    its expected top folders (the only check possible for WIDER, which publishes no MD5)."""
    info = dataset_info(name)
    if not archive.is_file():
        return [f"{archive}: archive not found"]
    if archive.name not in info.archives:
        return [f"{archive}: not an official {info.title} archive ({', '.join(info.archives)})"]
    problems = []
    expected_md5 = info.archives[archive.name]
    if expected_md5 is not None:
        digest = _md5(archive)
        if digest != expected_md5:
            problems.append(f"{archive}: MD5 {digest} differs from the published {expected_md5}")
    try:
        missing = _missing_tops(archive, info.archive_tops[archive.name])
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
        return problems + [f"{archive}: does not open as an archive ({err})"]
    if missing:
        problems.append(f"{archive}: archive lacks {', '.join(missing)}")
    return problems


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 23), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _missing_tops(archive: Path, tops: tuple[str, ...]) -> list[str]:
    """Expected entries not found: a top folder, or for the WIDER zip a file name anywhere."""
    remaining = set(tops)

    def see(member: str) -> None:
        member = member.strip("/")
        for top in list(remaining):
            if member == top or member.startswith(top + "/") or member.endswith("/" + top):
                remaining.discard(top)

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                see(member)
    else:
        with tarfile.open(archive) as tf:
            for member in tf:
                see(member.name)
                if not remaining:
                    break
    return sorted(remaining)
