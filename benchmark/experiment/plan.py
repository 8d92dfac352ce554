"""From selected cells to the unique trainings and evaluations they need, and their status.

Many cells share a run (same resolved config → same hash): the plan holds each once, and
evaluations come after the trainings they read. Status and the report read results through the
same plan, so they always look up the hashes the runner writes.

Everything here is a pure function of the registry and the result files: whether a run is
running now (a held lock, a Slurm job) is `benchmark.launch.liveness`'s business, passed in
as a probe.
"""

from __future__ import annotations

import numbers
import shlex
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.experiment.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    get_profile,
    resolve_eval,
    resolve_run,
)
from benchmark.experiment.registry import Cell, Registry
from benchmark.spec import EvalSpec, RunSpec
from benchmark.store.fingerprint import CodeCheck, check_code
from benchmark.store.predictions import Damage, listed_damage
from benchmark.store.results import HeldResults, LoadedResult, held_results, load_result


@dataclass(frozen=True)
class PlanOptions:
    profile: str = "smoke"
    seeds: tuple[int, ...] = (0,)
    epochs: int | None = None
    masks_root: Path | None = None
    # Reading verbs without --seeds (claims, report): each cell counts the seeds its results
    # hold, so a cell trained at seed 0 only is done with n = 1 beside three-seed cells.
    held_seeds: bool = False
    # fp32 | tf32 | bf16 (RunSpec.precision); None = the profile's (paper: tf32)
    precision: str | None = None

    def __post_init__(self) -> None:
        check_seeds(self.seeds)

    @property
    def mask_source(self) -> str:
        # Synthetic profiles (smoke, mini) never need files, so their results stay valid and
        # reproducible without the CC BY-NC-SA download; the paper profile uses the NVIDIA set
        # when it is given.
        if get_profile(self.profile).synthetic is None and self.masks_root is not None:
            return "nvidia"
        return "procedural"


@dataclass(frozen=True)
class ResultsFolder:
    """A results folder and the options a verb plans or reads it with, resolved together."""

    folder: Path
    options: PlanOptions
    held: dict[str, HeldResults]  # profile → what the folder held when the verb started
    note: str | None = None  # how the profile was chosen when the folder chose it


def results_folder(
    folder: Path | None,
    profile: str | None,
    seeds: tuple[int, ...] | None,
    *,
    epochs: int | None = None,
    masks_root: Path | None = None,
    precision: str | None = None,
) -> ResultsFolder:
    """The folder and profile of a verb, reading the folder once: the profile given, else the
    one profile the folder's results hold, else DEFAULT_PROFILE; the folder given, else
    results/<profile>; the seeds given, else (``seeds`` None: a reading verb) every seed its
    done results of the profile hold, else 0."""
    held = held_results(folder) if folder is not None else {}
    note = None
    if profile is None:
        found = sorted(p for p in held if p in PROFILES)
        profile = found[0] if len(found) == 1 else DEFAULT_PROFILE
        if len(found) == 1:
            note = (
                f"profile {profile}: inferred from the results in {folder} (choose another "
                "with --profile)"
            )
        elif found:
            note = (
                f"{folder} holds results of several profiles ({', '.join(found)}): showing "
                f"{DEFAULT_PROFILE}; choose with --profile"
            )
    if folder is None:
        folder = Path("results") / profile
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--results-dir {folder}: is a file, not a folder")
        held = held_results(folder)
    held_seeds = seeds is None
    if held_seeds:
        seeds = held[profile].seeds if profile in held and held[profile].seeds else (0,)
    options = PlanOptions(
        profile, seeds, epochs, masks_root, held_seeds=held_seeds, precision=precision
    )
    return ResultsFolder(folder, options, held, note)


def check_seeds(seeds: tuple[int, ...]) -> None:
    """Seeds are whole numbers ≥ 0, each once: a repeated seed would count one training as
    two (a verdict "on 3 seeds" from one run), a negative one is no seed the suite draws."""
    if not seeds:
        raise ValueError("give at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seeds are whole numbers ≥ 0, got {seed!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seed {', '.join(map(str, repeated))} given more than once")


@dataclass
class Plan:
    options: PlanOptions
    runs: dict[str, RunSpec] = field(default_factory=dict)  # hash → spec, in first-use order
    evals: dict[str, EvalSpec] = field(default_factory=dict)
    cell_hashes: dict[str, list[str]] = field(default_factory=dict)  # cell id → one per seed

    def spec(self, spec_hash: str) -> RunSpec | EvalSpec:
        """The training or evaluation a hash of this plan names."""
        return self.runs[spec_hash] if spec_hash in self.runs else self.evals[spec_hash]

    def precisions(self) -> list[str]:
        """The precisions the plan's trainings and evaluations compute at, in first-use order."""
        found = [spec.trained_run.precision for spec in [*self.runs.values(), *self.evals.values()]]
        return list(dict.fromkeys(found))


