"""The report as one self-contained HTML file: figures inlined as base64, no external assets,
so it can be mailed or attached to an issue as is."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from benchmark.report.document import DATASET_NAMES, Figure, Header, Report, TableData
from benchmark.report.figures import ROBUSTNESS, TRAINING
from benchmark.report.tables import wide
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

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em;
       color: #222; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; white-space: nowrap; }
th, td { border-top: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #444; text-align: center; }
.banner { background: #fff3cd; border: 1px solid #e0b000; padding: 0.6em 1em; font-weight: bold; }
.note, figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
nav.contents { columns: 2; background: #f6f6f6; padding: 0.5em 1em; }
nav.contents ol { margin: 0.3em 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr));
           gap: 1em; align-items: start; }
.figures figure { margin: 0; }
.figures figure.wide { grid-column: 1 / -1; }
"""


def _markup(text: str) -> str:
    """The legends' **bold** and *italic* in HTML (the only markdown they use)."""
    out, bold, italic, i = [], False, False, 0
    text = escape(text)
    while i < len(text):
        if text.startswith("**", i):
            out.append("</b>" if bold else "<b>")
            bold, i = not bold, i + 2
        elif text[i] == "*":
            out.append("</i>" if italic else "<i>")
            italic, i = not italic, i + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def grid(headers: Sequence[str], rows: Sequence[Sequence[object]], head: str = "") -> str:
    top = head or "<tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in headers) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<div class="scroll"><table><thead>{top}</thead><tbody>{body}</tbody></table></div>'


def _table_head(table: TableData) -> str:
    """Two header rows for multi-dataset tables: one column group per dataset."""
    metrics = "".join(f"<th>{escape(m)}</th>" for _, m in table.columns)
    if len(table.datasets) == 1:
        return f"<tr><th>Method</th>{metrics}</tr>"
    groups = "".join(
        f'<th colspan="{len(table.metrics)}">{escape(DATASET_NAMES.get(d, d))}</th>'
        for d in table.datasets
    )
    return f'<tr><th rowspan="2">Method</th>{groups}</tr><tr>{metrics}</tr>'


def table_html(table: TableData) -> str:
    head = _table_head(table)
    rows = [
        [row_label(label, cited), *texts]
        for label, cited, texts in wide(table, main_text, extra=True)
    ]
    parts = [
        f'<h2 id="{table_anchor(table)}">Table {table.number}: {escape(table.title)}</h2>',
        f'<p class="note">Source: {escape(table.source)}.</p>',
        grid([], rows, head),
        *(f'<p class="note">{escape(remark)}</p>' for remark in table.remarks),
    ]
    if not table.has_last:
        parts.append(
            '<p class="note">Evaluations score the best-on-test checkpoint: there is '
            "no last-epoch number.</p>"
        )
    elif table.frame["last"].map(is_number).any():
        last = [[label, *texts] for label, _, texts in wide(table, last_text, cited=False)]
        parts += [f'<p class="note">{_markup(LAST_LEGEND)}</p>', grid([], last, head)]
    if table.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in table.notes)
        parts.append(f'<p class="note">Notes:</p><ul class="note">{items}</ul>')
    return "\n".join(parts)


def released_html(section, contents: list[tuple[str, str, int]]) -> str:
    """The "Published checkpoints" section (report/published_section.py)."""
    from benchmark.report import published_section as rel

    parts = [
        _section(rel.SECTION, contents),
        f'<p class="note">{escape(rel.NOTE)}</p>',
        grid(rel.SUMMARY_HEADERS, rel.summary_rows(section)),
        _section(rel.TABLE6_TITLE, contents, level=3),
        f'<p class="note">{escape(rel.TABLE6_NOTE)}</p>',
        grid(rel.TABLE6_HEADERS, rel.table6_rows(section)),
    ]
    if section.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in section.notes)
        parts.append(f'<p class="note">Stand-ins:</p><ul class="note">{items}</ul>')
    return "\n".join(parts)


def figure_html(figure: Figure) -> str:
    if figure.png is None:
        return f'<p class="note"><i>{escape(figure.title)}</i>: {escape(figure.note or "")}</p>'
    data = base64.b64encode(figure.png).decode("ascii")
    wide = ' class="wide"' if figure.section in WIDE_SECTIONS else ""
    return (
        f'<figure id="figure-{escape(figure.name)}"{wide}>'
        f'<img alt="{escape(figure.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption><i>{escape(figure.title)}.</i> {escape(figure.caption)}</figcaption>"
        "</figure>"
    )


def header_html(header: Header) -> str:
    parts = ["<h1>MSL reproduction report: Tables 1–6 beside the paper</h1>"]
    if header.synthetic:
        parts.append(
            f'<p class="banner">{escape(SYNTHETIC_BANNER)} '
            f"{_markup(profile_note(header.profile))}</p>"
        )
    items = header.items()
    parts.append("<ul>" + "".join(f"<li><b>{n}:</b> {escape(v)}</li>" for n, v in items) + "</ul>")
    return "\n".join(parts)


