"""`python -m benchmark VERB …`, e.g. `python -m benchmark perf`: as `benchmark VERB …`."""

from benchmark.cli import entry

entry()
