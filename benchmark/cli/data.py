"""``benchmark data …``: stats, verify, masks, regime and synth. Handlers parse, call and
print; they return an exit code and raise UserError for bad input (the top-level CLI prints it,
exits 2)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark.claims.regime_rule import OBJECT_DATASETS, geometry_path, write_geometry
from benchmark.cli.settings import add_cache_flag, cache_from, writable_folder
from benchmark.data.layout import DATASETS, SPLITS
from benchmark.errors import UserError
from benchmark.experiment.profiles import get_profile
from benchmark.experiment.registry import load_registry


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` verb and its sub-verbs; each sets ``func(args) -> int``."""
    data = subparsers.add_parser("data", help="datasets, irregular-mask pools, synthetic trees")
    verbs = data.add_subparsers(dest="data_verb", required=True, metavar="VERB")

    stats = verbs.add_parser("stats", help="per-class positives and ignored entries of a split")
    stats.add_argument("dataset", choices=list(DATASETS))
    stats.add_argument("--root", required=True, type=Path, help="folder holding the dataset")
    stats.add_argument("--split", required=True, choices=SPLITS)
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_cache_flag(stats)
    stats.set_defaults(func=cmd_stats)

    verify = verbs.add_parser(
        "verify", help="list every problem of a dataset tree or of an NVIDIA mask folder"
    )
    verify.add_argument("dataset", choices=[*DATASETS, "masks"])
    verify.add_argument("--root", required=True, type=Path)
    verify.add_argument(
        "--archives", nargs="+", type=Path, default=[], metavar="FILE",
        help="official archives to check (MD5 where published, contents)",
    )  # fmt: skip
    verify.set_defaults(func=cmd_verify)

    masks = verbs.add_parser("masks", help="hole-ratio statistics of a mask pool")
    masks.add_argument("--source", required=True, help="NVIDIA mask folder, or 'procedural'")
    masks.add_argument("--pool", required=True, help="high | low | bucket:K (K = 0…5)")
    masks.add_argument("--size", type=int, default=448, help="mask size in pixels (448)")
    masks.add_argument("--json", action="store_true")
    masks.add_argument("--gallery", type=Path, metavar="OUT.png", help="draw a grid of masks")
    add_cache_flag(masks)
    masks.set_defaults(func=cmd_masks)

    regime = verbs.add_parser(
        "regime",
        help="object scale and feature cells under high-pool training masks (the regime rule's "
        "data parts, docs/mini.md v3)",
    )
    regime.add_argument("--profile", default="mini", help="a synthetic profile (default: mini)")
    regime.add_argument(
        "--experiments", type=Path, default=None, help="registry folder (default: ./experiments)"
    )
    regime.add_argument(
        "--images", type=int, default=None, help="measure only the first N training images"
    )
    regime.add_argument("--json", action="store_true", help="print the record as JSON")
    regime.add_argument(
        "--write",
        action="store_true",
        help="record the numbers with the profile (experiments/regime/<profile>.json), where "
        "`benchmark claims` reads them",
    )
    add_cache_flag(regime)
    regime.set_defaults(func=cmd_regime)

    synth = verbs.add_parser("synth", help="write a synthetic tree in the official layout")
    synth.add_argument("dataset", choices=list(DATASETS))
    synth.add_argument("--out", required=True, type=Path)
    synth.add_argument(
        "--images",
        required=True,
        type=int,
        help="training images written (COCO: the few empty scenes are written but, as in "
        "COCO's own loaders, are not samples)",
    )
    synth.add_argument("--size", required=True, type=int, help="image width in pixels")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--test-images", type=int, help="test images (default: --images)")
    synth.set_defaults(func=cmd_synth)


