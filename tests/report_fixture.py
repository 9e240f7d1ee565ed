"""A tiny hand-made warehouse for the report tests: every answer in tests/test_reports*.py is worked out by
hand from the rows below (written as real Parquet through lineage.warehouse.write_arrow).

Chains (root -> reruns, created_at UTC; `init` = initiated_by):
  J1 "Consumer onboarding"
    A0 2024-01-10 00:00 error            -> A1 +1h error (api) -> A2 +2h more completed "Approved" (dashboard)
    B0 2024-01-20 completed "Denied"     (no rerun)
    C0 2024-02-05 completed "denied"     -> C1 +1d completed "APPROVED" (init only on the app: "Dashboard")
  J2 "Business <KYB> & $co$"  (a name that must be escaped in HTML and not parsed as math in charts)
    D0 2024-01-15 error                  (no rerun)
    E0 2024-02-01 shadow, completed "Manual Review" -> E1 +10min completed "Approved" (api)
    F0 not in export                     -> F1 2024-02-10 completed "Declined" (api on the app only)
  J3 "Small business"
    G0 2024-01-05 sandbox, completed "Approved" -> G1 +30s "running" (no initiated_by)
    H0 2024-03-01 completed "DENIED"     -> H1 +2d completed "approved" (api)
  X1 <-> X2  a cycle (J1), both "Approved": root_token NULL, so no chain; one cycle group (a lineage
             problem), two applications (naive outcomes) and two reruns (by initiator, time to rerun)
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from lineage import contract
from lineage.warehouse import Home, write_arrow

J1, J2, J3 = "J-consumer", "J-business", "J-small"
NAMES = {J1: "Consumer onboarding", J2: "Business <KYB> & $co$", J3: "Small business"}
T0 = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)


def at(day: str, plus: dt.timedelta = dt.timedelta()) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + plus


H, D, M, S = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(minutes=1), dt.timedelta(seconds=1)

# token, journey, created_at, status, outcome, is_rerun, rerun_initiated_by, previous, flags
APPS = [
    ("A0", J1, at("2024-01-10"), "error", None, False, None, None, {}),
    ("A1", J1, at("2024-01-10", 1 * H), "error", None, True, "api", "A0", {}),
    ("A2", J1, at("2024-01-10", 3 * H), "completed", "Approved", True, "dashboard", "A1", {}),
    ("B0", J1, at("2024-01-20"), "completed", "Denied", False, None, None, {}),
    ("C0", J1, at("2024-02-05"), "completed", "denied", False, None, None, {}),
    ("C1", J1, at("2024-02-06"), "completed", "APPROVED", True, "Dashboard", "C0", {}),
    ("D0", J2, at("2024-01-15"), "error", None, False, None, None, {}),
    ("E0", J2, at("2024-02-01"), "completed", "Manual Review", False, None, None, {"is_shadow": True}),
    ("E1", J2, at("2024-02-01", 10 * M), "completed", "Approved", True, "api", "E0", {}),
    ("F1", J2, at("2024-02-10"), "completed", "Declined", True, "api", "F0", {}),
    ("G0", J3, at("2024-01-05"), "completed", "Approved", False, None, None, {"sandbox": True}),
    ("G1", J3, at("2024-01-05", 30 * S), "running", None, True, None, "G0", {}),
    ("H0", J3, at("2024-03-01"), "completed", "DENIED", False, None, None, {}),
    ("H1", J3, at("2024-03-03"), "completed", "approved", True, "api", "H0", {}),
    ("X1", J1, at("2024-04-01"), "completed", "Approved", True, None, "X2", {}),
    ("X2", J1, at("2024-04-02"), "completed", "Approved", True, None, "X1", {}),
]
# edge initiated_by as resolved by lineage (None where only the application carries it)
EDGE_INIT = {
    "A1": "api",
    "A2": "dashboard",
    "C1": None,
    "E1": "api",
    "F1": None,
    "G1": None,
    "H1": "api",
    "X1": None,
    "X2": None,
}
ROOT = {"A": "A0", "B": "B0", "C": "C0", "D": "D0", "E": "E0", "F": "F0", "G": "G0", "H": "H0"}


def tok(t: str) -> str:
    return f"JA-{t}"


def write_applications(home: Home, apps: list[tuple] = APPS) -> None:
    rows = [
        {
            "journey_application_token": tok(t),
            "journey_token": j,
            "journey_name": NAMES[j],
            "status": status,
            "complete_outcome": outcome,
            "created_at": created,
            "updated_at": created,
            "is_rerun": rerun,
            "rerun_initiated_by": init,
            "rerun_previous_token": prev and tok(prev),
            "is_shadow": flags.get("is_shadow", False),
            "sandbox": flags.get("sandbox", False),
            "source_file": "export.ndjson",
        }
        for t, j, created, status, outcome, rerun, init, prev, flags in apps
    ]
    write_arrow(home, "applications", pa.Table.from_pylist(rows, schema=contract.APPLICATIONS))


def _lineage_rows() -> tuple[list[dict], list[dict], list[dict]]:
    by_token = {a[0]: a for a in APPS}
    chains: list[dict] = []
    edges: list[dict] = []
    summary: list[dict] = []
    for letter, root in ROOT.items():
        members = sorted((a for a in APPS if a[0].startswith(letter)), key=lambda a: a[2])
        latest = members[-1]
        root_app = by_token.get(root)
        for attempt, a in enumerate(members, start=1):
            depth = int(a[0][1:])
            status = "root_outside_export" if root_app is None else "complete"
            chains.append(
                {
                    "journey_application_token": tok(a[0]),
                    "previous_token": a[7] and tok(a[7]),
                    "root_token": tok(root),
                    "depth": depth,
                    "attempt": attempt,
                    "chain_size": len(members),
                    "is_root": a[0] == root,
                    "is_latest": a is latest,
                    "lineage_status": status,
                }
            )
            if a[7]:
                edges.append(
                    {
                        "parent_token": tok(a[7]),
                        "child_token": tok(a[0]),
                        "evidence": ["child_link"],
                        "initiated_by": EDGE_INIT[a[0]],
                        "child_created_at": a[2],
                    }
                )
        reruns = [a for a in members if a[0] != root]
        summary.append(
            {
                "root_token": tok(root),
                "root_in_export": root_app is not None,
                # F's root is missing: the summary names no journey, the report takes the latest app's.
                "journey_token": root_app[1] if root_app else None,
                "root_created_at": root_app and root_app[2],
                "root_status": root_app and root_app[3],
                "root_outcome": root_app and root_app[4],
                "chain_size": len(members),
                "rerun_count": len(reruns),
                "max_depth": max(int(a[0][1:]) for a in members),
                "latest_token": tok(latest[0]),
                "final_status": latest[3],
                "final_outcome": latest[4],
                "first_rerun_at": reruns[0][2] if reruns else None,
                "last_rerun_at": reruns[-1][2] if reruns else None,
                "recovered": bool(root_app) and root_app[3] == "error" and latest[3] == "completed",
                "outcome_changed": None,
            }
        )
    for t, prev in (("X1", "X2"), ("X2", "X1")):
        chains.append(
            {
                "journey_application_token": tok(t),
                "previous_token": tok(prev),
                "root_token": None,
                "lineage_status": "cycle",
            }
        )
        edges.append(
            {
                "parent_token": tok(prev),
                "child_token": tok(t),
                "evidence": ["child_link"],
                "initiated_by": None,
                "child_created_at": by_token[t][2],
            }
        )
    return chains, edges, summary


def write_export(home: Home) -> None:
    """Every input table of the reports, as Parquet."""
    write_applications(home)
    chains, edges, summary = _lineage_rows()
    write_arrow(home, "rerun_chains", pa.Table.from_pylist(chains, schema=contract.RERUN_CHAINS))
    write_arrow(home, "rerun_edges", pa.Table.from_pylist(edges, schema=contract.RERUN_EDGES))
    write_arrow(home, "chain_summary", pa.Table.from_pylist(summary, schema=contract.CHAIN_SUMMARY))
    events = [
        {
            "journey_application_token": tok("A0"),
            "type": "started_rerun_application",
            "timestamp": T0,
            "rerun_journey_application_token": tok("A1"),
            "source": "snapshot",
        },
        {"journey_application_token": "JA-ghost", "type": "completed", "timestamp": T0, "source": "webhook"},
        {"journey_application_token": "JA-ghost", "type": "started", "timestamp": T0, "source": "webhook"},
        {
            "journey_application_token": tok("B0"),
            "type": "started_rerun_application",
            "timestamp": T0,
            "rerun_journey_application_token": "JA-missingrerun",
            "source": "snapshot",
        },
    ]
    write_arrow(home, "events", pa.Table.from_pylist(events, schema=contract.EVENTS))
    rejects = [
        {"source_file": "a.ndjson", "record_number": 1, "error": "invalid JSON", "quarantine_path": "q/1"},
        {"source_file": "a.ndjson", "record_number": 2, "error": "invalid JSON", "quarantine_path": "q/2"},
        {
            "source_file": "b.json",
            "record_number": 1,
            "error": "created_at is not an integer",
            "quarantine_path": "q/3",
        },
    ]
    write_arrow(home, "rejects", pa.Table.from_pylist(rejects, schema=contract.REJECTS))


# ---- homes built from rows through the real lineage SQL (lineage.chains.build_chains) and reports --------

B0 = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def app(token, minute, prev=None, root=None, *, status="completed", outcome=None, by=None, journey=J1,
        shadow=False, sandbox=False, rerun=None) -> dict:
    """One `applications` row; `minute` after 2024-06-01 (None: no created_at)."""
    created = None if minute is None else B0 + dt.timedelta(minutes=minute)
    return {
        "journey_application_token": token, "journey_token": journey, "journey_name": NAMES.get(journey),
        "status": status, "complete_outcome": outcome, "created_at": created, "updated_at": created,
        "is_rerun": (prev is not None or root is not None) if rerun is None else rerun,
        "rerun_initiated_by": by, "rerun_previous_token": prev, "rerun_root_token": root,
        "is_shadow": shadow, "sandbox": sandbox, "source_file": "export.ndjson",
    }  # fmt: skip


def link(parent, child, minute, by=None) -> dict:
    """An `_embedded.reruns[]` entry of `parent`'s winning snapshot."""
    return {"journey_application_token": parent, "next_journey_application_token": child,
            "initiated_by": by, "created_at": B0 + dt.timedelta(minutes=minute)}  # fmt: skip


def started(carrier, child, minute) -> dict:
    """A started_rerun_application event on `carrier` naming `child`."""
    return {"journey_application_token": carrier, "type": "started_rerun_application",
            "timestamp": B0 + dt.timedelta(minutes=minute), "rerun_journey_application_token": child,
            "source": "snapshot"}  # fmt: skip


def build_home(home: Home, apps, reruns=(), events=(), rejects=()) -> Home:
    """Write the ingest tables, run the real lineage SQL, then every report (tables, charts, HTML)."""
    from lineage import reports
    from lineage.chains import build_chains

    for name, rows in (("applications", apps), ("application_reruns", reruns), ("events", events),
                       ("rejects", rejects)):  # fmt: skip
        write_arrow(home, name, pa.Table.from_pylist(list(rows), schema=contract.SCHEMAS[name]))
    build_chains(home)
    reports.build_reports(home)
    return home
