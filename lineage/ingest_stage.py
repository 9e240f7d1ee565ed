"""Stage landing files: parse them in batches (fast path, else file by file, else the slow path),
quarantine their rejects, and write the parts atomically to <home>/state/staged/<batch>/:
records*.parquet (classified records, column `key` = the file's staged key), rejects.parquet and
counts.json (counts per key). Batching matters: binding the record SQL costs more than parsing a
small file, so many files share one DuckDB query."""

from __future__ import annotations

import bisect
import json
import os
import shutil
import uuid
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lineage import ingest_rejects as rj
from lineage.ingest_files import LandingFile, quarantine_name, staged_root
from lineage.ingest_parse import MAX_OBJECT_BYTES, parse_to_parquet
from lineage.warehouse import Home, sql_path

GZIP_CAP_ENV = "RERUN_LINEAGE_MAX_DECOMPRESSED_BYTES"
DEFAULT_GZIP_CAP = 16 << 30  # per file; `0` turns the cap off
BATCH_BYTES = 256 << 20
BATCH_FILES = 2000
REJECTS_SCHEMA = pa.schema([
    ("key", pa.string()),
    ("record_number", pa.int64()),
    ("error", pa.string()),
    ("quarantine_name", pa.string()),  # relative to <home>/quarantine
])


@dataclass
class _Source:
    """One file to stage and where DuckDB read it from (the original, or a rewrite of it)."""

    lf: LandingFile
    key: str
    read_path: Path  # a plainly named link to the file, or a rewrite in the work folder
    is_json: bool  # records are found by array position (else by non-blank line)
    gz: bool
    whole_file_errors: list[str]
    broken: rj.BrokenStream | None = None  # where a gzip breaks off or is corrupt (the slow path then
    # keeps what precedes the break)
    fmt: str | None = None  # DuckDB's format for it (see _format); None: the slow path


def stage_batches(con: duckdb.DuckDBPyConnection, home: Home, todo: list[tuple[LandingFile, str]],
                  progress=None) -> dict[str, dict[str, int]]:
    """Stage `todo` ((file, staged key) pairs) in batches; returns counts per key."""
    counts: dict[str, dict[str, int]] = {}
    batch: list[tuple[LandingFile, str]] = []
    size = 0
    for lf, key in todo:
        batch.append((lf, key))
        size += lf.size
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            counts.update(_stage_batch(con, home, batch))
            if progress:
                progress(batch)
            batch, size = [], 0
    if batch:
        counts.update(_stage_batch(con, home, batch))
        if progress:
            progress(batch)
    return counts


def _stage_batch(con, home: Home, batch: list[tuple[LandingFile, str]]) -> dict[str, dict[str, int]]:
    root = staged_root(home)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    work = home.state / "tmp" / tmp.name
    tmp.mkdir(parents=True)
    work.mkdir(parents=True)
    try:
        # each .gz is inflated once to check it (see _source); zlib lets go of the GIL: every core works
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            sources = list(pool.map(lambda job: _source(*job[1], work, job[0]), enumerate(batch)))
        groups: dict[str, list[_Source]] = {}
        for src in sources:
            if src.whole_file_errors:  # a decompression bomb: not read at all
                continue
            fmt = src.fmt = _format(src)
            if fmt is None:
                _slow(con, home, src, work, tmp)
            else:
                groups.setdefault(fmt, []).append(src)
        for n, (fmt, group) in enumerate(sorted(groups.items())):
            _parse_group(con, home, group, fmt, work, tmp, n)
        counts = _finish(con, home, sources, tmp)
        final = root / f"batch-{uuid.uuid4().hex[:16]}"
        os.replace(tmp, final)
        return counts
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _parse_group(con, home: Home, group: list[_Source], fmt: str, work: Path, tmp: Path, n: int) -> None:
    """Parse a group in one query. When a file breaks the query, DuckDB's error names it: that file
    takes the slow path and the rest is tried again (file by file if the culprit can't be told)."""
    group = list(group)
    attempt = 0
    while group:
        out = tmp / f"records-{n}-{attempt}.parquet"
        try:
            parse_to_parquet(con, {s.read_path: s.key for s in group}, fmt, out)
            return
        except duckdb.Error as exc:
            culprit = next((s for s in group if s.read_path.name in str(exc)), None)
            if culprit is None or len(group) == 1:
                break
            group.remove(culprit)
            _slow(con, home, culprit, work, tmp)
            attempt += 1
    for src in group:
        try:
            parse_to_parquet(con, {src.read_path: src.key}, fmt, tmp / f"records-{src.key}.parquet")
        except duckdb.Error:
            _slow(con, home, src, work, tmp)


