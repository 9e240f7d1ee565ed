"""Reports (CONTRACT §3 Reports): the `report_*` tables, the charts, the offline HTML report, the headline.

    build_report(home, name)  one report table, computed and written to parquet/<name>/ (a Dagster asset each)
    build_reports(home)       every report table, then the HTML report and the PNG charts
    build_html_report(home)   <home>/reports/rerun_report.html and every chart as <home>/reports/*.png
    headline(home)            the headline figures as numbers; headline_text(home) the lines `demo` prints

Tables are computed in lineage.report_tables (data quality in lineage.report_quality, outcome classes in
lineage.report_outcomes), charts in lineage.report_charts, HTML in lineage.report_html.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import polars as pl

from lineage import report_charts, report_html, report_outcomes
from lineage.errors import LineageError
from lineage.report_tables import BUILDERS, REPORT_SCHEMAS, REPORT_TABLES, rerun_delays
from lineage.warehouse import Home, write_arrow

__all__ = [
    "REPORT_SCHEMAS",
    "REPORT_TABLES",
    "HTML_NAME",
    "build_report",
    "build_reports",
    "build_html_report",
    "compute_report",
    "headline",
    "headline_text",
]

HTML_NAME = "rerun_report.html"
INPUT_TABLES = ("applications", "events", "rejects", "rerun_edges", "rerun_chains", "chain_summary")


def compute_report(home: Home, name: str) -> pl.DataFrame:
    """One report table computed from the current inputs, not written."""
    try:
        build = BUILDERS[name]
    except KeyError:
        raise LineageError(f"no report named {name!r}; reports are: {', '.join(REPORT_TABLES)}") from None
    return build(home)


def build_report(home: Home, name: str) -> pl.DataFrame:
    """Compute one report table and write it atomically to parquet/<name>/data.parquet."""
    df = compute_report(home, name)
    with home.writer_lock():
        write_arrow(home, name, df.to_arrow().cast(REPORT_SCHEMAS[name]))
    return df


def build_reports(home: Home) -> Path:
    """Every report table, then the HTML report and charts; returns the HTML report's path."""
    with home.writer_lock():
        for name in REPORT_TABLES:
            build_report(home, name)
        return build_html_report(home)


def _newest_input(home: Home) -> float:
    stamps = [home.table_path(n).stat().st_mtime for n in INPUT_TABLES if home.has_table(n)]
    config = home.root / report_outcomes.CONFIG_NAME  # a changed outcome mapping makes reports stale too
    if config.is_file():
        stamps.append(config.stat().st_mtime)
    return max(stamps, default=0.0)


def load_report(home: Home, name: str) -> pl.DataFrame:
    """The written report table when it is newer than every input, else computed afresh."""
    if home.has_table(name) and home.table_path(name).stat().st_mtime > _newest_input(home):
        return pl.read_parquet(home.table_path(name))
    return compute_report(home, name)


def _load_all(home: Home) -> dict[str, pl.DataFrame]:
    return {name: load_report(home, name) for name in REPORT_TABLES}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_html_report(home: Home) -> Path:
    """Write every chart as PNG and the self-contained HTML report into <home>/reports/; returns its path."""
    with home.writer_lock():
        tables = _load_all(home)
        delays = rerun_delays(home).select("seconds").collect()["seconds"]
        charts = report_charts.render(tables, delays)
        home.reports.mkdir(parents=True, exist_ok=True)
        for filename, png in charts.items():
            _write_atomic(home.reports / filename, png)
        page = report_html.render(_headline(home, tables), tables, charts, dt.datetime.now(dt.UTC))
        target = home.reports / HTML_NAME
        _write_atomic(target, page.encode("utf-8"))
    return target


def _rows(home: Home, name: str) -> int:
    if not home.has_table(name):
        return 0
    return pl.scan_parquet(home.table_path(name)).select(pl.len()).collect().item()


def _overall(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("grouping") == "overall")


def _pick(df: pl.DataFrame, col: str, **where: str) -> float | int | None:
    for key, value in where.items():
        df = df.filter(pl.col(key) == value)
    return df[col][0] if df.height else None


