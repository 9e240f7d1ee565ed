"""Materialization metadata read from the Parquet a step wrote: row count, schema, a Markdown preview."""

from typing import Any

import dagster as dg
import polars as pl
import pyarrow.parquet as pq

from lineage.warehouse import Home

POOL = "rerun_lineage_writer"  # every asset that writes to the home: one at a time (dagster.yaml limit 1)
PREVIEW_ROWS = 5

# Token and status columns only: the tables hold no personal data, and a preview should stay narrow.
PREVIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "applications": (
        "journey_application_token", "status", "complete_outcome", "is_rerun", "rerun_previous_token"
    ),
    "application_reruns": ("journey_application_token", "next_journey_application_token", "initiated_by"),
    "events": ("journey_application_token", "type", "timestamp", "rerun_journey_application_token", "source"),
    "rejects": ("source_file", "record_number"),
    "rerun_edges": ("parent_token", "child_token", "evidence", "initiated_by"),
    "rerun_chains": ("journey_application_token", "previous_token", "root_token", "depth", "lineage_status"),
    "chain_summary": ("root_token", "chain_size", "root_status", "final_status", "recovered"),
}


def column_schema(path) -> dg.TableSchema:
    schema = pq.read_schema(path)
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def markdown_preview(path, columns: tuple[str, ...] | None = None, rows: int = PREVIEW_ROWS) -> str:
    df = pl.read_parquet(path, n_rows=rows, columns=list(columns) if columns else None)
    # Lists (rerun_edges.evidence) render as text so the table stays one line per row.
    df = df.with_columns(pl.col(pl.List(pl.String)).list.join(", "))
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_rows=rows,
        tbl_cols=-1,
        fmt_str_lengths=40,
        tbl_width_chars=10_000,  # never wrap a cell: Markdown needs one line per row
    ):
        return str(df)


def table_metadata(home: Home, name: str) -> dict[str, Any]:
    """dagster/row_count, dagster/column_schema, path and preview of parquet/<name>/data.parquet."""
    path = home.table_path(name)
    return {
        "dagster/row_count": dg.MetadataValue.int(pq.read_metadata(path).num_rows),
        "dagster/column_schema": column_schema(path),
        "path": dg.MetadataValue.path(str(path)),
        "preview": dg.MetadataValue.md(markdown_preview(path, PREVIEW_COLUMNS.get(name))),
    }


def numbers(values: dict[str, Any]) -> dict[str, Any]:
    """Numeric entries as float/int metadata (the UI plots them across runs); everything else left out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            out[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = dg.MetadataValue.float(value)
    return out


def status_rates(home: Home) -> dict[str, float]:
    """Share of rerun_chains rows in each lineage_status (0.0 for an empty table)."""
    from lineage.contract import LINEAGE_STATUSES

    chains = pl.scan_parquet(home.table_path("rerun_chains"))
    counts = dict(chains.group_by("lineage_status").len().collect().rows())
    total = sum(counts.values())
    return {f"{s}_rate": (counts.get(s, 0) / total if total else 0.0) for s in LINEAGE_STATUSES}
