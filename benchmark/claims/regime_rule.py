"""The regime rule (docs/mini.md, "mini v3"), applied to a profile's results: which claims its
regime can support.

Written down before any run of the mini v3 regime. Five parts:

- per supervised baseline at seed 0: it **fits its training set** (the result's ``fit`` record:
  training mAP − test mAP ≥ ``fit_gap`` and training BCE ≤ ``fit_bce_ratio`` × the
  class-frequency BCE, at the selected epoch), it **clears its floor** and it **is flat** (the
  v2 parts: ``benchmark.claims.recipe_rule``);
- per dataset: its **object scale** (share of (image, positive class) pairs hidden by a
  high-pool training mask) lies in the band of the real dataset;
- per backbone: enough **feature cells** are hidden by high-pool masks.

The last two are measured from the generator and the mask pool by `benchmark data regime` and
recorded with the profile (``experiments/regime/<profile>.json``); this module only reads them.

Per claim kind: a *clean* claim (every side read on clean test images) needs its sides'
baselines to fit, clear their floor and be flat, and its dataset's object scale; a *masked*
claim (a side read under test-time masks) needs floor and flatness, the object scale and the
feature cells of its sides' backbones. A claim whose regime fails is reported as not testable,
with the measured reason. Like the recipe rule, this reads the registry, the profile and result
files and never trains (no torch).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.claims.recipe_rule import RULE_SEED, BaselineCheck, baseline_runs, check_baselines
from benchmark.experiment.profiles import RegimeRule, get_profile, resolve_run
from benchmark.experiment.registry import Registry
from benchmark.store.results import atomic_write_json, load_result

OBJECT_DATASETS = ("voc2007", "coco2014")  # the datasets whose scenes have objects to hide
GEOMETRY_FOLDER = "regime"  # beside the registry: experiments/regime/<profile>.json
CLEAN, MASKED = "clean", "masked"
# Run fields in which a run may differ from its baseline (an MSL run, the loss-scale control)
NOT_BASELINE_FIELDS = {"method", "mask_pool", "fused", "clean_loss_weight", "notes"}
MEASURE_COMMAND = "benchmark data regime --profile {profile} --write"


@dataclass(frozen=True)
class BaselineRegime:
    """One supervised baseline (seed 0) against the per-baseline parts: ``recipe`` holds the
    floor and flatness numbers; the fit numbers are None while not measured."""

    recipe: BaselineCheck
    backbone: str
    train_mAP: float | None = None
    test_mAP: float | None = None  # at the selected epoch (best on test)
    bce: float | None = None
    frequency_bce: float | None = None
    fit_failures: tuple[str, ...] = ()

    @property
    def run(self) -> str:
        return self.recipe.run

    @property
    def gap(self) -> float | None:
        if self.train_mAP is None or self.test_mAP is None:
            return None
        return self.train_mAP - self.test_mAP

    @property
    def bce_ratio(self) -> float | None:
        if self.bce is None or not self.frequency_bce:
            return None
        return self.bce / self.frequency_bce

    @property
    def status(self) -> str:
        if self.recipe.status == "pending":
            return "pending"
        return "fails" if self.fit_failures or self.recipe.failures else "passes"


@dataclass(frozen=True)
class ObjectScaleCheck:
    """One dataset's object scale against its band (percent)."""

    dataset: str
    band: tuple[float, float]
    hidden: float | None = None  # % of pairs ≥ hidden, None when not measured
    median_area: float | None = None  # median class box area, % of the image
    pairs: int | None = None
    failure: str | None = None


@dataclass(frozen=True)
class FeatureCellCheck:
    """One backbone's final-map cells hidden by high-pool masks (percent)."""

    backbone: str
    minimum: float
    stride: int | None = None
    map: int | None = None
    hidden: float | None = None
    failure: str | None = None


@dataclass(frozen=True)
class RegimeChecks:
    """Every part of a profile's regime rule, measured."""

    rule: RegimeRule
    baselines: tuple[BaselineRegime, ...]
    datasets: tuple[ObjectScaleCheck, ...]
    backbones: tuple[FeatureCellCheck, ...]


@dataclass(frozen=True)
class ClaimRegime:
    """What one claim needs of the regime, and which needed parts fail."""

    claim: str
    kind: str  # clean | masked
    baselines: tuple[str, ...]
    failures: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.failures)


