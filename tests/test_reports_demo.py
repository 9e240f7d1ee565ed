"""The reports of a real `rerun-lineage demo` run (subprocess, shared `demo_home`): offline, no personal
data, and the headline rates agree with the same figures computed independently in DuckDB SQL."""

from __future__ import annotations

import re

import duckdb
import pytest
from test_reports_html import NETWORK, png_size

from lineage import reports
from lineage.report_charts import CHARTS, HEIGHT_PX, WIDTH_PX
from lineage.synthetic_people import pii_values
from lineage.warehouse import Home

# The rule of README.md ("Reports"), written again in SQL: roots in the export that are neither shadow nor
# sandbox (NULL flags: production); rerun when a non-shadow, non-sandbox rerun (a chain member, or an edge
# from a member to an application not in the export) exists.
RERUN_RATE_SQL = """
WITH prod AS (
    SELECT journey_application_token AS token,
           NOT (coalesce(is_shadow, false) OR coalesce(sandbox, false)) AS p
    FROM applications
), reruns AS (
    SELECT c.root_token FROM rerun_chains c JOIN prod ON prod.token = c.journey_application_token
    WHERE c.journey_application_token <> c.root_token AND prod.p
    UNION ALL
    SELECT c.root_token FROM rerun_edges e JOIN rerun_chains c ON c.journey_application_token = e.parent_token
    WHERE e.child_token NOT IN (SELECT token FROM prod) AND c.root_token IS NOT NULL
)
SELECT count(*), count(*) FILTER (WHERE s.root_token IN (SELECT root_token FROM reruns))
FROM chain_summary s JOIN prod ON prod.token = s.root_token
WHERE s.root_in_export AND prod.p
"""
# The demo's outcome names are Approved, Denied and Manual Review in any case: approval is "approved".
EFFECTIVE_APPROVALS_SQL = """
SELECT count(*) FILTER (WHERE lower(final_outcome) = 'approved'), count(*) FROM chain_summary
"""


def test_demo_report_is_offline_and_free_of_personal_data(demo_home: Home) -> None:
    page = (demo_home.reports / reports.HTML_NAME).read_text(encoding="utf-8")
    assert not NETWORK.search(page)
    for filename in CHARTS:
        assert png_size((demo_home.reports / filename).read_bytes()) == (WIDTH_PX, HEIGHT_PX)
    personal = pii_values(demo_home.landing)
    assert personal, "the demo export should hold made-up personal data"
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # images are pixels, not text
    leaks = {v for v in personal if len(v) >= 4 and v in text}
    assert not leaks
    for name in reports.REPORT_TABLES:
        assert demo_home.has_table(name)


def test_demo_outcome_names_are_classified_as_expected(demo_home: Home) -> None:
    con = duckdb.connect(str(demo_home.warehouse), read_only=True)
    try:
        got = con.execute("SELECT outcome, outcome_class FROM report_outcome_classes").fetchall()
    finally:
        con.close()
    expected = {"approved": "approval", "denied": "denial", "manual review": "other"}
    assert got and {name: cls for name, cls in got} == {name: expected[name.lower()] for name, _ in got}


def test_demo_headline_matches_sql(demo_home: Home) -> None:
    h = reports.headline(demo_home)
    con = duckdb.connect(str(demo_home.warehouse), read_only=True)
    try:
        roots, with_rerun = con.execute(RERUN_RATE_SQL).fetchone()
        approvals, chains = con.execute(EFFECTIVE_APPROVALS_SQL).fetchone()
        applications = con.execute("SELECT count(*) FROM applications").fetchone()[0]
    finally:
        con.close()
    assert roots > 0 and with_rerun > 0
    assert (h["roots"], h["roots_with_rerun"]) == (roots, with_rerun)
    assert h["rerun_rate"] == pytest.approx(with_rerun / roots)
    assert (h["chains"], h["applications"]) == (chains, applications)
    assert h["effective_approval_rate"] == pytest.approx(approvals / chains)
