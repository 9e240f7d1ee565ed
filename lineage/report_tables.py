"""The report tables (CONTRACT §3 Reports), each a small Polars aggregate with a fixed Arrow schema.

Every table is computed lazily from the Parquet of the steps above; only the aggregate is collected.
Rates are NULL where their denominator is 0. `grouping` says which rows are which: 'overall' (one row,
always present, also on an empty export), 'journey', 'month', 'journey_month'.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pyarrow as pa

from lineage import report_inputs as ri
from lineage.contract import LINEAGE_STATUSES
from lineage.warehouse import Home

_S, _I, _F, _D, _B = pa.string(), pa.int64(), pa.float64(), pa.date32(), pa.bool_()
_JOURNEY = [("grouping", _S), ("journey_token", _S), ("journey_name", _S)]

REPORT_SCHEMAS: dict[str, pa.Schema] = {
    "report_rerun_rate": pa.schema(
        [*_JOURNEY, ("month", _D), ("roots", _I), ("roots_with_rerun", _I), ("rerun_rate", _F)]
    ),
    "report_reruns_by_initiator": pa.schema(
        [("grouping", _S), ("month", _D), ("initiated_by", _S), ("reruns", _I), ("share", _F)]
    ),
    "report_outcome_transitions": pa.schema(
        [
            ("root_in_export", _B),
            ("root_status", _S),
            ("root_outcome", _S),
            ("final_status", _S),
            ("final_outcome", _S),
            ("chains", _I),
            ("share", _F),
        ]
    ),
    "report_recovery": pa.schema(
        [
            *_JOURNEY,
            ("errored_roots", _I),
            ("recovered", _I),
            ("recovery_rate", _F),
            ("recovered_approvals", _I),
            ("recovered_denials", _I),
            ("recovered_other", _I),
            ("recovered_by_outcome", _S),
        ]
    ),
    "report_time_to_rerun": pa.schema(
        [
            *_JOURNEY,
            ("reruns", _I),
            ("measured_reruns", _I),
            ("p50_seconds", _F),
            ("p90_seconds", _F),
            ("p99_seconds", _F),
            ("max_seconds", _F),
        ]
    ),
    "report_depth_distribution": pa.schema([("measure", _S), ("value", _I), ("chains", _I), ("share", _F)]),
    "report_effective_outcomes": pa.schema(
        [
            ("basis", _S),
            *_JOURNEY,
            ("total", _I),
            ("approvals", _I),
            ("denials", _I),
            ("other_outcomes", _I),
            ("no_outcome", _I),
            ("approval_rate", _F),
            ("denial_rate", _F),
            ("other_rate", _F),
            ("no_outcome_rate", _F),
        ]
    ),
    "report_data_quality": pa.schema([("section", _S), ("item", _S), ("count", _I), ("share", _F)]),
}
REPORT_TABLES: tuple[str, ...] = tuple(REPORT_SCHEMAS)

_GROUPING_ORDER = {"overall": 0, "journey": 1, "month": 2, "journey_month": 3}
_JOURNEY_LEVELS = {"overall": [], "journey": ["journey_token"]}


def _by_levels(lf: pl.LazyFrame, levels: dict[str, list[str]], aggs: list[pl.Expr]) -> pl.LazyFrame:
    """The same aggregates at several grouping levels, stacked, with a `grouping` column."""
    parts = []
    for grouping, keys in levels.items():
        part = lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)
        parts.append(part.with_columns(pl.lit(grouping).alias("grouping")))
    return pl.concat(parts, how="diagonal_relaxed")


def _named(lf: pl.LazyFrame, home: Home) -> pl.LazyFrame:
    """Journey names on rows grouped by journey; NULL journey columns on the others."""
    named = ri.with_journey_name(lf, ri.journey_names(home))
    by_journey = pl.col("grouping").str.starts_with("journey")
    return named.with_columns(pl.when(by_journey).then(pl.col("journey_name")).alias("journey_name"))


def _conform(lf: pl.LazyFrame, name: str, sort: list[str] | None = None) -> pl.DataFrame:
    """Collect with the report's fixed column order and types (the table's stable schema)."""
    schema = REPORT_SCHEMAS[name]
    if sort:
        lf = lf.sort(sort, nulls_last=True)
    df = lf.select(schema.names).collect()
    return pl.from_arrow(df.to_arrow().cast(schema))


def _once(lf: pl.LazyFrame, cols: list[str]) -> pl.LazyFrame:
    """Collect the few columns a report needs once, so its grouping levels don't each redo the joins."""
    return lf.select(cols).collect().lazy()


