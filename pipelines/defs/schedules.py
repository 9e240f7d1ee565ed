"""A daily refresh of every asset and check. Ingest stays incremental (unchanged files are not read
again); `rerun-lineage run --rebuild` is the way to start from scratch, on purpose, never on a timer."""

import dagster as dg

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    target=dg.AssetSelection.all(),
    description="Every day at 03:00 UTC: ingest what is new, rebuild chains, reports and the warehouse.",
)
