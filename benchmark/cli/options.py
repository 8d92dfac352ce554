"""Flags several verbs share, and the settings they resolve to (once, here at the CLI edge)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.errors import UserError
from benchmark.experiment.plan import PlanOptions, check_seeds
from benchmark.experiment.profiles import get_profile
from benchmark.spec import PRECISIONS
from benchmark.store.results import profiles_in, seeds_in

# auto: CUDA graphs (reduce-overhead) on CUDA, eager elsewhere; none: eager; then torch.compile's
COMPILE_MODES = ("auto", "none", "default", "reduce-overhead", "max-autotune")
# The one cache folder of every verb: synthetic trees, mask pools, annotation parses. Relative
# to the working folder (as results/ and reports/ are); $BENCHMARK_CACHE or --cache-dir move it.
CACHE_ENV = "BENCHMARK_CACHE"
DEFAULT_CACHE = Path(".cache/benchmark")
DEFAULT_PROFILE = "mini"  # the README's; CI and the tests say --profile smoke
REPO_ROOT = Path(__file__).resolve().parents[2]  # where a profile's committed files live


def add_common(
    parser: argparse.ArgumentParser, results: bool = True, seeds_from_results: bool = False
) -> None:
    """--experiments, --profile, --results-dir, --seeds, --epochs, --masks-root.

    ``seeds_from_results``: verbs that read results (claims, report) default to every seed the
    folder holds for the profile, so a committed three-seed profile reads as three seeds."""
    add_profile_options(parser, results)
    if seeds_from_results:
        parser.add_argument(
            "--seeds",
            default=None,
            help="comma-separated seeds (default: every seed the results hold, else 0)",
        )
    else:
        parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument("--epochs", type=int, default=None, help="override every run's epochs")


def add_profile_options(parser: argparse.ArgumentParser, results: bool = True) -> None:
    """--experiments, --profile, --precision, --results-dir, --masks-root: what every verb that
    reads or writes results takes (`evaluate` takes no seeds or epochs)."""
    parser.add_argument(
        "--experiments", type=Path, default=None, help="registry folder (default: ./experiments)"
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="paper | paper-synth | mini | smoke (default: the profile of the results in "
        f"--results-dir when they are all of one, else {DEFAULT_PROFILE})",
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
    if results:
        parser.add_argument(
            "--results-dir", type=Path, default=None, help="default: results/<profile>/"
        )
    parser.add_argument(
        "--masks-root",
        type=Path,
        default=None,
        help="NVIDIA irregular mask testing set (default: $BENCHMARK_MASKS; "
        "procedural masks stand in when absent)",
    )


def add_execution_options(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """--data-root, --weights-root, --cache-dir, --device, --workers, --no-progress: where a
    run or an evaluation reads its inputs and what it computes on (`run`, `evaluate`)."""
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding voc2007/, coco2014/, wider/ (paper profile)",
    )
    parser.add_argument("--weights-root", type=Path, default=None, help=weights_help)
    add_cache_option(parser)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="data-loader workers (default: 0 on CPU, 8 on CUDA)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_compile_option(parser: argparse.ArgumentParser, extra_help: str = "") -> None:
    """``--compile [MODE]`` as ``benchmark run`` and ``benchmark perf`` both take it."""
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


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache of synthetic trees, mask pools and annotation parses (default: "
        f"${CACHE_ENV} or {DEFAULT_CACHE})",
    )


def cache_dir(args: argparse.Namespace) -> Path:
    """The cache folder, resolved here once and passed down (the library reads no setting)."""
    if args.cache_dir is not None:
        return args.cache_dir
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else DEFAULT_CACHE


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in str(text).split(",") if s.strip() != "")
    except ValueError:
        raise UserError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    try:
        check_seeds(seeds)
    except ValueError as exc:
        raise UserError(f"--seeds {text}: {exc}") from None
    return seeds


def plan_options(args: argparse.Namespace) -> PlanOptions:
    get_profile(profile(args))
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs: must be at least 1, got {args.epochs}")
    held = args.seeds is None  # seeds_from_results: see add_common
    if held:
        seeds = seeds_in(results_dir(args), args.profile) or (0,)
    else:
        seeds = parse_seeds(args.seeds)
    return PlanOptions(
        args.profile,
        seeds,
        args.epochs,
        masks_root(args),
        held_seeds=held,
        precision=args.precision,
    )


def masks_root(args: argparse.Namespace) -> Path | None:
    """--masks-root, else $BENCHMARK_MASKS, else none (procedural masks stand in)."""
    if args.masks_root is not None:
        return args.masks_root
    env = os.environ.get("BENCHMARK_MASKS")
    return Path(env) if env else None


def profile(args: argparse.Namespace) -> str:
    """--profile, or the one profile of the results in --results-dir (said on stderr, once),
    or the default."""
    if args.profile is None:
        args.profile = DEFAULT_PROFILE
        folder = getattr(args, "results_dir", None)
        found = (
            profiles_in(existing_folder(folder, "--results-dir", must_exist=False))
            if folder
            else {}
        )
        if len(found) == 1:
            (args.profile,) = found
            print(
                f"profile {args.profile}: inferred from the results in {folder} "
                "(choose another with --profile)",
                file=sys.stderr,
            )
        elif found:
            print(
                f"{folder} holds results of several profiles ({', '.join(sorted(found))}): "
                f"showing {DEFAULT_PROFILE}; choose with --profile",
                file=sys.stderr,
            )
    return args.profile


def results_dir(args: argparse.Namespace) -> Path:
    folder = args.results_dir
    if folder is None:
        folder = Path("results") / profile(args)
    return existing_folder(folder, "--results-dir", must_exist=False)


def existing_folder(folder: Path, flag: str, must_exist: bool = True) -> Path:
    """The folder, refused once and clearly when it is a file (or, if required, absent)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: is a file, not a folder")
    if must_exist and not folder.exists():
        raise UserError(f"{flag} {folder}: no such folder")
    return folder


