"""`warehouse.duckdb`: views over every table, published last so analysts always see one whole run."""

import dagster as dg

from lineage.reports import REPORT_TABLES
from pipelines.defs.ingest_assets import INGEST_TABLES
from pipelines.defs.metadata import POOL
from pipelines.defs.resources import LineageResource


@dg.asset(
    group_name="reports",
    kinds={"duckdb"},
    deps=[*INGEST_TABLES, "rerun_edges", "rerun_chains", "chain_summary", *REPORT_TABLES, "html_report"],
    pool=POOL,
    description="warehouse.duckdb: a view per table over the Parquet; open with `rerun-lineage sql` or "
    "`duckdb -readonly`. Built as a new file and moved into place, so readers are never blocked.",
)
def warehouse(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.warehouse import publish_warehouse

    home = lineage.get_home()
    path = publish_warehouse(home)
    tables = home.tables()
    lineage.say(f"warehouse: {path} ({len(tables)} tables)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "tables": dg.MetadataValue.int(len(tables)),
            "views": dg.MetadataValue.md("\n".join(f"- `{t}`" for t in tables)),
        }
    )
