"""One chain as a tree, read-only from the Parquet: `chain_of` for notebooks, `format_chain` for the CLI.

Only the rows of the one chain asked for are loaded (DuckDB filters the Parquet), never the whole export.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb
import polars as pl

from lineage.errors import LineageError
from lineage.warehouse import Home, resolve_home, table_sql

MAX_INDENT = 30
TREE_COLUMNS = [
    "level", "journey_application_token", "in_export", "previous_token", "root_token", "created_at", "status",
    "complete_outcome", "initiated_by", "depth", "attempt", "is_root", "is_latest", "lineage_status",
]


def _members(con: duckdb.DuckDBPyConnection, home: Home, token: str) -> tuple[str | None, pl.DataFrame]:
    chains = table_sql(home, "rerun_chains")
    found = con.execute(
        # the application itself first; else a root outside the export that roots a chain; else a
        # missing ancestor some application names as its previous
        f"SELECT root_token, 0 AS pref FROM {chains} WHERE journey_application_token = $t "
        f"UNION ALL SELECT root_token, 1 FROM {chains} WHERE root_token = $t "
        f"UNION ALL SELECT root_token, 2 FROM {chains} WHERE previous_token = $t ORDER BY pref LIMIT 1",
        {"t": token},
    ).fetchall()
    if not found:
        raise LineageError(f"unknown application token {token}")
    root = found[0][0]
    if root is not None:
        where, params = "c.root_token = $t", {"t": root}
    else:  # in or under a cycle: the walk up from the token until it repeats (cycle rows are few)
        con.execute(
            f"CREATE TEMP TABLE cyc AS SELECT journey_application_token AS token, previous_token "
            f"FROM {chains} WHERE lineage_status = 'cycle'"
        )
        con.execute(
            "CREATE TEMP TABLE up AS WITH RECURSIVE w(token) AS (SELECT $t UNION "
            "SELECT cyc.previous_token FROM cyc JOIN w USING (token) WHERE cyc.previous_token IS NOT NULL) "
            "SELECT token FROM w",
            {"t": token},
        )
        where, params = "c.journey_application_token IN (SELECT token FROM up)", {}
    edges = (
        f"(SELECT child_token, initiated_by FROM {table_sql(home, 'rerun_edges')})"
        if home.has_table("rerun_edges")
        else "(SELECT NULL::VARCHAR AS child_token, NULL::VARCHAR AS initiated_by)"
    )
    rows = con.sql(
        f"""
        SELECT c.journey_application_token, true AS in_export, c.previous_token, c.root_token, a.created_at,
               a.status, a.complete_outcome, coalesce(a.rerun_initiated_by, e.initiated_by) AS initiated_by,
               c.depth, c.attempt, c.is_root, c.is_latest, c.lineage_status
        FROM {chains} AS c
        JOIN {table_sql(home, 'applications')} AS a USING (journey_application_token)
        LEFT JOIN {edges} AS e ON e.child_token = c.journey_application_token
        WHERE {where}
        """,
        params=params,
    ).pl()
    return root, rows


def _tree_order(token: str, root: str | None, rows: pl.DataFrame) -> pl.DataFrame:
    """Depth-first from the root (children by created_at then token); missing parents become placeholders."""
    rows = rows.sort(["created_at", "journey_application_token"], nulls_last=True)
    present = set(rows["journey_application_token"].to_list())
    children: dict[str | None, list[str]] = defaultdict(list)
    placeholders: dict[str, None] = {}  # ordered set
    for tok, prev in zip(rows["journey_application_token"], rows["previous_token"], strict=True):
        if prev is not None:  # else the root
            children[prev].append(tok)
            if prev not in present:
                placeholders[prev] = None
    if root is None:  # a cycle: no root; show the walk up from the token, flat, until it repeats
        previous = dict(zip(rows["journey_application_token"], rows["previous_token"], strict=True))
        starts, tok = [], token
        while tok in previous and tok not in starts:
            starts.append(tok)
            tok = previous[tok]
        children.clear()
    else:
        # The root on top, also when it is not in the export; a missing middle (a broken chain) hangs
        # under it, as the way up from that middle to the root is not in the export.
        if root not in present:
            placeholders[root] = None
        middles = [p for p in placeholders if p != root]
        children[root] = middles + [c for c in children.get(root, []) if c not in middles]
        starts = [root]
    order: list[tuple[int, str]] = []
    seen: set[str] = set()
    stack = [(0, t) for t in reversed(starts)]
    while stack:  # iterative: a chain may be 100,000 deep
        level, tok = stack.pop()
        if tok in seen:
            continue
        seen.add(tok)
        order.append((level, tok))
        stack.extend((level + 1, c) for c in reversed(children.get(tok, [])))
    shape = pl.DataFrame(
        {"level": [lv for lv, _ in order], "journey_application_token": [t for _, t in order]},
        schema={"level": pl.Int64, "journey_application_token": pl.String},
    )
    return (
        shape.join(rows, on="journey_application_token", how="left", maintain_order="left")
        .with_columns(
            pl.col("in_export").fill_null(False),
            pl.col("root_token").fill_null(pl.lit(root, dtype=pl.String)),
        )
        .select(TREE_COLUMNS)
    )


def chain_of(token: str, home: Home | str | None = None) -> pl.DataFrame:
    """The chain of `token` in tree order: one row per application (and per missing ancestor, in_export
    false), `level` = indent in the tree, plus its rerun_chains columns, created_at, status and outcome.
    A token in or under a cycle gives the walk up from it. Unknown token: LineageError."""
    home = home if isinstance(home, Home) else resolve_home(home)
    if not home.has_table("rerun_chains") or not home.has_table("applications"):
        raise LineageError(f"no rerun_chains table in {home.root}; run `rerun-lineage run` first")
    con = duckdb.connect()
    try:
        root, rows = _members(con, home, token)
    finally:
        con.close()
    return _tree_order(token, root, rows)


def _line(row: dict, token: str) -> str:
    label = row["journey_application_token"]
    if not row["in_export"]:
        text = f"{label}  (not in the export)"
        return f"{text}  <== {token}" if label == token else text
    created = row["created_at"].strftime("%Y-%m-%d %H:%M:%S UTC") if row["created_at"] else "created ?"
    outcome = f" / {row['complete_outcome']}" if row["complete_outcome"] else ""
    depth = "?" if row["depth"] is None else row["depth"]
    parts = [label, created, f"{row['status'] or '?'}{outcome}", f"by {row['initiated_by'] or '-'}",
             f"depth {depth}", row["lineage_status"]]
    if row["is_latest"]:
        parts.append("latest")
    text = "  ".join(str(p) for p in parts)
    return f"{text}  <== {token}" if label == token else text


def format_chain(home: Home, token: str) -> str:
    """The chain of `token` as an indented tree from its root, the given token marked with <==."""
    tree = chain_of(token, home)
    present = tree.filter(pl.col("in_export"))
    statuses = ", ".join(present["lineage_status"].unique().sort().to_list())
    root = tree["root_token"][0]
    if root is None:
        head = f"chain of {token}: in or under a rerun cycle (no root); the walk up from it:"
    else:
        where = "" if tree.filter(pl.col("journey_application_token") == root)["in_export"].any() else (
            " (not in the export)"
        )
        head = f"chain of {token}: root {root}{where}, {present.height} application(s) in the export, " \
            f"lineage: {statuses}"
    lines = [head]
    for row in tree.iter_rows(named=True):
        level = row["level"]
        # a loop in someone's integration makes chains 100,000 deep: indent no further than MAX_INDENT
        indent = "  " * min(level, MAX_INDENT) + ("└─ " if level else "")
        deep = f"[level {level}] " if level > MAX_INDENT else ""
        lines.append(indent + deep + _line(row, token))
    return "\n".join(lines)
