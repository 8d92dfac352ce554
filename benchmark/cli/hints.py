"""What the verbs print to point the user on: the command to type next, with the results folder
and profile it needs, and notes when a selection reads as all pending for a likely reason."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from benchmark.cli.settings import Results
from benchmark.experiment.plan import command_line


def command(verb: str, results: Results, *words: str, all_seeds: bool = False) -> str:
    """The command to type next, in backticks, naming the folder, profile, seeds, epochs,
    precision and masks it needs (benchmark.experiment.plan.command_line); ``all_seeds``: a
    reading verb's default of every seed the folder holds."""
    options = replace(results.plan, held_seeds=True) if all_seeds else results.plan
    return f"`{command_line(verb, words, options, results.folder)}`"


def note_other_profiles(results: Results, statuses: list[str]) -> None:
    """When every selected cell is pending but the folder holds another profile's results,
    say so: the likely mistake is the profile, not missing work."""
    folder = results.folder
    if not statuses or any(s != "pending" for s in statuses) or not folder.is_dir():
        return
    others = {p: h.files for p, h in results.held.items() if p != results.profile}
    if others:
        held = ", ".join(f"{n} {p} result(s)" for p, n in sorted(others.items()))
        print(
            f"note: every selected cell is pending for profile {results.profile}, but {folder} "
            f"holds {held}: try --profile {min(others, key=lambda p: -others[p])}",
            file=sys.stderr,
        )


def note_missing_folder(results: Results) -> None:
    """A results folder that does not exist, said with where a relative one was looked for:
    run from another folder, results/<profile> is not the repository's."""
    folder = results.folder
    if folder.exists():
        return
    where = "" if folder.is_absolute() else f" (a relative path: looked for in {Path.cwd()})"
    print(
        f"note: no results folder {folder}{where}, so every cell is pending; if your results "
        "are elsewhere, give their folder with --results-dir",
        file=sys.stderr,
    )
