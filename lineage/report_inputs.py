"""The lazy inputs every report shares: the tables of the steps above, one row per chain, per application
and per rerun.

A table not written yet reads as empty with its contract columns, so every report renders on any home.
Only tokens, statuses, outcomes, timestamps and journey names/ids are read: never payloads.
"""

from __future__ import annotations

import polars as pl

from lineage.contract import SCHEMAS
from lineage.warehouse import Home

UNKNOWN_JOURNEY = "(unknown journey)"


def scan(home: Home, name: str) -> pl.LazyFrame:
    """A lazy scan of parquet/<name>/, or an empty frame with the contract columns when it is absent."""
    if home.has_table(name):
        return pl.scan_parquet(home.table_path(name))
    return pl.from_arrow(SCHEMAS[name].empty_table()).lazy()


def journey_names(home: Home) -> pl.LazyFrame:
    """journey_token -> journey_name, as named by the most recently updated application of the journey."""
    return (
        scan(home, "applications")
        .filter(pl.col("journey_token").is_not_null())
        .group_by("journey_token")
        .agg(pl.col("journey_name").sort_by("updated_at", nulls_last=False).drop_nulls().last())
    )


def with_journey_name(frame: pl.LazyFrame, names: pl.LazyFrame) -> pl.LazyFrame:
    """Add journey_name (the journey's name, else its token, else '(unknown journey)') after journey_token."""
    return frame.join(names, on="journey_token", how="left").with_columns(
        pl.coalesce("journey_name", "journey_token", pl.lit(UNKNOWN_JOURNEY)).alias("journey_name")
    )


def production() -> pl.Expr:
    """Not a shadow and not a sandbox application: a NULL flag counts as production (not known otherwise)."""
    return ~(pl.col("is_shadow").fill_null(False) | pl.col("sandbox").fill_null(False))


def chains(home: Home) -> pl.LazyFrame:
    """One row per chain with a root (chain_summary rows; cycles have no root, so are no chain here).

    Adds the chain's journey (the summary's, else the root's, else the latest application's), `in_rate`
    (the chain counts in the rerun rate: its root is in the export and is neither shadow nor sandbox) and
    `month` (of the root's created_at, UTC; NULL when the root is not in the export).
    """
    apps = scan(home, "applications")
    root = apps.select(
        pl.col("journey_application_token").alias("root_token"),
        pl.col("journey_token").alias("root_journey"),
        production().alias("root_production"),
    )
    latest = apps.select(
        pl.col("journey_application_token").alias("latest_token"),
        pl.col("journey_token").alias("latest_journey"),
    )
    return (
        scan(home, "chain_summary")
        .filter(pl.col("root_token").is_not_null())
        .join(root, on="root_token", how="left")
        .join(latest, on="latest_token", how="left")
        .with_columns(
            pl.coalesce("journey_token", "root_journey", "latest_journey").alias("journey_token"),
            (pl.col("root_in_export").fill_null(False) & pl.col("root_production").fill_null(True)).alias(
                "in_rate"
            ),
            pl.when(pl.col("root_in_export").fill_null(False))
            .then(pl.col("root_created_at").dt.truncate("1mo").dt.date())
            .alias("month"),
        )
        .drop("root_journey", "latest_journey", "root_production")
    )


def _edges(home: Home) -> pl.LazyFrame:
    """rerun_edges has one row per child by construction; a repeated pair is counted once anyway."""
    return scan(home, "rerun_edges").unique(["parent_token", "child_token"], keep="any")


def chain_reruns(home: Home) -> pl.LazyFrame:
    """Per root_token: `reruns` (members other than the root, plus reruns whose new application is not in
    the export: an edge from a member to a missing child), `production_reruns` (of those, the ones that are
    neither shadow nor sandbox; a missing child's flags are unknown, so it counts) and
    `reruns_not_in_export`."""
    apps = scan(home, "applications").select(
        pl.col("journey_application_token"), production().alias("production")
    )
    lineage = scan(home, "rerun_chains").filter(pl.col("root_token").is_not_null())
    in_export = (
        lineage.filter(pl.col("journey_application_token") != pl.col("root_token"))
        .join(apps, on="journey_application_token", how="left")
        .group_by("root_token")
        .agg(
            pl.len().cast(pl.Int64).alias("_members"),
            pl.col("production").fill_null(True).sum().cast(pl.Int64).alias("_production"),
        )
    )
    parents = lineage.select(pl.col("journey_application_token").alias("parent_token"), "root_token")
    missing = (
        _edges(home)
        .join(apps, left_on="child_token", right_on="journey_application_token", how="anti")
        .join(parents, on="parent_token", how="inner")
        .group_by("root_token")
        .agg(pl.len().cast(pl.Int64).alias("reruns_not_in_export"))
    )
    return (
        in_export.join(missing, on="root_token", how="full", coalesce=True)
        .with_columns(pl.col("_members", "_production", "reruns_not_in_export").fill_null(0))
        .select(
            "root_token",
            (pl.col("_members") + pl.col("reruns_not_in_export")).alias("reruns"),
            (pl.col("_production") + pl.col("reruns_not_in_export")).alias("production_reruns"),
            "reruns_not_in_export",
        )
    )