def hint_other_profiles(folder: Path, chosen: str, statuses: list[str]) -> None:
    """When every selected cell is pending but the folder holds another profile's results,
    say so: the likely mistake is the profile, not missing work."""
    if not statuses or any(s != "pending" for s in statuses) or not folder.is_dir():
        return
    others = {p: n for p, n in profiles_in(folder).items() if p != chosen}
    if others:
        held = ", ".join(f"{n} {p} result(s)" for p, n in sorted(others.items()))
        print(
            f"note: every selected cell is pending for profile {chosen}, but {folder} holds "
            f"{held}: try --profile {min(others, key=lambda p: -others[p])}",
            file=sys.stderr,
        )


def job_context(args: argparse.Namespace, options: PlanOptions):
    """Where a run or an evaluation reads and writes, and its device, from the flags."""
    import torch  # here, not at the top: the other verbs import this module

    from benchmark.train.job_context import JobContext  # torch, as above

    cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    workers = args.workers if args.workers is not None else (8 if cuda else 0)
    weights = args.weights_root or (
        Path(os.environ["BENCHMARK_WEIGHTS"]) if os.environ.get("BENCHMARK_WEIGHTS") else None
    )
    if weights is None and get_profile(options.profile).weights_root is not None:
        # the profile's committed weights (mini), found from the package, not the cwd
        weights = REPO_ROOT / get_profile(options.profile).weights_root
    return JobContext(
        results_dir=results_dir(args),
        data_root=args.data_root,
        weights_root=weights,
        masks_root=options.masks_root,
        cache_dir=cache_dir(args),
        device=args.device,
        num_workers=workers,
        skip_bad=args.skip_bad,
        progress=not args.no_progress,
        sync_bn=args.sync_bn,
        compile_mode=args.compile,
    )


def check_device(device: str) -> None:
    """--device, refused before any work when it cannot run here."""
    import re

    if device in ("auto", "cpu"):
        return
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