def table_anchor(table: TableData) -> str:
    return f"table-{table.number}"


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


# Figure sections whose figures are drawn wide (a grid of panels): a grid row to themselves.
WIDE_SECTIONS = (ROBUSTNESS, TRAINING)


def _section(title: str, contents: list[tuple[str, str, int]], level: int = 2) -> str:
    """A heading with an anchor, recorded in the contents list."""
    anchor = _anchor(title)
    contents.append((anchor, title, level))
    return f'<h{level} id="{anchor}">{escape(title)}</h{level}>'


def contents_html(contents: list[tuple[str, str, int]]) -> str:
    items, open_sub = [], False
    for anchor, title, level in contents:
        if level == 3 and not open_sub:
            items.append("<ol>")
            open_sub = True
        elif level == 2 and open_sub:
            items.append("</ol></li>")
            open_sub = False
        elif level == 2 and items:
            items.append("</li>")
        items.append(f'<li><a href="#{anchor}">{escape(title)}</a>')
        if level == 3:
            items.append("</li>")
    items.append("</ol></li>" if open_sub else "</li>")
    return f'<nav class="contents" id="contents"><b>Contents</b><ol>{"".join(items)}</ol></nav>'


def claims_html(report: Report, contents: list[tuple[str, str, int]]) -> list[str]:
    from benchmark.report.claims_section import (
        HEADERS,
        RULE_HEADERS,
        pending_text,
        recipe_rule_row,
        row,
        shown,
        untestable_text,
    )

    parts = [_section("Claims", contents), f'<p class="note">{_markup(report.claims_rule)}</p>']
    if not report.claims:
        return [*parts, "<p>No claim concerns the selected cells.</p>"]
    if shown(report.claims):
        parts.append(grid(HEADERS, [row(r) for r in shown(report.claims)]))
    pending = pending_text(report.claims)
    if pending:  # folded: the list can be long and the tables already say what is missing
        head, names = pending.split(": ", 1)[0], pending.split("): ", 1)[1]
        parts.append(
            f'<details class="note"><summary>{escape(head)})</summary>{escape(names)}</details>'
        )
    untestable = untestable_text(report.claims)
    if untestable:
        parts.append(f'<p class="note">{escape(untestable)}</p>')
    if report.recipe_rule:
        parts += [
            "<h3>The recipe rule</h3>",
            f'<p class="note">{escape(report.recipe_rule)}</p>',
            grid(RULE_HEADERS, [recipe_rule_row(c) for c in report.baselines]),
        ]
    if report.forest is not None:
        parts.append(figure_html(report.forest))
    return [*parts, f'<p class="note">{escape(report.selection_note)}</p>']


def render_html(report: Report) -> str:
    contents: list[tuple[str, str, int]] = []
    parts = claims_html(report, contents)
    for table in report.tables:
        contents.append((table_anchor(table), f"Table {table.number}: {table.title}", 2))
        parts.append(table_html(table))
    parts += [_section(SUBSET_TITLE, contents), f'<p class="note">{escape(SUBSET_NOTE)}</p>']
    if report.subsets.empty:
        parts.append(f"<p>{NO_SUBSETS}</p>")
    else:
        parts.append(grid(SUBSET_HEADERS, subset_rows(report.subsets)))
    # Shown once a published file has a result: the page stays within its height budget.
    if report.released is not None and report.released.evaluated:
        parts.append(released_html(report.released, contents))
    parts.append(_section("Figures", contents))
    if not report.figures:
        parts.append("<p>Figures were not drawn for this report.</p>")
    sections: dict[str, list[str]] = {}
    for figure in report.figures:
        sections.setdefault(figure.section, []).append(figure_html(figure))
    for section, figures in sections.items():
        parts.append(_section(section, contents, level=3))
        parts.append(f'<div class="figures">{"".join(figures)}</div>')
    parts.append(_section(FAILURE_TITLE, contents))
    if report.failures.empty:
        parts.append(f"<p>{NO_FAILURES}</p>")
    else:
        parts.append(grid(FAILURE_HEADERS, failure_rows(report.failures)))
    parts += [
        _section("Appendix B: throughput", contents),
        f'<p class="note">{THROUGHPUT_NOTE}</p>',
    ]
    if report.throughput.empty:
        parts.append(f"<p>{NO_THROUGHPUT}</p>")
    else:
        headers, rows, constants = collapse_constants(
            THROUGHPUT_HEADERS, throughput_rows(report.throughput)
        )
        if constants:
            parts.append(f'<p class="note">{escape(constants_text(constants))}</p>')
        parts.append(grid(headers, rows))
    head = [header_html(report.header), contents_html(contents), f"<p>{_markup(LEGEND)}</p>"]
    body = "\n".join(head + parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>MSL reproduction report ({escape(report.header.profile)})</title>"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
