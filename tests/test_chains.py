"""Every rerun-lineage rule of CONTRACT §3, sqllogictest-style: a tiny table in, exact rows out.

Inputs are written as real Parquet through lineage.warehouse.write_arrow; lineage.chains runs the real
sql/*.sql in DuckDB and writes real Parquet, which is what these tests read back.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.chains import build_chain_summary, build_chains, build_rerun_chains, build_rerun_edges
from lineage.contract import APPLICATION_RERUNS, APPLICATIONS, EVENTS
from lineage.warehouse import Home, write_arrow

T0 = datetime(2024, 4, 1, tzinfo=UTC)


def at(minute: int | None) -> datetime | None:
    return None if minute is None else T0 + timedelta(minutes=minute)


def app(token, minute, prev=None, root=None, *, rerun=None, status="completed", outcome=None, by=None,
        journey="J-1"):
    return {
        "journey_application_token": token, "journey_token": journey, "created_at": at(minute),
        "status": status, "complete_outcome": outcome, "rerun_previous_token": prev, "rerun_root_token": root,
        "rerun_initiated_by": by,
        "is_rerun": (prev is not None or root is not None) if rerun is None else rerun,
    }


def link(parent, child, minute=None, by=None):
    """An `_embedded.reruns[]` entry of `parent`'s winning snapshot."""
    return {"journey_application_token": parent, "next_journey_application_token": child,
            "initiated_by": by, "created_at": at(minute)}


def started(carrier, child, minute):
    """A started_rerun_application event on `carrier` naming `child`."""
    return {"journey_application_token": carrier, "type": "started_rerun_application",
            "timestamp": at(minute), "rerun_journey_application_token": child, "source": "snapshot"}


def load(home: Home, apps, reruns=(), events=()) -> dict[str, int]:
    write_arrow(home, "applications", pa.Table.from_pylist(list(apps), schema=APPLICATIONS))
    write_arrow(home, "application_reruns", pa.Table.from_pylist(list(reruns), schema=APPLICATION_RERUNS))
    write_arrow(home, "events", pa.Table.from_pylist(list(events), schema=EVENTS))
    return build_chains(home)


def table(home: Home, name: str) -> pl.DataFrame:
    return pl.read_parquet(home.table_path(name))


def edges(home: Home) -> dict[str, tuple]:
    """child -> (parent, evidence, initiated_by, child_created_at)."""
    return {r[1]: (r[0], r[2], r[3], r[4]) for r in table(home, "rerun_edges").iter_rows()}


CHAIN_COLS = ["previous_token", "root_token", "depth", "attempt", "chain_size", "is_root", "is_latest",
              "lineage_status"]


def chains(home: Home) -> dict[str, tuple]:
    """token -> (previous, root, depth, attempt, chain_size, is_root, is_latest, lineage_status)."""
    df = table(home, "rerun_chains")
    return {r[0]: tuple(r[1:]) for r in df.select(["journey_application_token", *CHAIN_COLS]).iter_rows()}


def summary(home: Home) -> dict[str, dict]:
    return {r["root_token"]: r for r in table(home, "chain_summary").iter_rows(named=True)}


# ---- rerun_edges: each evidence source alone, then precedence ------------------------------------------


def test_edge_from_child_link_alone(home):
    load(home, [app("R", 0), app("A", 1, "R", "R", by="api")])
    assert edges(home) == {"A": ("R", ["child_link"], "api", at(1))}


def test_edge_from_parent_link_alone(home):
    load(home, [app("R", 0), app("A", 1, rerun=True)], reruns=[link("R", "A", 1, "dashboard")])
    assert edges(home) == {"A": ("R", ["parent_link"], "dashboard", at(1))}


def test_edge_from_events_alone_takes_the_carrier_created_last(home):
    # C's event sits on its previous (A) and on the root (R): the previous is the one created last.
    apps = [app("R", 0), app("A", 1, "R", "R"), app("C", 2, rerun=True)]
    load(home, apps, events=[started("R", "C", 2), started("A", "C", 2)])
    assert edges(home)["C"] == ("A", ["event"], None, at(2))


