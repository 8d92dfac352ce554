"""Fully resolved, hashable descriptions of one training run and one evaluation (of a run's
checkpoint, or of any model: ModelEvalSpec).

A RunSpec is plain data: everything a run needs and nothing global. Its identity is a hash of
the fields that change the science (``identity_fields``), so the same configuration reached from
several table cells is trained once. Names and notes are labels and stay out of the hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Bump when the meaning of an existing field changes, so old results stop matching.
HASH_VERSION = 1

DATASET_CLASSES = {"voc2007": 20, "coco2014": 80, "wider": 14}
ARCHS = ("plain", "csra", "mcar", "sst")
METHODS = ("supervised", "msl")
TRAIN_POOLS = ("high", "low")
AUGMENTS = ("flip_rrc", "flip")
NORMALIZATIONS = ("unit", "half")  # [0,1] inputs; mean 0.5 / std 0.5 → [-1,1] (WIDER)
BUCKETS = tuple(f"bucket:{k}" for k in range(6))
CURVE_CONDITIONS = ("clean", *BUCKETS)
BN_REESTIMATES = ("clean", "mixed")
# The arithmetic a run trains and evaluates in (benchmark.train.precision, docs/fidelity.md):
# strict fp32; fp32 with TF32 allowed for CUDA matmuls and cuDNN convolutions (the authors'
# torch 1.8 default, the paper profiles'); bf16 autocast (a speed choice, opt-in).
PRECISIONS = ("fp32", "tf32", "bf16")
PRECISION_MEANING = {  # as status and the report state it
    "fp32": "strict fp32 (TF32 off)",
    "tf32": "fp32 tensors, TF32 allowed for CUDA matmuls and cuDNN convolutions: the paper "
    "protocol's, as the authors' torch 1.8",
    "bf16": "bf16 autocast: a speed choice, not the paper protocol's",
}
# CSRA's head count H → the softmax temperatures of its H heads, as in CSRA's code (which
# writes ∞ as 99): the head counts a run may ask for and what the model builds for each.
CSRA_TEMPERATURES: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (1.0, math.inf),
    4: (1.0, 2.0, 4.0, math.inf),
    6: (1.0, 2.0, 3.0, 4.0, 5.0, math.inf),
    8: (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, math.inf),
}


@dataclass(frozen=True)
class SynthSpec:
    """Synthetic data written in the dataset's real layout (smoke and mini profiles)."""

    train_images: int
    test_images: int
    image_size: int
    seed: int = 0
    # VOC/COCO scenes: log-uniform range of an object's box area as a fraction of the image;
    # None = the v1 generator's (0.6–25 %). Left out of the identity at None, so trees and runs
    # made before it existed keep their names and hashes.
    object_area: tuple[float, float] | None = None


