"""Group `lineage`: rerun edges → chains → one summary row per chain, each a DuckDB SQL file over Parquet."""

import dagster as dg

from pipelines.defs.metadata import POOL, numbers, status_rates, table_metadata
from pipelines.defs.resources import LineageResource

KINDS = {"duckdb", "parquet"}


@dg.asset(
    group_name="lineage",
    kinds=KINDS,
    deps=["applications", "application_reruns", "events"],
    pool=POOL,
    description="One row per (parent, child) rerun link and the evidence for it (sql/rerun_edges.sql).",
)
def rerun_edges(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.chains import build_rerun_edges

    home = lineage.get_home()
    rows = build_rerun_edges(home)
    lineage.say(f"rerun_edges: {rows:,} rows")
    return dg.MaterializeResult(metadata=table_metadata(home, "rerun_edges"))


@dg.asset(
    group_name="lineage",
    kinds=KINDS,
    deps=["rerun_edges", "applications"],
    pool=POOL,
    description="Per application: parent, root, depth, attempt, lineage_status (sql/rerun_chains.sql).",
)
def rerun_chains(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.chains import build_rerun_chains

    home = lineage.get_home()
    rows = build_rerun_chains(home)
    lineage.say(f"rerun_chains: {rows:,} rows")
    rates = numbers(status_rates(home))  # cycle_rate, broken_chain_rate, ...: plotted across runs
    return dg.MaterializeResult(metadata={**table_metadata(home, "rerun_chains"), **rates})


@dg.asset(
    group_name="lineage",
    kinds=KINDS,
    deps=["rerun_chains", "applications"],
    pool=POOL,
    description="Per chain root: size, depth, final status/outcome, recovered (sql/chain_summary.sql).",
)
def chain_summary(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.chains import build_chain_summary

    home = lineage.get_home()
    rows = build_chain_summary(home)
    lineage.say(f"chain_summary: {rows:,} rows")
    return dg.MaterializeResult(metadata=table_metadata(home, "chain_summary"))
