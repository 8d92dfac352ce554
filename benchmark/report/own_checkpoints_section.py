"""The report's "Your checkpoints" section: each checkpoint file of the user's own evaluated into
the results folder (`benchmark evaluate --checkpoint FILE --like RUN`), beside the paper's values
of the table cells its run fills. Such a file fills no cell itself: the tables stay the suite's.
"""

from __future__ import annotations

from benchmark.experiment.file_evaluations import FileEvaluation
from benchmark.experiment.registry import Registry
from benchmark.report.document import DATASET_NAMES
from benchmark.report.wording import DASH, fmt, fmt_mean_std

SECTION = "Your checkpoints"
NOTE = (
    "Checkpoint files of yours evaluated into this results folder (`benchmark evaluate "
    "--checkpoint FILE --like RUN`), each on the test set of its run's dataset: clean, and under "
    "the paper's Table 6 masking (one high-pool mask per test image; mean ± std over mask seeds "
    "when several were drawn). They fill no table cell; the paper's values of the cells their "
    "run fills are shown beside them."
)
HEADERS = (
    "Evaluation", "File", "Like run", "Dataset", "Status", "Clean mAP", "Table 6 setting mAP",
    "Paper mAP (cells of this run)",
)  # fmt: skip


def own_evaluations(
    evaluations: list[FileEvaluation], runs: set[str] | None = None
) -> list[FileEvaluation]:
    """The user's own files among ``evaluations`` (not published ones), of ``runs`` if given."""
    return [e for e in evaluations if e.run is not None and (runs is None or e.run in runs)]


def paper_values(registry: Registry, run: str) -> str:
    """The paper's mAP of every cell the run fills: trained cells clean, Table 6's masked."""
    texts = []
    for cell in registry.cells:
        evaluation = registry.evaluations.get(cell.evaluation or "", {})
        if "mAP" not in cell.paper or run not in (cell.run, evaluation.get("run")):
            continue
        condition = f" ({cell.condition})" if cell.condition else ""
        texts.append(f"{cell.id}{condition} {fmt(cell.paper['mAP'])}")
    return "; ".join(texts) or DASH


def rows(registry: Registry, evaluations: list[FileEvaluation]) -> list[list[str]]:
    out = []
    for e in evaluations:
        clean, high = e.mAP("clean"), e.mAP("high")
        out.append(
            [
                e.name,
                f"{e.file} (sha256 {e.sha256[:12]})",
                str(e.run),
                DATASET_NAMES.get(e.dataset, e.dataset),
                "measured" if e.done else f"failed: {e.error}",
                fmt(clean[0]) if clean else DASH,
                fmt_mean_std(*high) if high else DASH,
                paper_values(registry, str(e.run)),
            ]
        )
    return out
