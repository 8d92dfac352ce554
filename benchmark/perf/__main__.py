"""`python -m benchmark.perf [flags]`: the perf verb on its own, the same as `benchmark perf`."""

from __future__ import annotations

import argparse
import sys

from benchmark.errors import UserError
from benchmark.perf.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.perf")
    verbs = parser.add_subparsers(dest="verb", required=True)
    register(verbs)
    args = parser.parse_args(["perf", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except UserError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
