"""What a profile's regime lets its claims say: the rule's checks as tables of measured numbers,
and a paragraph written from those numbers saying which kinds of claim the regime can test and
why. The report opens its banner and its Claims section with them.

Generic over the rule: a rule is given as check tables — rows (a baseline, a dataset, a
backbone) of named measured numbers, each number pass or fail against the threshold of the part
of the rule it decides — and the kinds of claim with the parts each needs. `recipe_regime`
puts the recipe rule (benchmark.claims.recipe_rule) in that form; another rule plugs in the
same way, by building a `Regime`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmark.claims.recipe_rule import FLAT, FLOOR, BaselineCheck
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
        rows = [r for r in table.rows if any(r.decides(p) for p in kind.parts)]
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


def recipe_regime(profile: str, checks: list[BaselineCheck]) -> Regime | None:
    """The profile's recipe rule and its baselines' checks; None when the profile has none."""
    rule = get_profile(profile).recipe_rule
    if rule is None:
        return None
    rows = []
    for check in checks:
        judged = check.status != "pending"
        ok = {part: (part not in check.failed) if judged else None for part in (FLOOR, FLAT)}
        change = f"{check.change:.2f}" if check.change is not None else DASH
        measures = (
            Measure("context-only floor", fmt(check.floor), check.floor),
            Measure("last epoch", fmt(check.last), check.last),
            Measure("above floor", fmt_signed(check.margin) if check.margin is not None else DASH,
                    check.margin, FLOOR_PART, f"≥ {rule.margin:.0f}", ok[FLOOR]),
            Measure("change over last two epochs", change, check.change, FLAT_PART,
                    f"≤ {rule.flat:.1f}", ok[FLAT]),
        )  # fmt: skip
        rows.append(
            CheckRow(
                check.run,
                measures,
                cells=check.cells,
                pending=not judged,
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
