"""The tables as a compilable LaTeX document (booktabs), best values in bold as in the paper.

Each metric gets Ours / Paper / Δ sub-columns (and Last for trained runs), so the numbers can be
pasted into a paper without re-reading the markdown.
"""

from __future__ import annotations

import pandas as pd

from benchmark.report import regime_section
from benchmark.report.claims_section import HEADERS as CLAIM_HEADERS
from benchmark.report.claims_section import row as claim_row
from benchmark.report.claims_section import shown, untestable_text, verdict_counts
from benchmark.report.document import DATASET_NAMES, Header, Report, TableData
from benchmark.report.wording import MEASURED, fmt, fmt_diff, is_number, round1

SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "†": r"\dag{}", "—": "---", "–": "--", "…": r"\ldots{}", "±": r"$\pm$", "−": "-",
    "’": "'", "“": "``", "”": "''", "≥": r"$\geq$", "≤": r"$\leq$", "→": r"$\to$",
    "×": r"$\times$",
}  # fmt: skip
PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[a4paper,landscape,margin=1.5cm]{geometry}
\usepackage{booktabs}
\begin{document}
"""


def escape(text: object) -> str:
    return "".join(SPECIALS.get(ch, ch) for ch in str(text))


def _best(values: pd.Series) -> float | None:
    """The column's best value as printed (higher is better for every metric of the paper)."""
    numbers = [round1(v) for v in values if is_number(v)]
    return max(numbers) if numbers else None


def _bold(text: str, value: float, best: float | None) -> str:
    return rf"\textbf{{{text}}}" if best is not None and round1(value) == best else text


def _subcolumns(table: TableData) -> list[str]:
    return ["Ours", "Paper", r"$\Delta$"] + (["Last"] if table.has_last else [])


def _slot(
    r: pd.Series | None, best_ours: float | None, best_paper: float | None, last: bool
) -> list[str]:
    empty = ["--"] * (4 if last else 3)
    if r is None:
        return empty
    paper = _bold(fmt(r["paper"]), r["paper"], best_paper) if is_number(r["paper"]) else "--"
    if r["cited"]:
        ours, delta, last_text = r"\textit{cited}", "--", "--"
    elif r["status"] not in MEASURED or not is_number(r["ours"]):
        ours, delta, last_text = rf"--- \textit{{{escape(r['status'])}}}", "--", "--"
    else:
        ours = _bold(fmt(r["ours"]), r["ours"], best_ours)
        if is_number(r["std"]):
            ours += rf" $\pm$ {fmt(r['std'])}"
        delta = fmt_diff(r["ours"], r["paper"], minus="$-$")
        last_text = fmt(r["last"]) if is_number(r["last"]) else "--"
        if r["status"] == "stale":
            ours += r" \textit{(stale)}"
    return [ours, paper, delta, last_text][: len(empty)]


def table_latex(table: TableData) -> str:
    subs = _subcolumns(table)
    width = len(subs)
    frame = table.frame
    done = frame[frame["status"].isin(MEASURED) & ~frame["cited"]]
    best_ours = {
        (d, m): _best(done[(done.dataset == d) & (done.metric == m)]["ours"])
        for d, m in table.columns
    }
    best_paper = {
        (d, m): _best(frame[(frame.dataset == d) & (frame.metric == m)]["paper"])
        for d, m in table.columns
    }
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        r"\small",
        rf"\caption{{Table {table.number}: {escape(table.title)} ({escape(table.source)}).}}",
        r"\begin{tabular}{l" + "r" * (width * len(table.columns)) + "}",
        r"\toprule",
    ]
    if len(table.datasets) > 1:
        span = width * len(table.metrics)
        lines.append(
            " & ".join(
                [""]
                + [
                    rf"\multicolumn{{{span}}}{{c}}{{{escape(DATASET_NAMES.get(d, d))}}}"
                    for d in table.datasets
                ]
            )
            + r" \\"
        )
        lines.append(
            " ".join(
                rf"\cmidrule(lr){{{2 + i * span}-{1 + (i + 1) * span}}}"
                for i in range(len(table.datasets))
            )
        )
    lines.append(
        " & ".join(
            [""] + [rf"\multicolumn{{{width}}}{{c}}{{{escape(m)}}}" for _, m in table.columns]
        )
        + r" \\"
    )
    lines.append(
        " ".join(
            rf"\cmidrule(lr){{{2 + i * width}-{1 + (i + 1) * width}}}"
            for i in range(len(table.columns))
        )
    )
    lines.append(" & ".join(["Method"] + subs * len(table.columns)) + r" \\")
    lines.append(r"\midrule")
    by_slot = {(r.row, r.dataset, r.metric): r for _, r in frame.iterrows()}
    for row, label, cited in table.labels:
        cells = [escape(label) + (r" \textsuperscript{c}" if cited else "")]
        for d, m in table.columns:
            cells += _slot(
                by_slot.get((row, d, m)), best_ours[(d, m)], best_paper[(d, m)], table.has_last
            )
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def header_latex(header: Header) -> str:
    lines = [rf"\section*{{{escape(header.title)}}}"]
    if header.synthetic:
        lines.append(
            r"\noindent\fbox{\textbf{Synthetic data: numbers are not comparable to the "
            r"paper's.}}\par\medskip"
        )
    for name, value in header.items():
        lines.append(rf"\noindent\textbf{{{name}:}} {escape(value)}\par")
    lines.append(
        r"\medskip\noindent Ours: best-on-test epoch (mean $\pm$ std over seeds); "
        r"$\Delta$ = ours $-$ paper; Last: last epoch; bold: best per column; "
        r"\textsuperscript{c}: cited, not run.\par"
    )
    return "\n".join(lines) + "\n"


def claims_latex(report: Report) -> str:
    """The Claims table (the same rows as the markdown's), before the paper's tables, opened by
    the verdict count and what the profile's regime can test."""
    rows = [claim_row(r) for r in shown(report.claims)]
    if not rows:
        return ""
    lines = [
        r"\subsection*{Claims}",
        rf"\noindent\textbf{{Verdicts:}} {escape(verdict_counts(report.claims))}.\par\smallskip",
    ]
    if report.regime is not None:
        sentences = " ".join(
            rf"\textbf{{{escape(kind)}:}} {escape(text)}"
            for kind, text in regime_section.paragraph(report.regime)
        )
        lines.append(r"\noindent " + sentences + r"\par\smallskip")
    lines += [
        r"\noindent " + escape(report.claims_rule.replace("**", "")) + r"\par\smallskip",
        r"{\footnotesize",
        r"\begin{tabular}{" + "l" * len(CLAIM_HEADERS) + "}",
        r"\toprule",
        " & ".join(escape(h) for h in CLAIM_HEADERS) + r" \\",
        r"\midrule",
        *(" & ".join(escape(cell) for cell in cells) + r" \\" for cells in rows),
        r"\bottomrule",
        r"\end{tabular}}\par",
    ]
    note = untestable_text(report.claims)
    if note:
        lines.append(r"\smallskip\noindent " + escape(note) + r"\par")
    return "\n".join(lines) + "\n"


def render_latex(report: Report) -> str:
    body = "\n".join(table_latex(t) for t in report.tables)
    head = PREAMBLE + header_latex(report.header) + "\n" + claims_latex(report)
    return head + "\n" + body + "\\end{document}\n"
