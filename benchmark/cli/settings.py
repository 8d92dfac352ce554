"""Flags several verbs share, and the frozen settings they resolve to: once, here at the edge.

A verb's `register` declares its flags (the groups below, and its own); the first line of its
handler turns the parsed arguments into one frozen settings object (`<Verb>Settings.from_args`),
every value checked there — a bad one is one line naming its flag, exit 2, before any work —
and every default filled in: the profile inferred from the results folder, folders from
$BENCHMARK_*, the loader workers from the device. What is below `benchmark.cli` is given these
values and never sees argparse.

To add a flag several verbs take: declare it in its group's `add_…` function here and resolve
it in the group's `…_from` function, into a field of the group's object (`Results`, or the
`JobContext` a run or an evaluation reads). A flag of one verb: in that verb's module, in its
`register` and its settings class.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.errors import UserError
from benchmark.experiment.plan import PlanOptions, check_seeds, results_folder
from benchmark.experiment.profiles import DEFAULT_PROFILE, PROFILES, Profile
from benchmark.spec import PRECISIONS
from benchmark.store.results import HeldResults, probe_write

if TYPE_CHECKING:
    from benchmark.train.job_context import JobContext

# auto: CUDA graphs (reduce-overhead) on CUDA, eager elsewhere; none: eager; then torch.compile's
COMPILE_MODES = ("auto", "none", "default", "reduce-overhead", "max-autotune")
# The one cache folder of every verb: synthetic trees, mask pools, annotation parses. Relative
# to the working folder (as results/ and reports/ are); $BENCHMARK_CACHE or --cache-dir move it.
CACHE_ENV = "BENCHMARK_CACHE"
MASKS_ENV = "BENCHMARK_MASKS"
WEIGHTS_ENV = "BENCHMARK_WEIGHTS"
DEFAULT_CACHE = Path(".cache/benchmark")
REPO_ROOT = Path(__file__).resolve().parents[2]  # where a profile's committed files live


# -- --experiments, --profile, --results-dir, --masks-root, --seeds, --epochs ---------------


@dataclass(frozen=True)
class Results:
    """Which experiments, at which profile, seeds and epochs, stored in which folder."""

    experiments: Path | None  # the registry folder (None: ./experiments, else the source tree's)
    folder: Path  # --results-dir, else results/<profile>
    plan: PlanOptions  # profile, seeds, epochs, masks root
    # profile → what the folder held when the verb started (read once, with the profile)
    held: Mapping[str, HeldResults] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return self.plan.profile

    @property
    def definition(self) -> Profile:
        """The profile's definition (benchmark.experiment.profiles)."""
        return PROFILES[self.plan.profile]


@dataclass(frozen=True)
class ReadingSettings:
    """A verb that reads a results folder for a selector and prints a table or JSON (list,
    status)."""

    selector: str
    results: Results
    json: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReadingSettings:
        return cls(args.selector, results_from(args), args.json)


def add_results_flags(parser: argparse.ArgumentParser, seeds: str = "given") -> None:
    """The flags of every verb over a results folder: --experiments, --profile, --precision,
    --results-dir, --masks-root, and --seeds, --epochs as ``seeds`` says: ``given`` (--seeds,
    default 0), ``held`` (claims, report: default every seed the folder holds for the profile,
    so a committed three-seed profile reads as three seeds) or ``none`` (evaluate: no --seeds,
    no --epochs)."""
    parser.add_argument(
        "--experiments", type=Path, default=None, help="registry folder (default: ./experiments)"
    )
    parser.add_argument(
        "--profile",
        default=None,
        help=f"{' | '.join(PROFILES)} (default: the profile of the results in --results-dir "
        f"when they are all of one, else {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="arithmetic of training and evaluation, part of a result's identity: fp32 (strict), "
        "tf32 (fp32 tensors, TF32 allowed for CUDA matmuls and cuDNN convolutions, as the "
        "authors' torch), bf16 (autocast, a speed choice). Default: the profile's (paper, "
        "paper-synth: tf32; smoke, mini: fp32); docs/fidelity.md",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="default: results/<profile>/"
    )
    parser.add_argument(
        "--masks-root",
        type=Path,
        default=None,
        help=f"NVIDIA irregular mask testing set (default: ${MASKS_ENV}; procedural masks stand "
        "in when absent)",
    )
    if seeds == "none":
        parser.set_defaults(seeds="0", epochs=None)
        return
    parser.add_argument(
        "--seeds",
        default=None if seeds == "held" else "0",
        help="comma-separated seeds, distinct, 0 or more (default: "
        + ("every seed the results hold, else 0)" if seeds == "held" else "0)"),
    )
    parser.add_argument("--epochs", type=int, default=None, help="override every run's epochs")


