"""The report as GitHub-flavoured markdown: the format people read first, and the golden one."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from benchmark.report import own_checkpoints_section as own
from benchmark.report import published_section as rel
from benchmark.report import regime_section
from benchmark.report.claims_section import HEADERS as CLAIM_HEADERS
from benchmark.report.claims_section import pending_text, shown, untestable_text, verdict_counts
from benchmark.report.claims_section import row as claim_row
from benchmark.report.document import Report, TableData
from benchmark.report.tables import header_label, wide
from benchmark.report.wording import (
    FAILURE_HEADERS,
    FAILURE_TITLE,
    LAST_LEGEND,
    LEGEND,
    NO_FAILURES,
    NO_SUBSETS,
    NO_THROUGHPUT,
    SUBSET_HEADERS,
    SUBSET_NOTE,
    SUBSET_TITLE,
    SYNTHETIC_BANNER,
    THROUGHPUT_HEADERS,
    THROUGHPUT_NOTE,
    collapse_constants,
    constants_text,
    failure_rows,
    is_number,
    last_text,
    main_text,
    profile_note,
    row_label,
    subset_rows,
    throughput_rows,
)


def escape(text: object) -> str:
    """One table cell: no line breaks, no stray column separators."""
    return " ".join(str(text).split()).replace("|", "\\|")


def grid(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return tabulate(
        [[escape(v) for v in row] for row in rows],
        headers=[escape(h) for h in headers],
        tablefmt="github",
        disable_numparse=True,
    )


CODE_ITEMS = ("Profile", "Results folder")  # header values shown as code


def header_lines(report: Report) -> list[str]:
    header = report.header
    lines = [f"# {header.title}", ""]
    banner = []
    if header.synthetic:
        banner.append(f"**{SYNTHETIC_BANNER}** {profile_note(header.profile)}")
    if report.regime is not None:  # what the regime can test, in the banner too
        intro = f"**What {report.regime.title.lower()} lets this report test** (see Claims):"
        banner.append(regime_text(report.regime, intro))
    if banner:
        lines += ["\n>\n".join(f"> {paragraph}" for paragraph in banner), ""]
    lines += [
        "Zunair & Ben Hamza, *Learning to Recognize Occluded and Small Objects with Partial "
        "Inputs* (MSL), WACV 2024.",
        "",
        *(
            f"- **{name}:** " + (f"`{value}`" if name in CODE_ITEMS else value)
            for name, value in header.items()
        ),
        "",
    ]
    return lines


def regime_text(regime, intro: str) -> str:
    """The paragraph on what the regime can test: one sentence per kind of claim."""
    sentences = (f"**{kind}:** {text}" for kind, text in regime_section.paragraph(regime))
    return " ".join([intro, *sentences])


def regime_lines(regime) -> list[str]:
    """The rule's paragraph, caption and check tables (report/regime_section.py)."""
    lines = [f"### {regime.title}", "", regime_text(regime, "What this regime can test:"), ""]
    lines += [escape(regime.caption), ""]
    for table in regime.tables:
        lines += [f"**{table.title}**", "", grid(*regime_section.grid(table)), ""]
    return lines


def table_lines(table: TableData) -> list[str]:
    multi = len(table.datasets) > 1
    headers = ["Method", *(header_label(d, m, multi) for d, m in table.columns)]
    rows = [
        [row_label(label, cited), *texts]
        for label, cited, texts in wide(table, main_text, extra=True)
    ]
    lines = [
        f"## Table {table.number}: {table.title}",
        "",
        f"Source: {table.source}.",
        "",
        grid(headers, rows),
        "",
        *(line for remark in table.remarks for line in (escape(remark), "")),
    ]
    if not table.has_last:
        lines += [
            "Evaluations score the best-on-test checkpoint: there is no last-epoch number.",
            "",
        ]
    elif table.frame["last"].map(is_number).any():
        last = [[label, *texts] for label, _, texts in wide(table, last_text, cited=False)]
        lines += [LAST_LEGEND, "", grid(headers, last), ""]
    if table.notes:
        lines += ["Notes:", "", *(f"- {escape(note)}" for note in table.notes), ""]
    return lines


