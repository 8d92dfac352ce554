"""Profiles turn a registry run (the paper's recipe) into a RunSpec for one scale.

- ``paper``: docs/spec.md's recipe on the real datasets and pretrained weights.
- ``smoke``: the same cell structure (backbone family, head, method, mask pool, evaluation) on
  synthetic data in the dataset's real layout, with timm's tiny test models, for CI.
- ``mini``: every table at CPU scale (docs/mini.md): synthetic scenes with small and occluded
  objects, small backbones of the paper's families, the paper's schedule shape, one recipe for
  every cell.
- ``paper-synth``: the paper's models, input sizes, heads, batch and schedule on synthetic trees
  with VOC's real image counts and sizes (COCO and WIDER scaled down, said in each run's notes),
  random initialisation: the full paper path, timed on any GPU without data or weight files.

A profile only rescales; it never changes the method, so a smoke cell exercises the same code
path as its paper cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import UserError
from benchmark.experiment.registry import Registry
from benchmark.spec import PRECISIONS, EvalSpec, RunSpec, SynthSpec


@dataclass(frozen=True)
class RecipeRule:
    """The test a profile's supervised baselines must pass for its claims to be testable,
    written down before any result of the profile was seen (docs/mini.md;
    benchmark.claims.recipe_rule applies it)."""

    margin: float  # mAP points above the context-only floor at the last epoch, at least
    flat: float  # |mAP change| over the last two epochs, at most


@dataclass(frozen=True)
class RegimeRule:
    """What a profile's regime must show for a claim to be testable there (docs/mini.md, v3;
    benchmark.claims.regime_rule applies it; its floor and flatness parts are the RecipeRule's)."""

    fit_gap: float  # training mAP − test mAP at the selected epoch, at least
    fit_bce_ratio: float  # training BCE ÷ class-frequency BCE, at most
    # dataset → (low, high) share of (image, positive class) pairs ≥ `hidden` hidden by a
    # high-pool training mask under the training crop, in percent
    object_scale: Mapping[str, tuple[float, float]]
    cells: float  # share of final-feature-map cells ≥ `hidden` hidden by high masks, at least (%)
    hidden: float = 0.9


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    synthetic: SynthSpec | None = None  # None = real data
    # per-dataset trees where one size does not fit all (paper-synth), overriding `synthetic`
    synthetic_by_dataset: Mapping[str, SynthSpec] = field(default_factory=dict)
    # per-dataset recipe fields (epochs, lr_step) over the profile-wide ones (mini v3: each
    # dataset's rung of the regime ladder, docs/mini.md)
    recipe_by_dataset: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # per-dataset notes added to every run's notes (labels: not part of the identity)
    notes_by_dataset: Mapping[str, str] = field(default_factory=dict)
    # paper backbone name, or family ("resnet"/"vit") as a fallback → small timm model
    backbones: dict[str, str] | None = None
    img_size: int | None = None
    epochs: int | None = None
    warmup_epochs: int | None = None
    lr_step: int | None = None
    lr: float | None = None  # backbone learning rate (the head's is × head_lr_mult)
    eval_every: int | None = None  # RunSpec.eval_every
    pretrained: bool = True
    # profile backbone → weights catalogue key, replacing the registry's (mini: the committed
    # pretrained mini backbones), and the folder those files are in, relative to the repository
    # (used when neither --weights-root nor $BENCHMARK_WEIGHTS is given)
    weights: Mapping[str, str] = field(default_factory=dict)
    weights_root: str | None = None
    # How AP ranks tied scores (benchmark.scoring.metrics.TIE_ORDERS): the paper profile ranks
    # them as the authors' code does; the synthetic profiles keep input order (deterministic
    # anywhere).
    tie_order: str = "stable"
    # Held-out validation share of the training set (RunSpec.val_fraction); None = the run's.
    val_fraction: float | None = None
    recipe_rule: RecipeRule | None = None
    # The arithmetic of its runs unless --precision says otherwise (RunSpec.precision): the
    # paper profiles compute as the authors' torch did on Ampere and later GPUs (TF32 allowed);
    # the CPU profiles in fp32.
    precision: str = "fp32"
    regime_rule: RegimeRule | None = None

    def synth_for(self, dataset: str) -> SynthSpec | None:
        """The synthetic tree a run on ``dataset`` reads, or None for the real dataset."""
        return self.synthetic_by_dataset.get(dataset, self.synthetic)