def build_plan(registry: Registry, cells: list[Cell], options: PlanOptions) -> Plan:
    plan = Plan(options)
    kw = {
        "epochs": options.epochs,
        "mask_source": options.mask_source,
        "precision": options.precision,
    }
    for cell in cells:
        if not cell.runnable:
            plan.cell_hashes[cell.id] = []
            continue
        hashes = []
        for seed in options.seeds:
            if cell.run is not None:
                spec = resolve_run(registry, cell.run, options.profile, seed=seed, **kw)
                plan.runs.setdefault(spec.hash, spec)
            else:
                spec = resolve_eval(registry, cell.evaluation, options.profile, seed=seed, **kw)
                plan.runs.setdefault(spec.run.hash, spec.run)
                plan.evals.setdefault(spec.hash, spec)
            hashes.append(spec.hash)
        plan.cell_hashes[cell.id] = hashes
    return plan


def cell_metrics(cell: Cell, result: dict[str, Any], which: str = "best") -> dict[str, float]:
    """The cell's paper metrics read from one result (train: best/last; eval: one condition)."""
    if result["kind"] == "train":
        scores = result["metrics"][which]
    else:
        scores = {
            row["metric"]: row["value"]
            for row in result["rows"]
            if row["condition"] == cell.condition
        }
    return {name: scores[name] for name in cell.paper if name in scores}


# (results_dir, run hash, result missing?) → ("running" | "pending", Slurm job or None), or None
# when nothing is known live about the run.
LiveProbe = Callable[[Path, str, bool], "tuple[str, dict[str, Any] | None] | None"]


@dataclass(frozen=True)
class ResultState:
    """One result of a plan as read once: the file, and for a done one whether this checkout's
    code made it (``code``) and which of its predictions files are missing or changed."""

    loaded: LoadedResult
    code: CodeCheck | None = None  # done results only
    damage: tuple[Damage, ...] = ()  # done results only

    @property
    def done(self) -> bool:
        return self.loaded.done

    @property
    def stale(self) -> bool:
        return self.code is not None and self.code.state == "stale"


def read_results(
    plan: Plan,
    results_dir: Path,
    hashes: Iterable[str] | None = None,
    thorough: bool = False,
) -> dict[str, ResultState]:
    """The plan's results (or those of ``hashes``), each file read once, with what status, the
    runner and the report ask of a done one: is it stale — made by other code than this
    checkout's (benchmark.store.fingerprint), or, for an evaluation, read the checkpoint of a
    training that is — and is it damaged — a listed predictions file missing or changed
    (benchmark.store.predictions.listed_damage; ``thorough``: by sha256)."""
    wanted = list(dict.fromkeys(hashes if hashes is not None else [*plan.runs, *plan.evals]))
    trainings = [plan.evals[h].run.hash for h in wanted if h in plan.evals]
    read: dict[str, tuple[LoadedResult, CodeCheck | None]] = {}
    for spec_hash in dict.fromkeys([*wanted, *trainings]):
        result = load_result(results_dir, spec_hash)
        code = check_code(result.data) if result.done else None
        read[spec_hash] = (result, code)
    states = {}
    for spec_hash in wanted:
        result, code = read[spec_hash]
        evaluation = plan.evals.get(spec_hash)
        trained = read[evaluation.run.hash][1] if evaluation is not None else None
        if code is not None and code.state != "stale" and trained is not None:
            code = trained if trained.state == "stale" else code
        damage = listed_damage(result.path.parent, result.data, thorough) if result.done else ()
        states[spec_hash] = ResultState(result, code, damage)
    return states


def cell_statuses(
    cells: Sequence[Cell],
    plan: Plan,
    results_dir: Path,
    probe: LiveProbe | None = None,
    thorough: bool = False,
) -> list[dict[str, Any]]:
    """`{id, status, metrics, last, std, seeds, reason, hashes, code}` for each cell, from one
    read of their results (``read_results``).

    From the result files alone, a run is done, stale, damaged, failed or pending; a `probe`
    (see `benchmark.launch.liveness`) can tell that one is running now. A done result made by
    other code than this checkout's is stale: its numbers are kept and `code` names the changed
    files. A done result whose listed predictions files are missing or changed (``thorough``:
    by sha256) is damaged: its numbers are kept, `reason` names the files and the command that
    redoes them."""
    hashes = [h for cell in cells for h in plan.cell_hashes.get(cell.id, [])]
    states = read_results(plan, results_dir, hashes, thorough)
    return [_cell_status(cell, plan, states, results_dir, probe) for cell in cells]


