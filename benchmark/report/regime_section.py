"""What a profile's regime lets its claims say: the rule's checks as tables of measured numbers,
and a paragraph written from those numbers saying which kinds of claim the regime can test and
why. The report opens its banner and its Claims section with them.

Generic over the rule: a rule is given as check tables — rows (a baseline, a dataset, a
backbone) of named measured numbers, each number pass or fail against the threshold of the part
of the rule it decides — and the kinds of claim with the parts each needs. `recipe_regime`
puts the recipe rule (benchmark.claims.recipe_rule, mini v2) in that form and `rule_regime`
the regime rule (benchmark.claims.regime_rule, mini v3); `profile_regime` picks the profile's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmark.claims.claim_registry import load_claims, side_run
from benchmark.claims.recipe_rule import FLAT, FLOOR, BaselineCheck, check_baselines
from benchmark.claims.regime_rule import (
    CLEAN,
    MASKED,
    BaselineRegime,
    FeatureCellCheck,
    ObjectScaleCheck,
    RegimeChecks,
    check_regime,
    claim_regimes,
)
from benchmark.experiment.profiles import get_profile
from benchmark.report.wording import DASH, fmt, fmt_signed


@dataclass(frozen=True)
class Measure:
    """One measured number of a row; a part of the rule when it has a threshold (``need``)."""

    label: str  # its column: "above floor"
    text: str  # as printed: "+62.9" (a dash while not measured)
    value: float | None = None
    part: str | None = None  # the part of the rule it decides; None: shown for context
    need: str = ""  # the part's threshold as printed: "≥ 10"
    ok: bool | None = None  # meets the threshold; None while not measured, or for context


@dataclass(frozen=True)
class CheckRow:
    """One thing the rule checks (a baseline, a dataset, a backbone) and its measured numbers."""

    subject: str
    measures: tuple[Measure, ...]
    cells: tuple[str, ...] = ()  # the table cells it fills, shown beside it
    pending: bool = False  # no result yet: nothing to judge
    failures: str = ""  # why it fails, in words
    # the cells, runs, evaluations or datasets it matters to: a report on a subset shows it
    # when it reads one of them (always, when empty)
    concerns: tuple[str, ...] = ()

    def failing(self, part: str) -> list[Measure]:
        return [m for m in self.measures if m.part == part and m.ok is False]

    def decides(self, part: str) -> bool:
        return any(m.part == part for m in self.measures)

    @property
    def verdict(self) -> str:
        if self.pending:
            return "pending"
        if any(m.ok is False for m in self.measures):
            return "fails: " + (self.failures or ", ".join(_parts(self, failing=True)))
        return "passes"


@dataclass(frozen=True)
class CheckTable:
    title: str  # "Supervised baselines"
    subject: str  # the first column's header: "baseline (seed 0)"
    noun: str  # what its rows are, counted in the paragraph: "baselines"
    rows: tuple[CheckRow, ...]


@dataclass(frozen=True)
class ClaimKind:
    name: str  # "Clean-accuracy claims (Tables 1–5)"
    parts: tuple[str, ...]  # the parts of the rule a claim of this kind needs to pass
    # the rows its claims depend on (their baselines, datasets, backbones); None: every row
    subjects: frozenset[str] | None = None


@dataclass(frozen=True)
class Regime:
    title: str  # "The recipe rule"
    caption: str  # the rule in words, and where it was written down
    tables: tuple[CheckTable, ...]
    kinds: tuple[ClaimKind, ...]


def _parts(row: CheckRow, failing: bool = False) -> list[str]:
    parts = [m.part for m in row.measures if m.part and (not failing or m.ok is False)]
    return list(dict.fromkeys(parts))


def grid(table: CheckTable) -> tuple[list[str], list[list[str]]]:
    """The table's headers (a threshold beside each number that has one) and rows."""
    labels: dict[str, str] = {}  # label → header
    for row in table.rows:
        for m in row.measures:
            labels.setdefault(m.label, f"{m.label} ({m.need})" if m.need else m.label)
    with_cells = any(row.cells for row in table.rows)
    headers = [table.subject, *(["cells"] if with_cells else []), *labels.values(), "rule"]
    rows = []
    for row in table.rows:
        texts = {m.label: m.text for m in row.measures}
        cells = [", ".join(row.cells)] if with_cells else []
        rows.append([row.subject, *cells, *(texts.get(k, DASH) for k in labels), row.verdict])
    return headers, rows