def figure_lines(report: Report) -> list[str]:
    if not report.figures:
        return ["## Figures", "", "Figures were not drawn for this report.", ""]
    lines = ["## Figures", ""]
    section = None
    for figure in report.figures:
        if figure.section != section:
            section = figure.section
            lines += [f"### {section}", ""]
        if figure.png is None:
            lines += [f"- *{figure.title}*: {figure.note}", ""]
        else:
            lines += [
                f"![{figure.title}]({figure.path})",
                "",
                f"*{figure.title}.* {figure.caption}".rstrip(),
                "",
            ]
    return lines


def subset_lines(subsets: pd.DataFrame) -> list[str]:
    lines = [f"## {SUBSET_TITLE}", "", SUBSET_NOTE, ""]
    if subsets.empty:
        return [*lines, NO_SUBSETS, ""]
    return [*lines, grid(SUBSET_HEADERS, subset_rows(subsets)), ""]


def released_lines(section) -> list[str]:
    """The "Published checkpoints" section (report/published_section.py)."""
    if not section.evaluated:
        return [f"## {rel.SECTION}", "", rel.NONE_EVALUATED, ""]
    lines = [f"## {rel.SECTION}", "", rel.NOTE, ""]
    lines += [grid(rel.SUMMARY_HEADERS, rel.summary_rows(section)), ""]
    lines += [f"### {rel.TABLE6_TITLE}", "", rel.TABLE6_NOTE, ""]
    lines += [grid(rel.TABLE6_HEADERS, rel.table6_rows(section)), ""]
    if section.notes:
        lines += ["Stand-ins:", "", *(f"- {escape(note)}" for note in section.notes), ""]
    return lines


def own_lines(rows: list[list[str]]) -> list[str]:
    """The "Your checkpoints" section (report/own_checkpoints_section.py), when there are any."""
    if not rows:
        return []
    return [f"## {own.SECTION}", "", own.NOTE, "", grid(own.HEADERS, rows), ""]


def failure_lines(failures: pd.DataFrame) -> list[str]:
    lines = [f"## {FAILURE_TITLE}", ""]
    if failures.empty:
        return [*lines, NO_FAILURES, ""]
    return [*lines, grid(FAILURE_HEADERS, failure_rows(failures)), ""]


def throughput_lines(throughput: pd.DataFrame) -> list[str]:
    lines = ["## Appendix B: throughput", "", THROUGHPUT_NOTE, ""]
    if throughput.empty:
        return [*lines, NO_THROUGHPUT, ""]
    headers, rows, constants = collapse_constants(THROUGHPUT_HEADERS, throughput_rows(throughput))
    if constants:
        lines += [constants_text(constants), ""]
    return [*lines, grid(headers, rows), ""]


def claim_lines(report: Report) -> list[str]:
    lines = ["## Claims", ""]
    if report.claims:
        lines += [f"**Verdicts:** {verdict_counts(report.claims)}.", ""]
    if report.regime is not None:
        lines += regime_lines(report.regime) + ["### The claims, measured", ""]
    lines += [report.claims_rule, ""]
    if not report.claims:
        return [*lines, "No claim concerns the selected cells.", ""]
    if shown(report.claims):
        lines += [grid(CLAIM_HEADERS, [claim_row(r) for r in shown(report.claims)]), ""]
    if pending_text(report.claims):
        lines += [escape(pending_text(report.claims)), ""]
    if untestable_text(report.claims):
        lines += [escape(untestable_text(report.claims)), ""]
    figure = report.forest
    if figure is not None and figure.png is not None:
        caption = f"*{figure.title}.* {figure.caption}"
        lines += [f"![{figure.title}]({figure.path})", "", caption, ""]
    elif figure is not None:
        lines += [f"- *{figure.title}*: {figure.note}", ""]
    return [*lines, report.selection_note, ""]


def render_markdown(report: Report) -> str:
    lines = header_lines(report) + claim_lines(report) + [LEGEND, ""]
    for table in report.tables:
        lines += table_lines(table)
    lines += subset_lines(report.subsets)
    if report.released is not None:
        lines += released_lines(report.released)
    lines += own_lines(report.own_checkpoints)
    lines += figure_lines(report) + failure_lines(report.failures)
    lines += throughput_lines(report.throughput)
    return "\n".join(lines).rstrip() + "\n"
