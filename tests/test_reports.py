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
    # E (shadow root) and G (sandbox root) are out, and so is F (its root is not in the export): roots A, B,
    # C, D, H; rerun: A, C, H.
    assert rows(df, cols, grouping="overall") == [(5, 3, 0.6)]
    by_journey = {r[0]: r[1:] for r in rows(df, ["journey_token", "journey_name", *cols], grouping="journey")}
    assert by_journey == {
        J1: (NAMES[J1], 3, 2, pytest.approx(2 / 3)),
        J2: (NAMES[J2], 1, 0, 0.0),
        J3: (NAMES[J3], 1, 1, 1.0),
    }
    by_month = {r[0]: r[1:] for r in rows(df, ["month", *cols], grouping="month")}
    assert by_month == {
        month(2024, 1): (3, 1, pytest.approx(1 / 3)),  # A0, B0, D0
        month(2024, 2): (1, 1, 1.0),  # C0
        month(2024, 3): (1, 1, 1.0),  # H0
    }
    jm = sorted(rows(df, ["journey_token", "month", "roots", "roots_with_rerun"], grouping="journey_month"))
    assert jm == sorted(
        [
            (J1, month(2024, 1), 2, 1),
            (J1, month(2024, 2), 1, 1),
            (J2, month(2024, 1), 1, 0),
            (J3, month(2024, 3), 1, 1),
        ]
    )


def test_reruns_by_initiator(built: Home) -> None:
    df = read(built, "report_reruns_by_initiator")
    overall = dict(rows(df, ["initiated_by", "reruns"], grouping="overall"))
    # C1's "Dashboard" comes from the application (its edge has none) and is compared lower-cased; the
    # cycle's X1 and X2 are reruns too (each has a previous), initiator unknown.
    assert overall == {"api": 4, "dashboard": 2, "unknown": 3}
    shares = {(r[0], r[1]): r[2] for r in rows(df, ["month", "initiated_by", "share"], grouping="month")}
    third = pytest.approx(1 / 3)
    assert shares == {
        (month(2024, 1), "api"): third,
        (month(2024, 1), "dashboard"): third,
        (month(2024, 1), "unknown"): third,
        (month(2024, 2), "api"): pytest.approx(2 / 3),
        (month(2024, 2), "dashboard"): third,
        (month(2024, 3), "api"): 1.0,
        (month(2024, 4), "unknown"): 1.0,
    }