def test_events_and_links_of_applications_outside_the_export_are_not_evidence(home):
    apps = [app("A", 1, rerun=True), app("C", 2, rerun=True)]
    load(home, apps, reruns=[link("GONE", "A", 1)], events=[started("GONE", "C", 2)])
    assert edges(home) == {}


def test_child_link_wins_over_parent_link_and_event(home):
    apps = [app("X", 0), app("Y", 1), app("Z", 2), app("C", 3, "X", by="api")]
    load(home, apps, reruns=[link("Y", "C", 3, "dashboard")], events=[started("Z", "C", 3)])
    assert edges(home)["C"] == ("X", ["child_link"], "api", at(3))


def test_parent_link_wins_over_event(home):
    apps = [app("Y", 1), app("Z", 2), app("C", 3, rerun=True)]
    load(home, apps, reruns=[link("Y", "C", 3, "dashboard")], events=[started("Z", "C", 3)])
    assert edges(home)["C"] == ("Y", ["parent_link"], "dashboard", at(3))


def test_evidence_lists_every_source_that_agrees(home):
    apps = [app("R", 0), app("A", 1, "R", "R", by="api")]
    load(home, apps, reruns=[link("R", "A", 1, "dashboard")], events=[started("R", "A", 1)])
    assert edges(home) == {"A": ("R", ["child_link", "parent_link", "event"], "api", at(1))}


def test_event_is_evidence_only_where_the_event_rule_alone_picks_that_parent(home):
    # C's events sit on R and A (both carriers): the event rule alone picks A, created last.
    apps = [app("R", 0), app("A", 1, "R", "R"), app("C", 2, "A", "R")]
    load(home, apps, events=[started("R", "C", 2), started("A", "C", 2)])
    assert edges(home)["C"] == ("A", ["child_link", "event"], None, at(2))
    # Only the root carries D's event (A's copy lost): the event rule alone would say R, not D's parent A.
    load(home, [*apps, app("D", 3, "A", "R")], events=[started("R", "D", 3)])
    assert edges(home)["D"] == ("A", ["child_link"], None, at(3))


def test_child_created_at_of_a_child_outside_the_export_falls_back_to_the_event_time(home):
    load(home, [app("R", 0)], events=[started("R", "GONE", 7)])
    assert edges(home) == {"GONE": ("R", ["event"], None, at(7))}


def test_initiated_by_falls_back_to_the_parents_reruns_entry(home):
    apps = [app("R", 0), app("A", 1, "R", "R")]
    load(home, apps, reruns=[link("R", "A", 1, "dashboard")])
    assert edges(home)["A"] == ("R", ["child_link", "parent_link"], "dashboard", at(1))


def test_two_parents_listing_one_child_pick_the_one_created_last(home):
    apps = [app("P1", 0), app("P2", 5), app("C", 6, rerun=True)]
    load(home, apps, reruns=[link("P2", "C", 6), link("P1", "C", 6)])
    assert edges(home)["C"] == ("P2", ["parent_link"], None, at(6))


def test_child_outside_the_export_still_gets_its_edge(home):
    load(home, [app("R", 0)], reruns=[link("R", "GONE", 4, "api")])
    assert edges(home) == {"GONE": ("R", ["parent_link"], "api", at(4))}
    assert set(chains(home)) == {"R"}  # rerun_chains: applications only


# ---- rerun_chains ----------------------------------------------------------------------------------------


def test_chain_with_siblings(home):
    apps = [app("R", 0), app("A", 1, "R", "R"), app("B", 2, "A", "R"), app("C", 3, "R", "R")]
    assert load(home, apps)["rerun_chains"] == 4
    assert chains(home) == {
        "R": (None, "R", 0, 1, 4, True, False, "complete"),
        "A": ("R", "R", 1, 2, 4, False, False, "complete"),
        "B": ("A", "R", 2, 3, 4, False, False, "complete"),
        "C": ("R", "R", 1, 4, 4, False, True, "complete"),
    }


