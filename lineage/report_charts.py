"""The report's charts as PNG bytes, drawn with matplotlib's object API on the Agg canvas.

No pyplot: figures are plain `Figure` objects drawn by the Agg canvas, so nothing ever needs a display or
touches global backend state. Every chart has the same fixed size and DPI (WIDTH_PX x HEIGHT_PX), saved
without tight bounding boxes, so a PNG's pixel size is known in advance. Empty inputs draw a "no data"
panel instead of failing. Text is drawn with math parsing off, so a '$' in a journey name stays text.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import textwrap
from collections.abc import Callable

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

FIG_SIZE_IN = (9.0, 4.8)
DPI = 100
WIDTH_PX, HEIGHT_PX = int(FIG_SIZE_IN[0] * DPI), int(FIG_SIZE_IN[1] * DPI)
TOP_JOURNEYS = 8
TOP_STATES = 10
BAR_CAP = 20  # sizes/depths above this share one "N+" bar, so a 10,000-deep loop keeps the chart readable


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=FIG_SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this export", ha="center", va="center", fontsize=12, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _wrap(label: str, width: int) -> str:
    """A label on as many lines as it needs, never cut (a journey or outcome name must stay readable)."""
    return "\n".join(textwrap.wrap(label, width, break_long_words=False)) or label


def _month_axis(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month from first to last (first days), so a month with no roots is a gap, not skipped."""
    months, m = [], first
    while m <= last:
        months.append(m)
        m = dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)
    return months


def _on_months(df: pl.DataFrame, months: list[dt.date]) -> tuple[np.ndarray, np.ndarray]:
    """(rate in %, roots) of `df` on every month of `months`: NaN rate and 0 roots where it has none."""
    by_month = {m: (r, n) for m, r, n in df.select("month", "rerun_rate", "roots").iter_rows()}
    rate_of = [by_month.get(m, (None, 0))[0] for m in months]
    rates = np.array([np.nan if r is None else r * 100 for r in rate_of])
    roots = np.array([by_month.get(m, (None, 0))[1] for m in months], dtype=float)
    return rates, roots


