"""The home folder: where every file lives, atomic table writes, the writer lock and `warehouse.duckdb`.

Layout (CONTRACT §3):  <home>/landing/  <home>/parquet/<table>/data.parquet  <home>/warehouse.duckdb
<home>/reports/  <home>/quarantine/  <home>/state/ (ingest manifest and staged parts)  <home>/dagster/
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import filelock
import pyarrow as pa
import pyarrow.parquet as pq

from lineage.contract import SCHEMAS
from lineage.errors import LineageError

HOME_ENV = "RERUN_LINEAGE_HOME"
LOCK_TIMEOUT_ENV = "RERUN_LINEAGE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 600.0
# DuckDB's memory cap for ingest and chains (it spills to disk beyond it): bounded memory as exports grow.
MEMORY_LIMIT_ENV = "RERUN_LINEAGE_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"
# A DuckDB 2 file in this storage version opens in the 1.5.x CLI that PyPI ships (CONTRACT §3).
WAREHOUSE_STORAGE_VERSION = "v1.4.0"
DATA_FILE = "data.parquet"


def duckdb_memory_limit() -> str:
    return os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def parquet(self) -> Path:
        return self.root / "parquet"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    def table_dir(self, name: str) -> Path:
        return self.parquet / name

    def table_path(self, name: str) -> Path:
        return self.table_dir(name) / DATA_FILE

    def has_table(self, name: str) -> bool:
        return self.table_path(name).exists()

    def tables(self) -> list[str]:
        """Names of the tables written so far, sorted."""
        if not self.parquet.is_dir():
            return []
        return sorted(p.parent.name for p in self.parquet.glob(f"*/{DATA_FILE}"))

    def ensure(self) -> Home:
        """Create the home folders, or fail with one line when the home is not writable."""
        try:
            for d in (self.root, self.parquet, self.state):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise LineageError(f"home folder {self.root} is not writable: {exc.strerror or exc}") from None
        return self

    def writer_lock(self, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Serialise writes to this home across processes (held for one table or step); readers never
        take it. Waits up to `timeout` seconds ($RERUN_LINEAGE_LOCK_TIMEOUT, default 600), then fails
        with one line."""
        return self._lock(".writer.lock", timeout)

    def run_lock(self, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Held by a command-line run from start to end: a second one waits for it. Kept apart from the
        writer lock so that a run launched from Dagster (UI, sensor, schedule) can still take its turns
        step by step through the pool instead of waiting for a whole run while holding a pool slot."""
        return self._lock(".run.lock", timeout)

    @contextlib.contextmanager
    def _lock(self, name: str, timeout: float | None) -> Iterator[None]:
        if timeout is None:
            timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S))
        self.ensure()
        lock = filelock.FileLock(self.root / name, is_singleton=True)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            print(f"waiting for another rerun-lineage run on {self.root} ...", file=sys.stderr)
            try:
                lock.acquire(timeout=timeout)
            except filelock.Timeout:
                raise LineageError(
                    f"another rerun-lineage run holds {self.root} (waited {timeout:.0f}s); try again later"
                ) from None
        try:
            yield
        finally:
            lock.release()


def resolve_home(home: str | os.PathLike[str] | None = None) -> Home:
    """`--home DIR`, else $RERUN_LINEAGE_HOME, else ./rerun_home (CONTRACT §3); always absolute."""
    chosen = home or os.environ.get(HOME_ENV) or "rerun_home"
    return Home(Path(chosen).expanduser().resolve())


def _tmp_path(final: Path) -> Path:
    # Never matches the `*.parquet` glob the views read, so a leftover is never seen as data.
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _clear_leftovers(directory: Path) -> None:
    for leftover in directory.glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _prepare(home: Home, name: str) -> tuple[Path, Path]:
    directory = home.table_dir(name)
    directory.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(directory)
    final = directory / DATA_FILE
    return final, _tmp_path(final)


def _check_schema(name: str, path: Path) -> None:
    expected = SCHEMAS.get(name)
    if expected is None:
        return
    got = pq.read_schema(path).remove_metadata()
    # DuckDB 2 writes a column as `required` (not null) when it can prove it has no NULLs; nullability is
    # not part of the contract, names and types are.
    got = pa.schema([f.with_nullable(True) for f in got])
    if not got.equals(expected):
        path.unlink(missing_ok=True)
        raise RuntimeError(f"table {name} does not match the contract schema:\n{got}\nexpected:\n{expected}")


def write_arrow(home: Home, name: str, table: pa.Table) -> Path:
    """Write an Arrow table (cast to its contract schema when it has one) atomically to parquet/<name>/."""
    final, tmp = _prepare(home, name)
    expected = SCHEMAS.get(name)
    if expected is not None:
        table = table.select(expected.names).cast(expected)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, final)
    return final


def copy_query(home: Home, name: str, con: duckdb.DuckDBPyConnection, query: str) -> Path:
    """Run a DuckDB SELECT and write its result atomically to parquet/<name>/, checked against its schema."""
    final, tmp = _prepare(home, name)
    con.execute(f"COPY ({query}) TO '{sql_path(tmp)}' (FORMAT parquet, COMPRESSION zstd)")
    _check_schema(name, tmp)
    os.replace(tmp, final)
    return final


def sql_path(path: Path) -> str:
    """A path as a DuckDB string literal body (single quotes doubled)."""
    return str(path).replace("'", "''")


def table_sql(home: Home, name: str) -> str:
    """`read_parquet('<abs path>')` of a table, for SQL over the Parquet without the warehouse."""
    return f"read_parquet('{sql_path(home.table_dir(name))}/*.parquet')"


def publish_warehouse(home: Home) -> Path:
    """Rebuild warehouse.duckdb as views over every table, as a new file moved into place.

    A reader holding the old file (read-only or read-write) keeps its inode and is never blocked; the
    views use absolute paths, so the file works from any working directory.
    """
    with home.writer_lock():
        return _publish_warehouse(home)


def _publish_warehouse(home: Home) -> Path:
    final = home.warehouse
    # A run killed while building the file left its temporary copy; writers are serialised, so it is stale.
    for leftover in final.parent.glob(f".{final.name}.tmp-*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    tmp = _tmp_path(final)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{sql_path(tmp)}' AS w (STORAGE_VERSION '{WAREHOUSE_STORAGE_VERSION}')")
        for name in home.tables():
            con.execute(f'CREATE VIEW w."{name}" AS SELECT * FROM {table_sql(home, name)}')
        con.execute("DETACH w")
    finally:
        con.close()
    os.replace(tmp, final)
    # A read-write reader (the DuckDB CLI's default) that wrote scratch tables into the old file left a WAL
    # beside it; it keeps its own open handle, but the new file would refuse that WAL ("WAL does not match").
    for wal in (tmp.with_name(tmp.name + ".wal"), final.with_name(final.name + ".wal")):
        with contextlib.suppress(OSError):
            wal.unlink()
    return final


def connect(home: Home | str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse (notebooks, `rerun-lineage sql`): never blocks a run."""
    if not isinstance(home, Home):
        home = resolve_home(home)
    if not home.warehouse.exists():
        raise LineageError(f"no warehouse at {home.warehouse}; run `rerun-lineage run` or `demo` first")
    try:
        return duckdb.connect(str(home.warehouse), read_only=True)
    except duckdb.IOException as exc:
        if "WAL" not in str(exc) and "lock" not in str(exc):
            raise
    # An analyst's read-write shell holds a lock on the file, or (holding a replaced warehouse) wrote a WAL
    # beside the new one; either refuses a read-only open. It holds only views: read a private copy instead.
    fd, copy = tempfile.mkstemp(prefix="warehouse-", suffix=".duckdb")
    os.close(fd)
    shutil.copyfile(home.warehouse, copy)
    con = duckdb.connect(copy, read_only=True)
    with contextlib.suppress(OSError):  # Windows cannot remove an open file; the temp dir is cleaned later
        os.unlink(copy)
    return con