def results_from(args: argparse.Namespace) -> Results:
    """The flags of `add_results_flags`, checked, then resolved with one read of the folder
    (benchmark.experiment.plan.results_folder): the profile said on stderr when the folder's
    results chose it."""
    experiments = args.experiments
    if experiments is not None:
        existing_folder(experiments, "--experiments")
    if args.profile is not None and args.profile not in PROFILES:
        raise UserError(
            f"--profile {args.profile}: unknown profile (choose from {', '.join(PROFILES)})"
        )
    if args.results_dir is not None:
        existing_folder(args.results_dir, "--results-dir", must_exist=False)
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs: must be at least 1, got {args.epochs}")
    seeds = None if args.seeds is None else parse_seeds(args.seeds, "--seeds")
    masks = _env_folder(args.masks_root, "--masks-root", MASKS_ENV)
    chosen = results_folder(
        args.results_dir, args.profile, seeds,
        epochs=args.epochs, masks_root=masks, precision=args.precision,
    )  # fmt: skip
    if chosen.note is not None:
        print(chosen.note, file=sys.stderr)
    return Results(experiments, chosen.folder, chosen.options, chosen.held)


def parse_seeds(text: str, flag: str) -> tuple[int, ...]:
    """Comma-separated seeds, distinct and 0 or more (benchmark.experiment.plan.check_seeds)."""
    try:
        seeds = tuple(int(s) for s in str(text).split(",") if s.strip() != "")
    except ValueError:
        raise UserError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    try:
        check_seeds(seeds)
    except ValueError as exc:
        raise UserError(f"{flag} {text}: {exc}") from None
    return seeds


# -- --data-root, --weights-root, --cache-dir, --device, --workers, --no-progress, --compile -


def add_execution_flags(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """Where a run or an evaluation reads its inputs and what it computes on (`run`,
    `evaluate`): resolved by `job_from` into the JobContext every job is given."""
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding voc2007/, coco2014/, wider/ (paper profile)",
    )
    parser.add_argument("--weights-root", type=Path, default=None, help=weights_help)
    add_cache_flag(parser)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="data-loader workers, 0 or more (default: 0 on CPU, 8 on CUDA)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(skip_bad=False, sync_bn=False)  # `run` declares these two


def job_from(args: argparse.Namespace) -> tuple[Results, JobContext]:
    """The flags of `add_execution_flags` and `add_compile_flag` (and run's --skip-bad,
    --sync-bn), checked, then those of `add_results_flags` (`results_from`, which reads the
    folder once): every flag is checked before any file is read. Returns the results folder
    and the JobContext every job is given: where jobs read and write, and on what device."""
    import torch  # here, not at the top: the light verbs import this module

    from benchmark.train.job_context import JobContext  # torch, as above

    device = checked_device(args.device)
    if args.workers is not None and args.workers < 0:
        raise UserError(f"--workers: must be 0 or more, got {args.workers}")
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    weights = _env_folder(args.weights_root, "--weights-root", WEIGHTS_ENV)
    data_root = args.data_root
    if data_root is not None:
        existing_folder(data_root, "--data-root")
    cache_dir = cache_from(args)
    results = results_from(args)
    committed = PROFILES[results.plan.profile].weights_root
    if weights is None and committed is not None:
        weights = REPO_ROOT / committed  # the profile's committed weights (mini), not the cwd's
    return results, JobContext(
        results_dir=results.folder,
        data_root=data_root,
        weights_root=weights,
        masks_root=results.plan.masks_root,
        cache_dir=cache_dir,
        device=device,
        num_workers=args.workers if args.workers is not None else (8 if cuda else 0),
        skip_bad=args.skip_bad,
        progress=not args.no_progress,
        sync_bn=args.sync_bn,
        compile_mode=args.compile,
    )