def cell_status(
    registry: Registry,
    cell: Cell,
    plan: Plan,
    results_dir: Path,
    probe: LiveProbe | None = None,
    thorough: bool = False,
) -> dict[str, Any]:
    """One cell's ``cell_statuses``."""
    return cell_statuses([cell], plan, results_dir, probe, thorough)[0]


def _cell_status(
    cell: Cell,
    plan: Plan,
    states: dict[str, ResultState],
    results_dir: Path,
    probe: LiveProbe | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": cell.id,
        "table": cell.table,
        "row": cell.row,
        "dataset": cell.dataset,
        "paper": cell.paper,
        "status": "cited",
        "metrics": None,
        "last": None,
        "std": None,
        "reason": None,
        "hashes": plan.cell_hashes.get(cell.id, []),
        "slurm": None,
        "code": None,  # why the numbers may not be this code's: stale, or no fingerprint
        # the arithmetic the cell's results are identified by (RunSpec.precision)
        "precision": next(
            (plan.spec(h).trained_run.precision for h in plan.cell_hashes.get(cell.id, [])), None
        ),
    }
    if not cell.runnable:
        return entry
    seen, best, last, reasons, notes = [], [], [], [], []
    for seed, spec_hash in zip(plan.options.seeds, entry["hashes"], strict=True):
        result = states[spec_hash]
        loaded = result.loaded
        if result.done:
            if result.damage:
                seen.append("damaged")
                opts = plan.options
                command = run_command(cell.id, (seed,), opts.profile, opts.epochs, results_dir)
                reasons.append(damage_text(spec_hash, result.damage, command))
            else:
                seen.append("stale" if result.stale else "done")
            if result.code.note is not None:
                notes.append(result.code.note)
            best.append(cell_metrics(cell, loaded.data, "best"))
            if loaded.data["kind"] == "train":
                last.append(cell_metrics(cell, loaded.data, "last"))
            continue
        live = probe(results_dir, spec_hash, loaded.problem == "missing") if probe else None
        if live is not None and live[1] is not None:
            entry["slurm"] = live[1]
        if live is not None and live[0] == "running":
            seen.append("running")
        elif loaded.problem is None and loaded.data["status"] == "failed":
            seen.append("failed")
            reasons.append(loaded.data.get("error") or "failed")
        elif loaded.problem not in (None, "missing"):
            seen.append("failed")
            reasons.append(f"invalid result {loaded.path}: {loaded.problem}")
        elif live is None and plan.options.held_seeds and loaded.problem == "missing":
            continue  # a seed this cell was never run at: not one it lacks
        else:
            seen.append(live[0] if live is not None else "pending")
    if not seen and entry["hashes"]:
        seen.append("pending")  # held seeds, and none of them run yet
    for state in ("failed", "running", "pending", "damaged", "stale"):
        if state in seen:
            entry["status"] = state
            break
    else:
        entry["status"] = "done"
    if reasons:
        entry["reason"] = "; ".join(reasons)
    entry["code"] = "; ".join(dict.fromkeys(notes)) or None
    entry["seeds"] = len(best)
    if best and entry["status"] in ("done", "stale", "damaged"):
        entry["metrics"] = _mean(best)
        entry["last"] = _mean(last) if last else None
        if len(best) > 1:
            entry["std"] = {k: statistics.stdev(m[k] for m in best) for k in best[0]}
    return entry


def damage_text(spec_hash: str, damage: tuple[Damage, ...], command: str) -> str:
    """What is damaged and the command that redoes it, in one line."""
    files = "; ".join(f"{spec_hash}/{d}" for d in damage)
    return f"damaged: {files} — repair: `{command}`"


def command_line(verb: str, words: Sequence[str], options: PlanOptions, results_dir: Path) -> str:
    """`benchmark VERB WORDS…` as typed in a shell, with every flag that picks these results:
    profile, seeds (unless read from the folder), folder, and epochs, precision and masks where
    set. A bare command would read results/<default profile> of wherever it is typed, at other
    hashes."""
    argv = ["benchmark", verb, *words, "--profile", options.profile]
    if not options.held_seeds:
        argv += ["--seeds", ",".join(map(str, options.seeds))]
    argv += ["--results-dir", str(results_dir)]
    if options.epochs is not None:
        argv += ["--epochs", str(options.epochs)]
    if options.precision is not None:
        argv += ["--precision", options.precision]
    if options.masks_root is not None:
        argv += ["--masks-root", str(options.masks_root)]
    return shlex.join(argv)


def run_command(
    selector: str, seeds: tuple[int, ...], profile: str, epochs: int | None, results_dir: Path
) -> str:
    """The `benchmark run` that (re)makes ``selector`` at ``seeds`` in ``results_dir``: done
    work is skipped, so it redoes exactly what is missing or damaged."""
    return command_line("run", [selector], PlanOptions(profile, seeds, epochs), results_dir)


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