def test_ties_in_created_at_are_ordered_by_token(home):
    load(home, [app("R", 0), app("B", 1, "R", "R"), app("A", 1, "R", "R")])
    got = chains(home)
    assert (got["A"][3], got["B"][3]) == (2, 3)
    assert (got["A"][6], got["B"][6]) == (False, True)


def test_an_application_without_created_at_is_attempted_last(home):
    load(home, [app("R", 0), app("A", None, "R", "R"), app("B", 9, "R", "R")])
    got = chains(home)
    assert [got[t][3:7] for t in ("R", "B", "A")] == [
        (1, 3, True, False), (2, 3, False, False), (3, 3, False, True)
    ]


def test_a_lone_application_is_its_own_complete_chain(home):
    load(home, [app("R", 0)])
    assert chains(home) == {"R": (None, "R", 0, 1, 1, True, True, "complete")}


def test_unlinked_rerun_is_its_own_root(home):
    load(home, [app("L", 0, rerun=True), app("M", 1, "L", "L")])
    assert chains(home) == {
        "L": (None, "L", 0, 1, 2, True, False, "unlinked_rerun"),
        "M": ("L", "L", 1, 2, 2, False, True, "complete"),
    }


def test_root_outside_export_keeps_depth(home):
    load(home, [app("X", 5, "M"), app("Y", 6, "X")])
    assert chains(home) == {
        "X": ("M", "M", 1, 1, 2, False, False, "root_outside_export"),
        "Y": ("X", "M", 2, 2, 2, False, True, "root_outside_export"),
    }


def test_reported_root_that_is_the_missing_parent_keeps_depth(home):
    load(home, [app("X", 5, "M", "M"), app("Y", 6, "X", "M")])
    got = chains(home)
    assert [got[t][1:3] for t in ("X", "Y")] == [("M", 1), ("M", 2)]
    assert {got[t][7] for t in ("X", "Y")} == {"root_outside_export"}


def test_missing_middle_is_a_broken_chain_under_the_reported_root(home):
    # R -> (A missing) -> B -> C: B and C reach A, which is not the root R they report.
    load(home, [app("R", 0), app("B", 2, "A", "R"), app("C", 3, "B", "R")])
    assert chains(home) == {
        "R": (None, "R", 0, 1, 3, True, False, "complete"),
        "B": ("A", "R", None, 2, 3, False, False, "broken_chain"),
        "C": ("B", "R", None, 3, 3, False, True, "broken_chain"),
    }


def test_root_comes_from_the_last_application_reached_that_reports_one(home):
    # C -> B -> A -> (M missing): A is reached last and reports Z, C's own report (Q) is lower down.
    load(home, [app("A", 1, "M", "Z"), app("B", 2, "A"), app("C", 3, "B", "Q")])
    got = chains(home)
    assert {t: got[t][1:3] for t in got} == {"A": ("Z", None), "B": ("Z", None), "C": ("Z", None)}
    assert {got[t][7] for t in got} == {"broken_chain"}


def test_root_conflict(home):
    load(home, [app("R", 0), app("A", 1, "R", "X"), app("B", 2, "A", "R")])
    got = chains(home)
    assert got["A"] == ("R", "R", 1, 2, 3, False, False, "root_conflict")
    assert got["B"][7] == "complete"


def test_root_conflict_beats_unlinked_rerun(home):
    load(home, [app("L", 0, None, "X", rerun=True)])
    assert chains(home)["L"] == (None, "L", 0, 1, 1, True, True, "root_conflict")


def test_self_loop_is_a_cycle(home):
    load(home, [app("S", 0, "S")])
    assert chains(home) == {"S": ("S", None, None, None, None, False, None, "cycle")}


def test_two_cycle_and_the_chain_hanging_under_it(home):
    apps = [app("U", 0, "V"), app("V", 1, "U"), app("W", 2, "V"), app("W2", 3, "W"), app("OK", 4)]
    load(home, apps)
    got = chains(home)
    cycle = (None, None, None, None, False, None, "cycle")
    assert {t: got[t][1:] for t in ("U", "V", "W", "W2")} == dict.fromkeys(("U", "V", "W", "W2"), cycle)
    assert got["OK"] == (None, "OK", 0, 1, 1, True, True, "complete")
    assert table(home, "chain_summary")["root_token"].to_list() == ["OK"]  # no row for a cycle