def select(regime: Regime, names: set[str]) -> Regime:
    """The rows a report on a subset shows: those concerning one of ``names`` (its cells, the
    runs and evaluations it reads, their datasets), and those concerning everything."""
    tables = []
    for table in regime.tables:
        rows = tuple(r for r in table.rows if not r.concerns or set(r.concerns) & names)
        if rows:
            tables.append(replace(table, rows=rows))
    return replace(regime, tables=tuple(tables))


def _span(measures: list[Measure]) -> str:
    """The printed range of some measured numbers: "+2.1 … +6.0", or the one value."""
    ordered = sorted(measures, key=lambda m: m.value if m.value is not None else 0.0)
    low, high = ordered[0].text, ordered[-1].text
    return low if low == high else f"{low} … {high}"


def _numbers(measures: list[Measure]) -> str:
    """Each measured label's range and threshold: "above floor +8.9 … +9.5, needs ≥ 10"."""
    by_label: dict[str, list[Measure]] = {}
    for m in measures:
        by_label.setdefault(m.label, []).append(m)
    return "; ".join(
        f"{label} {_span(group)}" + (f", needs {group[0].need}" if group[0].need else "")
        for label, group in by_label.items()
    )


NAMED = 3  # failing rows named in the paragraph when there are no more than this


def kind_text(regime: Regime, kind: ClaimKind) -> str:
    """Whether this regime can test a kind of claim, and why, from the measured numbers."""
    reasons, passing, waiting = [], [], []
    hopeless = failed = False
    for table in regime.tables:
        rows = [
            r
            for r in table.rows
            if any(r.decides(p) for p in kind.parts)
            and (kind.subjects is None or r.subject in kind.subjects)
        ]
        if not rows:
            continue
        judged = [r for r in rows if not r.pending]
        if len(judged) < len(rows):
            waiting.append(
                f"{len(rows) - len(judged)} of {len(rows)} {table.noun} not measured yet"
            )
        for part in kind.parts:
            deciding = [r for r in judged if r.decides(part)]
            if not deciding:
                continue
            bad = [r for r in deciding if r.failing(part)]
            if bad:
                failed = True
                hopeless = hopeless or (len(bad) == len(deciding) == len(rows))
                numbers = _numbers([m for r in bad for m in r.failing(part)])
                names = f" ({', '.join(r.subject for r in bad)})" if len(bad) <= NAMED else ""
                reasons.append(
                    f"{len(bad)} of {len(deciding)} {table.noun}{names} fail {part} ({numbers})"
                )
            else:
                numbers = _numbers([m for r in deciding for m in r.measures if m.part == part])
                passing.append(
                    f"{len(deciding)} of {len(deciding)} {table.noun} pass {part} ({numbers})"
                )
    if hopeless:
        verdict = "not testable here"
    elif failed:
        verdict = "testable only where the rule passes"
    elif waiting:
        verdict = "not known yet"
    elif passing:
        verdict = "testable"
    else:
        verdict = "nothing in this report to judge it by"
    details = reasons + waiting + passing
    return verdict + (f" — {'; '.join(details)}." if details else ".")


def paragraph(regime: Regime) -> list[tuple[str, str]]:
    """(kind of claim, whether this regime can test it and the numbers that say so), per kind."""
    return [(kind.name, kind_text(regime, kind)) for kind in regime.kinds]


# ---- the recipe rule (mini v2) in this form

FLOOR_PART, FLAT_PART = "the floor margin", "flatness"
EVERY_CLAIM = "Every claim (Tables 1–6, the curves, the controls)"


def profile_regime(registry, results_dir, options, checks=None) -> Regime | None:
    """The profile's rule, measured on ``results_dir``: the regime rule where the profile has
    one (mini v3), else its recipe rule (mini v2); None when it has neither. ``checks``: the
    recipe rule's baseline checks when the caller has them."""
    if checks is None:
        checks = check_baselines(registry, results_dir, options)
    measured = check_regime(registry, results_dir, options, checks)
    if measured is not None:
        return rule_regime(options.profile, measured, _kind_subjects(registry, measured, options))
    return recipe_regime(options.profile, checks)