# The real datasets' training / test samples (docs/spec.md §2; WIDER counts person boxes).
PAPER_COUNTS = {"voc2007": (5011, 4952), "coco2014": (82081, 40137), "wider": (28345, 29179)}
# paper-synth: real counts for VOC2007 (docs/spec.md §2); COCO and WIDER at a tenth of theirs,
# since a full-size synthetic COCO (122k JPEGs) would take longer to write than the epoch it times.
PAPER_SYNTH = {
    # VOC images are about 500×375 (the synthetic scenes' landscape aspect at side 500)
    "voc2007": SynthSpec(train_images=5011, test_images=4952, image_size=500, seed=0),
    # COCO images are about 640×480
    "coco2014": SynthSpec(train_images=8208, test_images=4014, image_size=640, seed=0),
    # WIDER samples are person boxes (≈2.1 per synthetic image): 1,350 / 1,390 images give
    # about a tenth of WIDER's 28,345 / 29,179 boxes; its photos are about 1024 px wide
    "wider": SynthSpec(train_images=1350, test_images=1390, image_size=1024, seed=0),
}


def _scaled_note(dataset: str, unit: str) -> str:
    train, test = PAPER_COUNTS[dataset]
    synth = PAPER_SYNTH[dataset]
    return (
        f"paper-synth: {dataset} scaled down to {synth.train_images:,} train / "
        f"{synth.test_images:,} test synthetic images (the real set has {train:,} / {test:,} "
        f"{unit}); per-image times carry over, epoch times are about a tenth of the real ones"
    )


# mini v3's scenes (docs/mini.md, "mini v3"): the v1 generator, VOC's objects at real-VOC
# scale (the regime rule's object-scale part), few training images so the baselines fit them
MINI_TEST, MINI_VAL_FRACTION = 500, 0.2
MINI_VOC_AREA = (0.03, 0.7)  # log-uniform box area, fraction of the image (v1: 0.006–0.25)
# Each dataset's rung of the regime ladder (docs/mini.md, amendment 3): training images ×
# epochs at a constant 9,600 samples, the first rung at which its reference baseline passed.
MINI_RUNGS = {"voc2007": (150, 80), "coco2014": (300, 40), "wider": (300, 40)}
MINI_TRAIN, MINI_EPOCHS = MINI_RUNGS["coco2014"]  # the profile-wide rung; VOC's is its own

# The profile of a verb given neither --profile nor a results folder that holds one (the
# README's; CI and the tests say --profile smoke).
DEFAULT_PROFILE = "mini"

PROFILES: dict[str, Profile] = {
    "paper": Profile(
        "paper",
        "docs/spec.md's recipe on the real datasets (GPU, tens of GPU-hours)",
        tie_order="authors",
        precision="tf32",
    ),
    "smoke": Profile(
        "smoke",
        "synthetic data in the real layouts, timm test models, 64 px, 2 epochs (CI)",
        synthetic=SynthSpec(train_images=24, test_images=18, image_size=96, seed=0),
        backbones={"resnet": "test_resnet", "vit": "test_vit"},
        img_size=64,
        epochs=2,
        warmup_epochs=1,
        lr_step=1,
        pretrained=False,
        val_fraction=0.25,  # so CI exercises selection on a held-out split
    ),
    # v3 (issue 26, docs/mini.md "mini v3"): the regime rule's regime, chosen on supervised
    # baselines only before any v3 MSL run — VOC scenes at real-VOC object scale, mini_resnet
    # at output stride 8 (re-pretrained), few training images and many epochs (each dataset's
    # rung) at rate 0.02 (step 2 dropped it from 0.05: MCAR ended 4.9 above its floor) with
    # one ×0.1 step after 80 % of them, the test split scored every 5th epoch and at the last
    # three; identical for every cell and method of a dataset.
    "mini": Profile(
        "mini",
        "every table on synthetic scenes at CPU scale: small pretrained backbones fine-tuned "
        "at 96 px on 150–300 training images for 80–40 epochs",
        synthetic=SynthSpec(train_images=MINI_TRAIN, test_images=MINI_TEST, image_size=128, seed=0),
        synthetic_by_dataset={
            "voc2007": SynthSpec(
                MINI_RUNGS["voc2007"][0], MINI_TEST, 128, 0, object_area=MINI_VOC_AREA
            )
        },
        recipe_by_dataset={
            "voc2007": {
                "epochs": MINI_RUNGS["voc2007"][1],
                "lr_step": round(0.8 * MINI_RUNGS["voc2007"][1]),
            }
        },
        backbones={
            "resnet": "mini_resnet",
            "vit_base_patch16_224": "mini_vit_base",
            "vit_large_patch16_224": "mini_vit_large",
        },
        weights={
            "mini_resnet": "mini-resnet-attributes",
            "mini_vit_base": "mini-vit-base-attributes",
            "mini_vit_large": "mini-vit-large-attributes",
        },
        weights_root="weights/mini",
        img_size=96,
        epochs=MINI_EPOCHS,
        warmup_epochs=2,
        lr_step=round(0.8 * MINI_EPOCHS),
        lr=0.02,
        eval_every=5,
        val_fraction=MINI_VAL_FRACTION,
        recipe_rule=RecipeRule(margin=10.0, flat=1.0),
        regime_rule=RegimeRule(
            fit_gap=10.0,
            fit_bce_ratio=0.5,
            object_scale={"voc2007": (4.0, 8.0), "coco2014": (15.0, 22.0)},
            cells=30.0,
        ),
    ),
    # The paper's recipe unchanged (backbones, sizes, heads, batch, schedule); only the data
    # (synthetic trees) and the initialisation (random: no weight files) differ.
    "paper-synth": Profile(
        "paper-synth",
        "the paper's models, sizes and schedule on synthetic trees (VOC's real image counts; "
        "COCO and WIDER scaled to a tenth), random init: times the paper path on any GPU",
        synthetic=PAPER_SYNTH["voc2007"],
        synthetic_by_dataset=PAPER_SYNTH,
        notes_by_dataset={
            "coco2014": _scaled_note("coco2014", "images"),
            "wider": _scaled_note("wider", "person boxes"),
        },
        pretrained=False,
        tie_order="authors",  # the paper's metrics, as the paper profile computes them
        precision="tf32",  # the paper's arithmetic, as the paper profile computes it
    ),
}


