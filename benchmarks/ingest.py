"""Ingest benchmark: generate N applications, ingest them, compare with DuckDB's own JSON readers.

    uv run python benchmarks/ingest.py [--applications 200000] [--seed 7] [--keep DIR]

Prints wall time, MB/s of JSON (uncompressed, and as on disk), peak RSS of the ingest (a child process, so
the generator's memory does not count), and the ratio to the floor: DuckDB reading the same files itself
in the same run: read_json with auto-detection materialising every record (the target's floor), and
read_ndjson_objects / read_json_objects counting or materialising the raw records. Also times a
second, incremental run (nothing changed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from lineage.ingest import ingest
from lineage.warehouse import Home
home, landing = Home(Path(sys.argv[1])).ensure(), Path(sys.argv[2])
t = time.perf_counter()
r = ingest(home, landing, log=lambda line: None)
first = time.perf_counter() - t
t = time.perf_counter()
again = ingest(home, landing, log=lambda line: None)
second = time.perf_counter() - t
print(json.dumps({"seconds": first, "incremental_seconds": second, "summary": r.summary(),
                  "unchanged": again.files_unchanged, "bytes": r.bytes_read,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FLOOR = r"""
import json, sys, time, duckdb
from pathlib import Path
files = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")

def readable(paths, fn, **kw):
    # drop files DuckDB cannot read whole (a broken gzip, a truncated .json): they have no floor
    paths = list(paths)
    while paths:
        try:
            return fn(paths)
        except Exception as exc:  # duckdb.Error, or OSError from the Arrow stream
            bad = [p for p in paths if p in str(exc)]
            if not bad:
                raise
            paths.remove(bad[0])
    return 0

lines = [f for f in files if not f.endswith((".json", ".json.gz"))]
arrays = [f for f in files if f.endswith((".json", ".json.gz"))]
def listed(ps): return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in ps) + "]"
def src(ps, fn, opts=""): return f"{fn}({listed(ps)}, {opts}ignore_errors=true)"
def count(fn, opts=""): return lambda ps: con.sql(f"SELECT count(*) FROM {src(ps, fn, opts)}").fetchall()
def fetch(sel, fn, opts=""):
    return lambda ps: con.sql(f"SELECT {sel} FROM {src(ps, fn, opts)}").arrow().read_all().num_rows
t = time.perf_counter()
readable(lines, count("read_ndjson_objects"))
readable(arrays, count("read_json_objects", "format='auto', "))
objects = time.perf_counter() - t
t = time.perf_counter()
readable(lines, fetch("json", "read_ndjson_objects"))
readable(arrays, fetch("json", "read_json_objects", "format='auto', "))
objects_out = time.perf_counter() - t
t = time.perf_counter()
readable(lines, fetch("*", "read_json", "format='newline_delimited', "))
readable(arrays, fetch("*", "read_json", "format='auto', "))
full = time.perf_counter() - t
print(json.dumps({"objects": objects, "objects_out": objects_out, "read_json": full}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    landing, home = work / "landing", work / "home"
    try:
        if not landing.is_dir():
            from lineage.synthetic import generate

            t = time.perf_counter()
            generate(landing, args.applications, seed=args.seed, progress=False)
            print(f"generated {args.applications:,} applications in {time.perf_counter() - t:.1f}s")
        shutil.rmtree(home, ignore_errors=True)
        files = sorted(str(p) for p in landing.rglob("*")
                       if p.is_file() and p.name.endswith((".json", ".ndjson", ".jsonl", ".json.gz",
                                                           ".ndjson.gz", ".jsonl.gz")))
        size_mb = sum(Path(f).stat().st_size for f in files) / 1e6
        floor = json.loads(_run([sys.executable, "-c", FLOOR, json.dumps(files)]))
        print(f"load average before the ingest: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        got = json.loads(_run([sys.executable, "-c", CHILD, str(home), str(landing)]))
        json_mb = sum(_json_bytes(Path(f)) for f in files) / 1e6
        secs = got["seconds"]
        print(f"export: {len(files)} files, {size_mb:,.1f} MB on disk, {json_mb:,.1f} MB of JSON "
              "uncompressed")
        print(f"ingest: {secs:.2f}s, {json_mb / secs:.1f} MB/s of JSON ({size_mb / secs:.1f} MB/s on disk), "
              f"peak RSS {got['rss_mb']:,.0f} MB")
        print(f"  {got['summary']}")
        print(f"incremental re-run (nothing changed): {got['incremental_seconds']:.2f}s, "
              f"{got['unchanged']} files unchanged")
        print(f"floor: read_json (materialised) {floor['read_json']:.2f}s "
              f"-> ratio {secs / floor['read_json']:.2f}x (target <= 1.5x); "
              f"read_ndjson_objects/read_json_objects counting {floor['objects']:.2f}s "
              f"-> {secs / floor['objects']:.2f}x, materialised {floor['objects_out']:.2f}s "
              f"-> {secs / floor['objects_out']:.2f}x")
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(benchmark process itself: peak RSS {self_rss:,.0f} MB)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _json_bytes(path: Path) -> int:
    """Uncompressed size: what the JSON parser sees (a gzip that breaks off counts up to the break)."""
    if not path.name.endswith(".gz"):
        return path.stat().st_size
    total, dec = 0, zlib.decompressobj(zlib.MAX_WBITS | 16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                total += len(dec.decompress(chunk))
            except zlib.error:
                break
    return total


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"benchmark step failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
