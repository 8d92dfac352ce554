"""Reading a trained checkpoint into a model, strictly: published files and the suite's own.

Three layouts are accepted, each loaded with every key and shape checked (``weights_only=True``):

- the publishers' layout (the MSL authors' and CSRA's files): a bare state dict of torchvision
  (ResNet) or timm (ViT) backbone keys and the CSRA head as
  ``classifier.multi_head.<h>.head.weight``, no wrapper, no ``module.`` prefix;
- the suite's ``best.pt`` / ``last.pt``: ``{"model": state_dict, "epoch": …, …}``;
- a bare state dict of a suite model (``backbone.model.…``, ``head.…``).

A file that does not fit raises one error naming what differs — missing and unexpected keys,
shapes, a ``module.`` prefix, a wrapper dict — and which known layout (a published
architecture) the file looks like instead.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from benchmark.errors import UserError
from benchmark.models.model_factory import build_model
from benchmark.spec import RunSpec

BACKBONE = "backbone.model."
PUBLISHER_HEAD = re.compile(r"^classifier\.multi_head\.(\d+)\.head\.weight$")
SUITE_HEAD = re.compile(r"^head\.heads\.(\d+)\.weight$")
WRAPPERS = ("state_dict", "model", "module", "net")
# CSRA's 448-px ViT-L COCO files: a position embedding of 1 + 28×28 tokens, heads head1…head8.
CSRA_VIT448_TOKENS = 785

Shapes = dict[str, tuple[int, ...]]


class CheckpointMismatch(UserError):
    """A checkpoint file whose layout does not fit the model it is loaded into."""


@dataclass(frozen=True)
class LoadedFile:
    layout: str  # publisher | suite-checkpoint | suite-state-dict
    num_keys: int
    epoch: int | None = None  # of a suite checkpoint


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def publisher_key(suite_key: str) -> str | None:
    """A suite model's key in the publishers' layout (None: the publishers have no such key)."""
    if suite_key.startswith(BACKBONE):
        return suite_key[len(BACKBONE) :]
    head = SUITE_HEAD.match(suite_key)
    if head:
        return f"classifier.multi_head.{head.group(1)}.head.weight"
    return None


def suite_key(publisher: str) -> str:
    head = PUBLISHER_HEAD.match(publisher)
    if head:
        return f"head.heads.{head.group(1)}.weight"
    return BACKBONE + publisher


def publisher_layout(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights as the publishers save theirs (what tests write as a release)."""
    state = model.state_dict()
    converted = {publisher_key(k): v for k, v in state.items()}
    if None in converted:
        foreign = [k for k in state if publisher_key(k) is None]
        raise UserError(
            f"model has keys with no published counterpart ({_preview(foreign)}): only a "
            f"backbone with a CSRA head has the publishers' layout"
        )
    return converted


def expected_shapes(model: nn.Module) -> Shapes:
    """The model's layout: suite key → shape (works on the meta device)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def model_layout(spec: RunSpec) -> Shapes:
    """The layout of a run's model, built on the meta device: shapes only, no memory, no
    weights (what a file must have to load into it)."""
    with torch.device("meta"):
        return expected_shapes(build_model(spec))


def read_file(path: Path) -> tuple[dict[str, torch.Tensor], str, int | None]:
    """The file's tensors under the suite's key names, its layout, and a suite epoch."""
    data = _torch_load(path)
    if isinstance(data, Mapping) and _is_suite_checkpoint(data):
        return dict(data["model"]), "suite-checkpoint", data.get("epoch")
    if not isinstance(data, Mapping) or not data:
        raise CheckpointMismatch(f"{path}: holds no state dict (found {type(data).__name__})")
    for wrapper in WRAPPERS:
        if isinstance(data.get(wrapper), Mapping):
            inner = ", ".join(repr(k) for k in data)
            raise CheckpointMismatch(
                f"{path}: the state dict is wrapped in a dict (keys {inner}); published files "
                f"are the bare state dict — save file[{wrapper!r}] on its own"
            )
    other = [str(k) for k, v in data.items() if not isinstance(v, torch.Tensor)]
    if other:
        raise CheckpointMismatch(f"{path}: entries that are not tensors: {_preview(other)}")
    prefixed = [k for k in data if k.startswith("module.")]
    if prefixed:
        raise CheckpointMismatch(
            f"{path}: {len(prefixed)} of {len(data)} keys carry DataParallel's 'module.' "
            f"prefix (e.g. {prefixed[0]!r}); published files have plain keys — save "
            f"model.module.state_dict() instead"
        )
    if any(k.startswith(BACKBONE) for k in data):
        return dict(data), "suite-state-dict", None
    return {suite_key(k): v for k, v in data.items()}, "publisher", None


def load_strict(
    model: nn.Module, path: Path, known: Mapping[str, Shapes] | None = None
) -> LoadedFile:
    """Load ``path`` into ``model``; every key and shape must match, or one error says how not.

    ``known``: labelled layouts in the publishers' key names (each published architecture),
    used to say which one a misfit file looks like instead.
    """
    tensors, layout, epoch = read_file(path)
    problem = mismatch(
        {k: tuple(v.shape) for k, v in tensors.items()},
        expected_shapes(model),
        known,
        publisher_names=layout == "publisher",
    )
    if problem:
        raise CheckpointMismatch(f"{path} ({layout} layout) does not fit the model: {problem}")
    model.load_state_dict(tensors, strict=True)
    return LoadedFile(layout, len(tensors), epoch)


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file as read once, to plan its evaluation: its layout and its suite keys
    and shapes (the values stay memory-mapped, unread), matched against any model's layout
    without reading it again; its sha256 is read once, when first asked for."""

    path: Path
    layout: str  # publisher | suite-checkpoint | suite-state-dict
    shapes: Shapes

    @functools.cached_property
    def sha256(self) -> str:
        return sha256_file(self.path)

    def mismatch(self, expected: Shapes, known: Mapping[str, Shapes] | None = None) -> str | None:
        """What differs from ``expected`` (``mismatch``, keys as the file names them)."""
        return mismatch(self.shapes, expected, known, publisher_names=self.layout == "publisher")


