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
from lineage import report_outcomes as ro
from lineage import report_quality
from lineage.warehouse import Home

_S, _I, _F, _D, _B = pa.string(), pa.int64(), pa.float64(), pa.date32(), pa.bool_()
_JOURNEY = [("grouping", _S), ("journey_token", _S), ("journey_name", _S)]

REPORT_SCHEMAS: dict[str, pa.Schema] = {
    "report_rerun_rate": pa.schema(
        [*_JOURNEY, ("month", _D), ("roots", _I), ("roots_with_rerun", _I), ("rerun_rate", _F)]
    ),
    "report_reruns_by_initiator": pa.schema(
        [
            ("grouping", _S),
            ("month", _D),
            ("initiated_by", _S),
            ("reruns", _I),
            ("share", _F),
            ("reruns_not_in_export", _I),
        ]
    ),
    "report_outcome_transitions": pa.schema(
        [
            ("was_rerun", _B),
            ("root_in_export", _B),
            ("root_status", _S),
            ("root_outcome", _S),
            ("final_status", _S),
            ("final_outcome", _S),
            ("chains", _I),
            ("share", _F),
            ("share_in_group", _F),
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
    "report_depth_distribution": pa.schema(
        [("measure", _S), ("value", _I), ("label", _S), ("chains", _I), ("share", _F)]
    ),
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
    "report_outcome_classes": pa.schema(
        [("outcome", _S), ("outcome_class", _S), ("decided_by", _S), ("applications", _I)]
    ),
    "report_data_quality": pa.schema(
        [("section", _S), ("item", _S), ("count", _I), ("share", _F), ("example", _S)]
    ),
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


def _grouping_rank() -> pl.Expr:
    return pl.col("grouping").replace_strict(_GROUPING_ORDER, default=9, return_dtype=pl.Int8).alias("_g")


def rerun_rate(home: Home) -> pl.DataFrame:
    """Roots with at least one production rerun / roots, by journey and month of the root's created_at.

    Only roots in the export that are neither shadow nor sandbox count; a rerun counts when it is neither
    shadow nor sandbox, also when its application is not in the export (its rerun_edges row is the proof).
    """
    counted = ri.with_chain_reruns(ri.chains(home).filter(pl.col("in_rate")), home)
    chains = _once(counted, ["journey_token", "month", "production_reruns"])
    levels = {
        "overall": [],
        "journey": ["journey_token"],
        "month": ["month"],
        "journey_month": ["journey_token", "month"],
    }
    aggs = [
        pl.len().cast(pl.Int64).alias("roots"),
        (pl.col("production_reruns") > 0).sum().cast(pl.Int64).alias("roots_with_rerun"),
    ]
    lf = _named(_by_levels(chains, levels, aggs), home).with_columns(
        ri.rate("roots_with_rerun", "roots").alias("rerun_rate"), _grouping_rank()
    )
    return _conform(lf, "report_rerun_rate", ["_g", "journey_name", "journey_token", "month"])


def reruns_by_initiator(home: Home) -> pl.DataFrame:
    """Reruns (every rerun_edges row, also when the new application is not in the export) by initiated_by
    (api, dashboard, unknown when not reported; other values kept), overall and per month of the rerun."""
    levels = {"overall": ["initiated_by"], "month": ["month", "initiated_by"]}
    reruns = _once(ri.reruns(home), ["month", "initiated_by", "child_in_export"])
    aggs = [
        pl.len().cast(pl.Int64).alias("reruns"),
        (~pl.col("child_in_export")).sum().cast(pl.Int64).alias("reruns_not_in_export"),
    ]
    lf = _by_levels(reruns, levels, aggs).with_columns(
        ri.share("reruns", ["grouping", "month"]), _grouping_rank()
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
    """Every chain by root status/outcome -> final status/outcome (outcomes case-insensitive), with
    `was_rerun`: `share` is of all chains, `share_in_group` of the chains with the same `was_rerun`."""
    keys = ["was_rerun", "root_in_export", "root_status", "root_outcome", "final_status", "final_outcome"]
    chains = _once(
        ri.with_chain_reruns(ri.chains(home), home).with_columns((pl.col("reruns") > 0).alias("was_rerun")),
        keys,
    )
    spellings = ri.spellings(
        pl.concat([chains.select(pl.col(c).alias("value")) for c in ("root_outcome", "final_outcome")])
    )
    lf = (
        chains.with_columns(pl.col("root_outcome", "final_outcome").str.to_lowercase())
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("chains"))
        .with_columns(ri.share("chains"), ri.share("chains", "was_rerun").alias("share_in_group"))
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
            ro.outcome_class("final_outcome", ro.class_map(home)).alias("cls"),
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
    """Every rerun (as in `ri.reruns`) with `seconds` from its previous's created_at to its own (NULL: not
    measurable, the previous or its time is not in the export, or the rerun is dated before it)."""
    delay = (pl.col("created_at") - pl.col("previous_created_at")).dt.total_milliseconds() / 1000.0
    return ri.reruns(home, with_journey=True).with_columns(pl.when(delay >= 0).then(delay).alias("seconds"))


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
    """Chains by chain_size and by max_depth. A chain with any member of unknown depth (a broken chain)
    has an unknown max_depth (value NULL, label 'unknown'), not the deepest of its known members."""
    depth = pl.col("depth")
    chains = _once(
        ri.scan(home, "rerun_chains")
        .filter(pl.col("root_token").is_not_null())
        .group_by("root_token")
        .agg(
            pl.len().cast(pl.Int64).alias("chain_size"),
            pl.when(depth.null_count() == 0).then(depth.max()).alias("max_depth"),
        ),
        ["chain_size", "max_depth"],
    )
    parts = [
        chains.group_by(pl.col(col).alias("value"))
        .agg(pl.len().cast(pl.Int64).alias("chains"))
        .with_columns(pl.lit(col).alias("measure"))
        for col in ("chain_size", "max_depth")
    ]
    lf = pl.concat(parts).with_columns(
        ri.share("chains", "measure"),
        pl.col("value").cast(pl.String).fill_null("unknown").alias("label"),
    )
    return _conform(lf, "report_depth_distribution", ["measure", "value"])


def effective_outcomes(home: Home) -> pl.DataFrame:
    """Outcome rates counting every application of the export (naive) beside one vote per chain (the
    final outcome: effective). Classes: approval, denial, other outcome, no outcome (not completed);
    report_outcome_classes shows how each outcome name was classified."""
    classes = ro.class_map(home)
    counted = _once(ri.chains(home), ["root_token", "journey_token", "final_outcome"])
    naive = ri.applications(home, counted).select(
        "journey_token",
        ro.outcome_class("complete_outcome", classes).alias("cls"),
        pl.lit("naive").alias("basis"),
    )
    effective = counted.select(
        "journey_token",
        ro.outcome_class("final_outcome", classes).alias("cls"),
        pl.lit("effective").alias("basis"),
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


def outcome_classes(home: Home) -> pl.DataFrame:
    """How each outcome name, as spelled, was classified (approval, denial, other) and by which rule, with
    how many applications carry it; correct a name in <home>/outcomes.toml."""
    return _conform(ro.outcome_classes(home).lazy(), "report_outcome_classes")


def data_quality(home: Home) -> pl.DataFrame:
    """Rejects by kind of error, applications by lineage_status, events naming applications not in the
    export, chains with lineage problems (cycle groups included), roots and reruns not in the export."""
    return _conform(report_quality.data_quality(home), "report_data_quality")


BUILDERS: dict[str, Callable[[Home], pl.DataFrame]] = {
    "report_rerun_rate": rerun_rate,
    "report_reruns_by_initiator": reruns_by_initiator,
    "report_outcome_transitions": outcome_transitions,
    "report_recovery": recovery,
    "report_time_to_rerun": time_to_rerun,
    "report_depth_distribution": depth_distribution,
    "report_effective_outcomes": effective_outcomes,
    "report_outcome_classes": outcome_classes,
    "report_data_quality": data_quality,
}