def test_outcome_transitions_compare_outcomes_case_insensitively(built: Home) -> None:
    df = read(built, "report_outcome_transitions")
    got = {r[:6]: r[6:] for r in df.rows()}
    eighth, sixth = pytest.approx(1 / 8), pytest.approx(1 / 6)
    # Every chain counts: the 6 rerun ones and B, D never rerun (share_in_group: of the same was_rerun).
    # C (denied -> APPROVED) and H (DENIED -> approved) are one transition, spelled as most often: "Denied"
    # (B's root and final) and "Approved" (A's and E's final, G's root).
    assert got == {
        (True, True, "completed", "Denied", "completed", "Approved"): (2, 0.25, pytest.approx(2 / 6)),
        (True, True, "error", None, "completed", "Approved"): (1, eighth, sixth),
        (True, True, "completed", "Manual Review", "completed", "Approved"): (1, eighth, sixth),
        (True, False, None, None, "completed", "Declined"): (1, eighth, sixth),
        (True, True, "completed", "Approved", "running", None): (1, eighth, sixth),
        (False, True, "completed", "Denied", "completed", "Denied"): (1, eighth, 0.5),
        (False, True, "error", None, "error", None): (1, eighth, 0.5),
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
    # 9 reruns (the cycle's X1, X2 too). Delays 30, 600, 3600, 7200, 86400 (C1), 86400 (X2 after X1),
    # 172800 s; F1's previous is not in the export and X1 is dated before its previous X2: not measured.
    # Linear interpolation at p*(n-1) = p*6: p50 = 7200, p90 = 86400 + .4*86400, p99 = 86400 + .94*86400.
    assert rows(df, cols, grouping="overall") == [
        (9, 7, 7200.0, pytest.approx(120960.0), pytest.approx(167616.0), 172800.0)
    ]
    # J1: A1, A2, C1 and the cycle's X1, X2 (their own journey): 3600, 7200, 86400, 86400 measured;
    # p50 at 1.5 = 7200 + .5*79200, p90 at 2.7 and p99 at 2.97 between 86400 and 86400.
    assert rows(df, cols, grouping="journey", journey_token=J1) == [
        (5, 4, 46800.0, pytest.approx(86400.0), pytest.approx(86400.0), 86400.0)
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
    depths = rows(df, ["value", "label", "chains"], measure="max_depth")
    assert depths == [(0, "0", 2), (1, "1", 5), (2, "2", 1)]


def test_effective_beside_naive_outcomes(built: Home) -> None:
    df = read(built, "report_effective_outcomes")
    cols = ["total", "approvals", "denials", "other_outcomes", "no_outcome"]
    # Naive: all 16 applications (the cycle's X1, X2 "Approved" too); effective: 8 final outcomes.
    assert rows(df, cols, grouping="overall", basis="naive") == [(16, 7, 4, 1, 4)]
    assert rows(df, cols, grouping="overall", basis="effective") == [(8, 4, 2, 0, 2)]
    assert rows(df, ["approval_rate", "denial_rate"], grouping="overall", basis="effective") == [(0.5, 0.25)]
    assert rows(df, ["approval_rate"], grouping="overall", basis="naive") == [(pytest.approx(7 / 16),)]
    per = {(r[0], r[1]): r[2:] for r in rows(df, ["basis", "journey_token", *cols], grouping="journey")}
    assert per == {
        ("naive", J1): (8, 4, 2, 0, 2),
        ("effective", J1): (3, 2, 1, 0, 0),
        ("naive", J2): (4, 1, 1, 1, 1),
        ("effective", J2): (3, 1, 1, 0, 1),
        ("naive", J3): (4, 2, 1, 0, 1),
        ("effective", J3): (2, 1, 0, 0, 1),
    }


def test_data_quality(built: Home) -> None:
    df = read(built, "report_data_quality")
    assert rows(df, ["item", "count", "example"], section="rejects_by_error") == [
        ("invalid JSON", 2, "invalid JSON"),
        ("created_at is not an integer", 1, "created_at is not an integer"),
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
    # F (root outside the export) and the X1 <-> X2 cycle group: 2 of 8 chains + 1 cycle group.
    assert rows(df, ["item", "count", "share"], section="chains") == [
        ("chains", 8, None),
        ("chains_with_lineage_problems", 2, pytest.approx(2 / 9)),
        ("rooted_chains_with_lineage_problems", 1, 1 / 8),
        ("cycle_groups", 1, None),
        ("applications_in_cycles", 2, 2 / 16),
        ("chains_with_root_outside_export", 1, 1 / 8),
        ("reruns", 9, None),
        ("reruns_not_in_export", 0, 0.0),
    ]


def test_headline(built: Home) -> None:
    h = reports.headline(built)
    assert (h["applications"], h["chains"], h["reruns"], h["rejects"], h["events"]) == (16, 8, 9, 3, 4)
    assert h["rerun_rate"] == 0.6
    assert h["recovery_rate_errored_roots"] == 0.5
    assert (h["effective_approval_rate"], h["naive_approval_rate"]) == (0.5, pytest.approx(7 / 16))
    assert (h["chains_with_lineage_problems"], h["cycle_groups"], h["applications_in_cycles"]) == (2, 1, 2)
    assert h["time_to_rerun_p50_seconds"] == 7200.0
    text = reports.headline_text(built)
    assert "60.0% of 5 roots" in text and "50.0% one vote per chain" in text
    assert "2 (1 with a root, 1 cycle group: 2 applications in or under cycles)" in text
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
        assert rate == pytest.approx(3 / 5)
    finally:
        con.close()


def test_stale_report_is_recomputed_when_inputs_are_newer(built: Home) -> None:
    from report_fixture import APPS, write_applications

    before = reports.load_report(built, "report_effective_outcomes")
    # B0 is now approved: the written report is older than applications, so it is computed afresh.
    write_applications(built, [(*a[:4], "Approved", *a[5:]) if a[0] == "B0" else a for a in APPS])
    after = reports.load_report(built, "report_effective_outcomes")
    naive = lambda df: rows(df, ["approvals", "denials"], grouping="overall", basis="naive")  # noqa: E731
    assert (naive(before), naive(after)) == ([(7, 4)], [(8, 3)])


def test_unknown_report_name_is_one_line_error(home: Home) -> None:
    with pytest.raises(LineageError, match="no report named"):
        reports.build_report(home, "report_nope")