# ---- the recorded geometry -------------------------------------------------------------------


def geometry_path(registry_root: str | Path, profile: str) -> Path:
    return Path(registry_root) / GEOMETRY_FOLDER / f"{profile}.json"


def write_geometry(path: Path, record: dict) -> None:
    atomic_write_json(path, record)


def load_geometry(registry_root: str | Path, profile: str) -> dict | None:
    path = geometry_path(registry_root, profile)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def geometry_mismatch(record: dict | None, profile: str) -> str | None:
    """Why a geometry record does not describe ``profile`` as it is now, or None."""
    if record is None:
        return "not measured"
    prof = get_profile(profile)
    settings = record.get("settings") or {}
    if settings.get("images_measured") is not None:
        return "measured on a sample only"
    if settings.get("img_size") != prof.img_size:
        return f"measured at {settings.get('img_size')} px, the profile trains at {prof.img_size}"
    for dataset in OBJECT_DATASETS:
        now = _synth_dict(prof.synth_for(dataset))
        if (settings.get("synthetic") or {}).get(dataset) != now:
            return f"measured on other {dataset} scenes than the profile's {now}"
    return None


def _synth_dict(synth) -> dict | None:
    if synth is None:
        return None
    data = asdict(synth)
    if data.get("object_area") is not None:
        data["object_area"] = list(data["object_area"])
    return data


# ---- the checks ------------------------------------------------------------------------------


def check_regime(
    registry: Registry,
    results_dir: Path,
    options,
    checks: list[BaselineCheck] | None = None,
) -> RegimeChecks | None:
    """Every part of the profile's regime rule; None when the profile has none. ``options``:
    PlanOptions or MeasureOptions (profile, epochs, mask_source, precision); ``checks``: the
    recipe rule's baseline checks when the caller has them (else made here)."""
    rule = get_profile(options.profile).regime_rule
    if rule is None:
        return None
    if checks is None:
        checks = check_baselines(registry, results_dir, options)
    baselines = tuple(_baseline(registry, results_dir, options, rule, c) for c in checks)
    record = load_geometry(registry.root, options.profile)
    stale = geometry_mismatch(record, options.profile)
    how = f"run `{MEASURE_COMMAND.format(profile=options.profile)}`"
    datasets = tuple(
        _object_scale(dataset, rule, record, stale, how)
        for dataset in OBJECT_DATASETS
        if dataset in rule.object_scale
    )
    backbones = tuple(
        _feature_cells(backbone, rule, record, stale, how)
        for backbone in sorted(set((get_profile(options.profile).backbones or {}).values()))
    )
    return RegimeChecks(rule, baselines, datasets, backbones)


def _baseline(registry, results_dir, options, rule: RegimeRule, recipe: BaselineCheck):
    spec = resolve_run(
        registry, recipe.run, options.profile, seed=RULE_SEED, epochs=options.epochs,
        mask_source=options.mask_source, precision=options.precision,
    )  # fmt: skip
    if recipe.status == "pending":
        return BaselineRegime(recipe, spec.backbone)
    fit = load_result(results_dir, spec.hash).data.get("fit")
    if not fit:
        return BaselineRegime(
            recipe, spec.backbone, fit_failures=("fit not measured (a result from before v3)",)
        )
    regime = BaselineRegime(
        recipe, spec.backbone, fit["train_mAP"], fit["test_mAP"], fit["bce"], fit["frequency_bce"]
    )
    failures = []
    if regime.gap < rule.fit_gap:
        failures.append(
            f"fit: training − test mAP {regime.gap:.1f} ({regime.train_mAP:.1f} − "
            f"{regime.test_mAP:.1f}; needs ≥ {rule.fit_gap:g})"
        )
    if regime.bce_ratio is None or regime.bce_ratio > rule.fit_bce_ratio:
        shown = "—" if regime.bce_ratio is None else f"{regime.bce_ratio:.2f}"
        failures.append(
            f"fit: training BCE {shown} × the class-frequency BCE (needs ≤ {rule.fit_bce_ratio:g})"
        )
    return BaselineRegime(
        recipe, spec.backbone, regime.train_mAP, regime.test_mAP, regime.bce,
        regime.frequency_bce, tuple(failures),
    )  # fmt: skip


