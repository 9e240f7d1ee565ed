"""The lazy inputs every report shares: the tables of the steps above, and one row per counted chain.

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


def chains(home: Home) -> pl.LazyFrame:
    """One row per counted chain (chain_summary rows with a root_token; cycles have none, so never count).

    Adds the chain's journey (the summary's, else the root's, else the latest application's), whether the
    chain is excluded from the rerun rate (its root is shadow or sandbox; when the root is not in the
    export, the latest application's flags decide) and the month the chain started (the root's created_at,
    else the first rerun's when the root is missing), in UTC.
    """
    apps = scan(home, "applications").select(
        "journey_application_token", "journey_token", "is_shadow", "sandbox"
    )
    flagged = (pl.col("is_shadow").fill_null(False) | pl.col("sandbox").fill_null(False)).alias("flagged")
    root = apps.select(
        pl.col("journey_application_token").alias("root_token"),
        pl.col("journey_token").alias("root_journey"),
        flagged.alias("root_flagged"),
    )
    latest = apps.select(
        pl.col("journey_application_token").alias("latest_token"),
        pl.col("journey_token").alias("latest_journey"),
        flagged.alias("latest_flagged"),
    )
    return (
        scan(home, "chain_summary")
        .filter(pl.col("root_token").is_not_null())
        .join(root, on="root_token", how="left")
        .join(latest, on="latest_token", how="left")
        .with_columns(
            pl.coalesce("journey_token", "root_journey", "latest_journey").alias("journey_token"),
            pl.when(pl.col("root_in_export").fill_null(False))
            .then(pl.col("root_flagged").fill_null(False))
            .otherwise(pl.col("latest_flagged").fill_null(False))
            .alias("excluded"),
            pl.coalesce("root_created_at", "first_rerun_at").dt.truncate("1mo").dt.date().alias("month"),
        )
        .drop("root_journey", "latest_journey", "root_flagged", "latest_flagged")
    )


def members(home: Home, counted: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """Applications of counted chains with their own created_at/outcome and their chain's journey.

    `counted` is `chains(home)` when the caller already has it (it is then not computed again).
    """
    apps = scan(home, "applications").select(
        "journey_application_token", "created_at", "status", "complete_outcome", "rerun_initiated_by"
    )
    chain_journey = (chains(home) if counted is None else counted).select("root_token", "journey_token")
    return (
        scan(home, "rerun_chains")
        .filter(pl.col("root_token").is_not_null())
        .join(apps, on="journey_application_token", how="left")
        .join(chain_journey, on="root_token", how="left")
    )


# Outcome names are free text per account: classified case-insensitively. Denial patterns are tried first,
# so "Not approved" / "Disapproved" are denials, not approvals.
_DENIAL = r"(?i)deni|declin|reject|disapprov|not approv|unapprov"
_APPROVAL = r"(?i)approv"


def outcome_class(col: str) -> pl.Expr:
    """'approval', 'denial', 'other' (an outcome of another name) or 'none' (no outcome) of column `col`."""
    c = pl.col(col)
    return (
        pl.when(c.is_null() | (c.str.strip_chars() == ""))
        .then(pl.lit("none"))
        .when(c.str.contains(_DENIAL))
        .then(pl.lit("denial"))
        .when(c.str.contains(_APPROVAL))
        .then(pl.lit("approval"))
        .otherwise(pl.lit("other"))
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