def test_deep_chain(home):
    n = 5_000
    apps = [app("T00000", 0)] + [app(f"T{i:05d}", i, f"T{i - 1:05d}", "T00000") for i in range(1, n)]
    load(home, apps)
    df = table(home, "rerun_chains").sort("journey_application_token")
    assert df["depth"].to_list() == list(range(n))
    assert df["attempt"].to_list() == list(range(1, n + 1))
    assert set(df["root_token"]) == {"T00000"} and set(df["chain_size"]) == {n}
    assert df["is_latest"].to_list() == [False] * (n - 1) + [True]
    assert set(df["lineage_status"]) == {"complete"}


def test_deep_chain_under_a_missing_root_and_a_long_cycle(home):
    n = 3_000
    apps = [app(f"D{i:05d}", i, f"D{i - 1:05d}") for i in range(1, n)]  # D00000 is missing: the root
    apps += [app(f"C{i:05d}", i, f"C{(i - 1) % n:05d}") for i in range(n)]  # a ring of n
    load(home, apps)
    df = table(home, "rerun_chains")
    d = df.filter(pl.col("journey_application_token").str.starts_with("D")).sort("journey_application_token")
    assert d["depth"].to_list() == list(range(1, n)) and set(d["root_token"]) == {"D00000"}
    assert set(d["lineage_status"]) == {"root_outside_export"}
    c = df.filter(pl.col("journey_application_token").str.starts_with("C"))
    assert c.height == n and set(c["lineage_status"]) == {"cycle"} and c["root_token"].null_count() == n


def test_the_three_builders_run_one_by_one(home):
    apps = pa.Table.from_pylist([app("R", 0), app("A", 1, "R")], schema=APPLICATIONS)
    write_arrow(home, "applications", apps)
    # no application_reruns or events tables yet: read as empty
    assert build_rerun_edges(home) == 1
    assert build_rerun_chains(home) == 2
    assert build_chain_summary(home) == 1


# ---- chain_summary ---------------------------------------------------------------------------------------


def test_summary_of_a_recovered_chain(home):
    apps = [app("R", 0, status="error", journey="J-7"), app("A", 1, "R", "R", status="error"),
            app("B", 5, "A", "R", outcome="Approved"), app("C", 3, "R", "R", outcome="Denied")]
    load(home, apps)
    assert summary(home) == {"R": {
        "root_token": "R", "root_in_export": True, "journey_token": "J-7", "root_created_at": at(0),
        "root_status": "error", "root_outcome": None, "chain_size": 4, "rerun_count": 3, "max_depth": 2,
        "latest_token": "B", "final_status": "completed", "final_outcome": "Approved",
        "first_rerun_at": at(1), "last_rerun_at": at(5), "recovered": True, "outcome_changed": True,
    }}


@pytest.mark.parametrize(
    ("root", "final", "recovered", "changed"),
    [
        (("error", None), ("error", None), False, False),
        (("completed", "approved"), ("completed", "Approved"), False, False),  # case-insensitive
        (("completed", "Denied"), ("completed", "Approved"), False, True),
        (("ERROR", None), ("Completed", "Approved"), True, True),
    ],
)
def test_summary_recovered_and_outcome_changed(home, root, final, recovered, changed):
    load(home, [app("R", 0, status=root[0], outcome=root[1]),
                app("A", 1, "R", status=final[0], outcome=final[1])])
    got = summary(home)["R"]
    assert (got["recovered"], got["outcome_changed"]) == (recovered, changed)


def test_summary_of_a_chain_whose_root_is_outside_the_export(home):
    load(home, [app("X", 5, "M", status="error", journey="J-2"), app("Y", 6, "X", journey="J-3")])
    assert summary(home) == {"M": {
        "root_token": "M", "root_in_export": False, "journey_token": "J-3", "root_created_at": None,
        "root_status": None, "root_outcome": None, "chain_size": 2, "rerun_count": 2, "max_depth": 2,
        "latest_token": "Y", "final_status": "completed", "final_outcome": None,
        "first_rerun_at": at(5), "last_rerun_at": at(6), "recovered": False, "outcome_changed": None,
    }}


