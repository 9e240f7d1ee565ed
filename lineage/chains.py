"""Rerun chains (CONTRACT §3 rerun_edges, rerun_chains, chain_summary): runs sql/<table>.sql in DuckDB.

Each SQL file reads its inputs by their plain table names, so it runs unchanged from the DuckDB CLI on
`warehouse.duckdb`; here those names are temp views over the Parquet, and the file's last SELECT is
written atomically (checked against the contract schema).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lineage.chain_tree import chain_of, format_chain
from lineage.contract import SCHEMAS
from lineage.sqlfiles import load_sql
from lineage.warehouse import Home, copy_query, duckdb_memory_limit, table_sql

__all__ = [
    "build_chain_summary",
    "build_chains",
    "build_rerun_chains",
    "build_rerun_edges",
    "chain_of",
    "format_chain",
    "run_sql_file",
]

# Inputs each table's SQL reads; a missing input (e.g. no events ingested yet) is an empty table.
INPUTS = {
    "rerun_edges": ("applications", "application_reruns", "events"),
    "rerun_chains": ("applications", "rerun_edges"),
    "chain_summary": ("rerun_chains", "applications"),
}


def _duck_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ"
    if pa.types.is_list(arrow_type):
        return "VARCHAR[]"
    return {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN", pa.int64(): "BIGINT"}[arrow_type]


def _empty_view_sql(name: str) -> str:
    cols = ", ".join(f'NULL::{_duck_type(f.type)} AS "{f.name}"' for f in SCHEMAS[name])
    return f"SELECT {cols} WHERE false"


def _connect(home: Home, inputs: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    spill = home.state / "duckdb-spill"  # never the working directory
    con = duckdb.connect(config={"memory_limit": duckdb_memory_limit(), "preserve_insertion_order": False,
                                 "temp_directory": str(spill)})
    for name in inputs:
        source = table_sql(home, name) if home.has_table(name) else f"({_empty_view_sql(name)})"
        con.execute(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM {source}')
    return con


def run_sql_file(home: Home, name: str) -> int:
    """Run sql/<name>.sql over the home's tables and write parquet/<name>/; returns the row count."""
    con = _connect(home, INPUTS[name])
    try:
        *setup, last = con.extract_statements(load_sql(name))
        for statement in setup:
            con.execute(statement)
        path = copy_query(home, name, con, last.query.strip().rstrip(";"))
        return pq.read_metadata(path).num_rows
    finally:
        con.close()


def build_rerun_edges(home: Home) -> int:
    """parquet/rerun_edges from applications, application_reruns and events; returns the row count."""
    with home.writer_lock():
        return run_sql_file(home, "rerun_edges")


def build_rerun_chains(home: Home) -> int:
    """parquet/rerun_chains from applications and rerun_edges; returns the row count."""
    with home.writer_lock():
        return run_sql_file(home, "rerun_chains")


def build_chain_summary(home: Home) -> int:
    """parquet/chain_summary from rerun_chains and applications; returns the row count."""
    with home.writer_lock():
        return run_sql_file(home, "chain_summary")


def build_chains(home: Home) -> dict[str, int]:
    """All three lineage tables in order; returns their row counts."""
    with home.writer_lock():
        return {name: run_sql_file(home, name) for name in INPUTS}
