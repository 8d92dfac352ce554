"""The report as one self-contained HTML file: the markdown report rendered by a real Markdown
parser (markdown-it-py, CommonMark with GitHub tables), figures inlined as base64, no external
assets, so it can be mailed or attached to an issue as is.

The HTML says exactly what the markdown says; this module only adds what a browser needs: heading
anchors and a contents list, tables that scroll instead of overflowing the page (their columns
of words wrap, their numbers never), and figures laid out two to a row.
"""

from __future__ import annotations

import base64
import re
from html import escape

from markdown_it import MarkdownIt
from markdown_it.token import Token

from benchmark.report.claims_section import WORD_COLUMNS as CLAIM_WORDS
from benchmark.report.document import Report
from benchmark.report.figures import ROBUSTNESS, TRAINING
from benchmark.report.markdown import render_markdown

# Table columns of words rather than numbers (by header): they wrap, so a wide table such as the
# Claims table fits a 1280 px window with its verdicts on screen. Every other column stays on one
# line and the table scrolls sideways if it must.
WORD_COLUMNS = frozenset({*CLAIM_WORDS, "cells", "rule", "reason", "Note", "File"})
# Figure sections whose figures are drawn wide (a grid of panels): a row of the page each.
WIDE_SECTIONS = (ROBUSTNESS, TRAINING)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em;
       color: #222; font-size: 15px; }
p { margin: 0.6em 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; white-space: nowrap; }
th, td { border-top: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th.words, td.words { white-space: normal; text-align: left; min-width: 5em; }
thead th { border-bottom: 2px solid #444; text-align: center; white-space: normal; }
blockquote { background: #fff3cd; border: 1px solid #e0b000; margin: 1em 0; padding: 0 1em; }
code { background: rgba(0, 0, 0, 0.06); padding: 0 0.25em; border-radius: 3px; }
img { max-width: 100%; }
nav.contents { columns: 2; background: #f6f6f6; padding: 0.5em 1em; }
nav.contents ol { margin: 0.3em 0; }
figure { display: inline-block; vertical-align: top; box-sizing: border-box;
         width: calc(50% - 0.5em); margin: 0 0 1em 0; padding-right: 1em; }
figure.wide { display: block; width: auto; padding-right: 0; }
figcaption { color: #555; font-size: 0.9em; }
"""

PARSER = MarkdownIt("commonmark", {"html": False}).enable("table")


def _scroll_open(self, tokens, idx, options, env) -> str:
    return '<div class="scroll">' + self.renderToken(tokens, idx, options, env)


def _scroll_close(self, tokens, idx, options, env) -> str:
    return self.renderToken(tokens, idx, options, env) + "</div>\n"


PARSER.add_render_rule("table_open", _scroll_open)
PARSER.add_render_rule("table_close", _scroll_close)


def anchor(title: str) -> str:
    """A heading's anchor: its words before a colon ("Table 4: …" → table-4)."""
    words = title.split(":", 1)[0].lower()
    return re.sub(r"[^a-z0-9]+", "-", words).strip("-") or "section"


def _headings(tokens: list[Token]) -> list[tuple[str, str, int]]:
    """Give every h2 and h3 a unique anchor; (anchor, title, level) in page order."""
    contents, used = [], set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.tag not in ("h2", "h3"):
            continue
        title = tokens[i + 1].content
        name, n = anchor(title), 2
        while name in used:
            name, n = f"{anchor(title)}-{n}", n + 1
        used.add(name)
        token.attrSet("id", name)
        contents.append((name, title, int(token.tag[1])))
    return contents


def _word_columns(tokens: list[Token]) -> None:
    """Mark the cells of word columns (class "words"), by their header's text."""
    headers: list[str] = []
    column = 0
    for i, token in enumerate(tokens):
        if token.type == "thead_open":
            headers = []
        elif token.type == "tr_open":
            column = 0
        elif token.type in ("th_open", "td_open"):
            if token.type == "th_open":
                headers.append(tokens[i + 1].content)
            if column < len(headers) and headers[column] in WORD_COLUMNS:
                token.attrSet("class", "words")
            column += 1


def _figures(tokens: list[Token], report: Report) -> list[Token]:
    """Inline each figure's PNG, and make an image paragraph and its caption one <figure>."""
    figures = {f.path: f for f in [*report.figures, report.forest] if f is not None and f.png}
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        children = tokens[i + 1].children if token.type == "paragraph_open" else None
        if not children or len(children) != 1 or children[0].type != "image":
            out.append(token)
            i += 1
            continue
        image = children[0]
        figure = figures.get(str(image.attrGet("src")))
        if figure is not None:
            data = base64.b64encode(figure.png).decode("ascii")
            image.attrSet("src", f"data:image/png;base64,{data}")
            token.attrSet("id", f"figure-{figure.name}")
            if figure.section in WIDE_SECTIONS:
                token.attrSet("class", "wide")
        token.tag = "figure"
        tokens[i + 2].hidden = True  # the figure closes after its caption
        out += tokens[i : i + 3]
        i += 3
        if i < len(tokens) and tokens[i].type == "paragraph_open":  # the caption
            tokens[i].tag = tokens[i + 2].tag = "figcaption"
            out += tokens[i : i + 3]
            i += 3
        out.append(Token("figure_close", "figure", -1, block=True))
    return out


def contents_html(contents: list[tuple[str, str, int]]) -> str:
    items, open_sub = [], False
    for name, title, level in contents:
        if level == 3 and not open_sub:
            items.append("<ol>")
            open_sub = True
        elif level == 2 and open_sub:
            items.append("</ol></li>")
            open_sub = False
        elif level == 2 and items:
            items.append("</li>")
        items.append(f'<li><a href="#{name}">{escape(title)}</a>')
        if level == 3:
            items.append("</li>")
    items.append("</ol></li>" if open_sub else "</li>")
    return f'<nav class="contents" id="contents"><b>Contents</b><ol>{"".join(items)}</ol></nav>'


def render_html(report: Report) -> str:
    env: dict = {}
    tokens = PARSER.parse(render_markdown(report), env)
    contents = _headings(tokens)
    _word_columns(tokens)
    tokens = _figures(tokens, report)
    # the contents list goes after the header, before the first section
    first = next((i for i, t in enumerate(tokens) if t.tag == "h2"), len(tokens))
    head = PARSER.renderer.render(tokens[:first], PARSER.options, env)
    body = PARSER.renderer.render(tokens[first:], PARSER.options, env)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.header.title)} ({escape(report.header.profile)})</title>"
        f"<style>{STYLE}</style></head><body>\n{head}{contents_html(contents)}\n{body}"
        "</body></html>\n"
    )
