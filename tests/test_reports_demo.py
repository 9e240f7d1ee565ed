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

# The same rule as lineage.report_inputs.chains, written again in SQL: excluded when the root (or, the root
# missing, the latest application) is shadow or sandbox.
RERUN_RATE_SQL = """
SELECT count(*), count(*) FILTER (WHERE s.rerun_count > 0)
FROM chain_summary s
LEFT JOIN applications r ON r.journey_application_token = s.root_token
LEFT JOIN applications l ON l.journey_application_token = s.latest_token
WHERE NOT CASE WHEN s.root_in_export THEN coalesce(r.is_shadow, false) OR coalesce(r.sandbox, false)
               ELSE coalesce(l.is_shadow, false) OR coalesce(l.sandbox, false) END
"""
DENIAL = "deni|declin|reject|disapprov|not approv|unapprov"
EFFECTIVE_APPROVALS_SQL = f"""
SELECT count(*) FILTER (WHERE regexp_matches(lower(final_outcome), 'approv')
                          AND NOT regexp_matches(lower(final_outcome), '{DENIAL}')), count(*)
FROM chain_summary
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