def test_summary_of_a_lone_root_and_a_broken_chain(home):
    load(home, [app("R", 0), app("B", 2, "A", "R")])
    got = summary(home)["R"]
    assert (got["chain_size"], got["rerun_count"], got["max_depth"], got["latest_token"]) == (2, 1, 0, "B")
    assert (got["first_rerun_at"], got["last_rerun_at"]) == (at(2), at(2))


# ---- property: random small graphs against a plain reading of the contract --------------------------


def reference_chains(apps: list[dict]) -> dict[str, tuple]:
    """CONTRACT §3 rerun_chains, walked one hop at a time in Python (only for tiny inputs)."""
    by = {a["journey_application_token"]: a for a in apps}
    walked = {}
    for tok in by:
        path, cur = [tok], tok
        while True:
            prev = by[cur]["rerun_previous_token"]
            if prev is None:
                walked[tok] = (cur, len(path) - 1, False, False)
                break
            if prev not in by:
                reports = [by[t]["rerun_root_token"] for t in path if by[t]["rerun_root_token"] is not None]
                root = reports[-1] if reports else prev
                walked[tok] = (root, len(path) if root == prev else None, True, False)
                break
            if prev in path:
                walked[tok] = (None, None, False, True)
                break
            path.append(prev)
            cur = prev
    members: dict[str, list] = defaultdict(list)
    for tok, (root, *_rest) in walked.items():
        if root is not None:
            members[root].append((by[tok]["created_at"], tok))
    out = {}
    for tok, (root, depth, missing, cycle) in walked.items():
        a = by[tok]
        if cycle:
            status = "cycle"
        elif depth is None:
            status = "broken_chain"
        elif a["rerun_root_token"] is not None and a["rerun_root_token"] != root:
            status = "root_conflict"
        elif missing:
            status = "root_outside_export"
        elif a["is_rerun"] and a["rerun_previous_token"] is None:
            status = "unlinked_rerun"
        else:
            status = "complete"
        order = sorted(members[root]) if root is not None else []
        attempt = order.index((a["created_at"], tok)) + 1 if root is not None else None
        size = len(order) if root is not None else None
        out[tok] = (a["rerun_previous_token"], root, depth, attempt, size, tok == root,
                    None if root is None else attempt == size, status)
    return out


TOKENS = [f"T{i}" for i in range(10)]
graphs = st.lists(
    st.tuples(
        st.sampled_from([None, None, *TOKENS, "M1", "M2"]),  # previous
        st.sampled_from([None, None, None, *TOKENS[:3], "M1", "M2"]),  # reported root
        st.booleans(),  # is_rerun
        st.integers(0, 4),  # created minute: ties on purpose
    ),
    min_size=1, max_size=len(TOKENS),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs)
def test_random_graphs_match_the_contract(tmp_path_factory, spec):
    home = Home(tmp_path_factory.mktemp("prop") / "home").ensure()
    apps = [app(TOKENS[i], m, prev, root, rerun=rerun) for i, (prev, root, rerun, m) in enumerate(spec)]
    load(home, apps)
    assert chains(home) == reference_chains(apps)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 10),
    st.sampled_from([None, "M1", "T9", "T3"]),  # the top's previous: root, missing, a cycle (when present)
    st.lists(st.sampled_from([None, None, "M1", "T0", "M2"]), min_size=10, max_size=10),
)
def test_long_chains_through_the_recursive_walk_match_the_contract(tmp_path_factory, length, top, reports):
    home = Home(tmp_path_factory.mktemp("prop") / "home").ensure()
    apps = [app("T0", 0, top, reports[0])]
    apps += [app(TOKENS[i], i, TOKENS[i - 1], reports[i]) for i in range(1, length)]
    load(home, apps)
    assert chains(home) == reference_chains(apps)
