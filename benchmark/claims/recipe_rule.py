"""The rule that fixed a synthetic profile's recipe, applied to its results (docs/mini.md).

Written down before any result of the mini v2 regime existed: at seed 0, every supervised
baseline cell must end (last epoch) at least ``margin`` mAP points above its dataset's
context-only floor (the scorer that knows only the scene's context group, recorded in each
synthetic training result) and move at most ``flat`` points over its last two epochs. A claim
one of whose sides trains on a baseline that fails the rule is reported as not testable at
that scale, naming the baseline and the part of the rule it fails.

Like claims and plan, this reads the registry and the result files and never trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.experiment.profiles import get_profile, resolve_run
from benchmark.experiment.registry import Registry
from benchmark.store.results import load_result

RULE_SEED = 0  # the rule reads the seed-0 baselines, as written
FLOOR, FLAT = "floor", "flat"  # the rule's two parts, as BaselineCheck.failed names them


@dataclass(frozen=True)
class BaselineCheck:
    """One supervised baseline against the rule (``last`` is None while it has no result)."""

    run: str
    dataset: str
    cells: tuple[str, ...]
    floor: float | None = None  # context-only mAP on its test set
    last: float | None = None  # mAP at the last epoch
    change: float | None = None  # |last − the epoch before|
    failures: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # the parts (FLOOR, FLAT) the failures belong to

    @property
    def status(self) -> str:
        if self.last is None:
            return "pending"
        return "fails" if self.failures else "passes"

    @property
    def margin(self) -> float | None:
        return None if self.last is None or self.floor is None else self.last - self.floor


def baseline_runs(registry: Registry) -> dict[str, list[str]]:
    """Supervised training run → the table cells it fills (the controls are no baselines)."""
    runs: dict[str, list[str]] = {}
    for cell in registry.cells:
        if cell.run is None or not cell.runnable:
            continue
        if registry.runs[cell.run]["method"] == "supervised":
            runs.setdefault(cell.run, []).append(cell.id)
    return runs


def check_baselines(registry: Registry, results_dir: Path, options) -> list[BaselineCheck]:
    """Every baseline of the profile checked against its rule; [] when the profile has none.
    ``options``: PlanOptions or claims.MeasureOptions (profile, epochs, mask_source)."""
    rule = get_profile(options.profile).recipe_rule
    if rule is None:
        return []
    checks = []
    for run, cells in baseline_runs(registry).items():
        spec = resolve_run(
            registry, run, options.profile, seed=RULE_SEED, epochs=options.epochs,
            mask_source=options.mask_source, precision=options.precision,
        )  # fmt: skip
        loaded = load_result(results_dir, spec.hash)
        data = loaded.data if loaded.problem is None else None
        history = (data or {}).get("history") or []
        if not data or data.get("status") != "done" or len(history) < 2:
            checks.append(BaselineCheck(run, spec.dataset, tuple(cells)))
            continue
        floor = (data.get("floors") or {}).get("context_mAP")
        last, before = history[-1]["mAP"], history[-2]["mAP"]
        failures = {}  # part → why it fails
        if floor is None:
            failures[FLOOR] = "no context-only floor recorded (real data?)"
        elif last - floor < rule.margin:
            failures[FLOOR] = (
                f"ends {last - floor:.1f} above its context-only floor {floor:.1f} "
                f"(needs {rule.margin:.0f})"
            )
        if abs(last - before) > rule.flat:
            failures[FLAT] = (
                f"moves {abs(last - before):.2f} over its last two epochs "
                f"({before:.1f} → {last:.1f}; at most {rule.flat:.1f})"
            )
        checks.append(
            BaselineCheck(
                run,
                spec.dataset,
                tuple(cells),
                floor,
                last,
                abs(last - before),
                tuple(failures.values()),
                tuple(failures),
            )  # fmt: skip
        )
    return checks


def untestable_reasons(
    sides_runs: dict[str, set[str]], checks: list[BaselineCheck]
) -> dict[str, str]:
    """Claim id → why it is not testable: the failing baselines among its sides' runs."""
    failing = {c.run: c for c in checks if c.status == "fails"}
    reasons = {}
    for claim_id, runs in sides_runs.items():
        bad = [failing[r] for r in sorted(runs) if r in failing]
        if bad:
            reasons[claim_id] = "; ".join(f"{c.run} {' and '.join(c.failures)}" for c in bad)
    return reasons
