"""`benchmark pretrain --profile mini`: pretrain the mini backbones on the attribute corpus.

The mini profile's stand-in for ImageNet pretraining (docs/mini.md, "mini v2: pretraining").
Pretraining imports torch, so the handler imports it when called.
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from tabulate import tabulate

from benchmark.cli.settings import add_cache_flag, cache_from, writable_folder
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile

DEFAULT_OUT = Path("weights/mini")  # = benchmark.models.weights.MINI_WEIGHTS_DIR (torch-free)


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "pretrain", help="pretrain the mini backbones on the synthetic attribute corpus"
    )
    p.add_argument("--profile", required=True, help="mini (the only profile that pretrains)")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"weights folder (default: {DEFAULT_OUT})"
    )
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    p.add_argument("--images", type=int, default=None, help="corpus training images")
    p.add_argument("--val-images", type=int, default=None, help="held-out corpus images")
    p.add_argument("--lr", type=float, default=None, help="override the recipe's peak rate")
    p.add_argument(
        "--backbones", default=None, help="comma-separated subset of the mini backbones (all)"
    )
    add_cache_flag(p)  # the corpus is cached there, under pretrain/
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_pretrain)


def cmd_pretrain(args: argparse.Namespace) -> int:
    get_profile(args.profile)
    if args.profile != "mini":
        raise UserError(
            f"--profile {args.profile}: only the mini profile pretrains its backbones "
            "(the paper profile loads the released ImageNet weights)"
        )
    for flag, value in (("--epochs", args.epochs), ("--images", args.images),
                        ("--val-images", args.val_images)):  # fmt: skip
        if value is not None and value < 1:
            raise UserError(f"{flag}: must be at least 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise UserError(f"--lr: must be positive, got {args.lr}")
    writable_folder(args.out, "--out")
    cache = cache_from(args)

    from benchmark.models.mini import MINI_BACKBONES  # torch and timm: this verb only

    backbones = MINI_BACKBONES
    if args.backbones is not None:
        backbones = tuple(b.strip() for b in args.backbones.split(",") if b.strip())
        unknown = [b for b in backbones if b not in MINI_BACKBONES]
        if unknown or not backbones:
            raise UserError(
                f"--backbones: unknown {', '.join(unknown) or '(none given)'} "
                f"(choose from {', '.join(MINI_BACKBONES)})"
            )

    # PIL (the corpus) and torch (pretraining): this verb only
    from benchmark.data.pretrain_corpus import load_or_build
    from benchmark.train.pretraining import MINI_PRETRAIN, pretrain_all, with_overrides

    recipe = with_overrides(
        MINI_PRETRAIN,
        epochs=args.epochs,
        train_images=args.images,
        val_images=args.val_images,
        lr_resnet=args.lr,
        lr_vit=args.lr,
    )
    progress = not args.no_progress
    start = time.perf_counter()
    size, seed = recipe.img_size, recipe.corpus_seed
    train = load_or_build(cache, "train", recipe.train_images, size, seed, progress)
    val = load_or_build(cache, "val", recipe.val_images, size, seed, progress)
    record = pretrain_all(args.out, train, val, recipe, backbones, _command(args), progress)
    rows = [
        (b["backbone"], b["val_mAP"][-1], max(b["val_mAP"]), f"{b['wall_s']:.0f}",
         str(args.out / b["file"]), b["sha256"][:12])
        for b in record["backbones"]
    ]  # fmt: skip
    print(
        tabulate(
            rows,
            headers=["backbone", "val mAP", "best", "seconds", "file", "sha256"],
            floatfmt=".2f",
        )
    )
    print(
        f"corpus: {len(train)} train + {len(val)} held-out images, seed {seed}; "
        f"total {time.perf_counter() - start:.0f} s; record {args.out / 'PRETRAIN.json'}"
    )
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (recorded in PRETRAIN.json)."""
    words = ["benchmark", "pretrain", "--profile", args.profile]
    if args.out != DEFAULT_OUT:
        words += ["--out", str(args.out)]
    for flag in ("epochs", "images", "val_images", "lr", "backbones"):
        value = getattr(args, flag)
        if value is not None:
            words += [f"--{flag.replace('_', '-')}", str(value)]
    return shlex.join(words)