def _kind_subjects(registry, measured: RegimeChecks, options) -> dict[str, frozenset[str]]:
    """Claim kind (clean | masked) → the baselines, datasets and backbones its claims read."""
    claims = load_claims(registry)
    sides = {c.id: {side_run(registry, s) for s in (c.a, c.b)} for c in claims}
    gates = claim_regimes(registry, claims, sides, measured, options.profile)
    backbone = {b.run: b.backbone for b in measured.baselines}
    subjects: dict[str, set[str]] = {CLEAN: set(), MASKED: set()}
    for claim in claims:
        gate = gates[claim.id]
        subjects[gate.kind] |= {*gate.baselines, claim.dataset}
        if gate.kind == MASKED:
            subjects[gate.kind] |= {backbone[b] for b in gate.baselines}
    return {kind: frozenset(names) for kind, names in subjects.items()}


def _recipe_measures(check: BaselineCheck, margin: float, flat: float) -> tuple[Measure, ...]:
    """A baseline's floor margin and flatness (the recipe rule's parts), with the thresholds."""
    judged = check.status != "pending"
    ok = {part: (part not in check.failed) if judged else None for part in (FLOOR, FLAT)}
    change = f"{check.change:.2f}" if check.change is not None else DASH
    return (
        Measure("above floor", fmt_signed(check.margin) if check.margin is not None else DASH,
                check.margin, FLOOR_PART, f"≥ {margin:.0f}", ok[FLOOR]),
        Measure("change over last two epochs", change, check.change, FLAT_PART,
                f"≤ {flat:.1f}", ok[FLAT]),
    )  # fmt: skip


def recipe_regime(profile: str, checks: list[BaselineCheck]) -> Regime | None:
    """The profile's recipe rule and its baselines' checks; None when the profile has none."""
    rule = get_profile(profile).recipe_rule
    if rule is None:
        return None
    rows = []
    for check in checks:
        measures = (
            Measure("context-only floor", fmt(check.floor), check.floor),
            Measure("last epoch", fmt(check.last), check.last),
            *_recipe_measures(check, rule.margin, rule.flat),
        )
        rows.append(
            CheckRow(
                check.run,
                measures,
                cells=check.cells,
                pending=check.status == "pending",
                failures="; ".join(check.failures),
                concerns=(check.run,),  # the baseline's own run: its cells, and what reads it
            )
        )
    caption = (
        f"The recipe rule, written down before any result of this profile (docs/mini.md): "
        f"at seed 0 every supervised baseline must end at least {rule.margin:.0f} mAP above its "
        f"dataset's context-only floor and move at most {rule.flat:.1f} over its last two epochs; "
        f"a claim with a side trained on a failing baseline is not testable here."
    )
    table = CheckTable("Supervised baselines", "baseline (seed 0)", "baselines", tuple(rows))
    return Regime(
        "The recipe rule", caption, (table,), (ClaimKind(EVERY_CLAIM, (FLOOR_PART, FLAT_PART)),)
    )


# ---- the regime rule (mini v3) in this form

FIT_PART, SCALE_PART, CELLS_PART = "fit", "object scale", "feature cells"
CLEAN_KIND = "Clean-image claims (Tables 1–5, the loss-scale and BatchNorm-clean controls)"
MASKED_KIND = "Masked-image claims (Table 6, the curves, the BatchNorm-mixed control)"


