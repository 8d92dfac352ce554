"""A run's `log.txt`: the `benchmark` loggers write there while the run executes."""

from __future__ import annotations

import logging
from pathlib import Path


def attach_log(folder: Path) -> logging.Handler:
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "log.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("benchmark")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def detach_log(handler: logging.Handler) -> None:
    logging.getLogger("benchmark").removeHandler(handler)
    handler.close()
