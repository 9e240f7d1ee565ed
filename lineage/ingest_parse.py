"""One landing file → its classified records, with DuckDB's JSON reader (the fast path).

DuckDB reads every file itself (gzip included), one pass, typed by READ_COLUMNS: fields whose type decides
a reject are kept as JSON so sql/ingest_records.sql can look at their JSON type, and nested blocks are
typed structs so entity payloads and `child_entities` are parsed past but never materialised.
With `ignore_errors` a line that is not JSON (or not an object) stays in place as a row of NULLs, so the
record ordinal still counts lines (blank lines excepted) and nothing is silently dropped.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb
import pyarrow as pa

from lineage.sqlfiles import load_sql
from lineage.warehouse import sql_path

# Fields whose JSON type decides a reject (or a NULL) are read as JSON; text fields as VARCHAR, which
# DuckDB fills with the string itself, or the JSON text of any other value (CONTRACT §2: "NULL or text").
# Alloy puts an event's node under `_embedded.node` (`type` among id/name/position); a top-level
# `node_type` is read too, as a fallback.
_NODE = 'STRUCT("node" STRUCT("type" VARCHAR))'
_EVENT = {
    "journey_application_event_token": "VARCHAR", "type": "VARCHAR", "timestamp": "JSON",
    "outcome": "VARCHAR", "entity_token": "VARCHAR", "entity_application_token": "VARCHAR",
    "rerun_journey_application_token": "VARCHAR", "node_type": "VARCHAR", "_embedded": _NODE,
}
_TOP = {
    "journey_application_token": "JSON", "journey_token": "VARCHAR", "journey_name": "VARCHAR",
    "journey_version_num": "VARCHAR", "status": "VARCHAR", "complete_outcome": "VARCHAR",
    "journey_application_status": "VARCHAR", "created_at": "JSON", "updated_at": "JSON", "closed_at": "JSON",
    "is_rerun": "JSON", "external_application_id": "VARCHAR", "external_group_id": "VARCHAR",
    "sandbox": "JSON", "is_archived": "JSON", "is_shadow_app": "JSON", "is_shadow_application": "JSON",
    "is_part_of_shadow_test": "JSON", **_EVENT,
}


def _struct(fields: dict[str, str]) -> str:
    return "STRUCT(" + ", ".join(f'"{name}" {kind}' for name, kind in fields.items()) + ")"


def _text(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, "VARCHAR")


READ_COLUMNS: dict[str, str] = {
    **_TOP,
    "data": _struct({"journey_application_token": "JSON", **_EVENT}),
    "_embedded": _struct({
        "node": 'STRUCT("type" VARCHAR)',  # a bare event's node
        "journey": _struct(_text("journey_token", "journey_name", "name", "journey_version_num",
                                 "version_num")),
        "rerun": _struct(_text("initiated_by", "previous_journey_application_token",
                               "root_journey_application_token", "root_external_group_id")),
        "reruns": _struct({"initiated_by": "VARCHAR", "next_journey_application_token": "VARCHAR",
                           "created_at": "JSON"}) + "[]",
        "events": _struct(_EVENT) + "[]",
    }),
}
# DuckDB's cap on one record (it allocates buffers of twice this per thread): the default first, and
# the large one only for a file that needs it (a snapshot with a huge payload).
MAX_OBJECT_BYTES = (16 << 20, 256 << 20)


def _columns_sql() -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in READ_COLUMNS.items()) + "}"


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings and macros every parse needs (once per connection)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(load_sql("ingest_macros"))


def read_sql(paths: list[Path], fmt: str, max_object: int = MAX_OBJECT_BYTES[0]) -> str:
    """The SELECT that reads files of one format (newline_delimited, array or unstructured).

    `rec` is the record's ordinal within its file: DuckDB keeps insertion order, so a row number over
    the whole scan minus the file's first one counts records in file order."""
    listed = "[" + ", ".join(f"'{sql_path(p)}'" for p in paths) + "]"
    return (
        "WITH scan AS (SELECT row_number() OVER () AS grec, * FROM read_json("
        f"{listed}, format = '{fmt}', records = true, columns = {_columns_sql()}, ignore_errors = true, "
        f"filename = true, maximum_object_size = {max_object})) "
        "SELECT b.key, grec - min(grec) OVER (PARTITION BY scan.filename) + 1 AS rec, "
        "scan.* EXCLUDE (grec, filename) FROM scan JOIN batch_files b ON b.filename = scan.filename"
    )


def parse_to_parquet(con: duckdb.DuckDBPyConnection, files: dict[Path, str], fmt: str, out: Path) -> None:
    """Classify every record of `files` (path -> staged key) and write them to `out` (Parquet).

    Raises duckdb.Error when a file cannot be read as a whole (broken gzip, malformed .json): the caller
    then reads the files one by one and takes the slow path for the one that fails."""
    con.register("batch_files", pa.table({
        "filename": pa.array([str(p) for p in files], pa.string()),
        "key": pa.array(list(files.values()), pa.string()),
    }))
    try:
        for max_object in MAX_OBJECT_BYTES:
            view = read_sql(list(files), fmt, max_object)
            con.execute(f"CREATE OR REPLACE TEMP VIEW raw_records AS {view}")
            try:
                con.execute(f"COPY ({load_sql('ingest_records')}) TO '{sql_path(out)}' (FORMAT parquet)")
                return
            except duckdb.Error as exc:
                with contextlib.suppress(OSError):
                    os.unlink(out)
                if "maximum_object_size" not in str(exc) or max_object == MAX_OBJECT_BYTES[-1]:
                    raise
    finally:
        con.execute("DROP VIEW IF EXISTS raw_records")
        con.unregister("batch_files")
