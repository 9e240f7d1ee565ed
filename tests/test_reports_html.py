"""The offline HTML report and PNG charts: self-contained, escaped, fixed pixel sizes, and they render on
degenerate exports (empty, one application, no reruns) without a division by zero."""

from __future__ import annotations

import base64
import re
import struct

import matplotlib.image
import polars as pl
import pyarrow as pa
from report_fixture import APPS, write_applications, write_export

from lineage import contract, reports
from lineage.report_charts import CHARTS, HEIGHT_PX, WIDTH_PX
from lineage.warehouse import Home, write_arrow

NETWORK = re.compile(
    r"https?:|(?:src|href)\s*=\s*[\"']?\s*//|url\(\s*[\"']?\s*//|<script|<link|@import", re.I
)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_report(home: Home) -> str:
    """The checks every report must pass; returns the HTML text."""
    path = reports.build_reports(home)
    assert path == home.reports / reports.HTML_NAME
    page = path.read_text(encoding="utf-8")
    assert not NETWORK.search(page), NETWORK.search(page)
    for filename in CHARTS:
        png = (home.reports / filename).read_bytes()
        assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
        assert matplotlib.image.imread(home.reports / filename).shape[:2] == (HEIGHT_PX, WIDTH_PX)
        assert b"http" not in png  # no Software/URL text chunk
        assert f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}" in page
    assert page.count("<img ") == len(CHARTS)
    for name in reports.REPORT_TABLES:
        assert f'id="{name}"' in page
        assert home.has_table(name)
    return page


def test_report_on_hand_made_export(home: Home) -> None:
    write_export(home)
    page = check_report(home)
    # Headline figures first, then charts, then tables.
    assert page.index("Headline") < page.index("<img ") < page.index('id="report_rerun_rate"')
    headline = page[page.index("Headline") : page.index("<h2>Charts")]
    assert "60.0%" in headline and "50.0%" in headline  # rerun rate 3/5, recovery 1/2
    # Journey names are escaped: "Business <KYB> & $co$".
    assert "Business &lt;KYB&gt; &amp; $co$" in page and "<KYB>" not in page
    assert "2.0 h" in headline  # p50 time to rerun, 7200 s


def test_report_on_empty_home(home: Home) -> None:
    page = check_report(home)
    h = reports.headline(home)
    # Nothing to count: counts are 0, rates and times undefined (None), shown as "—".
    assert (h["applications"], h["chains"], h["reruns"], h["roots"]) == (0, 0, 0, 0)
    assert h["rerun_rate"] is None and h["naive_approval_rate"] is None
    assert h["time_to_rerun_p50_seconds"] is None and h["recovery_rate_errored_roots"] is None
    rate = pl.read_parquet(home.table_path("report_rerun_rate"))
    assert rate.rows() == [("overall", None, None, None, 0, 0, None)]  # no roots: the rate is NULL
    assert "no rows" in page


def test_report_on_empty_tables(home: Home) -> None:
    for name in ("applications", "events", "rejects", "rerun_edges", "rerun_chains", "chain_summary"):
        write_arrow(home, name, contract.SCHEMAS[name].empty_table())
    check_report(home)
    ttr = pl.read_parquet(home.table_path("report_time_to_rerun"))
    assert ttr.select("reruns", "p50_seconds").rows() == [(0, None)]


def _roots_only(home: Home, apps: list[tuple]) -> None:
    """Applications without reruns, with their (trivial) chains and summaries."""
    write_applications(home, apps)
    chains = [
        {
            "journey_application_token": f"JA-{a[0]}",
            "root_token": f"JA-{a[0]}",
            "depth": 0,
            "attempt": 1,
            "chain_size": 1,
            "is_root": True,
            "is_latest": True,
            "lineage_status": "complete",
        }
        for a in apps
    ]
    summary = [
        {
            "root_token": f"JA-{a[0]}",
            "root_in_export": True,
            "journey_token": a[1],
            "root_created_at": a[2],
            "root_status": a[3],
            "root_outcome": a[4],
            "chain_size": 1,
            "rerun_count": 0,
            "max_depth": 0,
            "latest_token": f"JA-{a[0]}",
            "final_status": a[3],
            "final_outcome": a[4],
            "recovered": False,
            "outcome_changed": False,
        }
        for a in apps
    ]
    write_arrow(home, "rerun_chains", pa.Table.from_pylist(chains, schema=contract.RERUN_CHAINS))
    write_arrow(home, "chain_summary", pa.Table.from_pylist(summary, schema=contract.CHAIN_SUMMARY))


