"""The report's charts as PNG bytes, drawn with matplotlib's object API on the Agg canvas.

No pyplot: figures are plain `Figure` objects drawn by the Agg canvas, so nothing ever needs a display or
touches global backend state. Every chart has the same fixed size and DPI (WIDTH_PX x HEIGHT_PX), saved
without tight bounding boxes, so a PNG's pixel size is known in advance. Empty inputs draw a "no data"
panel instead of failing. Text is drawn with math parsing off, so a '$' in a journey name stays text.
"""

from __future__ import annotations

import io
import math
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


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def rerun_rate_over_time(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    rate = t["report_rerun_rate"]
    fig, (ax,) = _figure()
    jm = rate.filter((pl.col("grouping") == "journey_month") & pl.col("month").is_not_null())
    if jm.is_empty():
        _no_data(ax, "roots with a known month")
    else:
        top = (
            jm.group_by("journey_token", "journey_name")
            .agg(pl.col("roots").sum())
            .sort(["roots", "journey_name"], descending=[True, False])
            .head(TOP_JOURNEYS)
        )
        for token, name in top.select("journey_token", "journey_name").iter_rows():
            line = jm.filter(pl.col("journey_token").eq_missing(token)).sort("month")
            ax.plot(
                line["month"].to_numpy(),
                line["rerun_rate"].fill_null(np.nan).to_numpy() * 100,
                marker="o",
                markersize=3,
                linewidth=1.2,
                label=_short(name),
            )
        overall = rate.filter((pl.col("grouping") == "month") & pl.col("month").is_not_null()).sort("month")
        ax.plot(
            overall["month"].to_numpy(),
            overall["rerun_rate"].fill_null(np.nan).to_numpy() * 100,
            color="black",
            linestyle="--",
            linewidth=2,
            label="all journeys",
        )
        ax.set_ylabel("roots with a rerun (%)")
        ax.set_ylim(0, 105)
        first, last = jm["month"].min(), jm["month"].max()
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, math.ceil(months / 12))))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(alpha=0.3)
    ax.set_title("Rerun rate by month of the root, per journey (shadow and sandbox excluded)")
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


def outcome_transition_heatmap(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    tr = t["report_outcome_transitions"]
    fig, (ax,) = _figure()
    if tr.is_empty():
        _no_data(ax, "chains with a rerun")
    else:
        labelled = tr.select(
            pl.struct("root_status", "root_outcome", "root_in_export")
            .map_elements(
                lambda s: _state(s["root_status"], s["root_outcome"], s["root_in_export"]),
                return_dtype=pl.String,
            )
            .alias("root"),
            pl.struct("final_status", "final_outcome")
            .map_elements(
                lambda s: _state(s["final_status"], s["final_outcome"], True), return_dtype=pl.String
            )
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
        image = ax.imshow(matrix, cmap="Blues", aspect="auto")
        ax.set_xticks(range(len(cols)), [_short(c, 22) for c in cols], rotation=30, ha="right", fontsize=7)
        ax.set_yticks(range(len(rows)), [_short(r, 26) for r in rows], fontsize=7)
        if matrix.size <= 144:
            for (i, j), n in np.ndenumerate(matrix):
                if n:
                    dark = n > matrix.max() / 2
                    ax.text(
                        j,
                        i,
                        f"{int(n):,}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
        ax.set_xlabel("final application (status · outcome)")
        ax.set_ylabel("root (status · outcome)")
        fig.colorbar(image, ax=ax, label="chains")
    ax.set_title("Outcome transitions of chains with a rerun: root → final")
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


def _capped_bars(ax: Axes, dist: pl.DataFrame, measure: str, xlabel: str) -> None:
    rows = dist.filter(pl.col("measure") == measure)
    if rows.is_empty():
        _no_data(ax, "chains")
        return
    labels: list[str] = []
    counts: list[int] = []
    known = rows.filter(pl.col("value").is_not_null())
    small = known.filter(pl.col("value") <= BAR_CAP).sort("value")
    for value, n in small.select("value", "chains").iter_rows():
        labels.append(str(value))
        counts.append(n)
    over = known.filter(pl.col("value") > BAR_CAP)["chains"].sum()
    if over:
        labels.append(f"{BAR_CAP + 1}+")
        counts.append(over)
    unknown = rows.filter(pl.col("value").is_null())["chains"].sum()
    if unknown:
        labels.append("unknown")
        counts.append(unknown)
    ax.bar(range(len(labels)), counts, color="#55a868")
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=90 if len(labels) > 12 else 0)
    if max(counts) > 50 * max(min(counts), 1):
        ax.set_yscale("log")
        # Plain tick labels: the default log labels are math text, which is switched off here.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("chains")
    ax.grid(alpha=0.3, axis="y")


def chain_depth_distribution(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    fig, (left, right) = _figure(2)
    dist = t["report_depth_distribution"]
    _capped_bars(left, dist, "chain_size", "applications in the chain")
    left.set_title("Chains by size")
    _capped_bars(right, dist, "max_depth", "deepest rerun (hops from the root)")
    right.set_title("Chains by maximum depth")
    return fig


_CLASSES = [
    ("approval_rate", "approval"),
    ("denial_rate", "denial"),
    ("other_rate", "other outcome"),
    ("no_outcome_rate", "no outcome"),
]


def effective_vs_naive(t: dict[str, pl.DataFrame], delays: pl.Series) -> Figure:
    eff = t["report_effective_outcomes"]
    fig, (left, right) = _figure(2)
    overall = eff.filter(pl.col("grouping") == "overall")
    if overall["total"].sum() == 0:
        _no_data(left, "applications")
        _no_data(right, "journeys")
        return fig
    x = np.arange(len(_CLASSES))
    for k, basis in enumerate(("naive", "effective")):
        row = overall.filter(pl.col("basis") == basis)
        values = [(row[c][0] or 0.0) * 100 if row.height else 0.0 for c, _ in _CLASSES]
        left.bar(
            x + (k - 0.5) * 0.4,
            values,
            width=0.4,
            label="every application" if basis == "naive" else "one vote per chain",
        )
    left.set_xticks(x, [n for _, n in _CLASSES], fontsize=8)
    left.set_ylabel("% of applications / chains")
    left.set_title("Outcome rates, all journeys")
    left.legend(fontsize=8)
    by_journey = eff.filter(pl.col("grouping") == "journey")
    top = (
        by_journey.filter(pl.col("basis") == "naive")
        .sort(["total", "journey_name"], descending=[True, False])
        .head(TOP_JOURNEYS)[["journey_token", "journey_name"]]
    )
    y = np.arange(top.height)
    for k, basis in enumerate(("naive", "effective")):
        rates = [
            (
                by_journey.filter((pl.col("basis") == basis) & pl.col("journey_token").eq_missing(tok))[
                    "approval_rate"
                ]
                .fill_null(0.0)
                .sum()
            )
            * 100
            for tok in top["journey_token"].to_list()
        ]
        right.barh(y + (k - 0.5) * 0.4, rates, height=0.4)
    right.set_yticks(y, [_short(n, 24) for n in top["journey_name"].to_list()], fontsize=7)
    right.invert_yaxis()
    right.set_xlabel("approval rate (%)")
    right.set_title("Approval rate per journey: naive vs effective")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="x" if ax is right else "y")
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
