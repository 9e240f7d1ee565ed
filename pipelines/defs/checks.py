"""Asset checks beside the tables they guard. Blocking (ERROR) where a report downstream would be wrong;
WARN where the data is merely unusual: bad records and odd lineage never stop a run (CONTRACT §2).

Counts are lazy Polars scans of the Parquet the asset just wrote: no SQL outside sql/, no rows in memory.
"""

import dagster as dg
import polars as pl

from lineage.report_inputs import scan
from pipelines.defs.resources import LineageResource

WARN = dg.AssetCheckSeverity.WARN
TOKEN = "journey_application_token"


def _counts(lf: pl.LazyFrame, *exprs: pl.Expr) -> tuple[int, ...]:
    return tuple(lf.select(*exprs).collect().row(0))


@dg.asset_check(
    asset="applications",
    blocking=True,
    description="Each journey_application_token appears once: chains and reports key on it.",
)
def applications_token_unique(lineage: LineageResource) -> dg.AssetCheckResult:
    rows, distinct = _counts(scan(lineage.get_home(), "applications"), pl.len(), pl.col(TOKEN).n_unique())
    return dg.AssetCheckResult(
        passed=rows == distinct,
        metadata={"rows": rows, "distinct_tokens": distinct, "duplicates": rows - distinct},
    )


@dg.asset_check(
    asset="events",
    additional_deps=["applications"],
    description="Events whose application has no snapshot in the export (kept, as the contract says; WARN).",
)
def events_reference_known_applications(lineage: LineageResource) -> dg.AssetCheckResult:
    home = lineage.get_home()
    events = scan(home, "events")
    orphans = events.join(scan(home, "applications").select(TOKEN), on=TOKEN, how="anti")
    [missing], [total] = _counts(orphans, pl.col(TOKEN).n_unique()), _counts(events, pl.len())
    return dg.AssetCheckResult(
        passed=missing == 0,
        severity=WARN,
        metadata={"applications_missing": missing, "events": total},
    )


@dg.asset_check(
    asset="rerun_chains",
    blocking=True,
    additional_deps=["applications"],
    description="rerun_chains has exactly one row per application: every report counts chains from it.",
)
def rerun_chains_one_row_per_application(lineage: LineageResource) -> dg.AssetCheckResult:
    home = lineage.get_home()
    chains, distinct = _counts(scan(home, "rerun_chains"), pl.len(), pl.col(TOKEN).n_unique())
    [apps] = _counts(scan(home, "applications"), pl.len())
    return dg.AssetCheckResult(
        passed=chains == distinct == apps,
        metadata={"rows": chains, "distinct_tokens": distinct, "applications": apps},
    )


def _status_share(lineage: LineageResource, status: str) -> tuple[int, int]:
    chains = scan(lineage.get_home(), "rerun_chains")
    return _counts(chains, (pl.col("lineage_status") == status).sum(), pl.len())


@dg.asset_check(asset="rerun_chains", description="No application sits in a rerun cycle (WARN).")
def rerun_chains_no_cycles(lineage: LineageResource) -> dg.AssetCheckResult:
    cycles, total = _status_share(lineage, "cycle")
    return dg.AssetCheckResult(
        passed=cycles == 0, severity=WARN, metadata={"cycle_rows": cycles, "rows": total}
    )


def _rate_check(lineage: LineageResource, status: str, threshold: float) -> dg.AssetCheckResult:
    count, total = _status_share(lineage, status)
    rate = count / total if total else 0.0
    return dg.AssetCheckResult(
        passed=rate <= threshold,
        severity=WARN,
        metadata={f"{status}_rows": count, "rate": float(rate), "threshold": float(threshold)},
    )


@dg.asset_check(
    asset="rerun_chains",
    description="Applications whose reported root differs from the resolved one stay under "
    "max_root_conflict_rate (default 1%; WARN).",
)
def root_conflict_rate(lineage: LineageResource) -> dg.AssetCheckResult:
    return _rate_check(lineage, "root_conflict", lineage.max_root_conflict_rate)


@dg.asset_check(
    asset="rerun_chains",
    description="Applications with a missing ancestor (other than the root) stay under "
    "max_broken_chain_rate (default 5%; WARN).",
)
def broken_chain_rate(lineage: LineageResource) -> dg.AssetCheckResult:
    return _rate_check(lineage, "broken_chain", lineage.max_broken_chain_rate)