def _share(col: str, over: str | list[str] | None = None) -> pl.Expr:
    """col / its total (within `over`), NULL when the total is 0."""
    total = pl.col(col).sum() if over is None else pl.col(col).sum().over(over)
    return pl.when(total > 0).then(pl.col(col) / total).cast(pl.Float64).alias("share")


def _grouping_rank() -> pl.Expr:
    return pl.col("grouping").replace_strict(_GROUPING_ORDER, default=9, return_dtype=pl.Int8).alias("_g")


def rerun_rate(home: Home) -> pl.DataFrame:
    """Roots with at least one rerun / roots, shadow and sandbox chains excluded."""
    chains = _once(ri.chains(home).filter(~pl.col("excluded")), ["journey_token", "month", "rerun_count"])
    levels = {
        "overall": [],
        "journey": ["journey_token"],
        "month": ["month"],
        "journey_month": ["journey_token", "month"],
    }
    aggs = [
        pl.len().cast(pl.Int64).alias("roots"),
        (pl.col("rerun_count") > 0).sum().cast(pl.Int64).alias("roots_with_rerun"),
    ]
    lf = _named(_by_levels(chains, levels, aggs), home).with_columns(
        ri.rate("roots_with_rerun", "roots").alias("rerun_rate"), _grouping_rank()
    )
    return _conform(lf, "report_rerun_rate", ["_g", "journey_name", "journey_token", "month"])


def _rerun_rows(home: Home) -> pl.LazyFrame:
    """Every rerun of a counted chain (a member that is not its root), with how it was initiated."""
    edges = (
        ri.scan(home, "rerun_edges")
        .select(
            pl.col("parent_token").alias("previous_token"),
            pl.col("child_token").alias("journey_application_token"),
            pl.col("initiated_by").alias("edge_initiated_by"),
        )
        .unique(["previous_token", "journey_application_token"], keep="first")
    )
    initiated = pl.coalesce("edge_initiated_by", "rerun_initiated_by").str.strip_chars().str.to_lowercase()
    return (
        ri.members(home)
        .filter(~pl.col("is_root").fill_null(False))
        .join(edges, on=["previous_token", "journey_application_token"], how="left")
        .with_columns(
            pl.when(initiated.is_null() | (initiated == ""))
            .then(pl.lit("unknown"))
            .otherwise(initiated)
            .alias("initiated_by"),
            pl.col("created_at").dt.truncate("1mo").dt.date().alias("month"),
        )
    )


def reruns_by_initiator(home: Home) -> pl.DataFrame:
    """Reruns by initiated_by (api, dashboard, unknown when not reported; other values kept), per month."""
    levels = {"overall": ["initiated_by"], "month": ["month", "initiated_by"]}
    reruns = _once(_rerun_rows(home), ["month", "initiated_by"])
    lf = _by_levels(reruns, levels, [pl.len().cast(pl.Int64).alias("reruns")])
    lf = lf.with_columns(
        _share("reruns", ["grouping", "month"]),
        _grouping_rank(),
    )
    return _conform(lf, "report_reruns_by_initiator", ["_g", "month", "initiated_by"])


def _spelled(lf: pl.LazyFrame, spellings: pl.LazyFrame, col: str) -> pl.LazyFrame:
    """Replace the lower-cased key `col` by the spelling shown for it."""
    return (
        lf.join(spellings.rename({"key": col}), on=col, how="left")
        .with_columns(pl.col("spelling").alias(col))
        .drop("spelling")
    )