def cmd_stats(args: argparse.Namespace) -> int:
    from benchmark.data.stats import dataset_stats  # the loaders import torch: this verb only

    stats = dataset_stats(args.dataset, args.root, args.split, cache_from(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    rows = zip(stats["classes"], stats["positives"], stats["ignored"], strict=True)
    print(f"{args.dataset} {args.split}: {stats['images']} samples")
    print(tabulate(rows, headers=["class", "positives", "ignored"]))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from benchmark.data.verify import verify_dataset, verify_masks  # torch: this verb only

    if args.dataset == "masks":
        if args.archives:
            raise UserError("--archives: the NVIDIA mask set has no archive check")
        problems = verify_masks(args.root)
    else:
        problems = verify_dataset(args.dataset, args.root, args.archives)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else f"{args.dataset}: no problems found")
    return 1 if problems else 0


def cmd_masks(args: argparse.Namespace) -> int:
    from benchmark.data.masks import load_pool, pool_stats  # torch: this verb only

    if args.gallery is not None:
        writable_folder(args.gallery.parent, "--gallery")
    pool = load_pool(args.pool, args.size, args.source, cache_dir=cache_from(args))
    stats = pool_stats(pool)
    if args.gallery is not None:
        draw_gallery(pool.keep.numpy(), pool.ratios.numpy(), args.gallery, title=args.pool)
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        rows = [(k, v if isinstance(v, int) else f"{v:.4f}") for k, v in stats.items()]
        print(tabulate(rows, headers=["statistic", "value"], disable_numparse=True))
    return 0


def cmd_regime(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)
    if profile.synthetic is None:
        raise UserError(f"--profile {args.profile}: real data has no generator to measure")
    if args.images is not None and args.images < 1:
        raise UserError(f"--images: must be at least 1, got {args.images}")
    if args.write and args.images is not None:
        raise UserError("--write records the whole training split: leave out --images")
    # torch: this verb only
    from benchmark.data.mask_geometry import DRAWS, measure
    from benchmark.models.backbones import backbone_stride

    synthetic = {d: profile.synth_for(d) for d in OBJECT_DATASETS}
    backbones = sorted(set((profile.backbones or {}).values()))
    strides = {b: backbone_stride(b) for b in backbones}
    img_size = profile.img_size or 448
    record = measure(
        synthetic, img_size, strides, "procedural", cache_from(args), DRAWS, args.images
    )
    record = {"profile": args.profile, "command": _regime_command(args), **record}
    rule = profile.regime_rule
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_regime(record, rule)
    if args.write:
        path = geometry_path(load_registry(args.experiments).root, args.profile)
        write_geometry(path, record)
        print(f"recorded: {path}")
    return 0


def _regime_command(args: argparse.Namespace) -> str:
    words = ["benchmark", "data", "regime", "--profile", args.profile]
    if args.images is not None:
        words += ["--images", str(args.images)]
    return " ".join(words + (["--write"] if args.write else []))


def _print_regime(record: dict, rule) -> None:
    settings = record["settings"]
    print(
        f"Object scale: (image, positive class) pairs of the training split whose class boxes "
        f"are ≥ {100 * settings['hidden']:g} % hidden under a training crop and a "
        f"{settings['pool']}-pool mask ({settings['mask_source']}, {settings['img_size']} px), "
        f"{settings['draws']} draws per image"
    )
    rows = []
    for dataset, m in record["object_scale"].items():
        band = rule.object_scale.get(dataset) if rule else None
        verdict = "—" if band is None else (
            "passes" if band[0] <= 100 * m["hidden_fraction"] <= band[1] else "fails"
        )  # fmt: skip
        rows.append([
            dataset, m["samples"], m["pairs"], f"{100 * m['median_area']:.1f} %",
            f"{100 * m['hidden_fraction']:.1f} %", f"{100 * m['hidden_visible_fraction']:.1f} %",
            f"{band[0]:g}–{band[1]:g} %" if band else "—", verdict,
        ])  # fmt: skip
    headers = ["dataset", "images", "pairs", "median class box area", "hidden (boxes)",
               "hidden (visible pixels)", "rule", ""]  # fmt: skip
    print(tabulate(rows, headers=headers, disable_numparse=True))
    print(
        f"\nFeature cells: final-map cells ≥ {100 * settings['hidden']:g} % holes over the "
        f"{settings['pool_masks']} {settings['pool']}-pool masks"
    )
    rows = []
    for backbone, m in record["feature_cells"].items():
        verdict = "—" if rule is None else (
            "passes" if 100 * m["hidden_fraction"] >= rule.cells else "fails"
        )  # fmt: skip
        hidden = f"{100 * m['hidden_fraction']:.1f} %"
        rows.append([
            backbone, m["stride"], f"{m['map']} × {m['map']}", hidden,
            f"≥ {rule.cells:g} %" if rule else "—", verdict,
        ])  # fmt: skip
    print(tabulate(rows, headers=["backbone", "stride", "map", "hidden", "rule", ""],
                   disable_numparse=True))  # fmt: skip


def cmd_synth(args: argparse.Namespace) -> int:
    from benchmark.data.synthetic import read_marker, synthesize  # PIL scene drawing: this verb

    writable_folder(args.out, "--out")
    test_images = args.images if args.test_images is None else args.test_images
    root = synthesize(args.dataset, args.out, args.images, test_images, args.size, args.seed)
    marker = read_marker(root)
    counts, written = marker["counts"], marker["images"]
    print(
        f"{args.dataset}: wrote {root} (images: train {written['train']}, test "
        f"{written['test']}; samples: train {counts['train']}, test {counts['test']})"
    )
    if args.dataset == "coco2014" and counts != written:
        empty = {split: written[split] - counts[split] for split in written}
        print(
            f"  {empty['train']} training and {empty['test']} test image(s) are empty scenes "
            "(about 3 % are generated without objects, as real COCO has images without "
            "annotations); COCO's loaders skip images without annotations, so they are not "
            "samples"
        )
    return 0


def draw_gallery(keep, ratios, out: Path, title: str, rows: int = 4, cols: int = 6) -> None:
    """A grid of masks spread over the pool, holes white as in the NVIDIA files (Fig. 6)."""
    from matplotlib.figure import Figure  # matplotlib: only when a gallery is asked for

    picks = np.linspace(0, len(keep) - 1, min(rows * cols, len(keep))).round().astype(int)
    fig = Figure(figsize=(cols * 1.6, rows * 1.75))
    axes = fig.subplots(rows, cols)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), picks, strict=False):
        ax.imshow(~keep[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"#{i}  {ratios[i]:.2f}", fontsize=7)
    fig.suptitle(f"{title} pool: hole ratio per mask", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
