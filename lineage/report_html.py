"""The human report: one self-contained HTML file (inline CSS, charts as base64 data URIs, no scripts).

It opens with no network: nothing in it points outside the file. Every value from the data is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import html

import polars as pl

from lineage.report_charts import CHARTS, human_seconds

MAX_ROWS = 200  # rows shown per table; the whole table is in parquet/<table>/ and the warehouse

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd}.muted{color:#666;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;
min-width:12em}.card .v{font-size:1.5em;font-weight:600}.card .k{color:#555;font-size:.85em}
.card .d{color:#777;font-size:.75em}
img{max-width:100%;height:auto;border:1px solid #eee}.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.82em;margin:.5em 0 1.5em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;white-space:nowrap}td.n{text-align:right}
th{background:#f5f5f5;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}
"""

# The headline cards: key, label, how to show it.
HEADLINE_CARDS: list[tuple[str, str, str]] = [
    ("applications", "applications", "int"),
    ("chains", "chains", "int"),
    ("reruns", "reruns", "int"),
    ("rerun_rate", "rerun rate (roots with a rerun)", "pct"),
    ("recovery_rate_errored_roots", "errored roots recovered", "pct"),
    ("effective_approval_rate", "approval rate, effective (one vote per chain)", "pct"),
    ("naive_approval_rate", "approval rate, naive (every application)", "pct"),
    ("time_to_rerun_p50_seconds", "median time to rerun", "dur"),
    ("chains_with_lineage_problems", "chains with lineage problems", "int"),
    ("rejects", "rejected records", "int"),
]


def _card_detail(key: str, headline: dict[str, float | int | None]) -> str:
    """A small line under a card's label, where the figure needs one to be read right."""
    if key == "chains_with_lineage_problems":
        groups = headline.get("cycle_groups") or 0
        text = f"{fmt_value(headline.get('rooted_chains_with_lineage_problems'), 'int')} with a root"
        if not groups:
            return text + ", no cycles"
        apps = fmt_value(headline.get("applications_in_cycles"), "int")
        return text + f" + {groups:,} cycle group{'s' if groups != 1 else ''} ({apps} applications)"
    if key == "rerun_rate":
        return f"of {fmt_value(headline.get('roots'), 'int')} roots; shadow and sandbox left out"
    if key == "recovery_rate_errored_roots":
        return f"of {fmt_value(headline.get('errored_roots'), 'int')} errored roots"
    return ""


def fmt_value(value: object, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{float(value) * 100:.1f}%"
    if kind == "dur":
        return human_seconds(float(value))
    if kind == "int":
        return f"{int(value):,}"
    return str(value)


def _cell(col: str, value: object) -> tuple[str, bool]:
    """(text, is_number) of one table cell."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return str(value).lower(), False
    if isinstance(value, float):
        if col.endswith(("_rate", "share")):
            return f"{value * 100:.1f}%", True
        if col.endswith("_seconds"):
            return human_seconds(value), True
        return f"{value:,.3f}", True
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m") if col == "month" else value.isoformat(), False
    return str(value), False


def table_html(df: pl.DataFrame) -> str:
    """A Polars frame as an escaped HTML table (at most MAX_ROWS rows)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    rows = []
    for row in df.head(MAX_ROWS).iter_rows():
        cells = []
        for col, value in zip(df.columns, row, strict=True):
            text, numeric = _cell(col, value)
            cls = ' class="n"' if numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if df.height > MAX_ROWS:
        more = f'<p class="muted">first {MAX_ROWS:,} of {df.height:,} rows</p>'
    if df.is_empty():
        more = '<p class="muted">no rows</p>'
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<div class="scroll">{table}</div>{more}'


def render(
    headline: dict[str, float | int | None],
    tables: dict[str, pl.DataFrame],
    charts: dict[str, bytes],
    generated_at: dt.datetime,
) -> str:
    cards = "".join(
        f'<div class="card"><div class="v">{html.escape(fmt_value(headline.get(key), kind))}</div>'
        f'<div class="k">{html.escape(label)}</div>'
        + (f'<div class="d">{html.escape(d)}</div>' if (d := _card_detail(key, headline)) else "")
        + "</div>"
        for key, label, kind in HEADLINE_CARDS
    )
    figures = "".join(
        f"<h3>{html.escape(CHARTS[name][0])}</h3>"
        f'<img alt="{html.escape(CHARTS[name][0])}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}">'
        for name, png in charts.items()
    )
    sections = "".join(
        f'<h3 id="{html.escape(name)}">{html.escape(name)}</h3>{table_html(df)}'
        for name, df in tables.items()
    )
    stamp = generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>rerun-lineage report</title><style>{_CSS}</style></head><body>"
        "<h1>Rerun lineage report</h1>"
        f'<p class="muted">generated {html.escape(stamp)}. Rates leave out groups with nothing to count '
        "(shown as —). The rerun rate counts roots in the export that are neither shadow nor sandbox, and "
        "only reruns that are neither; report_outcome_classes shows how each outcome name was classified.</p>"
        f'<h2>Headline</h2><div class="cards">{cards}</div>'
        f"<h2>Charts</h2>{figures}"
        f"<h2>Tables</h2>{sections}"
        "</body></html>\n"
    )