def _source(lf: LandingFile, key: str, work: Path, i: int) -> _Source:
    # DuckDB treats a path as a glob and goes by its suffix: read through a plainly named link.
    link = work / f"f{i:06d}{lf.suffix}"
    os.symlink(lf.path, link)
    src = _Source(lf, key, link, lf.is_json, lf.gz, [])
    if lf.gz:
        problem = rj.gzip_problem(lf.path, gzip_cap())
        if problem and problem[0] == "cap":
            src.whole_file_errors.append(problem[1])
        elif problem:
            src.broken = problem[1]
    return src


def gzip_cap() -> int:
    """Bytes a gzip may expand to ($RERUN_LINEAGE_MAX_DECOMPRESSED_BYTES, default 16 GiB; 0 = no cap).
    A decompression bomb is stopped there and the whole file is one reject row."""
    value = os.environ.get(GZIP_CAP_ENV, "").strip()
    return int(value) if value.isdigit() else DEFAULT_GZIP_CAP


def _format(src: _Source) -> str | None:
    """DuckDB's format for the file; None when DuckDB can't take it as it is (bare scalar, a broken gzip).
    DuckDB's reader skips a byte-order mark itself (files saved by Windows tools have one)."""
    if src.broken is not None:
        return None
    if not src.lf.is_json:
        return "newline_delimited"
    head = rj.read_head(src.lf.path, src.lf.gz).removeprefix(rj.BOM)
    return {b"[": "array", b"{": "unstructured"}.get(head.lstrip(b" \t\r\n")[:1])


def _slow(con, home: Home, src: _Source, work: Path, tmp: Path) -> None:
    """Rewrite the file as one complete record per line, then parse the rewrite. A compressed file
    that breaks off keeps the records complete before the break; the break is a reject row."""
    copy = work / f"{src.read_path.stem}.rewrite.ndjson"
    broke = _rewrite_json(src, copy) if src.lf.is_json else _rewrite_lines(src, copy)
    src.read_path, src.is_json, src.gz = copy, False, False
    if copy.stat().st_size:
        try:
            parse_to_parquet(con, {copy: src.key}, "newline_delimited", tmp / f"records-{src.key}.parquet")
        except duckdb.Error:
            broke = broke or "cannot be read as JSON"
    if broke:
        src.whole_file_errors.append(broke)


def _rewrite_lines(src: _Source, copy: Path) -> str | None:
    with open(copy, "w+b") as fh:
        try:
            for line in rj.iter_lines(src.lf.path, src.lf.gz):
                fh.write(line)
        except rj.BrokenStream as exc:
            if exc.intact is not None:  # corrupt: keep only the complete lines of verified members
                fh.truncate(rj.line_start_at_or_before(fh, exc.intact))
            return str(exc)
    return None


def _rewrite_json(src: _Source, copy: Path) -> str | None:
    # Bytes that are not UTF-8 pass through as they are: only the record holding them is rejected.
    ends, written = array("q"), array("q")  # per record: where it ends in the file, and in the copy
    with open(copy, "wb") as fh:
        try:
            for value, end in rj.iter_json_values(src.lf.path, src.lf.gz, track_bytes=src.lf.gz):
                # JSON never holds a raw line break inside a string: flattening keeps the value.
                line = value.replace("\r", " ").replace("\n", " ") + "\n"
                fh.write(line.encode(errors="surrogateescape"))
                if src.lf.gz:
                    ends.append(end)
                    written.append(fh.tell())
            return None
        except rj.BrokenStream as exc:
            broke = exc
        except rj.JsonSplitError as exc:
            broke = src.broken  # the gzip check found where it breaks (None: it does not)
            if broke is None:  # not where it broke off: the file cannot be parsed at all
                fh.truncate(0)
                return str(exc)
        if broke.intact is not None:  # corrupt: keep only the records of members that checked out
            kept = bisect.bisect_right(ends, broke.intact)
            fh.truncate(written[kept - 1] if kept else 0)
        return str(broke)


