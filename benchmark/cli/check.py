"""`benchmark check`: validate the registry and every result file of a results folder."""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass

from benchmark.cli.settings import Results, add_results_flags, results_from
from benchmark.experiment.profiles import PROFILES
from benchmark.experiment.registry import Registry, load_registry
from benchmark.store.predictions import listed_damage
from benchmark.store.results import iter_result_files, read_result


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("check", help="validate the registry and every result file")
    add_results_flags(p)
    p.set_defaults(func=cmd_check)


@dataclass(frozen=True)
class CheckSettings:
    results: Results

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CheckSettings:
        return cls(results_from(args))


def cmd_check(args: argparse.Namespace) -> int:
    s = CheckSettings.from_args(args)
    folder = s.results.folder
    registry = load_registry(s.results.experiments)
    unknown = unknown_backbones(registry)
    for line in unknown:
        print(f"BAD {line}")
    print(
        f"registry: {len(registry.cells)} cells, {len(registry.runs)} runs, "
        f"{len(registry.evaluations)} evaluations — "
        + (f"{len(unknown)} unknown backbone(s)" if unknown else "valid")
    )
    problems = len(unknown)
    files = iter_result_files(folder)
    verified = 0
    for path in files:
        loaded = read_result(path, path.parent.name)
        if loaded.problem is not None:
            problems += 1
            print(f"BAD {path}: {loaded.problem}")
        elif loaded.done:  # every predictions file it lists, against its recorded sha256
            damage = listed_damage(path.parent, loaded.data, thorough=True)
            listed = (loaded.data.get("predictions") or {}).values()
            present = sum((path.parent / entry["file"]).is_file() for entry in listed)
            verified += present - sum(item.problem != "missing" for item in damage)
            problems += bool(damage)
            for item in damage:
                print(
                    f"BAD {path.parent / item.file}: {item.problem} (listed by {path}; "
                    "`benchmark status` names its cell and the command that redoes it)"
                )
    print(
        f"results: {len(files)} file(s) in {folder}, {problems - len(unknown)} bad; "
        f"{verified} predictions file(s) present match their result's sha256"
    )
    return 1 if problems else 0


def unknown_backbones(registry: Registry) -> list[str]:
    """Runs whose backbone no model library knows (a typo like `resnet1O1` would otherwise be
    replaced silently by a profile's stand-in and surface only on the paper profile)."""
    import timm  # timm and torch: only `check` asks the model registry (names, no weights)

    import benchmark.models.mini  # noqa: F401 — registers the mini stand-ins with timm (torch)

    known = set(timm.list_models())
    wanted = {f"run {name}": run["backbone"] for name, run in registry.runs.items()}
    for prof in PROFILES.values():
        wanted.update({f"profile {prof.name}": b for b in (prof.backbones or {}).values()})
    problems = []
    for owner, backbone in wanted.items():
        if backbone not in known:
            close = difflib.get_close_matches(backbone, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{owner}: backbone {backbone!r} is not a model timm knows{hint}")
    return problems
