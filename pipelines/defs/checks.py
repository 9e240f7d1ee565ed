"""Asset checks beside the tables they guard. Blocking (ERROR) where a report downstream would be wrong;
WARN where the data is merely unusual: bad records and odd lineage never stop a run (CONTRACT §2)."""

import dagster as dg
import duckdb

from lineage.warehouse import Home, table_sql
from pipelines.defs.resources import LineageResource

WARN = dg.AssetCheckSeverity.WARN


def _one(home: Home, query: str) -> tuple:
    with duckdb.connect() as con:
        return con.execute(query.format(**{n: table_sql(home, n) for n in _TABLES})).fetchone()


_TABLES = ("applications", "events", "rerun_chains")


@dg.asset_check(
    asset="applications",
    blocking=True,
    description="Each journey_application_token appears once: chains and reports key on it.",
)
def applications_token_unique(lineage: LineageResource) -> dg.AssetCheckResult:
    rows, distinct = _one(
        lineage.get_home(), "SELECT count(*), count(DISTINCT journey_application_token) FROM {applications}"
    )
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
    missing, events = _one(
        lineage.get_home(),
        "SELECT count(DISTINCT e.journey_application_token) "
        "FILTER (WHERE a.journey_application_token IS NULL), count(*) "
        "FROM {events} e LEFT JOIN {applications} a USING (journey_application_token)",
    )
    return dg.AssetCheckResult(
        passed=missing == 0,
        severity=WARN,
        metadata={"applications_missing": missing, "events": events},
    )


@dg.asset_check(
    asset="rerun_chains",
    blocking=True,
    additional_deps=["applications"],
    description="rerun_chains has exactly one row per application: every report counts chains from it.",
)
def rerun_chains_one_row_per_application(lineage: LineageResource) -> dg.AssetCheckResult:
    chains, distinct, apps = _one(
        lineage.get_home(),
        "SELECT (SELECT count(*) FROM {rerun_chains}), "
        "(SELECT count(DISTINCT journey_application_token) FROM {rerun_chains}), "
        "(SELECT count(*) FROM {applications})",
    )
    return dg.AssetCheckResult(
        passed=chains == distinct == apps,
        metadata={"rows": chains, "distinct_tokens": distinct, "applications": apps},
    )


def _status_share(lineage: LineageResource, status: str) -> tuple[int, int]:
    return _one(
        lineage.get_home(),
        f"SELECT count(*) FILTER (WHERE lineage_status = '{status}'), count(*) FROM {{rerun_chains}}",
    )


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