def outcome_transitions(home: Home) -> pl.DataFrame:
    """Chains with at least one rerun, by root status/outcome -> final status/outcome (case-insensitive)."""
    chains = _once(
        ri.chains(home).filter(pl.col("rerun_count") > 0),
        ["root_in_export", "root_status", "root_outcome", "final_status", "final_outcome"],
    )
    spellings = ri.spellings(
        pl.concat([chains.select(pl.col(c).alias("value")) for c in ("root_outcome", "final_outcome")])
    )
    keys = ["root_in_export", "root_status", "root_outcome", "final_status", "final_outcome"]
    lf = (
        chains.with_columns(pl.col("root_outcome", "final_outcome").str.to_lowercase())
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("chains"))
        .with_columns(_share("chains"))
    )
    lf = _spelled(_spelled(lf, spellings, "root_outcome"), spellings, "final_outcome")
    lf = lf.sort(["chains", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
    return _conform(lf, "report_outcome_transitions")


def recovery(home: Home) -> pl.DataFrame:
    """Errored roots (root status 'error'), how many chains ended 'completed', and with which outcome."""
    status = pl.col("final_status").str.to_lowercase()
    chains = (
        ri.chains(home)
        .with_columns(
            (
                pl.col("root_in_export").fill_null(False)
                & (pl.col("root_status").str.to_lowercase() == "error")
            ).alias("errored"),
            ri.outcome_class("final_outcome").alias("cls"),
        )
        .with_columns((pl.col("errored") & (status == "completed")).alias("rec"))
    )
    chains = _once(chains, ["journey_token", "final_outcome", "errored", "rec", "cls"])
    aggs = [
        pl.col("errored").sum().cast(pl.Int64).alias("errored_roots"),
        pl.col("rec").sum().cast(pl.Int64).alias("recovered"),
        (pl.col("rec") & (pl.col("cls") == "approval")).sum().cast(pl.Int64).alias("recovered_approvals"),
        (pl.col("rec") & (pl.col("cls") == "denial")).sum().cast(pl.Int64).alias("recovered_denials"),
    ]
    lf = _by_levels(chains, _JOURNEY_LEVELS, aggs).with_columns(
        (pl.col("recovered") - pl.col("recovered_approvals") - pl.col("recovered_denials")).alias(
            "recovered_other"
        ),
        ri.rate("recovered", "errored_roots").alias("recovery_rate"),
    )
    # "Approved: 3; Denied: 1" per level: the recovered chains' final outcomes, most frequent first.
    recovered = chains.filter(pl.col("rec"))
    spellings = ri.spellings(recovered.select(pl.col("final_outcome").alias("value")))
    counted = _by_levels(
        recovered.with_columns(pl.col("final_outcome").str.to_lowercase()),
        {g: [*k, "final_outcome"] for g, k in _JOURNEY_LEVELS.items()},
        [pl.len().alias("n")],
    )
    text = (
        _spelled(counted, spellings, "final_outcome")
        .sort(["n", "final_outcome"], descending=[True, False], nulls_last=True)
        .group_by(["grouping", "journey_token"], maintain_order=True)
        .agg(
            pl.format("{}: {}", pl.col("final_outcome").fill_null("(no outcome)"), pl.col("n"))
            .str.join("; ")
            .alias("recovered_by_outcome")
        )
    )
    lf = lf.join(text, on=["grouping", "journey_token"], how="left", nulls_equal=True)
    lf = _named(lf, home).with_columns(_grouping_rank())
    return _conform(lf, "report_recovery", ["_g", "journey_name", "journey_token"])


def rerun_delays(home: Home) -> pl.LazyFrame:
    """Every rerun of a counted chain with `seconds` from its previous's created_at (NULL: not measurable)."""
    previous = ri.scan(home, "applications").select(
        pl.col("journey_application_token").alias("previous_token"),
        pl.col("created_at").alias("previous_created_at"),
    )
    delay = (pl.col("created_at") - pl.col("previous_created_at")).dt.total_milliseconds() / 1000.0
    return (
        ri.members(home)
        .filter(pl.col("previous_token").is_not_null())
        .join(previous, on="previous_token", how="left")
        # A rerun created before its previous is bad data: counted as a rerun, not measured.
        .with_columns(pl.when(delay >= 0).then(delay).alias("seconds"))
    )


def time_to_rerun(home: Home) -> pl.DataFrame:
    """Previous created_at -> rerun created_at: p50/p90/p99 (linear interpolation) and max, in seconds."""
    s = pl.col("seconds")
    aggs = [
        pl.len().cast(pl.Int64).alias("reruns"),
        s.count().cast(pl.Int64).alias("measured_reruns"),
        s.quantile(0.5, interpolation="linear").alias("p50_seconds"),
        s.quantile(0.9, interpolation="linear").alias("p90_seconds"),
        s.quantile(0.99, interpolation="linear").alias("p99_seconds"),
        s.max().cast(pl.Float64).alias("max_seconds"),
    ]
    delays = _once(rerun_delays(home), ["journey_token", "seconds"])
    lf = _named(_by_levels(delays, _JOURNEY_LEVELS, aggs), home).with_columns(_grouping_rank())
    return _conform(lf, "report_time_to_rerun", ["_g", "journey_name", "journey_token"])


def depth_distribution(home: Home) -> pl.DataFrame:
    """Counted chains by chain_size and by max_depth (NULL value: depth unknown, a broken chain)."""
    chains = _once(ri.chains(home), ["chain_size", "max_depth"])
    parts = [
        chains.group_by(pl.col(col).alias("value"))
        .agg(pl.len().cast(pl.Int64).alias("chains"))
        .with_columns(pl.lit(col).alias("measure"))
        for col in ("chain_size", "max_depth")
    ]
    lf = pl.concat(parts).with_columns(_share("chains", "measure"))
    return _conform(lf, "report_depth_distribution", ["measure", "value"])


def effective_outcomes(home: Home) -> pl.DataFrame:
    """Outcome rates counting every application of a counted chain (naive) beside one vote per chain (the
    final outcome: effective). Classes: approval, denial, other outcome, no outcome (not completed)."""
    counted = _once(ri.chains(home), ["root_token", "journey_token", "final_outcome"])
    naive = ri.members(home, counted).select(
        "journey_token", ri.outcome_class("complete_outcome").alias("cls"), pl.lit("naive").alias("basis")
    )
    effective = counted.select(
        "journey_token", ri.outcome_class("final_outcome").alias("cls"), pl.lit("effective").alias("basis")
    )
    levels = {g: ["basis", *k] for g, k in _JOURNEY_LEVELS.items()}
    aggs = [pl.len().cast(pl.Int64).alias("total")] + [
        (pl.col("cls") == cls).sum().cast(pl.Int64).alias(col)
        for cls, col in (
            ("approval", "approvals"),
            ("denial", "denials"),
            ("other", "other_outcomes"),
            ("none", "no_outcome"),
        )
    ]
    votes = _once(pl.concat([naive, effective]), ["basis", "journey_token", "cls"])
    lf = _by_levels(votes, levels, aggs)
    # The overall level has no `basis` key when both inputs are empty; make one row per basis anyway.
    bases = pl.LazyFrame({"basis": ["naive", "effective"], "grouping": ["overall", "overall"]})
    overall = bases.join(lf.filter(pl.col("grouping") == "overall"), on=["basis", "grouping"], how="left")
    lf = pl.concat([overall, lf.filter(pl.col("grouping") != "overall")], how="diagonal_relaxed")
    counts = ["total", "approvals", "denials", "other_outcomes", "no_outcome"]
    lf = lf.with_columns(pl.col(counts).fill_null(0)).with_columns(
        ri.rate("approvals", "total").alias("approval_rate"),
        ri.rate("denials", "total").alias("denial_rate"),
        ri.rate("other_outcomes", "total").alias("other_rate"),
        ri.rate("no_outcome", "total").alias("no_outcome_rate"),
        pl.col("basis").replace_strict({"naive": 0, "effective": 1}, return_dtype=pl.Int8).alias("_b"),
    )
    lf = _named(lf, home).with_columns(_grouping_rank())
    return _conform(lf, "report_effective_outcomes", ["_g", "journey_name", "journey_token", "_b"])


def data_quality(home: Home) -> pl.DataFrame:
    """Rejects by error, applications by lineage_status, events naming applications not in the export,
    and chains with a lineage problem (a member whose lineage_status is not 'complete')."""

    def part(section: str, lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.select(
            pl.lit(section).alias("section"),
            pl.col("item").cast(pl.String),
            pl.col("count").cast(pl.Int64),
            pl.col("share").cast(pl.Float64),
        )

    rejects = (
        ri.scan(home, "rejects")
        .group_by(pl.col("error").fill_null("(no error text)").alias("item"))
        .agg(pl.len().alias("count"))
        .with_columns(_share("count"))
        .sort(["count", "item"], descending=[True, False])
    )
    lineage = ri.scan(home, "rerun_chains")
    statuses = (
        pl.LazyFrame({"item": list(LINEAGE_STATUSES), "_o": list(range(len(LINEAGE_STATUSES)))})
        .join(
            lineage.group_by(pl.col("lineage_status").alias("item")).agg(pl.len().alias("count")),
            on="item",
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(_share("count"))
        .sort(["_o", "item"], nulls_last=True)
    )
    apps = ri.scan(home, "applications").select(pl.col("journey_application_token").alias("token"))
    events = ri.scan(home, "events")
    orphans = events.join(apps, left_on="journey_application_token", right_on="token", how="anti")
    rerun_orphans = events.filter(pl.col("rerun_journey_application_token").is_not_null()).join(
        apps, left_on="rerun_journey_application_token", right_on="token", how="anti"
    )
    n_events = events.select(pl.len()).collect().item()
    event_rows = pl.LazyFrame(
        {
            "item": [
                "events",
                "events_of_applications_not_in_export",
                "applications_seen_only_in_events",
                "rerun_events_naming_applications_not_in_export",
            ],
            "count": [
                n_events,
                orphans.select(pl.len()).collect().item(),
                orphans.select(pl.col("journey_application_token").n_unique()).collect().item(),
                rerun_orphans.select(pl.len()).collect().item(),
            ],
        }
    ).with_columns(
        # Shares of all events; a count of tokens has none, and no events means no shares.
        pl.when((pl.col("item") != "applications_seen_only_in_events") & pl.lit(n_events > 0))
        .then(pl.col("count") / max(n_events, 1))
        .alias("share")
    )
    counted = lineage.filter(pl.col("root_token").is_not_null())
    n_chains = counted.select(pl.col("root_token").n_unique()).collect().item()
    n_problem = (
        counted.filter(pl.col("lineage_status") != "complete")
        .select(pl.col("root_token").n_unique())
        .collect()
        .item()
    )
    chain_rows = pl.LazyFrame(
        {
            "item": ["chains", "chains_with_lineage_problems"],
            "count": [n_chains, n_problem],
            "share": [None, n_problem / n_chains if n_chains else None],
        }
    )
    lf = pl.concat(
        [
            part("rejects_by_error", rejects),
            part("lineage_status", statuses),
            part("events", event_rows),
            part("chains", chain_rows),
        ]
    )
    return _conform(lf, "report_data_quality")


BUILDERS: dict[str, Callable[[Home], pl.DataFrame]] = {
    "report_rerun_rate": rerun_rate,
    "report_reruns_by_initiator": reruns_by_initiator,
    "report_outcome_transitions": outcome_transitions,
    "report_recovery": recovery,
    "report_time_to_rerun": time_to_rerun,
    "report_depth_distribution": depth_distribution,
    "report_effective_outcomes": effective_outcomes,
    "report_data_quality": data_quality,
}