def check_precision(precision: str | None) -> None:
    """--precision, refused in one line when it names no precision."""
    if precision is not None and precision not in PRECISIONS:
        raise UserError(f"--precision {precision}: choose from {', '.join(PRECISIONS)}")


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UserError(f"unknown profile {name!r} (choose from {', '.join(PROFILES)})")
    return PROFILES[name]


def backbone_family(backbone: str) -> str:
    return "vit" if backbone.startswith("vit") or "_vit" in backbone else "resnet"


def profile_backbone(prof: Profile, backbone: str) -> str:
    """The profile's stand-in for a paper backbone: by exact name, else by family."""
    assert prof.backbones is not None
    if backbone in prof.backbones:
        return prof.backbones[backbone]
    return prof.backbones[backbone_family(backbone)]


def resolve_run(
    registry: Registry,
    run_name: str,
    profile: str,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    mask_source: str | None = "nvidia",
    precision: str | None = None,
) -> RunSpec:
    """A registry run at a profile's scale; ``precision`` None = the profile's."""
    prof = get_profile(profile)
    check_precision(precision)
    raw: dict[str, Any] = dict(registry.runs[run_name])
    raw.pop("notes", None)
    if prof.backbones is not None:
        raw["backbone"] = profile_backbone(prof, raw["backbone"])
    if not prof.pretrained:
        raw["weights"] = None
    elif raw["backbone"] in prof.weights:
        raw["weights"] = prof.weights[raw["backbone"]]
    for key in ("img_size", "epochs", "warmup_epochs", "lr_step", "lr", "eval_every",
                "val_fraction"):  # fmt: skip
        value = getattr(prof, key)
        if value is not None:
            raw[key] = value
    raw.update(prof.recipe_by_dataset.get(raw["dataset"], {}))
    if epochs is not None:
        raw["epochs"] = epochs
    if seed is not None:
        raw["seed"] = seed
    raw["precision"] = precision or prof.precision
    if raw["method"] == "supervised":
        mask_source = None  # no training masks: the identity must not depend on them
    notes = tuple(registry.runs[run_name].get("notes", ()))
    if raw["dataset"] in prof.notes_by_dataset:
        notes += (prof.notes_by_dataset[raw["dataset"]],)
    return RunSpec(
        name=run_name,
        synth=prof.synth_for(raw["dataset"]),
        profile=profile,
        mask_source=mask_source,
        notes=notes,
        **raw,
    )


def resolve_eval(
    registry: Registry,
    eval_name: str,
    profile: str,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    mask_source: str = "nvidia",
    precision: str | None = None,
) -> EvalSpec:
    """A registry evaluation; it computes at its training run's precision."""
    ev = registry.evaluations[eval_name]
    run = resolve_run(
        registry,
        ev["run"],
        profile,
        seed=seed,
        epochs=epochs,
        mask_source=mask_source,
        precision=precision,
    )
    return EvalSpec(
        name=eval_name,
        run=run,
        conditions=tuple(ev["conditions"]),
        mask_seed=ev["mask_seed"],
        mask_source=mask_source,
        bn_reestimate=ev["bn_reestimate"],
    )
