"""How long the reports take on a large warehouse, and how much memory they need.

    uv run python benchmarks/bench_reports.py [--applications 1000000] [--home /tmp/bench_reports]

Writes the report inputs (applications, rerun_chains, chain_summary, rerun_edges, events) straight as
Parquet with vectorised numpy/Polars (no ingest: this measures the reports alone), then times every
report table, the charts and HTML, and the headline; prints the figures and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import polars as pl

from lineage import contract, reports
from lineage.warehouse import Home, write_arrow

JOURNEYS = [f"J-bench{i}" for i in range(6)]
OUTCOMES = np.array(["Approved", "Denied", "Manual Review", "approved", "Declined"])


def _write(home: Home, name: str, df: pl.DataFrame) -> None:
    schema = contract.SCHEMAS[name]
    full = df.with_columns([pl.lit(None).alias(c) for c in schema.names if c not in df.columns])
    write_arrow(home, name, full.select(schema.names).to_arrow().cast(schema))


def make_inputs(home: Home, n: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    # Chain sizes: most applications are never rerun, a few are rerun several times.
    sizes = np.minimum(rng.geometric(0.8, size=n), 60)
    sizes = sizes[np.cumsum(sizes) <= n]
    chain = np.repeat(np.arange(sizes.size), sizes)
    depth = np.arange(chain.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    tokens = np.char.add("JA-", np.arange(chain.size).astype(str))
    root_idx = np.repeat(np.cumsum(sizes) - sizes, sizes)
    start = 1_700_000_000_000 + rng.integers(0, 365 * 86_400_000, size=sizes.size)
    created = np.repeat(start, sizes) + depth * rng.integers(1_000, 86_400_000, size=chain.size)
    status = np.where(rng.random(chain.size) < 0.8, "completed", "error")
    outcome = OUTCOMES[rng.integers(0, OUTCOMES.size, chain.size)]  # kept only where completed, below
    journey = np.array(JOURNEYS)[np.repeat(rng.integers(0, len(JOURNEYS), sizes.size), sizes)]
    ts = pl.col("created_ms").cast(pl.Datetime("ms", "UTC")).cast(pl.Datetime("us", "UTC"))
    apps = pl.DataFrame(
        {
            "journey_application_token": tokens,
            "journey_token": journey,
            "status": status,
            "complete_outcome": outcome,
            "created_ms": created,
            "is_rerun": depth > 0,
            "api": rng.random(chain.size) < 0.6,
            "is_shadow": rng.random(chain.size) < 0.01,
            "sandbox": rng.random(chain.size) < 0.01,
        }
    ).with_columns(
        ts.alias("created_at"),
        ts.alias("updated_at"),
        pl.col("journey_token").alias("journey_name"),
        pl.when(pl.col("status") == "completed").then("complete_outcome").alias("complete_outcome"),
        pl.when(pl.col("is_rerun"))
        .then(pl.when("api").then(pl.lit("api")).otherwise(pl.lit("dashboard")))
        .alias("rerun_initiated_by"),
    )
    _write(home, "applications", apps)
    prev = np.char.add("JA-", (np.arange(chain.size) - 1).astype(str))  # kept only below a root, below
    last = np.cumsum(sizes) - 1
    chains = pl.DataFrame(
        {
            "journey_application_token": tokens,
            "previous_token": prev,
            "root_token": tokens[root_idx],
            "depth": depth,
            "attempt": depth + 1,
            "chain_size": np.repeat(sizes, sizes),
            "is_root": depth == 0,
            "is_latest": np.isin(np.arange(chain.size), last),
            "lineage_status": "complete",
        }
    ).with_columns(pl.when(pl.col("depth") > 0).then("previous_token").alias("previous_token"))
    _write(home, "rerun_chains", chains)
    _write(
        home,
        "rerun_edges",
        chains.filter(pl.col("previous_token").is_not_null()).select(
            pl.col("previous_token").alias("parent_token"),
            pl.col("journey_application_token").alias("child_token"),
            pl.lit("api").alias("initiated_by"),
        ),
    )
    firsts = np.cumsum(sizes) - sizes
    summary = pl.DataFrame(
        {
            "root_token": tokens[firsts],
            "root_in_export": np.ones(sizes.size, bool),
            "journey_token": journey[firsts],
            "root_created_ms": created[firsts],
            "root_status": status[firsts],
            "root_outcome": outcome[firsts],
            "chain_size": sizes,
            "rerun_count": sizes - 1,
            "max_depth": sizes - 1,
            "latest_token": tokens[last],
            "final_status": status[last],
            "final_outcome": outcome[last],
            "first_rerun_ms": created[np.minimum(firsts + 1, chain.size - 1)],
        }
    ).with_columns(
        pl.col("root_created_ms").cast(pl.Datetime("ms", "UTC")).alias("root_created_at"),
        pl.when(pl.col("chain_size") > 1)
        .then(pl.col("first_rerun_ms").cast(pl.Datetime("ms", "UTC")))
        .alias("first_rerun_at"),
        pl.when(pl.col("root_status") == "completed").then("root_outcome").alias("root_outcome"),
        pl.when(pl.col("final_status") == "completed").then("final_outcome").alias("final_outcome"),
    )
    _write(home, "chain_summary", summary)
    _write(
        home,
        "events",
        apps.select("journey_application_token", pl.lit("started").alias("type"), "created_at"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--home", default="/tmp/bench_reports")
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    home = Home(Path(args.home)).ensure()
    t = time.perf_counter()
    make_inputs(home, args.applications)
    print(f"inputs: {args.applications:,} applications written in {time.perf_counter() - t:.1f}s")
    total = 0.0
    for name in reports.REPORT_TABLES:
        t = time.perf_counter()
        df = reports.build_report(home, name)
        took = time.perf_counter() - t
        total += took
        print(f"  {name:30s} {df.height:7,} rows  {took:6.2f}s")
    t = time.perf_counter()
    path = reports.build_html_report(home)
    print(f"  html + charts                                  {time.perf_counter() - t:6.2f}s  {path}")
    t = time.perf_counter()
    reports.headline(home)
    print(f"  headline                                       {time.perf_counter() - t:6.2f}s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"report tables total {total:.2f}s; peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
