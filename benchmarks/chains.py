"""Benchmark rerun_chains resolution (sql/rerun_chains.sql) against the floor, at scale.

    uv run python benchmarks/chains.py                      # 10M applications, all three variants
    uv run python benchmarks/chains.py --applications 1000000 --variants shallow

Variants (each a fresh home under --dir, inputs written by DuckDB straight to Parquet):
  shallow  N applications in small trees (depth 0-3, siblings, lone roots) plus one chain 100,000 deep
  deep     one chain 100,000 deep, nothing else
  cycles   as shallow, with 1% of the trees closed into a cycle and the 100,000 chain closed into a ring
Each measurement runs in its own subprocess so its peak RSS is its own. The floor is the least any
resolution must do: scan the token columns, join each application to its edge and its parent, and write
the token columns to Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEEP = 100_000
TOKEN = "'JA-' || lpad(({i})::VARCHAR, 20, '0')"


def _tok(expr: str) -> str:
    return TOKEN.format(i=expr)


def generate(root: Path, n: int, variant: str) -> None:
    """applications + rerun_edges Parquet for one variant (only the columns the SQL reads are filled)."""
    import duckdb

    from lineage.contract import APPLICATIONS
    from lineage.warehouse import Home

    home = Home(root).ensure()
    con = duckdb.connect(config={"memory_limit": "4GB"})
    shallow = 0 if variant == "deep" else max(n - DEEP, 0)
    cyclic = variant == "cycles"
    # Trees of 8: p0 root; p1-3 children of p0; p4-5 children of p1; p6 child of p4; p7 a lone root.
    # In the cycles variant every 100th tree's root points at its p6 (a cycle of 4 with p2,p3,p5 under it).
    parent_of_pos = "CASE p WHEN 0 THEN NULL WHEN 1 THEN 0 WHEN 2 THEN 0 WHEN 3 THEN 0 WHEN 4 THEN 1 " \
                    "WHEN 5 THEN 1 WHEN 6 THEN 4 ELSE NULL END"
    con.execute(f"""
        CREATE TEMP TABLE links AS
        WITH s AS (SELECT i, i % 8 AS p, i - i % 8 AS g FROM range({shallow}) t(i)),
        trees AS (
            SELECT i, CASE WHEN {cyclic} AND p = 0 AND (g // 8) % 100 = 0 THEN g + 6
                           ELSE g + {parent_of_pos} END AS parent, g AS root FROM s
        ),
        deep AS (
            SELECT {shallow} + k AS i,
                   CASE WHEN k > 0 THEN {shallow} + k - 1
                        WHEN {cyclic} THEN {shallow} + {DEEP} - 1 END AS parent,
                   {shallow} AS root
            FROM range({DEEP}) t(k)
        )
        SELECT * FROM trees UNION ALL SELECT * FROM deep
    """)
    cols = []
    for f in APPLICATIONS:
        expr = {
            "journey_application_token": _tok("i"),
            "created_at": "make_timestamptz(1700000000000000 + i * 1000000)",
            "is_rerun": "parent IS NOT NULL",
            "rerun_previous_token": f"CASE WHEN parent IS NOT NULL THEN {_tok('parent')} END",
            "rerun_root_token": f"CASE WHEN parent IS NOT NULL THEN {_tok('root')} END",
            "status": "'completed'",
        }.get(f.name)
        cols.append(f'{expr or "NULL"} AS "{f.name}"')
    for name, query in {
        "applications": f"SELECT {', '.join(cols)} FROM links",
        "rerun_edges": f"SELECT {_tok('parent')} AS parent_token, {_tok('i')} AS child_token, "
                       "['child_link'] AS evidence, 'api' AS initiated_by, "
                       "make_timestamptz(1700000000000000 + i * 1000000) AS child_created_at "
                       "FROM links WHERE parent IS NOT NULL",
    }.items():
        home.table_dir(name).mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({query}) TO '{home.table_path(name)}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()


FLOOR = """
COPY (
    SELECT a.journey_application_token, e.parent_token, p.journey_application_token AS parent_in_export
    FROM {apps} AS a
    LEFT JOIN {edges} AS e ON e.child_token = a.journey_application_token
    LEFT JOIN {apps} AS p ON p.journey_application_token = e.parent_token
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
"""


def _measure(root: str, what: str) -> None:
    """Child process: run one measurement, print {"seconds", "rss_mb"} as JSON."""
    import resource

    import duckdb

    from lineage import chains
    from lineage.warehouse import Home, duckdb_memory_limit, table_sql

    home = Home(Path(root))
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage0.ru_utime + usage0.ru_stime
    start = time.perf_counter()
    if what == "floor":
        con = duckdb.connect(config={"memory_limit": duckdb_memory_limit(),
                                     "preserve_insertion_order": False})
        out = home.root / "floor.parquet"
        con.execute(FLOOR.format(apps=table_sql(home, "applications"), edges=table_sql(home, "rerun_edges"),
                                 out=out))
        con.close()
    else:
        chains.run_sql_file(home, "rerun_chains")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    # VmHWM: this process's own peak (ru_maxrss would include the forking parent's, kept across exec)
    hwm_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_mb": hwm_kb / 1024}))


def measure(root: Path, what: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--measure", str(root), what],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(root: Path, variant: str) -> str:
    import duckdb

    from lineage.warehouse import Home

    path = Home(root).table_path("rerun_chains")
    row = duckdb.sql(
        f"SELECT count(*), max(depth), count(*) FILTER (lineage_status = 'cycle') FROM '{path}'"
    ).fetchall()[0]
    return f"{row[0]:,} rows, max depth {row[1]}, {row[2]:,} in cycles"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=10_000_000)
    parser.add_argument("--variants", default="shallow,deep,cycles")
    parser.add_argument("--dir", default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best is kept")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(*args.measure)
        return
    from lineage.warehouse import duckdb_memory_limit

    scratch = Path(args.dir or tempfile.mkdtemp(prefix="chains-bench-"))
    print(f"memory_limit {duckdb_memory_limit()}, {os.cpu_count()} cores, scratch {scratch}")
    results = {}
    for variant in args.variants.split(","):
        root = scratch / variant
        t = time.perf_counter()
        generate(root, args.applications, variant)
        gen = time.perf_counter() - t
        floor = min((measure(root, "floor") for _ in range(args.repeat)), key=lambda r: r["seconds"])
        res = min((measure(root, "chains") for _ in range(args.repeat)), key=lambda r: r["seconds"])
        results[variant] = res
        print(f"{variant:8s} generated in {gen:5.1f}s; {check(root, variant)}")
        print(f"         floor {floor['seconds']:6.2f}s wall {floor['cpu']:6.2f}s cpu "
              f"{floor['rss_mb']:5.0f} MB | "
              f"rerun_chains {res['seconds']:6.2f}s wall {res['cpu']:6.2f}s cpu {res['rss_mb']:5.0f} MB | "
              f"ratio {res['seconds'] / floor['seconds']:.2f}x wall, {res['cpu'] / floor['cpu']:.2f}x cpu")
    if "shallow" in results:
        base = results["shallow"]["seconds"]
        for v in ("deep", "cycles"):
            if v in results:
                print(f"{v} / shallow time: {results[v]['seconds'] / base:.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
