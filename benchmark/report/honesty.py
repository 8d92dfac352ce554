"""How much the paper's best-on-test selection flatters a table, with the numbers.

Per table: the mean optimism of best-on-test selection over its finished training cells —
best − last epoch, and best-on-test − best-on-validation where runs held a validation split —
and where the paper's learning-rate schedule leaves later "best" epochs nothing to learn.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from benchmark.report.wording import fmt_signed

LR_FLOOR = 1e-6  # below this a step moves weights by ~nothing: only BatchNorm drift and noise


def lr_at(epoch: int, lr: float, gamma: float, step: int) -> float:
    """The learning rate during 1-based ``epoch`` after warm-up, to the precision a 1e-6 floor
    needs (benchmark.train.schedule has the exact rate: ×γ every ``step`` epochs, counted from
    the first epoch, from base·T/(T + 1e-8))."""
    return lr * gamma ** ((epoch - 1) // step)


def first_epoch_below(lr: float, gamma: float, step: int, epochs: int, floor: float = LR_FLOOR):
    """The first 1-based epoch whose learning rate is below ``floor``, or None."""
    for epoch in range(1, epochs + 1):
        if lr_at(epoch, lr, gamma, step) < floor:
            return epoch
    return None


def schedule_note(recipe: dict, per_dataset: dict[str, dict], epochs: dict[str, int]) -> str:
    """The paper schedule's numbers: from which epoch backbone and head learn below 1e-6."""
    head_lr = recipe["lr"] * recipe["head_lr_mult"]
    parts = []
    for dataset, values in per_dataset.items():
        step, gamma = values["lr_step"], recipe["lr_gamma"]
        backbone = first_epoch_below(recipe["lr"], gamma, step, epochs[dataset])
        head = first_epoch_below(head_lr, gamma, step, epochs[dataset])
        parts.append(f"{dataset} from epoch {backbone} (head {head}) of {epochs[dataset]}")
    return (
        f"Paper schedule (docs/spec.md §1.8, ×{recipe['lr_gamma']:g} every few epochs): the "
        "backbone learning rate falls below 1e-6 on " + ", ".join(parts) + "; a later “best” epoch "
        "differs from its neighbours only by BatchNorm drift and test noise."
    )


@dataclass
class TableHonesty:
    cells: int  # finished training cells
    best_minus_last: float | None  # mean over cells (mAP points)
    best_minus_val: float | None  # mean over cells with a validation split
    val_cells: int
    late_best: int  # cells whose best epoch falls where the backbone LR is below 1e-6
    late_epoch_known: int

    def text(self) -> str:
        if not self.cells:
            return "Selection honesty: no finished training cell yet."
        runs = f"{self.cells} run{'s' if self.cells != 1 else ''}"
        parts = [f"best-on-test − last epoch {fmt_signed(self.best_minus_last)} mAP ({runs})"]
        if self.val_cells:
            parts.append(
                f"best-on-test − best-on-validation {fmt_signed(self.best_minus_val)} mAP "
                f"({self.val_cells} with a validation split)"
            )
        else:
            parts.append("no validation split held out")
        if self.late_epoch_known:
            parts.append(
                f"{self.late_best} of {self.late_epoch_known} best epochs at backbone LR < 1e-6"
            )
        return "Selection honesty: " + "; ".join(parts) + "."


def table_honesty(results: list[tuple[dict, dict]]) -> TableHonesty:
    """From (spec, result) pairs of a table's finished training runs (one per cell and seed)."""
    best_last, best_val, late = [], [], []
    for spec, result in results:
        metrics = result["metrics"]
        best, last = metrics["best"], metrics["last"]
        best_last.append(best["mAP"] - last["mAP"])
        if metrics.get("val_best"):
            best_val.append(best["mAP"] - metrics["val_best"]["mAP"])
        epoch = best.get("epoch")
        if epoch is not None and epoch > spec["warmup_epochs"]:
            late.append(lr_at(epoch, spec["lr"], spec["lr_gamma"], spec["lr_step"]) < LR_FLOOR)
    return TableHonesty(
        cells=len(best_last),
        best_minus_last=statistics.fmean(best_last) if best_last else None,
        best_minus_val=statistics.fmean(best_val) if best_val else None,
        val_cells=len(best_val),
        late_best=sum(late),
        late_epoch_known=len(late),
    )