def checked_device(device: str) -> str:
    """--device, refused before any work when it cannot run here."""
    if device in ("auto", "cpu"):
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise UserError(f"--device {device}: unknown device (choose auto, cpu, cuda or cuda:N)")
    import torch  # here: only the verbs that compute need it

    if not torch.cuda.is_available():
        raise UserError(
            f"--device {device}: no CUDA GPU is visible (torch.cuda.is_available() is false); "
            "use --device cpu"
        )
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise UserError(
            f"--device {device}: only {count} CUDA GPU(s) visible (cuda:0 … cuda:{count - 1})"
        )
    return device


def add_compile_flag(parser: argparse.ArgumentParser, extra_help: str = "") -> None:
    """``--compile [MODE]`` as ``benchmark run``, ``evaluate`` and ``perf`` take it."""
    parser.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default="auto",
        choices=COMPILE_MODES,
        metavar="MODE",
        help="torch.compile mode of the model. auto (default): CUDA graphs (reduce-overhead) on "
        "a CUDA GPU, where the paper's batch of 6 is launch-bound, eager on a CPU; none: eager; "
        "default | reduce-overhead | max-autotune: torch.compile's own (a bare --compile = "
        f"default). A mode that fails here falls back to eager and says why{extra_help}",
    )


def add_cache_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache of synthetic trees, mask pools and annotation parses (default: "
        f"${CACHE_ENV} or {DEFAULT_CACHE})",
    )


def cache_from(args: argparse.Namespace) -> Path:
    """--cache-dir, else $BENCHMARK_CACHE, else ./.cache/benchmark: a folder this process can
    write in (checked here, so a bad one stops the verb before any work)."""
    if args.cache_dir is not None:
        return writable_folder(args.cache_dir, "--cache-dir")
    env = os.environ.get(CACHE_ENV)
    return (
        writable_folder(Path(env), f"${CACHE_ENV}")
        if env
        else writable_folder(DEFAULT_CACHE, "--cache-dir")
    )


# -- paths ------------------------------------------------------------------------------------


def existing_folder(folder: Path, flag: str, must_exist: bool = True) -> Path:
    """The folder, refused once and clearly when it is a file (or, if required, absent)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: is a file, not a folder")
    if must_exist and not folder.exists():
        raise UserError(f"{flag} {folder}: no such folder")
    return folder


def writable_folder(folder: Path, flag: str) -> Path:
    """A folder this process can create files in, checked without leaving anything behind: a
    probe file is made and removed in the folder, or, when the folder does not exist yet, in
    its nearest existing parent (creating folders there needs the same right)."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"{existing} is a file"
        raise UserError(f"{flag} {folder}: {where}, not a folder")
    try:
        probe_write(existing)
    except OSError as exc:
        raise UserError(f"{flag} {folder}: cannot write there ({exc.strerror or exc})") from None
    return folder


def readable_file(path: Path, flag: str) -> Path:
    """A file that exists and opens for reading (a folder or an absent path is refused)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder, not a file")
    if not path.exists():
        raise UserError(f"{flag} {path}: no such file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None
    return path


def _env_folder(flag_value: Path | None, flag: str, env: str) -> Path | None:
    """A folder from its flag, else from its environment variable, else none; one that is
    named must exist."""
    if flag_value is not None:
        return existing_folder(flag_value, flag)
    value = os.environ.get(env)
    return existing_folder(Path(value), f"${env}") if value else None
