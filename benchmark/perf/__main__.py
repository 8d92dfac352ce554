"""`python -m benchmark.perf [flags]`: the same as `benchmark perf [flags]`."""

import sys

from benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main(["perf", *sys.argv[1:]]))
