"""`rerun-lineage sql`: ad-hoc DuckDB SQL on the warehouse, read-only (CONTRACT §4).

With a query, the result is printed as a table (the first `MAX_ROWS` rows, with a note of how many were cut)
or streamed as CSV. Without one, the PyPI DuckDB CLI is exec'd on warehouse.duckdb with `-readonly`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from lineage.errors import LineageError
from lineage.warehouse import Home, connect, resolve_home

MAX_ROWS = 1_000
# Wide enough for tokens (23 characters) and UTC timestamps with microseconds (29).
MAX_CELL_CHARS = 40
# Piped output is not cut to a terminal: wide enough for every column of the widest table.
PIPE_WIDTH_CHARS = 1_000


def _one_line(exc: BaseException) -> str:
    """DuckDB errors carry a caret diagram on later lines; the first line says what went wrong."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _home(home: Home | str | os.PathLike[str] | None) -> Home:
    return home if isinstance(home, Home) else resolve_home(home)


_NESTED = {"list", "array", "struct", "map", "union"}


def _flat_for_csv(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """CSV has no lists or structs: nested columns (e.g. rerun_edges.evidence) become DuckDB's text form."""
    if not any(t.id in _NESTED for t in rel.types):
        return rel
    cols = []
    for name, typ in zip(rel.columns, rel.types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        cols.append(f"CAST({quoted} AS VARCHAR) AS {quoted}" if typ.id in _NESTED else quoted)
    return rel.project(", ".join(cols))


def _reader(con: duckdb.DuckDBPyConnection, query: str, csv: bool) -> pa.RecordBatchReader | None:
    """Run the query; None when its last statement returns no rows (e.g. SET)."""
    try:
        rel = con.sql(query)
        if rel is None:
            return None
        return (_flat_for_csv(rel) if csv else rel).arrow()
    except duckdb.Error as exc:
        raise LineageError(f"query failed: {_one_line(exc)}") from None


def _table_width(out: TextIO) -> int:
    """The terminal's width on a terminal (columns that do not fit are elided, as the DuckDB shell does)."""
    if out.isatty():
        return shutil.get_terminal_size((PIPE_WIDTH_CHARS, 24)).columns
    return int(os.environ.get("COLUMNS") or PIPE_WIDTH_CHARS)


def _print_table(
    con: duckdb.DuckDBPyConnection, reader: pa.RecordBatchReader, out: TextIO, max_rows: int
) -> None:
    shown: list[pa.RecordBatch] = []
    kept = total = 0
    # Keep only the rows that are printed; the rest are counted as they stream past.
    for batch in reader:
        total += batch.num_rows
        if kept < max_rows:
            part = batch.slice(0, max_rows - kept)
            shown.append(part)
            kept += part.num_rows
    head = pa.Table.from_batches(shown, schema=reader.schema)
    with contextlib.redirect_stdout(out):  # DuckDB's box renderer prints to Python's stdout
        con.from_arrow(head).show(
            max_width=_table_width(out), max_rows=max(max_rows, 1), max_col_width=MAX_CELL_CHARS
        )
    if total > kept:
        print(f"{total:,} rows in all, the first {kept:,} shown (use --csv for every row)", file=out)


def _print_csv(reader: pa.RecordBatchReader, out: TextIO) -> None:
    out.flush()
    sink = out.buffer if hasattr(out, "buffer") else None
    if sink is None:  # a text-only stream (tests capturing output): go through a buffer
        buf = pa.BufferOutputStream()
        _write_csv(reader, buf)
        out.write(buf.getvalue().to_pybytes().decode())
        return
    _write_csv(reader, sink)
    sink.flush()


def _write_csv(reader: pa.RecordBatchReader, sink) -> None:
    with pacsv.CSVWriter(sink, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def run_query(
    home: Home | str | os.PathLike[str] | None,
    query: str,
    csv: bool = False,
    *,
    out: TextIO | None = None,
    max_rows: int = MAX_ROWS,
) -> None:
    """Run `query` read-only on the warehouse and print its result as a table, or as CSV when `csv`."""
    out = out or sys.stdout
    if not query.strip():
        raise LineageError("empty query")
    con = connect(_home(home))
    try:
        # Timestamps are stored in UTC; show them in UTC whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        reader = _reader(con, query, csv)
        if reader is None:
            return
        try:
            if csv:
                _print_csv(reader, out)
            else:
                _print_table(con, reader, out, max_rows)
        except (duckdb.Error, pa.ArrowException) as exc:  # errors raised while rows stream
            raise LineageError(f"query failed: {_one_line(exc)}") from None
    finally:
        con.close()


def duckdb_cli() -> str:
    """The `duckdb` executable of this environment (beside the running Python), else the one on PATH."""
    beside = Path(sys.executable).parent / ("duckdb.exe" if os.name == "nt" else "duckdb")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("duckdb")
    if found is None:
        raise LineageError("the duckdb shell is not installed (pip install 'duckdb-cli>=1.5,<1.6')")
    return found


def _private_copy(warehouse: Path) -> str | None:
    """None when the warehouse opens read-only; else a private copy of it to open instead (another DuckDB
    session holds the file read-write, or left a WAL beside it). It holds only views: a copy is cheap."""
    try:
        duckdb.connect(str(warehouse), read_only=True).close()
        return None
    except duckdb.IOException as exc:
        if "WAL" not in str(exc) and "lock" not in str(exc):
            raise LineageError(f"cannot open {warehouse}: {_one_line(exc)}") from None
    fd, copy = tempfile.mkstemp(prefix="warehouse-", suffix=".duckdb")
    os.close(fd)
    shutil.copyfile(warehouse, copy)
    print(f"{warehouse} is held by another DuckDB session; opening a copy: {copy}", file=sys.stderr)
    return copy


def open_shell(home: Home | str | os.PathLike[str] | None) -> None:
    """Replace this process with the DuckDB shell on warehouse.duckdb, read-only."""
    home = _home(home)
    if not home.warehouse.exists():
        raise LineageError(f"no warehouse at {home.warehouse}; run `rerun-lineage run` or `demo` first")
    binary = duckdb_cli()
    copy = _private_copy(home.warehouse)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if copy is None:
            os.execv(binary, [binary, "-readonly", str(home.warehouse)])
        try:  # not exec: the copy is removed when the shell ends
            code = subprocess.call([binary, "-readonly", copy])
        finally:
            os.unlink(copy)
    except OSError as exc:
        raise LineageError(f"cannot start {binary}: {exc.strerror or exc}") from None
    if code:
        raise SystemExit(code)