def rule_regime(
    profile: str, checks: RegimeChecks, subjects: dict[str, frozenset[str]] | None = None
) -> Regime:
    """The profile's regime rule, every part measured: three tables (baselines, datasets,
    backbones) and the two kinds of claim with the parts each needs (and, given ``subjects``,
    the rows each kind's claims read: clean | masked → names)."""
    subjects = subjects or {}
    rule, recipe = checks.rule, get_profile(profile).recipe_rule
    percent = f"{100 * rule.hidden:g} %"
    baselines = tuple(_baseline_row(c, rule, recipe) for c in checks.baselines)
    datasets = tuple(_scale_row(c, percent) for c in checks.datasets)
    backbone_runs: dict[str, list[str]] = {}
    for check in checks.baselines:
        backbone_runs.setdefault(check.backbone, []).append(check.run)
    backbones = tuple(
        _cells_row(c, percent, tuple(backbone_runs.get(c.backbone, ()))) for c in checks.backbones
    )
    bands = ", ".join(f"{d} {lo:g}–{hi:g} %" for d, (lo, hi) in rule.object_scale.items())
    caption = (
        f"The regime rule, written down before any run of this regime (docs/mini.md, v3). Per "
        f"supervised baseline at seed 0: it fits its training set (training − test mAP ≥ "
        f"{rule.fit_gap:g} and training BCE ≤ {rule.fit_bce_ratio:g} × the class-frequency BCE, "
        f"at the selected epoch), ends ≥ {recipe.margin:g} mAP above its context-only floor and "
        f"moves ≤ {recipe.flat:g} over its last two epochs. Per dataset: (image, class) pairs "
        f"≥ {percent} hidden by a high-pool training mask, {bands}. Per backbone: ≥ "
        f"{rule.cells:g} % of final-map cells ≥ {percent} hidden. A clean-image claim needs its "
        f"baselines' fit, floor and flatness and its dataset's object scale; a masked-image "
        f"claim needs floor, flatness, object scale and its backbones' feature cells; a claim "
        f"whose needed part fails is not testable here."
    )
    tables = (
        CheckTable("Supervised baselines", "baseline (seed 0)", "baselines", baselines),
        CheckTable("Datasets", "dataset", "datasets", datasets),
        CheckTable("Backbones", "backbone", "backbones", backbones),
    )
    kinds = (
        ClaimKind(CLEAN_KIND, (FIT_PART, FLOOR_PART, FLAT_PART, SCALE_PART), subjects.get(CLEAN)),
        ClaimKind(
            MASKED_KIND, (FLOOR_PART, FLAT_PART, SCALE_PART, CELLS_PART), subjects.get(MASKED)
        ),
    )
    return Regime("The regime rule", caption, tables, kinds)


def _baseline_row(check: BaselineRegime, rule, recipe) -> CheckRow:
    pending = check.status == "pending"
    gap, ratio = check.gap, check.bce_ratio
    gap_ok = None if pending else gap is not None and gap >= rule.fit_gap
    ratio_ok = None if pending else ratio is not None and ratio <= rule.fit_bce_ratio
    measures = (
        Measure("training mAP", fmt(check.train_mAP), check.train_mAP),
        Measure("test mAP", fmt(check.test_mAP), check.test_mAP),
        Measure("training − test", fmt_signed(gap) if gap is not None else DASH, gap, FIT_PART,
                f"≥ {rule.fit_gap:g}", gap_ok),
        Measure("BCE ÷ class-frequency BCE", f"{ratio:.2f}" if ratio is not None else DASH,
                ratio, FIT_PART, f"≤ {rule.fit_bce_ratio:g}", ratio_ok),
        *_recipe_measures(check.recipe, recipe.margin, recipe.flat),
    )  # fmt: skip
    return CheckRow(
        check.run,
        measures,
        cells=check.recipe.cells,
        pending=pending,
        failures="; ".join((*check.fit_failures, *check.recipe.failures)),
        concerns=(check.run,),
    )


def _scale_row(check: ObjectScaleCheck, percent: str) -> CheckRow:
    low, high = check.band
    hidden = check.hidden
    measures = (
        Measure("pairs", f"{check.pairs:,}" if check.pairs is not None else DASH, check.pairs),
        Measure("median class box area",
                f"{check.median_area:.1f} %" if check.median_area is not None else DASH,
                check.median_area),
        Measure(f"pairs ≥ {percent} hidden", f"{hidden:.1f} %" if hidden is not None else DASH,
                hidden, SCALE_PART, "in band", check.failure is None),
        Measure("band", f"{low:g}–{high:g} %"),
    )  # fmt: skip
    failures = check.failure or ""
    return CheckRow(check.dataset, measures, failures=failures, concerns=(check.dataset,))


def _cells_row(check: FeatureCellCheck, percent: str, runs: tuple[str, ...]) -> CheckRow:
    hidden = check.hidden
    measures = (
        Measure("stride", str(check.stride) if check.stride is not None else DASH, check.stride),
        Measure("map", f"{check.map} × {check.map}" if check.map is not None else DASH, check.map),
        Measure(f"cells ≥ {percent} hidden", f"{hidden:.1f} %" if hidden is not None else DASH,
                hidden, CELLS_PART, f"≥ {check.minimum:g} %", check.failure is None),
    )  # fmt: skip
    return CheckRow(check.backbone, measures, failures=check.failure or "", concerns=runs)
