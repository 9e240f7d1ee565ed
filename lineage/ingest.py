"""Ingest: the landing folder → parquet/applications, application_reruns, events, rejects (CONTRACT §2–§3).

Export files are parsed by DuckDB, in batches, into staged parts keyed by each file's content hash and
kind (lineage.ingest_stage); a file already ingested with the same content is not read again. The tables
are then derived from the staged parts of exactly the files present now (lineage.ingest_tables), so a run
always equals a full rebuild: a changed file's old rows and a removed file's rows are gone. When the files
are exactly those of the last complete run, the tables are kept as they are. Also writes
`ingested_files`, the manifest. Does not publish the warehouse (the pipeline does).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lineage import ingest_files as files_
from lineage.errors import LineageError
from lineage.ingest_parse import prepare
from lineage.ingest_stage import stage_batches
from lineage.ingest_tables import TABLES, write_tables
from lineage.warehouse import Home, duckdb_memory_limit

PROGRESS_EVERY_S = 2.0


@dataclass
class IngestResult:
    files_seen: int = 0  # export files in the landing folder
    files_read: int = 0  # parsed this run (new or changed)
    files_unchanged: int = 0  # already ingested with the same content
    files_skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): not exports
    records: int = 0  # valid records read this run (snapshots + webhooks + bare events)
    snapshots: int = 0
    webhooks: int = 0
    bare_events: int = 0
    rejects: int = 0  # reject rows from the files read this run
    applications: int = 0  # rows in the tables after this run
    events: int = 0
    bytes_read: int = 0
    total_records: int = 0  # valid records of every file in the landing folder (read or unchanged)
    total_rejects: int = 0  # reject rows in the table: every file's, read or unchanged

    @property
    def reject_rate(self) -> float:
        """Rejects among all records of the landing folder as it is now (0.0 when it holds none)."""
        seen = self.total_records + self.total_rejects
        return self.total_rejects / seen if seen else 0.0

    def summary(self) -> str:
        return (
            f"{self.files_seen} files ({self.files_read} read, {self.files_unchanged} unchanged, "
            f"{len(self.files_skipped)} skipped), {_size(self.bytes_read)} read: {self.records:,} records "
            f"({self.snapshots:,} snapshots, {self.webhooks:,} webhooks, {self.bare_events:,} events), "
            f"{self.rejects:,} rejects; tables: {self.applications:,} applications, {self.events:,} events"
        )

    def metadata(self) -> dict[str, int | float | str]:
        return {
            "files_seen": self.files_seen, "files_read": self.files_read,
            "files_unchanged": self.files_unchanged, "files_skipped": len(self.files_skipped),
            "records": self.records, "snapshots": self.snapshots, "webhooks": self.webhooks,
            "bare_events": self.bare_events, "rejects": self.rejects,
            "applications": self.applications, "events": self.events, "bytes_read": self.bytes_read,
            "total_records": self.total_records, "total_rejects": self.total_rejects,
            "reject_rate": self.reject_rate,
        }


def ingest(home: Home, landing: Path | None = None, rebuild: bool = False,
           log: Callable[[str], None] | None = None) -> IngestResult:
    """Bring the ingest tables in line with the landing folder (default <home>/landing)."""
    home.ensure()
    landing = Path(landing).expanduser().resolve() if landing is not None else home.landing
    if not landing.is_dir():
        raise LineageError(f"no such landing folder: {landing}")
    with home.writer_lock():
        return _ingest(home, landing, rebuild, log or _stderr)


def _ingest(home: Home, landing: Path, rebuild: bool, say: Callable[[str], None]) -> IngestResult:
    if rebuild:
        shutil.rmtree(files_.staged_root(home), ignore_errors=True)
        shutil.rmtree(home.quarantine, ignore_errors=True)
    manifest = {} if rebuild else files_.read_manifest(home)
    found, skipped = files_.discover(landing)
    result = IngestResult(files_seen=len(found), files_skipped=list(skipped))
    _prepare_dirs(home)
    index = files_.staged_index(home)
    con = _connect(home)
    try:
        prepare(con)
        keys, todo = _plan(found, manifest, index, result)
        fresh = stage_batches(con, home, todo, _progress(say, todo)) if todo else {}
        index = files_.staged_index(home) if fresh else index
        rows, present = [], []
        for lf in found:
            if lf.rel not in keys:
                continue
            key = keys[lf.rel]
            part, counts = index[key]
            present.append((lf.rel, key, part))
            status = "read" if key in fresh else "unchanged"
            rows.append(_manifest_row(lf, key, status, counts))
            if key in fresh:
                _add(result, lf, counts)
        result.files_read = sum(1 for r in rows if r["status"] == "read")
        result.files_unchanged = len(rows) - result.files_read
        result.total_records = sum(r["records"] for r in rows)
        result.total_rejects = sum(r["rejects"] for r in rows)
        table_counts = None if fresh or rebuild else _unchanged_tables(home, manifest, present)
        if table_counts is None:
            table_counts = write_tables(con, home, present, _empty_part(con, home))
    finally:
        con.close()
    rows += [_skipped_row(rel, reason) for rel, reason in result.files_skipped]
    files_.write_manifest(home, sorted(rows, key=lambda r: r["source_file"]))
    files_.collect_garbage(home, {part for _, _, part in present}, {key for _, key, _ in present})
    result.applications, result.events = table_counts["applications"], table_counts["events"]
    return result


def _plan(found, manifest, index, result):
    """Staged key of every file, and the files to parse: new or changed content not staged yet."""
    keys: dict[str, str] = {}
    to_hash = []
    for lf in found:
        prev = manifest.get(lf.rel)
        if prev and prev["size"] == lf.size and prev["mtime_ns"] == lf.mtime_ns \
                and lf.staged_key(prev["sha256"]) in index:
            keys[lf.rel] = lf.staged_key(prev["sha256"])  # fast check: same size and mtime as last time
        else:
            to_hash.append(lf)
    todo, queued = [], set()
    # hashlib lets go of the GIL: every core hashes
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        hashed = list(pool.map(_sha256_or_error, [lf.path for lf in to_hash]))
    for lf, (sha, error) in zip(to_hash, hashed, strict=True):
        if error is not None:
            result.files_skipped.append((lf.rel, f"cannot be read: {error.strerror}"))
            continue
        key = keys[lf.rel] = lf.staged_key(sha)
        if key not in index and key not in queued:  # the same content may be staged already
            queued.add(key)
            todo.append((lf, key))
    return keys, todo


def _sha256_or_error(path: Path) -> tuple[str | None, OSError | None]:
    try:
        return files_.sha256_file(path), None
    except OSError as exc:
        return None, exc


def _unchanged_tables(home: Home, manifest: dict[str, dict], present) -> dict[str, int] | None:
    """Row counts of the tables when the files are exactly those of the last complete run, else None.

    Saves rebuilding the tables when nothing changed. The tables must be that run's: written before its
    manifest (a run killed after writing some tables left them newer than the manifest)."""
    if {(rel, key.partition("-")[0]) for rel, key, _ in present} != \
            {(rel, row["sha256"]) for rel, row in manifest.items()}:
        return None
    try:
        written = home.table_path(files_.MANIFEST_TABLE).stat().st_mtime_ns
        paths = {name: home.table_path(name) for name in TABLES}
        if any(path.stat().st_mtime_ns > written for path in paths.values()):
            return None
        return {name: pq.ParquetFile(path).metadata.num_rows for name, path in paths.items()}
    except (OSError, pa.ArrowException):
        return None


def _add(result: IngestResult, lf, counts: dict[str, int]) -> None:
    result.bytes_read += lf.size
    result.snapshots += counts["snapshots"]
    result.webhooks += counts["webhooks"]
    result.bare_events += counts["bare_events"]
    result.records += counts["snapshots"] + counts["webhooks"] + counts["bare_events"]
    result.rejects += counts["rejects"]


def _progress(say, todo):
    total = sum(lf.size for lf, _ in todo)
    state = {"files": 0, "bytes": 0, "last": time.monotonic()}

    def report(batch) -> None:
        state["files"] += len(batch)
        state["bytes"] += sum(lf.size for lf, _ in batch)
        now = time.monotonic()
        if now - state["last"] >= PROGRESS_EVERY_S or state["files"] == len(todo):
            state["last"] = now
            say(f"ingest: {state['files']}/{len(todo)} files, {_size(state['bytes'])} of {_size(total)}")

    return report


def _manifest_row(lf, key: str, status: str, counts: dict[str, int]) -> dict:
    return {
        "source_file": lf.rel, "status": status, "note": None, "size": lf.size, "mtime_ns": lf.mtime_ns,
        "sha256": key.partition("-")[0],
        "records": counts["snapshots"] + counts["webhooks"] + counts["bare_events"],
        **{k: counts[k] for k in ("snapshots", "webhooks", "bare_events", "rejects")},
    }


def _skipped_row(rel: str, reason: str) -> dict:
    return {"source_file": rel, "status": "skipped", "note": reason}


def _prepare_dirs(home: Home) -> None:
    files_.staged_root(home).mkdir(parents=True, exist_ok=True)
    tmp = home.state / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # leftovers of a killed run
    tmp.mkdir(parents=True, exist_ok=True)
    home.quarantine.mkdir(mode=0o700, exist_ok=True)
    os.chmod(home.quarantine, 0o700)


def _empty_part(con, home: Home) -> Path:
    """A staged folder with no rows: gives the table SQL its columns when nothing else is staged."""
    from lineage.ingest_parse import parse_to_parquet
    from lineage.ingest_stage import REJECTS_SCHEMA

    empty = files_.staged_root(home) / "empty"
    if not (empty / "rejects.parquet").exists():
        empty.mkdir(exist_ok=True)
        blank = home.state / "tmp" / "empty.ndjson"
        blank.write_bytes(b"")
        parse_to_parquet(con, {blank: "empty"}, "newline_delimited", empty / "records.parquet")
        pq.write_table(REJECTS_SCHEMA.empty_table(), empty / "rejects.parquet")
    return empty


def _connect(home: Home) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{duckdb_memory_limit()}'")
    con.execute(f"SET temp_directory = '{home.state / 'tmp' / 'duckdb'}'")
    con.execute(f"SET threads = {max(1, os.cpu_count() or 1)}")
    con.execute("SET enable_progress_bar = false")
    return con


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
