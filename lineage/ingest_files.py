"""The landing folder and what was ingested from it: discovery, content hashes, the manifest, staged parts.

Staged parts live under <home>/state/staged/<sha256>/ (content-addressed: a renamed or duplicated file is
not parsed again), and the tables are derived from the parts of the files present now, so the tables
always mirror the landing folder: a removed file's rows go away with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lineage.warehouse import Home, write_arrow

MANIFEST_TABLE = "ingested_files"
LINE_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIX = ".json"
HASH_CHUNK = 1 << 20

MANIFEST_SCHEMA = pa.schema([
    ("source_file", pa.string()),
    ("status", pa.string()),  # read / unchanged / skipped
    ("note", pa.string()),  # why a file was skipped
    ("size", pa.int64()),
    ("mtime_ns", pa.int64()),
    ("sha256", pa.string()),
    ("records", pa.int64()),
    ("snapshots", pa.int64()),
    ("webhooks", pa.int64()),
    ("bare_events", pa.int64()),
    ("rejects", pa.int64()),
])
COUNTS = ("records", "snapshots", "webhooks", "bare_events", "rejects")


@dataclass(frozen=True)
class LandingFile:
    path: Path
    rel: str  # path relative to the landing folder, '/'-separated
    size: int
    mtime_ns: int
    is_json: bool  # `.json` (one record or an array); else one record per line
    gz: bool

    @property
    def kind(self) -> str:
        """How the file is read: json, json.gz, lines or lines.gz."""
        return ("json" if self.is_json else "lines") + (".gz" if self.gz else "")

    def staged_key(self, sha256: str) -> str:
        """Staged parts are named by content and kind: the same bytes read as .json or as lines differ."""
        return f"{sha256}-{self.kind}"

    @property
    def suffix(self) -> str:
        """The file's own suffixes (e.g. `.ndjson.gz`), for readers that go by the name."""
        return (JSON_SUFFIX if self.is_json else LINE_SUFFIXES[0]) + (".gz" if self.gz else "")


def export_kind(name: str) -> tuple[bool, bool] | None:
    """(is_json, gz) for an export file name, None for anything else. Case-insensitive."""
    low = name.lower()
    gz = low.endswith(".gz")
    if gz:
        low = low[:-3]
    if low.endswith(JSON_SUFFIX):
        return True, gz
    if low.endswith(LINE_SUFFIXES):
        return False, gz
    return None


def discover(landing: Path) -> tuple[list[LandingFile], list[tuple[str, str]]]:
    """Export files under `landing` (recursive, sorted by relative path) and the skipped (path, reason).

    Symbolic links are never followed (a link may lead outside the landing folder or into a loop)."""
    found: list[LandingFile] = []
    skipped: list[tuple[str, str]] = []
    def unreadable(exc: OSError) -> None:  # a folder that cannot be listed is listed as skipped
        skipped.append((_rel(Path(exc.filename), landing) + "/", f"cannot be read: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(landing, followlinks=False, onerror=unreadable):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                dirnames.remove(d)
                skipped.append((_rel(base / d, landing), "symbolic link to a folder (not followed)"))
        for name in filenames:
            path = base / name
            rel = _rel(path, landing)
            kind = export_kind(name)
            try:
                st = os.lstat(path)
            except OSError as exc:
                skipped.append((rel, f"cannot be read: {exc.strerror}"))
                continue
            if stat.S_ISLNK(st.st_mode):
                skipped.append((rel, "symbolic link (not followed)"))
            elif not stat.S_ISREG(st.st_mode):
                skipped.append((rel, "not a regular file"))
            elif kind is None:
                skipped.append((rel, "not a .json, .ndjson or .jsonl file (optionally .gz)"))
            elif not os.access(path, os.R_OK):
                skipped.append((rel, "cannot be read: permission denied"))
            else:
                found.append(LandingFile(path, rel, st.st_size, st.st_mtime_ns, kind[0], kind[1]))
    found.sort(key=lambda f: f.rel)
    skipped.sort()
    return found, skipped


def _rel(path: Path, landing: Path) -> str:
    return path.relative_to(landing).as_posix()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(home: Home) -> dict[str, dict]:
    """The previous run's manifest rows of files that were ingested, by source_file."""
    path = home.table_path(MANIFEST_TABLE)
    if not path.exists():
        return {}
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException):
        return {}  # unreadable manifest: everything is simply read again
    return {r["source_file"]: r for r in rows if r.get("status") in ("read", "unchanged") and r.get("sha256")}


def write_manifest(home: Home, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
    write_arrow(home, MANIFEST_TABLE, table)


def staged_root(home: Home) -> Path:
    return home.state / "staged"


def staged_index(home: Home) -> dict[str, tuple[Path, dict[str, int]]]:
    """Staged key -> (the batch folder holding its parts, its counts), from each batch's counts.json."""
    index: dict[str, tuple[Path, dict[str, int]]] = {}
    root = staged_root(home)
    if not root.is_dir():
        return index
    for d in sorted(root.glob("batch-*")):
        try:
            counts = json.loads((d / "counts.json").read_text())
        except (OSError, ValueError):
            continue  # not finished: never used
        for key, c in counts.items():
            index.setdefault(key, (d, c))
    return index


def quarantine_name(key: str) -> str:
    """The quarantine sub-folder of one staged key: 16 hex digits of the content hash, then the kind."""
    sha, _, kind = key.partition("-")
    return f"{sha[:16]}-{kind}"


_QUARANTINED = re.compile(r"^[0-9a-f]{16}-(json|lines)(\.gz)?$")


def collect_garbage(home: Home, live: set[Path], keep: set[str]) -> None:
    """Drop staged batches no file in the landing folder uses, and quarantined records of contents no
    longer there. `live`: batch folders in use; `keep`: staged keys in use."""
    root = staged_root(home)
    if root.is_dir():
        for d in root.iterdir():
            if (d.name.startswith("batch-") and d not in live) or d.name.startswith(".tmp-"):
                shutil.rmtree(d, ignore_errors=True)
    keep_q = {quarantine_name(k) for k in keep}
    if home.quarantine.is_dir():
        for d in home.quarantine.iterdir():
            if d.is_dir() and d.name not in keep_q and _QUARANTINED.match(d.name):
                shutil.rmtree(d, ignore_errors=True)
