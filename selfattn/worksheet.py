"""A walk-through as a worksheet to hand out: Markdown, or one self-contained HTML page.

The page loads nothing: its style is inline, the heatmaps are PNG data URIs drawn by
`selfattn.png`, and no URL of any kind appears in it, so it opens the same offline,
from a USB stick or as an e-mail attachment. The numbers are the walk-through's:
tables of the step's arrays and the Explain arithmetic as monospace text.
"""

from __future__ import annotations

import base64
import html

import numpy as np

from .explain import Explanation
from .numbers import TABLE_DIGITS, significant
from .png import colormap, encode_png, heatmap_png, upscale
from .walkstep import Table, Walkthrough

FORMATS = ("md", "html")
MAX_ROWS = 16  # rows of a table shown in a worksheet; the caption says how many exist
MAX_COLS = 12
HEATMAP_PIXELS = 360  # a heatmap's longer side on the page, in CSS pixels
TABLE_HEADER_COLOUR = "#dde6f3"  # the tables' header background (tests look for it)


def _cell(x: float) -> str:
    """A table cell, as the window's tables show it (6 significant digits, 0 for ±0)."""
    return significant(x, TABLE_DIGITS)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shown(table: Table) -> tuple[np.ndarray, list[str], list[str], str]:
    """The part of a table a worksheet shows, its labels, and a note on what was cut."""
    rows, cols = table.values.shape
    values = table.values[:MAX_ROWS, :MAX_COLS]
    note = []
    if rows > MAX_ROWS:
        note.append(f"first {MAX_ROWS} of {rows} rows")
    if cols > MAX_COLS:
        note.append(f"first {MAX_COLS} of {cols} columns")
    return (
        values,
        [_one_line(x) for x in table.row_labels[:MAX_ROWS]],
        [_one_line(x) for x in table.col_labels[:MAX_COLS]],
        f"({', '.join(note)})" if note else "",
    )


def _explanation_text(ex: Explanation) -> str:
    return f"{ex.title}\n{ex.render()}"


def _subtitle(walk: Walkthrough) -> str:
    query = walk.query
    tokens = walk.preset.tokens
    label = f" '{_one_line(tokens[query])}'" if query < len(tokens) else ""
    text = f"Query {query + 1}{label}"
    if walk.result.heads > 1:
        text += f", head {walk.head + 1} of {walk.result.heads}"
    return text + f"; {walk.result.dtype}."


