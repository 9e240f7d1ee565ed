"""report_data_quality: what in the export the other reports cannot trust, counted.

Sections: `rejects_by_error` (the error with its positions stripped, so one kind of error is one row),
`lineage_status` (applications per status, every status listed), `events` (events naming applications not
in the export) and `chains` (chains with lineage problems, cycle groups, roots and reruns not in the export).
"""

from __future__ import annotations

import polars as pl

from lineage import report_inputs as ri
from lineage.contract import LINEAGE_STATUSES
from lineage.warehouse import Home

# "at line 26 column 3", "at column 1326", "(byte 51)", "at character 12 of the array": where in the file
# the error is, which differs for every record and would make each its own group.
_POSITION = (
    r"(?i)\s*\(?\b(?:at\s+)?(?:line|column|col|byte|char|character|offset|position|pos)\s+\d+\)?"
    r"(?:\s+of\s+the\s+[a-z]+)?"
)


def error_kind(col: str) -> pl.Expr:
    """The error text without positions (and the separators left dangling), '(no error text)' if NULL."""
    text = pl.col(col).str.replace_all(_POSITION, "").str.strip_chars(" ,;:")
    return pl.when(text.is_null() | (text == "")).then(pl.lit("(no error text)")).otherwise(text)


def _rejects(home: Home) -> pl.LazyFrame:
    return (
        ri.scan(home, "rejects")
        .group_by(error_kind("error").alias("item"))
        .agg(pl.len().alias("count"), pl.col("error").min().alias("example"))
        .with_columns(ri.share("count"))
        .sort(["count", "item"], descending=[True, False])
    )


def _statuses(home: Home) -> pl.LazyFrame:
    counts = ri.scan(home, "rerun_chains").group_by(pl.col("lineage_status").alias("item")).agg(pl.len())
    return (
        pl.LazyFrame({"item": list(LINEAGE_STATUSES), "_o": list(range(len(LINEAGE_STATUSES)))})
        .join(counts.rename({"len": "count"}), on="item", how="full", coalesce=True)
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(ri.share("count"))
        .sort(["_o", "item"], nulls_last=True)
    )


def _count(lf: pl.LazyFrame, expr: pl.Expr | None = None) -> int:
    return lf.select(pl.len() if expr is None else expr).collect().item()


def _events(home: Home) -> pl.LazyFrame:
    apps = ri.scan(home, "applications").select(pl.col("journey_application_token").alias("token"))
    events = ri.scan(home, "events")
    orphans = events.join(apps, left_on="journey_application_token", right_on="token", how="anti")
    rerun_orphans = events.filter(pl.col("rerun_journey_application_token").is_not_null()).join(
        apps, left_on="rerun_journey_application_token", right_on="token", how="anti"
    )
    n_events = _count(events)
    return pl.LazyFrame(
        {
            "item": [
                "events",
                "events_of_applications_not_in_export",
                "applications_seen_only_in_events",
                "rerun_events_naming_applications_not_in_export",
            ],
            "count": [
                n_events,
                _count(orphans),
                _count(orphans, pl.col("journey_application_token").n_unique()),
                _count(rerun_orphans),
            ],
        }
    ).with_columns(
        # Shares of all events; a count of tokens has none, and no events means no shares.
        pl.when((pl.col("item") != "applications_seen_only_in_events") & pl.lit(n_events > 0))
        .then(pl.col("count") / max(n_events, 1))
        .alias("share")
    )


def cycle_groups(home: Home) -> int:
    """How many separate groups the applications in or under a cycle form (root_token NULL), each counted
    once like a chain: every application has at most one previous, so each group holds exactly one cycle.
    """
    rows = (
        ri.scan(home, "rerun_chains")
        .filter(pl.col("root_token").is_null())
        .select("journey_application_token", "previous_token")
        .collect()
        .rows()
    )
    parent = {token: token for token, _ in rows}

    def find(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]  # path halving: a 10,000-long cycle stays fast
            t = parent[t]
        return t

    for token, previous in rows:
        if previous in parent:
            parent[find(token)] = find(previous)
    return sum(1 for t in parent if find(t) == t)


def _chains(home: Home) -> pl.LazyFrame:
    lineage = ri.scan(home, "rerun_chains")
    rooted = lineage.filter(pl.col("root_token").is_not_null())
    n_chains = _count(rooted, pl.col("root_token").n_unique())
    n_rooted_problems = _count(
        rooted.filter(pl.col("lineage_status") != "complete"), pl.col("root_token").n_unique()
    )
    n_groups = cycle_groups(home)
    n_apps = _count(lineage)
    n_in_cycles = _count(lineage.filter(pl.col("root_token").is_null()))
    n_outside = _count(ri.chains(home).filter(~pl.col("root_in_export").fill_null(False)))
    n_reruns, n_missing_reruns = (
        ri.reruns(home).select(pl.len(), (~pl.col("child_in_export")).sum().cast(pl.UInt32)).collect().row(0)
    )

    def of(n: int, total: int) -> float | None:
        return n / total if total else None

    items = [
        ("chains", n_chains, None),
        (
            "chains_with_lineage_problems",
            n_rooted_problems + n_groups,
            of(n_rooted_problems + n_groups, n_chains + n_groups),
        ),
        ("rooted_chains_with_lineage_problems", n_rooted_problems, of(n_rooted_problems, n_chains)),
        ("cycle_groups", n_groups, None),
        ("applications_in_cycles", n_in_cycles, of(n_in_cycles, n_apps)),
        ("chains_with_root_outside_export", n_outside, of(n_outside, n_chains)),
        ("reruns", n_reruns, None),
        ("reruns_not_in_export", n_missing_reruns, of(n_missing_reruns, n_reruns)),
    ]
    return pl.LazyFrame(
        {k: [row[i] for row in items] for i, k in enumerate(("item", "count", "share"))},
        schema={"item": pl.String, "count": pl.Int64, "share": pl.Float64},
    )


def data_quality(home: Home) -> pl.LazyFrame:
    """Rejects by kind of error (positions stripped, one example each), applications by lineage_status,
    events naming applications not in the export, chains with a lineage problem (a chain with a member
    whose lineage_status is not 'complete', or a group of applications in or under a cycle), chains whose
    root is not in the export and reruns whose new application is not in the export."""

    def part(section: str, lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = lf.collect_schema().names()
        return lf.select(
            pl.lit(section).alias("section"),
            pl.col("item").cast(pl.String),
            pl.col("count").cast(pl.Int64),
            pl.col("share").cast(pl.Float64),
            (pl.col("example") if "example" in cols else pl.lit(None)).cast(pl.String).alias("example"),
        )

    return pl.concat(
        [
            part("rejects_by_error", _rejects(home)),
            part("lineage_status", _statuses(home)),
            part("events", _events(home)),
            part("chains", _chains(home)),
        ]
    )