@dataclass(frozen=True)
class RunSpec:
    """One training run, fully resolved for a profile."""

    kind: ClassVar[str] = "train"  # as results and jobs name it

    name: str  # label from the registry (not part of the identity)
    dataset: str
    backbone: str  # timm model name
    weights: str | None  # key of benchmark.models weights catalogue; None = random init
    arch: str  # plain | csra | mcar | sst
    num_heads: int
    lam: float
    method: str  # supervised | msl
    mask_pool: str | None  # high | low for msl; None for supervised
    img_size: int
    epochs: int
    lr_step: int  # StepLR step size in epochs
    augment: str
    normalize: str
    batch_size: int = 6
    lr: float = 0.01
    head_lr_mult: float = 10.0
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_epochs: int = 2
    lr_gamma: float = 0.1
    fused: bool = False  # MSL clean+masked in one forward (changes BatchNorm statistics)
    mask_source: str | None = None  # nvidia | procedural for msl; None when no mask is drawn
    seed: int = 0
    # Held-out share of the training set (fixed by seed) for selecting an epoch without the
    # test set; 0 = train on all of it, as the paper does.
    val_fraction: float = 0.0
    # Weight of the clean BCE in a supervised run: the loss-scale control (docs/claims.md)
    # trains a baseline at 0.5, MSL's total gradient scale at initialisation.
    clean_loss_weight: float = 1.0
    # fp32 | tf32 | bf16 (PRECISIONS): evaluations of the run's checkpoints use it too
    precision: str = "fp32"
    # Evaluate the test (and validation) split every ``eval_every``-th epoch and at each of the
    # last EVAL_TAIL epochs (benchmark.train.loop); 1 = every epoch, as the paper does.
    eval_every: int = 1
    synth: SynthSpec | None = None  # None = the real dataset
    profile: str = "paper"
    notes: tuple[str, ...] = field(default=())

    LABEL_FIELDS = ("name", "notes")
    # Fields added after results were recorded: left out of the identity at their default, so
    # the runs that do not use them keep their hashes (and their committed results).
    OMITTED_AT_DEFAULT = {
        "val_fraction": 0.0,
        "clean_loss_weight": 1.0,
        "precision": "fp32",
        "eval_every": 1,
    }

    @property
    def num_classes(self) -> int:
        return DATASET_CLASSES[self.dataset]

    def identity(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in self.LABEL_FIELDS:
            data.pop(key)
        if data["synth"] is not None:
            data["synth"] = omit_defaults(data["synth"], {"object_area": None})
        return omit_defaults(data, self.OMITTED_AT_DEFAULT)

    @property
    def hash(self) -> str:
        return config_hash({"kind": self.kind, **self.identity()})

    @property
    def trained_run(self) -> RunSpec:
        """The training run behind this spec's numbers: itself (an EvalSpec's is its run)."""
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        if data.get("synth") is not None:
            synth = dict(data["synth"])
            if synth.get("object_area") is not None:  # a JSON list back to the tuple
                synth["object_area"] = tuple(synth["object_area"])
            data["synth"] = SynthSpec(**synth)
        data["notes"] = tuple(data.get("notes", ()))
        return cls(**data)


@dataclass(frozen=True)
class EvalSpec:
    """Evaluation of a checkpoint under test-time masking conditions: a trained run's best or
    last one, or a file identified by its sha256 (``benchmark evaluate``).

    ``conditions`` are ``clean``, ``high``, ``low`` or ``bucket:K``, optionally suffixed
    ``_seed<s>`` to draw with mask seed s; each test image gets one mask per condition, drawn
    from the seed and the image index, so every model evaluated with the same EvalSpec fields
    sees exactly the same masks.
    """

    name: str
    run: RunSpec
    conditions: tuple[str, ...]
    mask_seed: int = 0
    mask_source: str = "nvidia"
    # best (the paper's protocol) | last | sha256:<hex> of a checkpoint file (a published one)
    checkpoint: str = "best"
    # The BatchNorm control (docs/claims.md): before scoring, re-estimate BatchNorm's running
    # statistics on clean training images ("clean") or on clean then masked batches ("mixed").
    bn_reestimate: str | None = None
    checkpoint_file: str | None = None  # where that file was read: a label, not the identity

    kind: ClassVar[str] = "eval"

    def identity(self) -> dict[str, Any]:
        identity = {
            "run": self.run.hash,
            "conditions": list(self.conditions),
            "mask_seed": self.mask_seed,
            "mask_source": self.mask_source,
            "checkpoint": self.checkpoint,
        }
        if self.bn_reestimate is not None:  # absent before the control existed: same hashes
            identity["bn_reestimate"] = self.bn_reestimate
        return identity

    @property
    def hash(self) -> str:
        return config_hash({"kind": self.kind, **self.identity()})

    @property
    def trained_run(self) -> RunSpec:
        """The training run whose checkpoint this evaluates."""
        return self.run

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["run"] = self.run.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSpec:
        data = dict(data)
        data["run"] = RunSpec.from_dict(data["run"])
        data["conditions"] = tuple(data["conditions"])
        return cls(**data)


@dataclass(frozen=True)
class ModelEvalSpec:
    """An evaluation of a model the registry does not describe (``benchmark.evaluate_model``):
    the weights are named by ``model`` (a digest of their values), the test set by a digest of
    its targets (so synthetic and real data never share an identity), and the masked test by
    the fields an EvalSpec has, which draw the same masks for the same seeds."""

    name: str  # a label (not part of the identity)
    model: str  # sha256:<hex> of the state dict's names, shapes and values
    dataset: str
    test_set: str  # sha256 of the test targets (benchmark.store.predictions.targets_digest)
    img_size: int
    normalize: str
    conditions: tuple[str, ...]
    mask_seed: int = 0
    mask_source: str = "nvidia"
    tie_order: str = "authors"
    precision: str = "fp32"  # PRECISIONS: the arithmetic the model was scored in

    kind: ClassVar[str] = "model_eval"
    # as RunSpec's: left out of the identity at its default, so evaluations saved before it
    # was recorded keep their hashes
    OMITTED_AT_DEFAULT: ClassVar[dict[str, Any]] = {"precision": "fp32"}

    def identity(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("name")
        data["conditions"] = list(self.conditions)
        return omit_defaults(data, self.OMITTED_AT_DEFAULT)

    @property
    def hash(self) -> str:
        return config_hash({"kind": self.kind, **self.identity()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelEvalSpec:
        return cls(**{**data, "conditions": tuple(data["conditions"])})


def spec_from_dict(kind: str, data: dict[str, Any]) -> RunSpec | EvalSpec | ModelEvalSpec:
    """A stored spec back: a RunSpec for kind ``train``, an EvalSpec for ``eval``, a
    ModelEvalSpec for ``model_eval``."""
    kinds = {spec.kind: spec for spec in (RunSpec, EvalSpec, ModelEvalSpec)}
    return kinds[kind].from_dict(data)


def omit_defaults(identity: dict[str, Any], omitted: dict[str, Any]) -> dict[str, Any]:
    """An identity without the fields added after results were recorded, where they hold their
    default: the specs that do not use such a field keep their hashes (and their results)."""
    return {k: v for k, v in identity.items() if k not in omitted or v != omitted[k]}


def config_hash(identity: dict[str, Any]) -> str:
    """Stable 12-hex-digit hash of a JSON-able identity."""
    payload = json.dumps({"v": HASH_VERSION, **identity}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


FILE_CHECKPOINT = "sha256:"  # EvalSpec.checkpoint of a checkpoint file: this + its digest
SEED_SUFFIX = "_seed"  # a condition drawn with another mask seed: "high_seed1"


def split_condition(condition: str) -> tuple[str, int | None]:
    """``high_seed1`` → (``high``, 1): a condition evaluated with its own mask seed (several
    seeds of one condition give a spread); a plain condition uses the evaluation's mask_seed."""
    base, sep, seed = condition.rpartition(SEED_SUFFIX)
    if sep and base and seed.isdigit():
        return base, int(seed)
    return condition, None
