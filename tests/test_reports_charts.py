"""What the charts draw, read back from the matplotlib Figure (not the pixels): gaps stay gaps, axes fit
the data, labels are whole, names agree. Inputs are small report tables written out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from report_fixture import write_export

from lineage import report_charts, reports
from lineage.warehouse import Home

NO_DELAYS = pl.Series("seconds", [], dtype=pl.Float64)


def _rate_rows(rows: list[tuple]) -> pl.DataFrame:
    """report_rerun_rate rows: (grouping, journey_token, journey_name, month, roots, rerun_rate)."""
    cols = ["grouping", "journey_token", "journey_name", "month", "roots", "rerun_rate"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def test_rerun_rate_chart_keeps_gaps_fits_the_rates_and_shows_lone_points() -> None:
    jan, feb, mar, apr = (dt.date(2024, m, 1) for m in (1, 2, 3, 4))
    table = _rate_rows(
        [
            ("journey_month", "J1", "Consumer onboarding", jan, 100, 0.10),
            ("journey_month", "J1", "Consumer onboarding", mar, 50, 0.20),  # no roots in February
            ("journey_month", "J2", "Small business", apr, 3, 0.05),  # one month only
            ("month", None, None, jan, 100, 0.10),
            ("month", None, None, mar, 50, 0.20),
            ("month", None, None, apr, 3, 0.05),
        ]
    )
    fig = report_charts.rerun_rate_over_time({"report_rerun_rate": table}, NO_DELAYS)
    (ax,) = fig.axes
    assert ax.get_ylim() == (0.0, 24.0)  # the highest rate, 20%, with 20% headroom, not 0-105%
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    j1 = lines["Consumer onboarding (150 roots)"]
    assert list(np.isnan(j1)) == [False, True, False, True]  # Jan, Feb (gap), Mar, Apr (none)
    assert list(np.isnan(lines["all journeys (153 roots)"])) == [False, True, False, False]
    # Every journey's points are markers above the dashed all-journeys line; marker area grows with roots.
    dashed = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    markers = ax.collections
    assert all(m.get_zorder() > dashed.get_zorder() for m in markers)
    j1_sizes = markers[0].get_sizes()
    assert j1_sizes[0] > j1_sizes[2]  # 100 roots in January, 50 in March
    lone = markers[1].get_offsets()
    assert np.isfinite(np.asarray(lone, dtype=float)[:, 1]).sum() == 1  # J2's one point is drawn


def test_depth_chart_shows_gaps_the_long_tail_and_unknown_depths() -> None:
    dist = pl.DataFrame(
        [
            ("chain_size", 1, 5),
            ("chain_size", 3, 2),
            ("chain_size", 30, 1),
            ("max_depth", 0, 5),
            ("max_depth", 2, 2),
            ("max_depth", None, 1),
        ],
        schema=["measure", "value", "chains"],
        orient="row",
    )
    fig = report_charts.chain_depth_distribution({"report_depth_distribution": dist}, NO_DELAYS)
    size_ax, depth_ax = fig.axes
    # Sizes 1 to 20, each a slot (2 and 4..20 empty), then 21+ for the chain of 30; labelled every 5th.
    assert [p.get_height() for p in size_ax.patches] == [5, 0, 2, *[0] * 17, 1]
    assert [t.get_text() for t in size_ax.get_xticklabels()] == ["1", "5", "10", "15", "20", "21+"]
    assert [p.get_height() for p in depth_ax.patches] == [5, 0, 2, 1]  # depths 0, 1 (none), 2, unknown
    assert [t.get_text() for t in depth_ax.get_xticklabels()] == ["0", "1", "2", "unknown"]
    assert "Chain size and depth" in fig.get_suptitle()


def test_heatmap_counts_are_whole_and_cells_show_shares(home: Home) -> None:
    write_export(home)
    tables = {name: reports.compute_report(home, name) for name in reports.REPORT_TABLES}
    fig = report_charts.outcome_transition_heatmap(tables, NO_DELAYS)
    ax, bar = fig.axes
    ticks = bar.get_yticks()
    assert len(ticks) and all(float(t).is_integer() for t in ticks)
    cells = [t.get_text() for t in ax.texts]
    # 6 rerun chains (B and D never rerun are left out of the chart, and said so in the title).
    assert "2\n33%" in cells and cells.count("1\n17%") == 4
    assert "2 chains never rerun not shown" in ax.get_title()
    finals = [t.get_text() for t in ax.get_xticklabels()]
    assert finals == ["completed\nApproved", "completed\nDeclined", "running"]  # wrapped, never cut
    assert "completed · Manual Review" in [t.get_text() for t in ax.get_yticklabels()]


def test_effective_vs_naive_names_both_bases_alike_and_keeps_journey_names_whole(home: Home) -> None:
    write_export(home)
    tables = {name: reports.compute_report(home, name) for name in reports.REPORT_TABLES}
    fig = report_charts.effective_vs_naive(tables, NO_DELAYS)
    (legend,) = fig.legends  # one legend for both panels
    names = [t.get_text() for t in legend.get_texts()]
    assert names == ["naive: every application (16 applications)", "effective: one vote per chain (8 chains)"]
    _, right = fig.axes
    journeys = [t.get_text().replace("\n", " ") for t in right.get_yticklabels()]
    assert "Business <KYB> & $co$" in journeys  # whole, not cut at 24 characters
