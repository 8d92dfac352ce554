"""The report's shared wording — how a cell reads, the legends, the banner — so the markdown and
HTML versions say the same thing.

A measured cell shows ours / paper (ours − paper); an unmeasured one says why (pending,
failed) next to the paper's value; a cited row shows the paper's value alone.
"""

from __future__ import annotations

import pandas as pd

from benchmark.report.numbers import DASH, MISSING, fmt, fmt_diff, fmt_mean_std, is_number

SYNTHETIC_BANNER = "Synthetic data: numbers are not comparable to the paper's."
PROFILE_NOTES = {
    "smoke": "Profile `smoke` trains tiny models on generated images in the datasets' layouts; "
    "it checks the pipeline, not the science.",
    "mini": "Profile `mini` trains small backbones of the paper's families from scratch on "
    "generated scenes full of small and occluded objects, in the datasets' layouts, with one "
    "CPU-scale recipe for every cell (docs/mini.md): it asks the paper's question at a scale "
    "anyone can rerun, not at the paper's.",
}


def profile_note(profile: str) -> str:
    return PROFILE_NOTES.get(profile, f"Profile `{profile}` does not run the paper's recipe.")


LEGEND = (
    "Each cell reads **ours / paper (ours − paper)**, in percent with one decimal. *Ours* is the "
    "best-on-test epoch (the paper's protocol), mean ± std over seeds when there are several. "
    "“— (pending)” and “— (failed)” mark cells without a finished result (the report reads "
    "result files only: `benchmark status` shows what is running); rows "
    "marked *(cited)* are not run and show the paper's value only; “–” means the paper gives "
    "no value."
)
LAST_LEGEND = (
    "Last epoch, without the paper's best-on-test selection: **last (last − best)**; the "
    "difference is what the selection protocol adds."
)


def main_text(r: pd.Series | None) -> str:
    if r is None:
        return MISSING
    if r["cited"]:
        return fmt(r["paper"])
    if r["status"] != "done":
        return f"{DASH} ({r['status']}) / {fmt(r['paper'])}"
    if not is_number(r["ours"]):
        return f"{DASH} / {fmt(r['paper'])}"
    ours = fmt_mean_std(r["ours"], r["std"])
    if not is_number(r["paper"]):
        return f"{ours} / {MISSING}"
    return f"{ours} / {fmt(r['paper'])} ({fmt_diff(r['ours'], r['paper'])})"


def last_text(r: pd.Series | None) -> str:
    if r is None or r["cited"]:
        return MISSING
    if r["status"] != "done":
        return f"{DASH} ({r['status']})"
    if not is_number(r["last"]):
        return DASH
    return f"{fmt(r['last'])} ({fmt_diff(r['last'], r['ours'])})"


def row_label(label: str, cited: bool) -> str:
    return f"{label} (cited)" if cited else label
