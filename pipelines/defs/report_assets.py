"""Group `reports`: one asset per `report_*` table (Polars), and the self-contained HTML report."""

import dagster as dg

from lineage.reports import REPORT_TABLES
from pipelines.defs.metadata import POOL, numbers, table_metadata
from pipelines.defs.resources import LineageResource

# Every table a report may read: report_data_quality counts rejects too.
REPORT_DEPS = ["applications", "events", "rejects", "rerun_edges", "rerun_chains", "chain_summary"]


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
        return dg.MaterializeResult(metadata=table_metadata(home, name))

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
            "headline": dg.MetadataValue.md(headline_text(home)),
            **numbers(headline(home)),
        }
    )
