"""Group `reports`: one asset per `report_*` table (Polars), and the self-contained HTML report."""

import dagster as dg
import polars as pl

from lineage.reports import REPORT_TABLES
from pipelines.defs.metadata import POOL, numbers, table_metadata
from pipelines.defs.resources import LineageResource

# Every table a report may read: report_data_quality counts rejects too.
REPORT_DEPS = ["applications", "events", "rejects", "rerun_edges", "rerun_chains", "chain_summary"]
# Figures of each report's overall row(s), recorded on its materialization so the UI plots them.
OVERALL_FIGURES = {
    "report_rerun_rate": ("roots", "roots_with_rerun", "rerun_rate"),
    "report_recovery": ("errored_roots", "recovered", "recovery_rate"),
    "report_time_to_rerun": ("measured_reruns", "p50_seconds", "p90_seconds", "p99_seconds", "max_seconds"),
    "report_effective_outcomes": ("total", "approval_rate", "denial_rate", "other_rate"),
}


def overall_figures(name: str, df: pl.DataFrame) -> dict[str, float | int | None]:
    """{column: value} of the `overall` row; `<basis>_<column>` where a report has one per basis."""
    columns = OVERALL_FIGURES.get(name)
    if not columns or "grouping" not in df.columns:
        return {}
    rows = df.filter(pl.col("grouping") == "overall").to_dicts()
    prefix = (lambda r: f"{r['basis']}_") if "basis" in df.columns else (lambda r: "")
    return {f"{prefix(r)}{c}": r[c] for r in rows for c in columns}


def _describe(name: str) -> str:
    """The first paragraph of the report builder's docstring: the library says what each report counts."""
    from lineage.report_tables import BUILDERS

    doc = (BUILDERS[name].__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split()) or f"Report table `{name}` (lineage.reports)."


def _report_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name="reports",
        kinds={"polars", "parquet"},
        deps=REPORT_DEPS,
        pool=POOL,
        description=_describe(name),
    )
    def _report(lineage: LineageResource) -> dg.MaterializeResult:
        from lineage.reports import build_report

        home = lineage.get_home()
        df = build_report(home, name)
        lineage.say(f"{name}: {df.height:,} rows")
        figures = numbers(overall_figures(name, df))
        return dg.MaterializeResult(metadata={**table_metadata(home, name), **figures})

    return _report


report_tables = [_report_asset(name) for name in REPORT_TABLES]


@dg.asset(
    group_name="reports",
    kinds={"html", "polars"},
    deps=list(REPORT_TABLES),
    pool=POOL,
    description="reports/rerun_report.html (works offline) and each chart as PNG; headline rates as numbers.",
)
def html_report(lineage: LineageResource) -> dg.MaterializeResult:
    from lineage.reports import build_html_report, headline, headline_text

    home = lineage.get_home()
    path = build_html_report(home)
    lineage.say(f"html report: {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "headline": dg.MetadataValue.md(f"```\n{headline_text(home)}\n```"),
            **numbers(headline(home)),
        }
    )