def _object_scale(dataset, rule: RegimeRule, record, stale, how) -> ObjectScaleCheck:
    band = tuple(rule.object_scale[dataset])
    if stale is not None:
        return ObjectScaleCheck(dataset, band, failure=f"{dataset} object scale {stale} ({how})")
    measured = record["object_scale"][dataset]
    hidden = 100 * measured["hidden_fraction"]
    failure = None
    if not band[0] <= hidden <= band[1]:
        failure = (
            f"{dataset} object scale: {hidden:.1f} % of (image, class) pairs ≥ "
            f"{100 * rule.hidden:g} % hidden (needs {band[0]:g}–{band[1]:g} %)"
        )
    return ObjectScaleCheck(
        dataset, band, hidden, 100 * measured["median_area"], measured["pairs"], failure
    )


def _feature_cells(backbone, rule: RegimeRule, record, stale, how) -> FeatureCellCheck:
    measured = None if stale is not None else record["feature_cells"].get(backbone)
    if measured is None:
        why = stale or "not measured"
        return FeatureCellCheck(
            backbone, rule.cells, failure=f"{backbone} feature cells {why} ({how})"
        )
    hidden = 100 * measured["hidden_fraction"]
    failure = None
    if hidden < rule.cells:
        failure = (
            f"{backbone} feature cells: {hidden:.1f} % of its {measured['map']} × "
            f"{measured['map']} map ≥ {100 * rule.hidden:g} % hidden (needs ≥ {rule.cells:g} %)"
        )
    return FeatureCellCheck(
        backbone, rule.cells, measured["stride"], measured["map"], hidden, failure
    )


# ---- per claim -------------------------------------------------------------------------------


def baseline_of(registry: Registry, run: str) -> str | None:
    """The baseline a run is judged by: itself when it is one, else the baseline that differs
    from it only in method, mask pool, fused flag or loss weight."""
    baselines = baseline_runs(registry)
    if run in baselines:
        return run
    own = registry.runs[run]
    for candidate in baselines:
        other = registry.runs[candidate]
        keys = (set(own) | set(other)) - NOT_BASELINE_FIELDS
        if all(own.get(k) == other.get(k) for k in keys):
            return candidate
    return None


def claim_kind(registry: Registry, claim) -> str:
    """masked when a side is read under test-time masks, else clean."""
    for side in (claim.a, claim.b):
        condition = side.condition
        if side.cell is not None:
            condition = registry.cell(side.cell).condition
        if condition is not None and condition != "clean":
            return MASKED
    return CLEAN


def claim_regimes(
    registry: Registry, claims, sides: dict[str, set[str]], checks: RegimeChecks, profile: str
) -> dict[str, ClaimRegime]:
    """Claim id → its kind, its sides' baselines and the needed parts that fail. ``sides``:
    claim id → the training runs behind its sides (``claims.side_run``)."""
    by_run = {b.run: b for b in checks.baselines}
    scales = {d.dataset: d for d in checks.datasets}
    cells = {c.backbone: c for c in checks.backbones}
    out = {}
    for claim in claims:
        kind = claim_kind(registry, claim)
        runs = sorted(sides[claim.id])
        failures: list[str] = []
        baselines = []
        for run in runs:
            base = baseline_of(registry, run)
            if base is None:
                failures.append(f"{run}: no baseline in the registry to judge its regime by")
                continue
            baselines.append(base)
        for base in sorted(set(baselines)):
            check = by_run[base]
            if check.status == "pending":
                continue
            parts = list(check.recipe.failures) + (
                list(check.fit_failures) if kind == CLEAN else []
            )
            failures += [f"{base}: {part}" for part in parts]
        scale = scales.get(claim.dataset)
        if scale is not None and scale.failure:
            failures.append(scale.failure)
        if kind == MASKED:
            for backbone in sorted({_backbone(registry, r, profile) for r in runs}):
                cell = cells.get(backbone)
                if cell is not None and cell.failure:
                    failures.append(cell.failure)
        out[claim.id] = ClaimRegime(claim.id, kind, tuple(sorted(set(baselines))), tuple(failures))
    return out


def _backbone(registry: Registry, run: str, profile: str) -> str:
    return resolve_run(registry, run, profile).backbone