# Markdown ----------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or paragraph (readable as plain text too:
    only the characters that would start a table cell, emphasis, code or HTML are escaped)."""
    out = _one_line(text).replace("\\", "\\\\")
    for ch in "|*`<":
        out = out.replace(ch, "\\" + ch)
    return out


def _md_table(table: Table) -> str:
    values, rows, cols, note = _shown(table)
    head = "| | " + " | ".join(_md_escape(c) for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    body = [
        f"| {_md_escape(r)} | " + " | ".join(_cell(v) for v in row) + " |"
        for r, row in zip(rows, values, strict=True)
    ]
    caption = f"**{_md_escape(table.title)}**" + (f" {_md_escape(note)}" if note else "")
    return "\n".join([caption, "", head, rule, *body])


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in the text (labels can hold them)."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def render_markdown(walk: Walkthrough) -> str:
    """The walk-through as Markdown: a heading per step, its text, tables and arithmetic."""
    preset = walk.preset
    parts = [f"# Walk-through: {_md_escape(preset.name)}", "", _md_escape(_subtitle(walk))]
    if preset.description:
        parts += ["", "> " + _md_escape(preset.description)]
    for number, step in enumerate(walk.steps, start=1):
        parts += ["", f"## {number}. {_md_escape(step.title)}", "", _md_escape(step.text)]
        for table in step.tables:
            parts += ["", _md_table(table)]
        if step.explanations:
            text = "\n".join(_explanation_text(ex) for ex in step.explanations).rstrip("\n")
            fence = _fence(text)
            parts += ["", f"{fence}text", text, fence]
    return "\n".join(parts) + "\n"


# HTML --------------------------------------------------------------------------------

_STYLE = f"""
body {{ font-family: sans-serif; max-width: 72em; margin: 1.5em auto; padding: 0 1em;
       color: #1a1a1a; background: #ffffff; line-height: 1.45; }}
h1 {{ font-size: 1.6em; }}
h2 {{ font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #cccccc; }}
table {{ border-collapse: collapse; margin: 0.6em 0 1em 0; font-size: 0.9em; }}
.scroll {{ max-width: 100%; overflow-x: auto; }}
caption {{ text-align: left; font-weight: bold; padding-bottom: 0.2em; }}
th, td {{ border: 1px solid #9aa5b1; padding: 0.15em 0.5em; }}
th {{ background: {TABLE_HEADER_COLOUR}; font-weight: normal; }}
td {{ text-align: right; font-variant-numeric: tabular-nums; }}
pre {{ background: #f4f4f4; padding: 0.6em; margin: 0.4em 0; overflow-x: auto;
       font-size: 0.8em; max-width: 100%; }}
.tables, .work {{ display: flex; flex-wrap: wrap; gap: 0 1.5em; align-items: flex-start; }}
.tables > *, .work > * {{ flex: 0 1 auto; min-width: 0; }}
figure {{ margin: 0.6em 0 1em 0; }}
figure img {{ image-rendering: pixelated; border: 1px solid #9aa5b1; }}
.legend {{ display: flex; align-items: center; gap: 0.4em; font-size: 0.85em; }}
.legend img {{ height: 0.9em; width: 12em; image-rendering: auto; border: 0; }}
blockquote {{ color: #444444; margin-left: 0; padding-left: 1em; border-left: 3px solid #cccccc; }}
@media print {{ h2 {{ break-after: avoid; }} table, figure, pre {{ break-inside: avoid; }} }}
"""


def _esc(text: str) -> str:
    return html.escape(_one_line(text), quote=True)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _html_table(table: Table) -> str:
    values, rows, cols, note = _shown(table)
    lines = [
        '<div class="scroll"><table>',
        f"<caption>{_esc(table.title)}{' ' + _esc(note) if note else ''}</caption>",
        "<tr><th></th>" + "".join(f"<th>{_esc(c)}</th>" for c in cols) + "</tr>",
    ]
    for r, row in zip(rows, values, strict=True):
        cells = "".join(f"<td>{_esc(_cell(v))}</td>" for v in row)
        lines.append(f'<tr><th scope="row">{_esc(r)}</th>{cells}</tr>')
    lines.append("</table></div>")
    return "\n".join(lines)


def _legend() -> str:
    ramp = upscale(colormap(np.linspace(0.0, 1.0, 128)[None, :]), 1)
    return (
        '<div class="legend"><span>0</span>'
        f'<img alt="colour scale from 0 to 1" src="{_data_uri(encode_png(ramp))}">'
        "<span>1</span></div>"
    )


def _heatmap(table: Table) -> str:
    """The weights as a picture: one block per cell, 0 dark purple .. 1 yellow."""
    rows, cols = table.values.shape
    cell = max(1, min(48, HEATMAP_PIXELS // max(rows, cols)))
    png = heatmap_png(table.values, 0.0, 1.0, cell=cell)
    alt = f"heatmap of {table.title}: {rows} queries (rows) by {cols} keys (columns)"
    return (
        f'<figure><img alt="{_esc(alt)}" width="{cols * cell}" height="{rows * cell}" '
        f'src="{_data_uri(png)}">'
        f"<figcaption>{_esc(table.title)}: rows are queries, columns keys.</figcaption>"
        f"{_legend()}</figure>"
    )


def render_html(walk: Walkthrough) -> str:
    """The walk-through as one HTML page that needs nothing else (no URL anywhere)."""
    preset = walk.preset
    title = f"Walk-through: {preset.name}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(title)}</h1>",
        f"<p>{_esc(_subtitle(walk))}</p>",
    ]
    if preset.description:
        out.append(f"<blockquote>{_esc(preset.description)}</blockquote>")
    for number, step in enumerate(walk.steps, start=1):
        out.append(f'<section id="step-{_esc(step.key)}">')
        out.append(f"<h2>{number}. {_esc(step.title)}</h2>")
        out.append(f"<p>{_esc(step.text)}</p>")
        if step.tables:
            out.append('<div class="tables">')
            for table in step.tables:
                if table.heatmap:
                    out.append(_heatmap(table))
                out.append(_html_table(table))
            out.append("</div>")
        if step.explanations:
            out.append('<div class="work">')
            out.extend(
                f"<pre>{html.escape(_explanation_text(ex))}</pre>" for ex in step.explanations
            )
            out.append("</div>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render(walk: Walkthrough, format: str = "md") -> str:
    """The worksheet in `format` ("md" or "html")."""
    if format == "md":
        return render_markdown(walk)
    if format == "html":
        return render_html(walk)
    raise ValueError(f"unknown worksheet format {format!r}; expected one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render", "render_html", "render_markdown"]
