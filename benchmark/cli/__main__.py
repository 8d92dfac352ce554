"""`python -m benchmark.cli VERB …`: the same as `benchmark VERB …`."""

from benchmark.cli import entry

entry()