def _finish(con, home: Home, sources: list[_Source], tmp: Path) -> dict[str, dict[str, int]]:
    """Per-key counts; reject rows with real record numbers, worded errors and quarantined raw text."""
    parts = sorted(tmp.glob("records*.parquet"))
    kinds: dict[str, dict[str, int]] = {}
    wanted: dict[str, dict[int, str]] = {}
    if parts:
        listed = "[" + ", ".join(f"'{sql_path(p)}'" for p in parts) + "]"
        for key, kind, n in con.execute(
                f"SELECT key, kind, count(*) FROM read_parquet({listed}) GROUP BY ALL").fetchall():
            kinds.setdefault(key, {})[kind] = n
        for key, rec, error in con.execute(
                f"SELECT key, rec, error FROM read_parquet({listed}) WHERE kind = 'reject' ORDER BY ALL"
        ).fetchall():
            wanted.setdefault(key, {})[rec] = error
    rows, counts = [], {}
    for src in sources:
        qdir = quarantine_name(src.key)
        for error in src.whole_file_errors:
            name = f"{qdir}/{src.lf.path.name}"
            rj.copy_private(src.lf.path, home.quarantine / name)
            rows.append({"key": src.key, "record_number": None, "error": error, "quarantine_name": name})
        rows += _record_rejects(con, home, src, wanted.get(src.key, {}), qdir)
        k = kinds.get(src.key, {})
        counts[src.key] = {
            "snapshots": k.get("snapshot", 0), "webhooks": k.get("webhook", 0),
            "bare_events": k.get("event", 0),
            "rejects": len(src.whole_file_errors) + k.get("reject", 0),
        }
    pq.write_table(pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA), tmp / "rejects.parquet")
    (tmp / "counts.json").write_text(json.dumps(counts))
    return counts


def _record_rejects(con, home: Home, src: _Source, wanted: dict[int, str], qdir: str) -> list[dict]:
    if not wanted:
        return []
    rows = []
    for ordinal, number, raw in _find_records(con, src, set(wanted)):
        name = f"{qdir}/record-{number}.json"
        rj.write_private(home.quarantine / name, raw)
        rows.append({"key": src.key, "record_number": number, "error": rj.describe(raw, wanted.pop(ordinal)),
                     "quarantine_name": name})
    for ordinal, error in sorted(wanted.items()):  # not found again by Python: still one row each
        rows.append({"key": src.key, "record_number": ordinal, "error": error, "quarantine_name": None})
    return rows


def _find_records(con, src: _Source, ordinals: set[int]):
    """(ordinal, record number, raw bytes) of the wanted records, streaming the file once."""
    try:
        if src.lf.is_json:  # ordinals are array positions; the raw text is the original file's
            items = _json_items(con, src, ordinals) if src.is_json else None
            if items is not None:
                yield from items
                return
            last = max(ordinals)
            for i, (value, _) in enumerate(rj.iter_json_values(src.lf.path, src.lf.gz), start=1):
                if i in ordinals:
                    yield i, i, value.encode("utf-8", errors="surrogateescape")
                if i >= last:
                    return
            return
        yield from rj.find_lines(src.read_path, src.gz, ordinals)
    except (rj.BrokenStream, rj.JsonSplitError, UnicodeDecodeError):
        return


def _json_items(con, src: _Source, ordinals: set[int]) -> list[tuple[int, int, bytes]] | None:
    """The wanted items of a .json file DuckDB read whole, as DuckDB hands back each item's exact text
    (many times faster than splitting the file in Python, and never the whole file in memory);
    None when it cannot, and Python splits the file instead."""
    fmt = src.fmt
    con.register("wanted_items", pa.table({"rec": pa.array(sorted(ordinals), pa.int64())}))
    try:
        for max_object in MAX_OBJECT_BYTES:
            try:
                rows = con.execute(
                    "SELECT rec, json FROM (SELECT row_number() OVER () AS rec, json FROM read_json_objects("
                    f"'{sql_path(src.read_path)}', format = '{fmt}', maximum_object_size = {max_object})) "
                    "JOIN wanted_items USING (rec) ORDER BY rec").fetchall()
            except duckdb.Error as exc:
                if "maximum_object_size" in str(exc):
                    continue
                return None
            if len(rows) != len(ordinals):
                return None
            return [(rec, rec, text.encode("utf-8", errors="surrogateescape")) for rec, text in rows]
        return None
    except UnicodeDecodeError:
        return None
    finally:
        con.unregister("wanted_items")