def _headline(home: Home, t: dict[str, pl.DataFrame]) -> dict[str, float | int | None]:
    quality = t["report_data_quality"]
    rate = t["report_rerun_rate"]
    recovery = t["report_recovery"]
    eff = t["report_effective_outcomes"]
    ttr = t["report_time_to_rerun"]

    def chains(item: str) -> int:
        return _pick(quality, "count", section="chains", item=item) or 0

    # Counts are 0 when there is nothing; a rate or time with nothing to measure stays None (undefined).
    return {
        "applications": _rows(home, "applications"),
        "events": _rows(home, "events"),
        "rejects": _rows(home, "rejects"),
        "chains": chains("chains"),
        "reruns": int(_overall(t["report_reruns_by_initiator"])["reruns"].sum()),
        "roots": _pick(rate, "roots", grouping="overall") or 0,
        "roots_with_rerun": _pick(rate, "roots_with_rerun", grouping="overall") or 0,
        "rerun_rate": _pick(rate, "rerun_rate", grouping="overall"),
        "errored_roots": _pick(recovery, "errored_roots", grouping="overall") or 0,
        "recovery_rate_errored_roots": _pick(recovery, "recovery_rate", grouping="overall"),
        "effective_approval_rate": _pick(eff, "approval_rate", grouping="overall", basis="effective"),
        "naive_approval_rate": _pick(eff, "approval_rate", grouping="overall", basis="naive"),
        "effective_denial_rate": _pick(eff, "denial_rate", grouping="overall", basis="effective"),
        "naive_denial_rate": _pick(eff, "denial_rate", grouping="overall", basis="naive"),
        "time_to_rerun_p50_seconds": _pick(ttr, "p50_seconds", grouping="overall"),
        "time_to_rerun_p90_seconds": _pick(ttr, "p90_seconds", grouping="overall"),
        "chains_with_lineage_problems": chains("chains_with_lineage_problems"),
        "rooted_chains_with_lineage_problems": chains("rooted_chains_with_lineage_problems"),
        "cycle_groups": chains("cycle_groups"),
        "applications_in_cycles": chains("applications_in_cycles"),
    }


def headline(home: Home) -> dict[str, float | int | None]:
    """The headline figures (counts as int, rates as fractions 0..1, times in seconds); always the same
    keys, with None for a rate or time that is undefined (no roots, no errored roots, no measured rerun)."""
    return _headline(home, _load_all(home))


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; '—' when undefined."""
    return "—" if value is None else f"{value * 100:.1f}%"


def problems_text(h: dict[str, float | int | None]) -> str:
    """'3 (2 with a root, 1 cycle group: 4 applications in or under cycles)'."""
    groups = h["cycle_groups"] or 0
    detail = f"{h['rooted_chains_with_lineage_problems']:,} with a root"
    if groups:
        plural = "s" if groups != 1 else ""
        in_cycles = h["applications_in_cycles"] or 0
        detail += f", {groups:,} cycle group{plural}: {in_cycles:,} applications in or under cycles"
    return f"{h['chains_with_lineage_problems']:,} ({detail})"


def headline_text(home: Home) -> str:
    """The lines `rerun-lineage demo` prints at its end: the headline figures and the report's path."""
    h = headline(home)
    report = home.reports / HTML_NAME
    lines = [
        "rerun-lineage headline",
        f"  applications                 {h['applications']:,} ({h['rejects']:,} records rejected)",
        f"  chains                       {h['chains']:,} ({h['reruns']:,} reruns)",
        f"  rerun rate                   {pct(h['rerun_rate'])} of {h['roots']:,} roots "
        "(shadow and sandbox excluded)",
        f"  errored roots recovered      {pct(h['recovery_rate_errored_roots'])} of {h['errored_roots']:,}",
        f"  approval rate                {pct(h['effective_approval_rate'])} one vote per chain (effective), "
        f"{pct(h['naive_approval_rate'])} every application (naive)",
        f"  time to rerun                p50 {report_charts.human_seconds(h['time_to_rerun_p50_seconds'])}, "
        f"p90 {report_charts.human_seconds(h['time_to_rerun_p90_seconds'])}",
        f"  chains with lineage problems {problems_text(h)}",
        f"  report                       {report if report.exists() else 'not built yet'}",
    ]
    return "\n".join(lines)
