"""Report tables on the hand-made export of report_fixture.py; every figure is worked out by hand there."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest
from report_fixture import J1, J2, J3, NAMES, write_export

from lineage import reports
from lineage.errors import LineageError
from lineage.warehouse import Home, publish_warehouse


@pytest.fixture
def built(home: Home) -> Home:
    write_export(home)
    for name in reports.REPORT_TABLES:
        reports.build_report(home, name)
    return home


def read(home: Home, name: str) -> pl.DataFrame:
    """What was written: the Parquet file, not the returned frame."""
    return pl.read_parquet(home.table_path(name))


def rows(df: pl.DataFrame, cols: list[str], **where: object) -> list[tuple]:
    for k, v in where.items():
        df = df.filter(pl.col(k).eq_missing(v))
    return df.select(cols).rows()


def month(y: int, m: int) -> dt.date:
    return dt.date(y, m, 1)


def test_rerun_rate_excludes_shadow_and_sandbox_roots(built: Home) -> None:
    df = read(built, "report_rerun_rate")
    cols = ["roots", "roots_with_rerun", "rerun_rate"]
    # E (shadow root) and G (sandbox root) are out; F (root missing, latest app neither) is in.
    assert rows(df, cols, grouping="overall") == [(6, 4, pytest.approx(4 / 6))]
    by_journey = {r[0]: r[1:] for r in rows(df, ["journey_token", "journey_name", *cols], grouping="journey")}
    assert by_journey == {
        J1: (NAMES[J1], 3, 2, pytest.approx(2 / 3)),
        J2: (NAMES[J2], 2, 1, 0.5),
        J3: (NAMES[J3], 1, 1, 1.0),
    }
    # F's month comes from its first rerun (2024-02-10): its root is not in the export.
    by_month = {r[0]: r[1:] for r in rows(df, ["month", *cols], grouping="month")}
    assert by_month == {
        month(2024, 1): (3, 1, pytest.approx(1 / 3)),
        month(2024, 2): (2, 2, 1.0),
        month(2024, 3): (1, 1, 1.0),
    }
    jm = sorted(rows(df, ["journey_token", "month", "roots", "roots_with_rerun"], grouping="journey_month"))
    assert jm == sorted(
        [
            (J1, month(2024, 1), 2, 1),
            (J1, month(2024, 2), 1, 1),
            (J2, month(2024, 1), 1, 0),
            (J2, month(2024, 2), 1, 1),
            (J3, month(2024, 3), 1, 1),
        ]
    )


def test_reruns_by_initiator(built: Home) -> None:
    df = read(built, "report_reruns_by_initiator")
    overall = dict(rows(df, ["initiated_by", "reruns"], grouping="overall"))
    # C1's "Dashboard" comes from the application (its edge has none) and is compared lower-cased.
    assert overall == {"api": 4, "dashboard": 2, "unknown": 1}
    shares = {(r[0], r[1]): r[2] for r in rows(df, ["month", "initiated_by", "share"], grouping="month")}
    third = pytest.approx(1 / 3)
    assert shares == {
        (month(2024, 1), "api"): third,
        (month(2024, 1), "dashboard"): third,
        (month(2024, 1), "unknown"): third,
        (month(2024, 2), "api"): pytest.approx(2 / 3),
        (month(2024, 2), "dashboard"): third,
        (month(2024, 3), "api"): 1.0,
    }


def test_outcome_transitions_compare_outcomes_case_insensitively(built: Home) -> None:
    df = read(built, "report_outcome_transitions")
    got = {r[:5]: (r[5], r[6]) for r in df.rows()}
    sixth = pytest.approx(1 / 6)
    # C (denied -> APPROVED) and H (DENIED -> approved) are one transition, spelled as most often
    # (ties to the smallest string): "DENIED" and "Approved".
    assert got == {
        (True, "completed", "DENIED", "completed", "Approved"): (2, pytest.approx(2 / 6)),
        (True, "error", None, "completed", "Approved"): (1, sixth),
        (True, "completed", "Manual Review", "completed", "Approved"): (1, sixth),
        (False, None, None, "completed", "Declined"): (1, sixth),
        (True, "completed", "Approved", "running", None): (1, sixth),
    }
    assert df["chains"].to_list()[0] == 2  # most frequent first


def test_recovery_of_errored_roots(built: Home) -> None:
    df = read(built, "report_recovery")
    cols = [
        "errored_roots",
        "recovered",
        "recovery_rate",
        "recovered_approvals",
        "recovered_denials",
        "recovered_other",
        "recovered_by_outcome",
    ]
    assert rows(df, cols, grouping="overall") == [(2, 1, 0.5, 1, 0, 0, "Approved: 1")]
    assert rows(df, cols, grouping="journey", journey_token=J1) == [(1, 1, 1.0, 1, 0, 0, "Approved: 1")]
    assert rows(df, cols, grouping="journey", journey_token=J2) == [(1, 0, 0.0, 0, 0, 0, None)]
    assert rows(df, cols, grouping="journey", journey_token=J3) == [(0, 0, None, 0, 0, 0, None)]


def test_time_to_rerun_percentiles(built: Home) -> None:
    df = read(built, "report_time_to_rerun")
    cols = ["reruns", "measured_reruns", "p50_seconds", "p90_seconds", "p99_seconds", "max_seconds"]
    # Delays 30, 600, 3600, 7200, 86400, 172800 s; F1's previous is not in the export (not measured).
    # Linear interpolation at p*(n-1): p50 between 3600 and 7200, p90 = 86400 + .5*86400, ...
    assert rows(df, cols, grouping="overall") == [(7, 6, 5400.0, 129600.0, pytest.approx(168480.0), 172800.0)]
    assert rows(df, cols, grouping="journey", journey_token=J1) == [
        (3, 3, 7200.0, pytest.approx(70560.0), pytest.approx(84816.0), 86400.0)
    ]
    assert rows(df, cols, grouping="journey", journey_token=J2) == [(2, 1, 600.0, 600.0, 600.0, 600.0)]
    assert rows(df, cols, grouping="journey", journey_token=J3) == [
        (2, 2, 86415.0, pytest.approx(155523.0), pytest.approx(171072.3), 172800.0)
    ]


def test_depth_distribution(built: Home) -> None:
    df = read(built, "report_depth_distribution")
    assert rows(df, ["value", "chains", "share"], measure="chain_size") == [
        (1, 3, 3 / 8),
        (2, 4, 4 / 8),
        (3, 1, 1 / 8),
    ]
    assert rows(df, ["value", "chains"], measure="max_depth") == [(0, 2), (1, 5), (2, 1)]


def test_effective_beside_naive_outcomes(built: Home) -> None:
    df = read(built, "report_effective_outcomes")
    cols = ["total", "approvals", "denials", "other_outcomes", "no_outcome"]
    # Naive: the 14 applications of counted chains (the cycle's X1, X2 are not); effective: 8 final outcomes.
    assert rows(df, cols, grouping="overall", basis="naive") == [(14, 5, 4, 1, 4)]
    assert rows(df, cols, grouping="overall", basis="effective") == [(8, 4, 2, 0, 2)]
    assert rows(df, ["approval_rate", "denial_rate"], grouping="overall", basis="effective") == [(0.5, 0.25)]
    assert rows(df, ["approval_rate"], grouping="overall", basis="naive") == [(pytest.approx(5 / 14),)]
    per = {(r[0], r[1]): r[2:] for r in rows(df, ["basis", "journey_token", *cols], grouping="journey")}
    assert per == {
        ("naive", J1): (6, 2, 2, 0, 2),
        ("effective", J1): (3, 2, 1, 0, 0),
        ("naive", J2): (4, 1, 1, 1, 1),
        ("effective", J2): (3, 1, 1, 0, 1),
        ("naive", J3): (4, 2, 1, 0, 1),
        ("effective", J3): (2, 1, 0, 0, 1),
    }


def test_data_quality(built: Home) -> None:
    df = read(built, "report_data_quality")
    assert rows(df, ["item", "count"], section="rejects_by_error") == [
        ("invalid JSON", 2),
        ("created_at is not an integer", 1),
    ]
    statuses = dict(rows(df, ["item", "count"], section="lineage_status"))
    assert statuses == {
        "cycle": 2,
        "broken_chain": 0,
        "root_conflict": 0,
        "root_outside_export": 1,
        "unlinked_rerun": 0,
        "complete": 13,
    }
    assert rows(df, ["item", "count", "share"], section="events") == [
        ("events", 4, 1.0),
        ("events_of_applications_not_in_export", 2, 0.5),
        ("applications_seen_only_in_events", 1, None),
        ("rerun_events_naming_applications_not_in_export", 1, 0.25),
    ]
    assert rows(df, ["item", "count"], section="chains") == [
        ("chains", 8),
        ("chains_with_lineage_problems", 1),
    ]


def test_headline(built: Home) -> None:
    h = reports.headline(built)
    assert (h["applications"], h["chains"], h["reruns"], h["rejects"], h["events"]) == (16, 8, 7, 3, 4)
    assert h["rerun_rate"] == pytest.approx(4 / 6)
    assert h["recovery_rate_errored_roots"] == 0.5
    assert (h["effective_approval_rate"], h["naive_approval_rate"]) == (0.5, pytest.approx(5 / 14))
    assert (h["chains_with_lineage_problems"], h["applications_in_cycles"]) == (1, 2)
    assert h["time_to_rerun_p50_seconds"] == 5400.0
    text = reports.headline_text(built)
    assert "66.7% of 6 roots" in text and "50.0% one vote per chain" in text
    assert str(built.reports / reports.HTML_NAME) not in text  # not built yet: says so
    reports.build_html_report(built)
    assert str(built.reports / reports.HTML_NAME) in reports.headline_text(built)


def test_report_tables_have_stable_schemas_and_open_in_duckdb(built: Home) -> None:
    publish_warehouse(built)
    con = duckdb.connect(str(built.warehouse), read_only=True)
    try:
        for name in reports.REPORT_TABLES:
            got = read(built, name).to_arrow().schema
            assert got.names == reports.REPORT_SCHEMAS[name].names
            n = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            assert n == read(built, name).height > 0
        rate = con.execute("SELECT rerun_rate FROM report_rerun_rate WHERE grouping = 'overall'").fetchone()[
            0
        ]
        assert rate == pytest.approx(4 / 6)
    finally:
        con.close()


def test_stale_report_is_recomputed_when_inputs_are_newer(built: Home) -> None:
    from report_fixture import APPS, write_applications

    before = reports.load_report(built, "report_effective_outcomes")
    # B0 is now approved: the written report is older than applications, so it is computed afresh.
    write_applications(built, [(*a[:4], "Approved", *a[5:]) if a[0] == "B0" else a for a in APPS])
    after = reports.load_report(built, "report_effective_outcomes")
    naive = lambda df: rows(df, ["approvals", "denials"], grouping="overall", basis="naive")  # noqa: E731
    assert (naive(before), naive(after)) == ([(5, 4)], [(6, 3)])


def test_unknown_report_name_is_one_line_error(home: Home) -> None:
    with pytest.raises(LineageError, match="no report named"):
        reports.build_report(home, "report_nope")
