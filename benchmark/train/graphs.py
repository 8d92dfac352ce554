"""CUDA graphs for the training step and evaluation, on by default on CUDA, with a fallback to
eager that says why.

At the paper's batch of 6 an eager GPU step is bound by launching ~1,570 kernels, not by
arithmetic (docs/performance.md); ``torch.compile(mode="reduce-overhead")`` captures the step
in CUDA graphs and replays it with one launch. The model is compiled in place (by the one
model setup, ``benchmark.train.inference.prepare_model``), so parameter names (and
checkpoints) are the same with or without graphs.

Static shapes: a captured graph replays one input shape. Every full batch has the run's batch
size; the last, partial batch of a training epoch (VOC: 5,011 = 835 × 6 + 1) and of a test
pass runs eagerly instead of recompiling: the same arithmetic as a run without graphs. Training
keeps every image (no ``drop_last``: the recipe sees each image every epoch) and never pads,
since padded rows would enter BatchNorm's batch statistics in train mode.

Fallback: a mode that cannot work here is refused before any work (no Triton for CUDA kernels,
no Dynamo on this Python, several processes under DDP), and a compile error on the first
compiled call of a phase (train or eval) redoes that call eagerly, with the model's buffers
(BatchNorm statistics) restored first. Either way the run goes on in eager mode, prints why,
and records it in its result (``compile``, ``compile_fallback``: speed only, never part of a
run's identity).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import torch

AUTO = "auto"  # reduce-overhead on CUDA, none elsewhere
NONE = "none"
GRAPHS = "reduce-overhead"
MODES = (AUTO, NONE, "default", GRAPHS, "max-autotune")  # the last three: torch.compile's

log = logging.getLogger("benchmark.train")
T = TypeVar("T")


def resolve_mode(option: str | None, device: torch.device) -> str | None:
    """The torch.compile mode a run asks for (None = eager): ``auto`` means CUDA graphs on a
    CUDA device and eager elsewhere (on a CPU there are no graphs to capture)."""
    if option in (None, NONE):
        return None
    if option == AUTO:
        return GRAPHS if device.type == "cuda" else None
    return option


def unavailable(mode: str, device: torch.device, world_size: int = 1) -> str | None:
    """Why ``mode`` cannot run here, found before any work; None when it can."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]} in this torch"
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "Triton is not installed, and inductor needs it for CUDA kernels"
        if world_size > 1 and mode == GRAPHS:
            return "CUDA graphs are not used under DDP: gradients are all-reduced outside them"
    return None


@dataclass
class Graphs:
    """The compile state of one run or evaluation: the mode in use and why it fell back."""

    mode: str | None  # in use; None = eager
    batch_size: int
    requested: str | None = None
    fallback: str | None = None
    compiled: bool = False  # the model was compiled in place (and stays so after a fallback)
    proven: set[str] = field(default_factory=set)  # phases whose first compiled call worked

    @classmethod
    def setup(
        cls,
        model: torch.nn.Module,
        option: str | None,
        device: torch.device,
        batch_size: int,
        world_size: int,
        compile_in_place: Callable[[torch.nn.Module, str], None],
    ) -> Graphs:
        """Resolve the mode, refuse it where it cannot work, else compile the model in place."""
        mode = resolve_mode(option, device)
        graphs = cls(None, batch_size, requested=mode)
        if mode is None:
            return graphs
        reason = unavailable(mode, device, world_size)
        if reason is not None:
            graphs._fall_back(reason)
            return graphs
        compile_in_place(model, mode)
        graphs.mode, graphs.compiled = mode, True
        return graphs

    def run(self, phase: str, rows: int, fn: Callable[[], T], model: torch.nn.Module) -> T:
        """``fn()`` (the forward, and in training the backward) compiled for a full batch,
        eagerly for a partial one or after a fallback."""
        if not self.compiled:
            return fn()
        if self.mode is None or rows != self.batch_size:
            with torch.compiler.set_stance("force_eager"):
                return fn()
        if self.mode == GRAPHS:
            torch.compiler.cudagraph_mark_step_begin()  # a new step: earlier outputs are done
        if phase in self.proven:
            return fn()
        saved = {name: b.detach().clone() for name, b in model.named_buffers()}
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 — any compile failure: go on eagerly, say why
            self._fall_back(f"{type(exc).__name__} on the first compiled {phase} call: {_why(exc)}")
            with torch.no_grad():
                for name, buffer in model.named_buffers():
                    buffer.copy_(saved[name])
            with torch.compiler.set_stance("force_eager"):
                return fn()
        self.proven.add(phase)
        return out

    def _fall_back(self, reason: str) -> None:
        self.mode, self.fallback = None, reason
        message = f"compile: running eagerly ({reason})"
        log.warning("%s", message)
        print(f"  {message}")

    def record(self) -> dict[str, str | None]:
        """What the result says about it (outside the run's identity)."""
        return {"compile": self.mode or NONE, "compile_fallback": self.fallback}


def _why(exc: BaseException) -> str:
    """The root cause's type and first line (a backend error wraps the compiler's own)."""
    root = getattr(exc, "inner_exception", None) or exc.__cause__ or exc
    lines = [line for line in str(root).strip().splitlines() if line.strip()]
    return f"{type(root).__name__}: {lines[0][:300] if lines else ''}"
