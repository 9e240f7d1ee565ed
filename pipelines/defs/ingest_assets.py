"""Group `ingest`: one pass over the landing folder writes four tables, so one multi-asset owns them."""

import time

import dagster as dg

from lineage.errors import LineageError
from pipelines.defs.metadata import POOL, numbers, table_metadata
from pipelines.defs.resources import LineageResource

INGEST_TABLES = {
    "applications": "One row per application token seen in a snapshot (the latest snapshot wins).",
    "application_reruns": "Forward rerun links (`_embedded.reruns[]`) of each winning snapshot.",
    "events": "One row per distinct event, from snapshots, webhook deliveries and bare events.",
    "rejects": "Records that could not be read: file, record number, reason, quarantine path.",
}
REJECT_RATE_CHECK = "reject_rate_under_threshold"


def files_note(files_read: int, files_unchanged: int) -> str:
    """What ingest read, in words: the second run on an unchanged landing folder reads no data file."""
    line = f"files read: {files_read:,}, unchanged (not read again): {files_unchanged:,}"
    return f"{line}; no data file read" if files_read == 0 else line


@dg.multi_asset(
    name="ingest",
    specs=[
        dg.AssetSpec(name, group_name="ingest", kinds={"parquet", "duckdb"}, description=text)
        for name, text in INGEST_TABLES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            REJECT_RATE_CHECK,
            asset="rejects",
            description="Rejected records stay under max_reject_rate (default 5%) of all records in the "
            "landing folder. WARN only: bad records never stop a run (CONTRACT §2).",
        )
    ],
    pool=POOL,
)
def ingest_tables(context: dg.AssetExecutionContext, lineage: LineageResource):
    from lineage.ingest import ingest

    home = lineage.get_home()
    landing = lineage.landing_path()
    if not landing.is_dir():
        raise LineageError(f"no such landing folder: {landing}")
    started = time.monotonic()

    def log(message: str) -> None:  # the library's progress: to the run's log, and the CLI's terminal
        context.log.info(message)
        lineage.say(message)

    result = ingest(home, landing=landing, rebuild=lineage.rebuild, log=log)
    seconds = time.monotonic() - started
    lineage.say(f"ingest: {result.summary()} ({seconds:.1f}s)")

    run_figures = {
        **numbers(result.metadata()),
        "files_read": dg.MetadataValue.int(result.files_read),
        "files_unchanged": dg.MetadataValue.int(result.files_unchanged),
        "files": dg.MetadataValue.text(files_note(result.files_read, result.files_unchanged)),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),
    }
    rate = result.reject_rate  # of the landing folder as a whole, so unchanged runs plot the same value
    rejects = {"reject_rate": dg.MetadataValue.float(rate),
               "rejects_this_run": dg.MetadataValue.int(result.rejects)}
    for name in INGEST_TABLES:
        extra = {"applications": run_figures, "rejects": rejects}.get(name, {})
        yield dg.MaterializeResult(asset_key=name, metadata={**table_metadata(home, name), **extra})
    yield dg.AssetCheckResult(
        asset_key="rejects",
        check_name=REJECT_RATE_CHECK,
        passed=rate <= lineage.max_reject_rate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "reject_rate": dg.MetadataValue.float(rate),
            "threshold": dg.MetadataValue.float(lineage.max_reject_rate),
            "rejects": dg.MetadataValue.int(result.total_rejects),
            "records": dg.MetadataValue.int(result.total_records),
        },
    )
