"""Derive the ingest tables from the staged parts of the files in the landing folder (DuckDB over Parquet),
each written atomically with lineage.warehouse.copy_query (checked against lineage.contract)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from lineage.sqlfiles import load_sql
from lineage.warehouse import Home, copy_query, sql_path

TABLES = ("applications", "application_reruns", "events", "rejects")


def write_tables(con: duckdb.DuckDBPyConnection, home: Home, present: list[tuple[str, str, Path]],
                 empty: Path) -> dict[str, int]:
    """`present`: (source_file, staged key, staged folder) of every export file now in the landing folder.
    `empty`: a staged folder with no rows, so the readers always have a part (and its columns)."""
    con.register("present_files", pa.table({
        "source_file": pa.array([s for s, _, _ in present], pa.string()),
        "key": pa.array([k for _, k, _ in present], pa.string()),
        "part": pa.array([str(d) for _, _, d in present], pa.string()),
    }))
    dirs = sorted({d for _, _, d in present} | {empty})
    # A staged folder may hold keys of files no longer present (or present in another folder too):
    # only the (folder, key) pairs in use are read.
    for view, glob in (("staged_records", "records*.parquet"), ("staged_rejects", "rejects.parquet")):
        # listed file by file: a batch whose files all failed has no records part (`empty` always has)
        listed = "[" + ", ".join(f"'{sql_path(f)}'" for d in dirs for f in sorted(d.glob(glob))) + "]"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT f.source_file, p.* EXCLUDE (filename, key) "
            f"FROM read_parquet({listed}, filename = true, union_by_name = true) p "
            "JOIN present_files f ON f.key = p.key AND f.part = regexp_replace(p.filename, '/[^/]*$', '')"
        )
    con.execute(f"SET VARIABLE quarantine_root = '{sql_path(home.quarantine)}'")
    con.execute(f"CREATE OR REPLACE TEMP TABLE winners AS {load_sql('ingest_winners')}")
    counts = {}
    try:
        for name in TABLES:
            path = copy_query(home, name, con, load_sql(f"ingest_{name}"))
            counts[name] = con.execute(f"SELECT count(*) FROM read_parquet('{sql_path(path)}')").fetchone()[0]
    finally:
        con.execute("DROP TABLE IF EXISTS winners")
        con.unregister("present_files")
    return counts