def read_checkpoint(path: Path) -> CheckpointFile:
    """A file's layout, keys and shapes (``read_file``; values stay memory-mapped)."""
    tensors, layout, _ = read_file(path)
    return CheckpointFile(Path(path), layout, {k: tuple(v.shape) for k, v in tensors.items()})


def mismatch(
    found: Shapes,
    expected: Shapes,
    known: Mapping[str, Shapes] | None = None,
    *,
    publisher_names: bool = True,
) -> str | None:
    """What differs between a file and the expected layout (both in suite key names), in one
    line; None when it fits. Keys are shown as the file names them."""

    def show(key: str) -> str:
        return (publisher_key(key) or key) if publisher_names else key

    missing = [show(k) for k in expected if k not in found]
    unexpected = [show(k) for k in found if k not in expected]
    shapes = [
        f"{show(k)} {list(found[k])} in the file, {list(expected[k])} in the model"
        for k in expected
        if k in found and found[k] != expected[k]
    ]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s) {_preview(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) {_preview(unexpected)}")
    if shapes:
        parts.append(f"{len(shapes)} shape(s) differ [{'; '.join(shapes[:3])}]")
    published = {publisher_key(k) or k: s for k, s in found.items()}
    return "; ".join(parts) + looks_like(published, known)


def looks_like(found: Shapes, known: Mapping[str, Shapes] | None) -> str:
    """'; it looks like …' for the closest known layout (publisher key names), or ''."""
    pos = found.get("pos_embed")
    if "head1.weight" in found or (
        pos is not None and len(pos) == 3 and pos[1] == CSRA_VIT448_TOKENS
    ):
        return (
            "; it looks like CSRA's 448-px ViT-L/16 COCO file (785-token position embedding, "
            "head1..head8 with a bias), which the suite does not load"
        )
    best, best_score = None, 0.0
    for label, shapes in (known or {}).items():
        same = sum(1 for k, s in found.items() if shapes.get(k) == s)
        score = same / max(len(found), len(shapes))
        if score > best_score:
            best, best_score = label, score
    if best is None or best_score < 0.5:
        return ""
    if best_score == 1.0:
        return f"; it is exactly the layout of {best}"
    return f"; closest known layout: {best} ({best_score:.0%} of keys and shapes agree)"


def _torch_load(path: Path):
    if not Path(path).is_file():
        raise CheckpointMismatch(f"{path}: file not found")
    with open(path, "rb") as handle:
        head = handle.read(16)
    # torch.save writes a zip archive ("PK"); before PyTorch 1.6, a pickle (protocol 2: 0x80).
    # Anything else would fail deep inside the unpickler with a bare "KeyError: 101".
    if not head.startswith((b"PK", b"\x80")):
        what = "an empty file" if not head else f"it starts with {head[:12]!r}"
        if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            what = f"a text file (it starts with {head[:12].decode()!r})"
        raise CheckpointMismatch(
            f"{path}: not a PyTorch checkpoint: {what}, where torch.save writes a zip archive"
        )
    try:
        # Memory-mapped: telling a 1.2 GB ViT-L file's layout costs no RAM. Legacy (pre-zip)
        # files cannot be mapped and are read whole.
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc):
            raise CheckpointMismatch(
                f"{path}: not a readable PyTorch file ({_first(exc)})"
            ) from None
    except Exception as exc:  # noqa: BLE001 — refused pickles, truncated files: name the file
        raise CheckpointMismatch(f"{path}: not a readable PyTorch file ({_first(exc)})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointMismatch(f"{path}: not a readable PyTorch file ({_first(exc)})") from None


def _is_suite_checkpoint(data: Mapping) -> bool:
    model = data.get("model")
    return isinstance(model, Mapping) and any(str(k).startswith(BACKBONE) for k in model)


def _first(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0].split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {text or 'file ends early'}"


def _preview(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    more = f" +{len(keys) - n} more" if len(keys) > n else ""
    return f"[{shown}{more}]"
