"""The `benchmark` command: one module per verb (parse, resolve, call, print); the flags
several verbs share, and the frozen settings they resolve to, in `settings`.

A UserError (bad file, field or flag) becomes one line on stderr and exit status 2; so does an
operating-system error on a named path that slipped past the checks at the edge (a folder that
turned read-only mid-way), never a traceback. Verb modules import only argparse-level code at
the top, so `benchmark list` and `benchmark report` stay light; each handler imports what its
verb needs.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmark import __version__
from benchmark.cli import (
    check,
    claims,
    compare,
    data,
    evaluate,
    perf,
    pretrain,
    report,
    run,
    score,
    status,
)
from benchmark.cli import list as list_verb
from benchmark.errors import UserError

# In the order `benchmark --help` lists them.
VERBS = (
    list_verb,
    score,
    check,
    data,
    run,
    evaluate,
    status,
    report,
    claims,
    compare,
    perf,
    pretrain,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark", description="Reproduce the MSL paper's Tables 1-6 (WACV 2024)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in VERBS:
        module.register(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:  # not about a path the user named: a bug, shown in full
            raise
        print(f"benchmark: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`benchmark list all | head`): not an error of ours. Point
        # stdout at /dev/null so the interpreter's last flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # as a shell reports a process ended by SIGPIPE
    sys.exit(code)