def rerun_rate_over_time(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    rate = t["report_rerun_rate"]
    fig, (ax,) = _figure()
    jm = rate.filter((pl.col("grouping") == "journey_month") & pl.col("month").is_not_null())
    if jm.is_empty():
        _no_data(ax, "roots with a known month")
        ax.set_title("Rerun rate by month of the root")
        return fig
    months = _month_axis(jm["month"].min(), jm["month"].max())
    x = np.array(months, dtype="datetime64[D]")
    top = (
        jm.group_by("journey_token", "journey_name")
        .agg(pl.col("roots").sum())
        .sort(["roots", "journey_name"], descending=[True, False])
        .head(TOP_JOURNEYS)
    )
    overall = rate.filter((pl.col("grouping") == "month") & pl.col("month").is_not_null())
    all_rates, all_roots = _on_months(overall, months)
    # Marker area grows with the month's roots, so a rate of 3 roots does not look like one of 3,000.
    scale = 140.0 / max(float(jm["roots"].max()), 1.0)
    # The dashed all-journeys line goes under the journeys' markers (zorder), so a lone point stays visible.
    ax.plot(x, all_rates, color="black", linestyle="--", linewidth=1.8, marker="D", markersize=3, zorder=2,
            label=f"all journeys ({int(all_roots.sum()):,} roots)")  # fmt: skip
    peak = np.nanmax(all_rates) if np.isfinite(all_rates).any() else 0.0
    for token, name, n in top.iter_rows():
        rates, roots = _on_months(jm.filter(pl.col("journey_token").eq_missing(token)), months)
        (line,) = ax.plot(x, rates, linewidth=1.2, zorder=3, label=f"{_wrap(name, 30)} ({n:,} roots)")
        ax.scatter(x, rates, s=np.clip(roots * scale, 30, 140), color=line.get_color(), zorder=4,
                   edgecolors="white", linewidths=0.5)  # fmt: skip
        if np.isfinite(rates).any():
            peak = max(peak, float(np.nanmax(rates)))
    # Scaled to the data with headroom: typical rates of 5-25% must not be squashed at the bottom.
    ax.set_ylim(0, min(105.0, max(5.0, peak * 1.2)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
    ax.set_ylabel("roots with a rerun")
    span = len(months)
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, math.ceil(span / 12))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    pad = np.timedelta64(12, "D")
    ax.set_xlim(x[0] - pad, x[-1] + pad)
    legend = ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    legend.set_title("marker area: roots that month", prop={"size": 7})
    ax.grid(alpha=0.3)
    ax.set_title("Rerun rate by month of the root, per journey (shadow and sandbox excluded; gaps: no roots)")
    return fig


def _state(status: str | None, outcome: str | None, in_export: bool | None) -> str:
    if not in_export and status is None:
        return "(root not in export)"
    label = status or "(no status)"
    return f"{label} · {outcome}" if outcome else label


def _top_labels(df: pl.DataFrame, col: str) -> pl.Series:
    top = df.group_by(col).agg(pl.col("chains").sum()).sort(["chains", col], descending=[True, False])
    keep = set(top[col].head(TOP_STATES).to_list())
    return df[col].map_elements(lambda v: v if v in keep else "(other)", return_dtype=pl.String)


def _state_label(state: str, width: int) -> str:
    """'status · outcome' as 'status' over 'outcome', each wrapped to `width` (never cut)."""
    return "\n".join(_wrap(part, width) for part in state.split(" · "))


def outcome_transition_heatmap(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    tr = t["report_outcome_transitions"]
    fig, (ax,) = _figure()
    rerun = tr.filter(pl.col("was_rerun"))
    never = int(tr.filter(~pl.col("was_rerun"))["chains"].sum())
    title = "Outcome transitions of chains with a rerun: root → final"
    if never:
        title += f" ({never:,} chains never rerun not shown)"
    if rerun.is_empty():
        _no_data(ax, "chains with a rerun")
        ax.set_title(title)
        return fig
    labelled = rerun.select(
        pl.struct("root_status", "root_outcome", "root_in_export")
        .map_elements(
            lambda s: _state(s["root_status"], s["root_outcome"], s["root_in_export"]), return_dtype=pl.String
        )
        .alias("root"),
        pl.struct("final_status", "final_outcome")
        .map_elements(lambda s: _state(s["final_status"], s["final_outcome"], True), return_dtype=pl.String)
        .alias("final"),
        "chains",
    )
    labelled = labelled.with_columns(_top_labels(labelled, "root"), _top_labels(labelled, "final"))
    grid = labelled.group_by("root", "final").agg(pl.col("chains").sum())

    def order(c: str) -> list[str]:
        sums = grid.group_by(c).agg(pl.col("chains").sum())
        return sums.sort(["chains", c], descending=[True, False])[c].to_list()

    rows, cols = order("root"), order("final")
    matrix = np.zeros((len(rows), len(cols)))
    for root, final, n in grid.iter_rows():
        matrix[rows.index(root), cols.index(final)] = n
    total = matrix.sum()
    image = ax.imshow(matrix, cmap="Blues", aspect="auto", vmin=0)
    ax.set_xticks(range(len(cols)), [_state_label(c, 13) for c in cols], fontsize=6.5)
    ax.set_yticks(range(len(rows)), [_state_label(r, 40).replace("\n", " · ") for r in rows], fontsize=7)
    if matrix.size <= 144:
        for (i, j), n in np.ndenumerate(matrix):
            if n:
                dark = n > matrix.max() / 2
                ax.text(j, i, f"{int(n):,}\n{n / total:.0%}", ha="center", va="center", fontsize=6.5,
                        linespacing=0.9, color="white" if dark else "black")  # fmt: skip
    ax.set_xlabel("final application (status, outcome)")
    ax.set_ylabel("root (status · outcome)")
    # Whole-number ticks: the colour stands for a count of chains.
    bar = fig.colorbar(image, ax=ax, label="chains", ticks=MaxNLocator(integer=True, min_n_ticks=1))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_title(title + f"; cells: chains and % of {int(total):,}", fontsize=9)
    return fig


_TICKS = [
    (1, "1 s"),
    (60, "1 min"),
    (3600, "1 h"),
    (86400, "1 d"),
    (7 * 86400, "1 wk"),
    (30 * 86400, "30 d"),
    (365 * 86400, "1 y"),
]


def time_to_rerun_histogram(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    fig, (ax,) = _figure()
    seconds = delays.drop_nulls().to_numpy().astype(float)
    if seconds.size == 0:
        _no_data(ax, "measurable reruns")
    else:
        logs = np.log10(np.clip(seconds, 1.0, None))  # under a second counts as one second
        hi = max(math.ceil(logs.max() * 4) / 4, 0.25)
        ax.hist(logs, bins=np.arange(0, hi + 0.25, 0.25), color="#4c72b0", edgecolor="white")
        ticks = [(math.log10(s), name) for s, name in _TICKS if math.log10(s) <= hi + 0.5]
        ax.set_xticks([p for p, _ in ticks], [n for _, n in ticks])
        overall = t["report_time_to_rerun"].filter(pl.col("grouping") == "overall")
        for col, style in (("p50_seconds", "-"), ("p90_seconds", "--"), ("p99_seconds", ":")):
            value = overall[col][0] if overall.height else None
            if value is not None:
                ax.axvline(
                    math.log10(max(value, 1.0)),
                    color="#c44e52",
                    linestyle=style,
                    label=f"{col.split('_')[0]}: {human_seconds(value)}",
                )
        ax.legend(fontsize=8)
        ax.set_xlabel("time from the previous application to its rerun (log scale)")
        ax.set_ylabel("reruns")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, axis="y")
    ax.set_title("Time to rerun")
    return fig


def _capped_bars(ax: Axes, dist: pl.DataFrame, measure: str, first: int, xlabel: str) -> None:
    """One bar per value from `first` to the largest (at most BAR_CAP), absent values as empty slots, then
    one "N+" bar for the long tail and an "unknown" bar for NULL values."""
    rows = dist.filter(pl.col("measure") == measure)
    if rows.is_empty():
        _no_data(ax, "chains")
        return
    known = dict(rows.filter(pl.col("value").is_not_null()).select("value", "chains").iter_rows())
    last = min(max(known, default=first), BAR_CAP)
    labels = [str(v) for v in range(first, last + 1)]
    counts = [known.get(v, 0) for v in range(first, last + 1)]
    colors = ["#55a868"] * len(labels)
    over = sum(n for v, n in known.items() if v > BAR_CAP)
    if over:
        labels.append(f"{BAR_CAP + 1}+")
        counts.append(over)
        colors.append("#2f6e40")
    unknown = int(rows.filter(pl.col("value").is_null())["chains"].sum())
    if unknown:
        labels.append("unknown")
        counts.append(unknown)
        colors.append("#999999")
    # The tail and unknown bars stand apart from the numbered axis, wider, after a dotted separator.
    numbered = last - first + 1
    x = np.array([i if i < numbered else numbered + 1.0 + 3.0 * (i - numbered) for i in range(len(labels))])
    widths = [0.8 if i < numbered else 1.6 for i in range(len(labels))]
    ax.bar(x, counts, color=colors, width=widths)
    if len(labels) > numbered:
        ax.axvline(numbered - 0.1, color="#999", linestyle=":", linewidth=1)
    every = 1 if numbered <= 12 else 5
    ticks = [(xi, lab) for i, (xi, lab) in enumerate(zip(x, labels, strict=True))
             if i == 0 or i >= numbered or (first + i) % every == 0]  # fmt: skip
    ax.set_xticks([xi for xi, _ in ticks], [lab for _, lab in ticks], fontsize=7)
    ax.set_xticks(x[:numbered], minor=True)
    shown = [c for c in counts if c]
    if max(shown) > 50 * max(min(shown), 1):
        ax.set_yscale("log")
        # Plain tick labels: the default log labels are math text, which is switched off here.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0.7, max(shown) * 3)
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, max(shown) * 1.15)
    if len(labels) <= 24:
        for xi, n in zip(x, counts, strict=True):
            if n:
                ax.text(xi, n, f"{n:,}", ha="center", va="bottom", fontsize=6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("chains")
    ax.grid(alpha=0.3, axis="y")


def chain_depth_distribution(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    fig, (left, right) = _figure(2)
    dist = t["report_depth_distribution"]
    _capped_bars(left, dist, "chain_size", 1, "applications in the chain")
    left.set_title("Chains by size", fontsize=9)
    _capped_bars(right, dist, "max_depth", 0, "deepest rerun (hops from the root)")
    right.set_title("Chains by maximum depth (unknown: broken chain)", fontsize=9)
    n = int(dist.filter(pl.col("measure") == "chain_size")["chains"].sum())
    fig.suptitle(f"Chain size and depth ({n:,} chains; empty slots: no chain of that size or depth)")
    return fig


_CLASSES = [
    ("approval_rate", "approval"),
    ("denial_rate", "denial"),
    ("other_rate", "other outcome"),
    ("no_outcome_rate", "no outcome"),
]
# One name and colour per basis, the same in both panels, the legend and the titles.
_BASES = [
    ("naive", "naive: every application", "#4c72b0"),
    ("effective", "effective: one vote per chain", "#dd8452"),
]


def _bar_labels(ax: Axes, bars, horizontal: bool = False) -> None:
    for bar in bars:
        if horizontal:
            w = bar.get_width()
            ax.text(w + 0.8, bar.get_y() + bar.get_height() / 2, f"{w:.0f}%", va="center", fontsize=6)
        else:
            h = bar.get_height()
            ax.text(bar.get_x() + bar.get_width() / 2, h + 0.8, f"{h:.0f}%", ha="center", fontsize=6)


def effective_vs_naive(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    eff = t["report_effective_outcomes"]
    fig = Figure(figsize=FIG_SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[1.0, 1.25])
    overall = eff.filter(pl.col("grouping") == "overall")
    if overall["total"].sum() == 0:
        _no_data(left, "applications")
        _no_data(right, "journeys")
        return fig
    x = np.arange(len(_CLASSES))
    peak = 0.0
    for k, (basis, label, color) in enumerate(_BASES):
        row = overall.filter(pl.col("basis") == basis)
        values = [(row[c][0] or 0.0) * 100 if row.height else 0.0 for c, _ in _CLASSES]
        total = int(row["total"][0]) if row.height else 0
        name = f"{label} ({total:,} {'applications' if basis == 'naive' else 'chains'})"
        bars = left.bar(x + (k - 0.5) * 0.4, values, width=0.4, color=color, label=name)
        _bar_labels(left, bars)
        peak = max(peak, *values)
    left.set_xticks(x, [n.replace(" ", "\n") for _, n in _CLASSES], fontsize=8)
    left.set_ylim(0, min(100, peak * 1.15 + 2))
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
    left.set_title("Outcome rates, all journeys", fontsize=9)
    by_journey = eff.filter(pl.col("grouping") == "journey")
    top = (
        by_journey.filter(pl.col("basis") == "naive")
        .sort(["total", "journey_name"], descending=[True, False])
        .head(TOP_JOURNEYS)[["journey_token", "journey_name"]]
    )
    y = np.arange(top.height)
    peak = 0.0
    for k, (basis, _label, color) in enumerate(_BASES):
        rows = by_journey.filter(pl.col("basis") == basis)
        rates = [
            (rows.filter(pl.col("journey_token").eq_missing(tok))["approval_rate"].fill_null(0.0).sum()) * 100
            for tok in top["journey_token"].to_list()
        ]
        bars = right.barh(y + (k - 0.5) * 0.4, rates, height=0.4, color=color)
        _bar_labels(right, bars, horizontal=True)
        peak = max(peak, *rates, 0.0)
    right.set_yticks(y, [_wrap(n, 26) for n in top["journey_name"].to_list()], fontsize=7)
    right.invert_yaxis()
    right.set_xlim(0, min(100, peak * 1.15 + 4))
    right.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
    right.set_xlabel("approval rate")
    right.set_title("Approval rate per journey", fontsize=9)
    # One legend for both panels: the same two names and colours on each side.
    fig.legend(loc="outside upper center", ncols=2, fontsize=8, frameon=False)
    left.grid(alpha=0.3, axis="y")
    right.grid(alpha=0.3, axis="x")
    return fig


CHARTS: dict[str, tuple[str, Callable[[dict[str, pl.DataFrame], pl.Series], Figure]]] = {
    "rerun_rate_over_time.png": ("Rerun rate over time per journey", rerun_rate_over_time),
    "outcome_transitions.png": ("Outcome transitions (root → final)", outcome_transition_heatmap),
    "time_to_rerun.png": ("Time to rerun", time_to_rerun_histogram),
    "chain_depth.png": ("Chain size and depth", chain_depth_distribution),
    "effective_vs_naive.png": ("Effective vs naive outcome rates", effective_vs_naive),
}


def render(tables: dict[str, pl.DataFrame], delays: pl.Series) -> dict[str, bytes]:
    """Every chart as PNG bytes, by file name."""
    out: dict[str, bytes] = {}
    with matplotlib.rc_context({"text.parse_math": False, "font.size": 9}):
        for filename, (_, draw) in CHARTS.items():
            fig = draw(tables, delays)
            buf = io.BytesIO()
            # No "Software" text chunk: the PNG carries no web address (the report is offline).
            fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
            out[filename] = buf.getvalue()
    return out


def human_seconds(seconds: float | None) -> str:
    """A duration as a person reads it: '45 s', '12.5 min', '3.2 h', '2.1 d'."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
