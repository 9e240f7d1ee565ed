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
    description="One row per (parent, child) rerun link, with the evidence that found it (sql/rerun_edges.sql).",
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
    description="One row per application: parent, root, depth, attempt and lineage_status (sql/rerun_chains.sql).",
)
def rerun_chains(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.chains import build_rerun_chains

    home = lineage.get_home()
    rows = build_rerun_chains(home)
    lineage.say(f"rerun_chains: {rows:,} rows")
    return dg.MaterializeResult(metadata={**table_metadata(home, "rerun_chains"), **numbers(status_rates(home))})


@dg.asset(
    group_name="lineage",
    kinds=KINDS,
    deps=["rerun_chains", "applications"],
    pool=POOL,
    description="One row per chain root: size, depth, final status and outcome, recovered (sql/chain_summary.sql).",
)
def chain_summary(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.chains import build_chain_summary

    home = lineage.get_home()
    rows = build_chain_summary(home)
    lineage.say(f"chain_summary: {rows:,} rows")
    return dg.MaterializeResult(metadata=table_metadata(home, "chain_summary"))
