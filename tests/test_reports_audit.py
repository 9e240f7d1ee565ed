"""The report audit's findings, one small home each, built from rows through the real lineage SQL and the
real report builders (report_fixture.build_home). Every expected figure is worked out by hand in the test.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from report_fixture import J1, J2, app, build_home, link, started

from lineage import report_outcomes, reports
from lineage.errors import LineageError
from lineage.warehouse import Home


def read(home: Home, name: str) -> pl.DataFrame:
    return pl.read_parquet(home.table_path(name))


def quality(home: Home, section: str) -> dict[str, tuple]:
    df = read(home, "report_data_quality").filter(pl.col("section") == section)
    return {r[0]: r[1:] for r in df.select("item", "count", "share", "example").rows()}


def overall(home: Home, name: str, cols: list[str]) -> tuple:
    return read(home, name).filter(pl.col("grouping") == "overall").select(cols).row(0)


# ---- 1. cycles are lineage problems -----------------------------------------------------------------------


def test_cycle_groups_count_as_chains_with_lineage_problems(home: Home) -> None:
    apps = [
        app("R", 0),
        app("A", 1, "R", "R"),  # R -> A: one complete chain
        app("X", 2, "Y"),
        app("Y", 3, "X"),  # X <-> Y: a cycle ...
        app("Z", 4, "X"),  # ... and Z under it: one group of 3
        app("S", 5, "S"),  # a self-loop: a second group
    ]
    build_home(home, apps)
    chains = quality(home, "chains")
    # 1 chain with a root, none with a problem; 2 cycle groups; 4 applications in or under cycles.
    assert chains["chains"][:2] == (1, None)
    assert chains["rooted_chains_with_lineage_problems"][:2] == (0, 0.0)
    assert chains["cycle_groups"][:2] == (2, None)
    assert chains["chains_with_lineage_problems"][:2] == (2, pytest.approx(2 / 3))  # of 1 chain + 2 groups
    assert chains["applications_in_cycles"][:2] == (4, pytest.approx(4 / 6))
    h = reports.headline(home)
    assert (h["chains_with_lineage_problems"], h["cycle_groups"], h["applications_in_cycles"]) == (2, 2, 4)
    text = reports.headline_text(home)
    assert "chains with lineage problems 2 (0 with a root, 2 cycle groups: 4 applications" in text
    page = (home.reports / reports.HTML_NAME).read_text(encoding="utf-8")
    cards = page[page.index("<h2>Headline") : page.index("<h2>Charts")]
    assert ">2</div><div class=\"k\">chains with lineage problems" in cards
    assert "0 with a root + 2 cycle groups (4 applications)" in cards


# ---- 2. undefined figures stay undefined ----------------------------------------------------------------


def test_undefined_rates_are_none_and_print_as_a_dash(home: Home) -> None:
    # One completed root, never rerun: no errored roots (no recovery rate), no rerun (no time to rerun).
    build_home(home, [app("R", 0, outcome="Approved")])
    h = reports.headline(home)
    assert (h["roots"], h["rerun_rate"], h["errored_roots"]) == (1, 0.0, 0)
    assert h["recovery_rate_errored_roots"] is None
    assert h["time_to_rerun_p50_seconds"] is None and h["time_to_rerun_p90_seconds"] is None
    assert set(h) == set(reports.headline(Home(home.root / "elsewhere")))  # the keys never change
    text = reports.headline_text(home)
    assert "errored roots recovered      — of 0" in text
    assert "time to rerun                p50 —, p90 —" in text
    assert "0.0% of 0" not in text and "0 s" not in text
    page = (home.reports / reports.HTML_NAME).read_text(encoding="utf-8")
    cards = page[page.index("<h2>Headline") : page.index("<h2>Charts")]
    assert '—</div><div class="k">errored roots recovered' in cards
    assert '—</div><div class="k">median time to rerun' in cards


# ---- 3. a broken chain has an unknown depth --------------------------------------------------------------


def test_broken_chain_has_unknown_max_depth(home: Home) -> None:
    apps = [
        app("R", 0),
        app("C", 1, "R", "R"),  # depth 1
        app("B", 2, "GONE", "R"),  # its previous is missing: depth unknown, chain R is broken
        app("S", 3),
        app("T", 4, "S", "S"),  # a complete chain of depth 1
    ]
    build_home(home, apps)
    summary = read(home, "chain_summary").filter(pl.col("root_token") == "R")
    assert summary["max_depth"].to_list() == [1]  # SQL max skips the NULL; the report must not
    df = read(home, "report_depth_distribution")
    depths = df.filter(pl.col("measure") == "max_depth").select("value", "label", "chains", "share").rows()
    assert depths == [(1, "1", 1, 0.5), (None, "unknown", 1, 0.5)]
    sizes = df.filter(pl.col("measure") == "chain_size").select("value", "chains").rows()
    assert sizes == [(2, 1), (3, 1)]


# ---- 4. outcome classes: word-based, negation-aware, configurable -------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Approved", "approval"),
        ("approve", "approval"),
        ("Accepted", "approval"),
        ("Passed", "approval"),
        ("Auto-approved", "approval"),
        ("Undeniably approved", "approval"),
        ("Deny", "denial"),
        ("Denied", "denial"),
        ("Declined", "denial"),
        ("decline", "denial"),
        ("REJECTED", "denial"),
        ("Failed", "denial"),
        ("Not-Approved", "denial"),
        ("Not approved", "denial"),
        ("Non-approved", "denial"),
        ("Pending Approval", "other"),
        ("Awaiting approval", "other"),
        ("Reapproval required", "other"),
        ("Manual Review", "other"),
        ("Refer", "other"),
    ],
)
def test_outcome_names_are_classified_by_words(name: str, expected: str) -> None:
    assert report_outcomes.classify(name)[0] == expected


def test_outcome_classes_can_be_configured_and_are_shown(home: Home) -> None:
    (home.root / "outcomes.toml").write_text('approval = ["Cleared"]\ndenial = ["manual review"]\n')
    apps = [
        app("R1", 0, outcome="Cleared"),
        app("R2", 1, outcome="Manual Review"),
        app("R3", 2, outcome="Manual review"),
        app("R4", 3, outcome="Pending Approval"),
        app("R5", 4, outcome="Not-Approved"),
    ]
    build_home(home, apps)
    classes = read(home, "report_outcome_classes")
    cols = ["outcome", "outcome_class", "decided_by", "applications"]
    got = {r[0]: r[1:] for r in classes.select(cols).rows()}
    assert got == {
        "Cleared": ("approval", "outcomes.toml", 1),
        "Manual Review": ("denial", "outcomes.toml", 1),
        "Manual review": ("denial", "outcomes.toml", 1),
        "Pending Approval": ("other", "undecided word 'pending'", 1),
        "Not-Approved": ("denial", "negated 'approved'", 1),
    }
    # 5 one-application chains: 1 approval (Cleared), 3 denials (the Manual Reviews, Not-Approved), 1 other.
    cols = ["total", "approvals", "denials", "other_outcomes", "no_outcome"]
    eff = read(home, "report_effective_outcomes").filter(pl.col("grouping") == "overall")
    assert eff.select("basis", *cols).rows() == [("naive", 5, 1, 3, 1, 0), ("effective", 5, 1, 3, 1, 0)]


def test_a_broken_outcomes_file_is_a_one_line_error(home: Home) -> None:
    (home.root / "outcomes.toml").write_text('approval = ["Cleared"]\nmaybe = ["Hmm"]\n')
    with pytest.raises(LineageError, match="unknown class 'maybe'"):
        report_outcomes.configured_classes(home)
    (home.root / "outcomes.toml").write_text('approval = ["X"]\ndenial = ["x"]\n')
    with pytest.raises(LineageError, match="both approval and denial"):
        report_outcomes.configured_classes(home)


# ---- 5. reruns whose new application is missing ---------------------------------------------------------


def test_reruns_missing_from_the_export_count(home: Home) -> None:
    apps = [app("R", 0), app("Q", 1), app("P", 2)]
    # R lists a rerun GONE1 in its reruns[]; Q carries a started_rerun_application naming GONE2; P none.
    build_home(home, apps, reruns=[link("R", "GONE1", 10, "dashboard")], events=[started("Q", "GONE2", 11)])
    assert overall(home, "report_rerun_rate", ["roots", "roots_with_rerun", "rerun_rate"]) == (
        3,
        2,
        pytest.approx(2 / 3),
    )
    by = read(home, "report_reruns_by_initiator").filter(pl.col("grouping") == "overall")
    assert by.select("initiated_by", "reruns", "share", "reruns_not_in_export").rows() == [
        ("dashboard", 1, 0.5, 1),
        ("unknown", 1, 0.5, 1),
    ]
    assert quality(home, "chains")["reruns_not_in_export"][:2] == (2, 1.0)
    assert reports.headline(home)["reruns"] == 2


# ---- 6. roots outside the export ------------------------------------------------------------------------


def test_roots_outside_the_export_are_left_out_of_the_rerun_rate(home: Home) -> None:
    # F1 is a rerun of F0, which is not in the export; R is a root never rerun (June 2024).
    build_home(home, [app("R", 0), app("F1", 60 * 24 * 40, "F0", "F0")])
    assert overall(home, "report_rerun_rate", ["roots", "roots_with_rerun", "rerun_rate"]) == (1, 0, 0.0)
    months = read(home, "report_rerun_rate").filter(pl.col("grouping") == "month")
    assert months.select("month", "roots").rows() == [(dt.date(2024, 6, 1), 1)]  # R's month only
    assert quality(home, "chains")["chains_with_root_outside_export"][:2] == (1, 0.5)


# ---- 7. shadow and sandbox reruns -----------------------------------------------------------------------


def test_only_production_reruns_make_a_root_rerun(home: Home) -> None:
    apps = [
        app("R", 0),
        app("R1", 1, "R", "R", shadow=True),  # R's only rerun is a shadow: not rerun
        app("P", 2),
        app("P1", 3, "P", "P", sandbox=True),  # P's only rerun is sandbox: not rerun
        app("Q", 4),
        app("Q1", 5, "Q", "Q", shadow=None, sandbox=None),  # NULL flags: production, rerun
        app("T", 6),
        app("T1", 7, "T", "T", shadow=True),
        app("T2", 8, "T1", "T"),  # a production rerun under a shadow one: rerun
        app("S", 9, shadow=True),
        app("S1", 10, "S", "S"),  # a shadow root: not counted at all
    ]
    build_home(home, apps)
    assert overall(home, "report_rerun_rate", ["roots", "roots_with_rerun", "rerun_rate"]) == (4, 2, 0.5)


# ---- 8. every application and every rerun counts ----------------------------------------------------------


def test_cycle_members_count_as_applications_and_reruns(home: Home) -> None:
    apps = [
        app("R", 0, outcome="Approved", journey=J2),
        app("A", 5, "R", "R", outcome="Denied", by="api", journey=J2),
        app("X", 10, "Y", outcome="Approved", by="api"),  # X's previous Y is created after it: not measured
        app("Y", 20, "X", outcome="Approved", by="dashboard"),  # 10 min after X
    ]
    build_home(home, apps)
    eff = read(home, "report_effective_outcomes").filter(pl.col("grouping") == "overall")
    # naive: R, A, X, Y (3 approvals, 1 denial); effective: the one chain R -> A ends Denied.
    assert eff.select("basis", "total", "approvals", "denials").rows() == [
        ("naive", 4, 3, 1),
        ("effective", 1, 0, 1),
    ]
    per_journey = read(home, "report_effective_outcomes").filter(
        (pl.col("grouping") == "journey") & (pl.col("basis") == "naive")
    )
    assert dict(per_journey.select("journey_token", "total").rows()) == {J1: 2, J2: 2}
    by = read(home, "report_reruns_by_initiator").filter(pl.col("grouping") == "overall")
    assert by.select("initiated_by", "reruns").rows() == [("api", 2), ("dashboard", 1)]
    # Reruns A (300 s after R), X (before its previous) and Y (600 s after X): p50 of 300, 600 is 450.
    ttr = ["reruns", "measured_reruns", "p50_seconds", "max_seconds"]
    assert overall(home, "report_time_to_rerun", ttr) == (3, 2, 450.0, 600.0)


# ---- 9. outcome transitions of every chain ------------------------------------------------------------


def test_outcome_transitions_include_chains_never_rerun(home: Home) -> None:
    apps = [
        app("R", 0, outcome="Approved"),
        app("S", 1, outcome="approved"),  # two never-rerun chains: one diagonal cell
        app("E", 2, status="error"),
        app("E1", 3, "E", "E", outcome="Approved"),
    ]
    build_home(home, apps)
    df = read(home, "report_outcome_transitions")
    cols = ["was_rerun", "root_status", "root_outcome", "final_status", "final_outcome"]
    got = {r[:5]: r[5:] for r in df.select(*cols, "chains", "share", "share_in_group").rows()}
    assert got == {
        (False, "completed", "Approved", "completed", "Approved"): (2, pytest.approx(2 / 3), 1.0),
        (True, "error", None, "completed", "Approved"): (1, pytest.approx(1 / 3), 1.0),
    }


# ---- 10. rejects grouped by the kind of error -----------------------------------------------------------


def test_rejects_are_grouped_without_positions(home: Home) -> None:
    errors = [
        "not valid JSON: Expecting ',' delimiter at column 1326",
        "not valid JSON: Expecting ',' delimiter at column 7",
        "not valid JSON: Expecting value at line 26 column 3",
        "not valid UTF-8 text (byte 51)",
        "not valid UTF-8 text (byte 9)",
        "expected ',' or ']' at character 12 of the array",
        "created_at is not an integer",
    ]
    rejects = [
        {"source_file": "a.ndjson", "record_number": i, "error": e, "quarantine_path": f"q/{i}"}
        for i, e in enumerate(errors, start=1)
    ]
    build_home(home, [app("R", 0)], rejects=rejects)
    assert quality(home, "rejects_by_error") == {
        "not valid JSON: Expecting ',' delimiter": (2, pytest.approx(2 / 7), errors[0]),  # "1326" < "7"
        "not valid UTF-8 text": (2, pytest.approx(2 / 7), errors[3]),
        "created_at is not an integer": (1, pytest.approx(1 / 7), errors[6]),
        "expected ',' or ']'": (1, pytest.approx(1 / 7), errors[5]),
        "not valid JSON: Expecting value": (1, pytest.approx(1 / 7), errors[2]),
    }