def with_chain_reruns(counted: pl.LazyFrame, home: Home) -> pl.LazyFrame:
    """`chains(home)` with the `chain_reruns` columns (0 for a chain never rerun)."""
    cols = ["reruns", "production_reruns", "reruns_not_in_export"]
    return counted.join(chain_reruns(home), on="root_token", how="left").with_columns(
        pl.col(cols).fill_null(0)
    )


def applications(home: Home, counted: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """Every application with its created_at, outcome and journey: its chain's journey, else (in or under
    a cycle: no chain) its own. `counted` is `chains(home)` when the caller already has it."""
    apps = scan(home, "applications").select(
        "journey_application_token",
        pl.col("journey_token").alias("own_journey"),
        "created_at",
        "complete_outcome",
        "rerun_initiated_by",
    )
    roots = scan(home, "rerun_chains").select("journey_application_token", "root_token")
    chain_journey = (chains(home) if counted is None else counted).select(
        "root_token", pl.col("journey_token").alias("chain_journey")
    )
    return (
        apps.join(roots, on="journey_application_token", how="left")
        .join(chain_journey, on="root_token", how="left")
        .with_columns(pl.coalesce("chain_journey", "own_journey").alias("journey_token"))
        .drop("chain_journey", "own_journey")
    )


def reruns(home: Home, with_journey: bool = False) -> pl.LazyFrame:
    """One row per rerun: every rerun_edges row, also when the new application (child) is not in the export,
    and also in or under a cycle. Columns: parent_token, child_token, child_in_export, created_at (the
    rerun's, else the edge's child_created_at), month, initiated_by (the edge's, else the application's,
    lower-cased; 'unknown' when neither says). With `with_journey`: journey_token (the child's, else the
    parent's, as in `applications`) and previous_created_at (NULL when the previous is not in the export).
    """
    cols = ["journey_application_token", "created_at", "rerun_initiated_by"]
    if with_journey:
        apps = applications(home).select(*cols, "journey_token")
    else:
        apps = scan(home, "applications").select(cols)
    child = apps.rename({"journey_application_token": "child_token"}).with_columns(
        pl.lit(True).alias("child_in_export")
    )
    initiated = pl.coalesce("initiated_by", "rerun_initiated_by").str.strip_chars().str.to_lowercase()
    out = (
        _edges(home)
        .select("parent_token", "child_token", "initiated_by", "child_created_at")
        .join(child, on="child_token", how="left")
        .with_columns(
            pl.col("child_in_export").fill_null(False),
            pl.coalesce("created_at", "child_created_at").alias("created_at"),
            pl.when(initiated.is_null() | (initiated == ""))
            .then(pl.lit("unknown"))
            .otherwise(initiated)
            .alias("initiated_by"),
        )
        .with_columns(pl.col("created_at").dt.truncate("1mo").dt.date().alias("month"))
    )
    if not with_journey:
        return out
    parent = apps.select(
        pl.col("journey_application_token").alias("parent_token"),
        pl.col("created_at").alias("previous_created_at"),
        pl.col("journey_token").alias("parent_journey"),
    )
    return out.join(parent, on="parent_token", how="left").with_columns(
        pl.coalesce("journey_token", "parent_journey").alias("journey_token")
    )


def spellings(values: pl.LazyFrame) -> pl.LazyFrame:
    """lower(value) -> the spelling shown for it: the most frequent one, ties to the smallest string.

    `values` has one column `value`; outcomes are compared case-insensitively but kept as the account spells
    them.
    """
    return (
        values.filter(pl.col("value").is_not_null())
        .group_by("value")
        .agg(pl.len().alias("n"))
        .with_columns(pl.col("value").str.to_lowercase().alias("key"))
        .sort(["key", "n", "value"], descending=[False, True, False])
        .group_by("key", maintain_order=True)
        .agg(pl.col("value").first().alias("spelling"))
    )


def rate(num: str, den: str) -> pl.Expr:
    """num / den as a float, NULL when den is 0 (no division by zero: an empty group has no rate)."""
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None).cast(pl.Float64)


def share(col: str, over: str | list[str] | None = None) -> pl.Expr:
    """col / its total (within `over`) as `share`, NULL when the total is 0."""
    total = pl.col(col).sum() if over is None else pl.col(col).sum().over(over)
    return pl.when(total > 0).then(pl.col(col) / total).cast(pl.Float64).alias("share")
