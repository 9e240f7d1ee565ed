"""`rerun-lineage sql`: a table or CSV, read-only, bad SQL in one line; run as real subprocesses."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lineage import sqlshell
from lineage.contract import SCHEMAS
from lineage.errors import LineageError
from lineage.warehouse import Home, connect, publish_warehouse, write_arrow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROOT, RERUN, OTHER = "JA-" + "a" * 20, "JA-" + "b" * 20, "JA-" + "c" * 20


def _rows(name: str, rows: list[dict]) -> pa.Table:
    schema = SCHEMAS[name]
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


@pytest.fixture
def tiny(home: Home) -> Home:
    """Three applications (one root, its rerun, one lone root) and the edge between the first two."""
    write_arrow(home, "applications", _rows("applications", [
        {"journey_application_token": ROOT, "status": "error", "created_at": T0, "is_rerun": False},
        {"journey_application_token": RERUN, "status": "completed", "complete_outcome": "Approved",
         "created_at": T0, "is_rerun": True, "rerun_previous_token": ROOT, "rerun_initiated_by": "dashboard"},
        {"journey_application_token": OTHER, "status": "pending", "created_at": T0, "is_rerun": False},
    ]))
    write_arrow(home, "rerun_edges", _rows("rerun_edges", [
        {"parent_token": ROOT, "child_token": RERUN, "evidence": ["child_link", "event"],
         "initiated_by": "dashboard", "child_created_at": T0},
    ]))
    publish_warehouse(home)
    return home


def _sql(home: Home, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lineage", "--home", str(home.root), "sql", *args],
        capture_output=True, text=True, timeout=60, input=stdin, cwd=home.root,
    )


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_query_prints_a_table_with_the_real_count(tiny: Home) -> None:
    done = _sql(tiny, "select status, count(*) as n from applications group by status order by status")
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if "│" in ln]
    assert any("status" in ln and "n" in ln for ln in lines)
    body = {ln.split("│")[1].strip(): ln.split("│")[2].strip() for ln in lines[2:]}
    assert body == {"completed": "1", "error": "1", "pending": "1"}


def test_csv_output_is_parseable_and_counts_match_the_parquet(tiny: Home) -> None:
    done = _sql(tiny, "select count(*) as n from applications", "--csv")
    assert done.returncode == 0, done.stderr
    parquet_rows = pq.read_metadata(tiny.table_path("applications")).num_rows
    assert _csv_rows(done.stdout) == [["n"], [str(parquet_rows)]]


def test_csv_flattens_list_columns(tiny: Home) -> None:
    done = _sql(tiny, "select child_token, evidence, child_created_at from rerun_edges", "--csv")
    assert done.returncode == 0, done.stderr
    header, row = _csv_rows(done.stdout)
    assert header == ["child_token", "evidence", "child_created_at"]
    assert row[0] == RERUN and row[1] == "[child_link, event]"
    assert row[2].startswith("2026-03-01 12:00:00")  # shown in UTC whatever the local zone


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("selec 1", "query failed: Parser Error"),
        ("select nope from applications", "query failed: Binder Error"),
        ("create table scratch as select 1 as a", "read-only"),
        ("drop view applications", "read-only"),
        ("", "empty query"),
    ],
)
def test_bad_or_writing_sql_is_one_line_and_non_zero(tiny: Home, query: str, expected: str) -> None:
    done = _sql(tiny, query)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("rerun-lineage: error:") and expected in done.stderr
    assert "Traceback" not in done.stderr


def test_no_warehouse_is_one_line(home: Home) -> None:
    done = _sql(home, "select 1")
    assert done.returncode == 1 and "no warehouse at" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_long_results_are_cut_with_a_note(tiny: Home) -> None:
    out = io.StringIO()
    sqlshell.run_query(tiny, "select * from range(2500) t(i)", out=out, max_rows=1_000)
    text = out.getvalue()
    assert "2,500 rows in all, the first 1,000 shown" in text
    values = [ln.strip("│ ") for ln in text.splitlines() if ln.startswith("│")][2:]
    assert values == [str(i) for i in range(1_000)]  # every kept row printed, none elided


def test_empty_result_prints_the_header(tiny: Home) -> None:
    out = io.StringIO()
    sqlshell.run_query(tiny, "select journey_application_token from applications where false", out=out)
    assert "journey_application_token" in out.getvalue()
    assert "rows in all" not in out.getvalue()


def test_shell_opens_the_warehouse_read_only(tiny: Home) -> None:
    # No QUERY: the process becomes the duckdb CLI; piped statements run and a write is refused.
    done = _sql(tiny, stdin=".mode csv\nselect count(*) as n from applications;\ncreate table s(a int);\n")
    assert done.stdout.split() == ["n", "3"], done.stdout + done.stderr
    assert "read-only" in done.stderr


def test_shell_without_the_duckdb_cli_is_one_line(tiny: Home, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LineageError, match="duckdb shell is not installed"):
        sqlshell.open_shell(tiny)


def test_demo_home_count_matches_the_parquet(demo_home: Home) -> None:
    expected = pq.read_metadata(demo_home.table_path("applications")).num_rows
    assert expected > 0
    done = _sql(demo_home, "select count(*) as n from applications", "--csv")
    assert done.returncode == 0, done.stderr
    assert _csv_rows(done.stdout) == [["n"], [str(expected)]]
    table = _sql(demo_home, "select count(*) as n from applications")
    assert table.returncode == 0 and re.search(rf"│ +{expected} │", table.stdout), table.stdout


def test_queries_run_from_any_working_directory(tiny: Home, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "lineage", "sql", "select count(*) from rerun_edges", "--csv"],
        capture_output=True, text=True, timeout=60, cwd=elsewhere,
        env={**os.environ, "RERUN_LINEAGE_HOME": str(tiny.root)},
    )
    assert done.returncode == 0, done.stderr
    assert _csv_rows(done.stdout)[1] == ["1"]


# The five README queries (README.md, "Ad-hoc SQL"), each run through the CLI on the demo home and checked
# against the same answer computed another way (Polars over the Parquet, or the report tables).
README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_queries() -> list[str]:
    """The ```sql blocks of the README's "Ad-hoc SQL" section (up to the next heading)."""
    section = README.read_text().split("\n### Ad-hoc SQL\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def _run_csv(home: Home, query: str) -> pl.DataFrame:
    done = _sql(home, query, "--csv")
    assert done.returncode == 0, done.stderr
    return pl.read_csv(io.StringIO(done.stdout), infer_schema=False)  # every column as text


def _parquet(home: Home, name: str) -> pl.DataFrame:
    return pl.read_parquet(home.table_path(name))


def _rerun_rate(home: Home, got: pl.DataFrame) -> None:
    with connect(home) as con:
        report = con.sql("select journey_token, roots, roots_with_rerun from report_rerun_rate "
                         "where grouping = 'journey'").pl()
    assert got.height == report.height > 0
    assert set(got.select("journey_token", "roots", "roots_with_rerun").iter_rows()) == {
        (j, str(r), str(w)) for j, r, w in report.iter_rows()
    }


def _deepest(home: Home, got: pl.DataFrame) -> None:
    expected = _parquet(home, "chain_summary").sort(
        ["max_depth", "chain_size", "root_token"], descending=[True, True, False], nulls_last=True
    ).head(10)
    assert got["root_token"].to_list() == expected["root_token"].to_list()
    assert got.height == min(10, _parquet(home, "chain_summary").height)


def _errored_never_rerun(home: Home, got: pl.DataFrame) -> None:
    lone = _parquet(home, "rerun_chains").filter(pl.col("is_root") & (pl.col("chain_size") == 1))
    errored = _parquet(home, "applications").filter(pl.col("status").str.to_lowercase() == "error")
    expected = lone.join(errored, on="journey_application_token")["journey_application_token"]
    assert sorted(got["root_token"].to_list()) == sorted(expected.to_list())


def _dashboard(home: Home, got: pl.DataFrame) -> None:
    edges = _parquet(home, "rerun_edges").filter(pl.col("initiated_by").str.to_lowercase() == "dashboard")
    assert sorted(got["rerun_token"].to_list()) == sorted(edges["child_token"].to_list())


def _outcome_changed(home: Home, got: pl.DataFrame) -> None:
    expected = _parquet(home, "chain_summary").filter(pl.col("outcome_changed"))
    assert sorted(got["root_token"].to_list()) == sorted(expected["root_token"].to_list())
    for root, final in got.select("root_outcome", "final_outcome").iter_rows():
        assert (root or "").lower() != (final or "").lower()


CHECKS = [_rerun_rate, _deepest, _errored_never_rerun, _dashboard, _outcome_changed]


def test_readme_has_the_five_queries() -> None:
    assert len(_readme_queries()) == len(CHECKS)


@pytest.mark.parametrize("index", range(len(CHECKS)), ids=[c.__name__.strip("_") for c in CHECKS])
def test_readme_query_answers_on_the_demo_home(demo_home: Home, index: int) -> None:
    CHECKS[index](demo_home, _run_csv(demo_home, _readme_queries()[index]))
