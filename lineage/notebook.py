"""Small helpers for the analyst notebooks: find the home, open the warehouse read-only, query to Polars."""

from __future__ import annotations

import os

import duckdb
import polars as pl

from lineage.warehouse import HOME_ENV, Home, connect, resolve_home


def notebook_home(home: str | os.PathLike[str] | None = None) -> Home:
    """`home` if given, else $RERUN_LINEAGE_HOME, else ./rerun_home (as the command line does)."""
    return resolve_home(home or os.environ.get(HOME_ENV) or "rerun_home")


def open_warehouse(home: Home | str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to warehouse.duckdb, showing timestamps in UTC; never blocks a run."""
    con = connect(home if isinstance(home, Home) else notebook_home(home))
    con.execute("SET TimeZone = 'UTC'")
    return con


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> pl.DataFrame:
    """Run SQL (with `?`/`$name` parameters) and return a Polars DataFrame, also when it has no rows."""
    return con.sql(sql, params=params).pl()


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the warehouse exposes `name` (report tables appear only once reports have run)."""
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    rows = con.sql(sql, params=[name]).fetchall()
    return bool(rows[0][0])