def test_report_with_a_single_application(home: Home) -> None:
    _roots_only(home, [a for a in APPS if a[0] == "B0"])
    check_report(home)
    h = reports.headline(home)
    assert (h["applications"], h["chains"], h["reruns"], h["rerun_rate"]) == (1, 1, 0, 0.0)
    assert (h["naive_approval_rate"], h["effective_approval_rate"]) == (0.0, 0.0)  # B0 was denied
    eff = pl.read_parquet(home.table_path("report_effective_outcomes"))
    assert eff.filter(pl.col("grouping") == "overall").select("basis", "denial_rate").rows() == [
        ("naive", 1.0),
        ("effective", 1.0),
    ]


def test_report_with_no_reruns(home: Home) -> None:
    _roots_only(home, [a for a in APPS if a[0].endswith("0")])  # the 8 roots in the export... minus F0
    check_report(home)
    rate = pl.read_parquet(home.table_path("report_rerun_rate")).filter(pl.col("grouping") == "overall")
    assert rate.select("roots", "roots_with_rerun", "rerun_rate").rows() == [(5, 0, 0.0)]  # E0, G0 excluded
    # Every chain is a transition (its own diagonal): the 7 roots' status/outcome pairs, none rerun.
    transitions = pl.read_parquet(home.table_path("report_outcome_transitions"))
    assert transitions["chains"].sum() == 7 and not transitions["was_rerun"].any()
    assert pl.read_parquet(home.table_path("report_reruns_by_initiator")).is_empty()


def test_deep_chain_draws_capped_bars(home: Home) -> None:
    """A rerun loop (one chain dozens deep) still gives a readable chart of the same size."""
    depth = 45
    import datetime as dt

    apps = [
        (
            f"L{i}",
            "J-consumer",
            dt.datetime(2024, 5, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            "error",
            None,
            i > 0,
            "api" if i else None,
            f"L{i - 1}" if i else None,
            {},
        )
        for i in range(depth + 1)
    ]
    write_applications(home, apps)
    chains = [
        {
            "journey_application_token": f"JA-L{i}",
            "previous_token": f"JA-L{i - 1}" if i else None,
            "root_token": "JA-L0",
            "depth": i,
            "attempt": i + 1,
            "chain_size": depth + 1,
            "is_root": i == 0,
            "is_latest": i == depth,
            "lineage_status": "complete",
        }
        for i in range(depth + 1)
    ]
    summary = [
        {
            "root_token": "JA-L0",
            "root_in_export": True,
            "journey_token": "J-consumer",
            "root_created_at": apps[0][2],
            "root_status": "error",
            "chain_size": depth + 1,
            "rerun_count": depth,
            "max_depth": depth,
            "latest_token": f"JA-L{depth}",
            "final_status": "error",
            "recovered": False,
        }
    ]
    edges = [
        {"parent_token": c["previous_token"], "child_token": c["journey_application_token"]}
        for c in chains
        if c["previous_token"]
    ]
    write_arrow(home, "rerun_chains", pa.Table.from_pylist(chains, schema=contract.RERUN_CHAINS))
    write_arrow(home, "rerun_edges", pa.Table.from_pylist(edges, schema=contract.RERUN_EDGES))
    write_arrow(home, "chain_summary", pa.Table.from_pylist(summary, schema=contract.CHAIN_SUMMARY))
    check_report(home)
    ttr = pl.read_parquet(home.table_path("report_time_to_rerun")).filter(pl.col("grouping") == "overall")
    assert ttr.select("reruns", "p50_seconds", "max_seconds").rows() == [(depth, 60.0, 60.0)]
