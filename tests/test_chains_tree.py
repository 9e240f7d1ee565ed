"""The chain of one application: `chain_of` (notebooks), `rerun-lineage chain TOKEN` (a real subprocess),
and the SQL files run by the DuckDB CLI binary on a published warehouse."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from test_chains import app, link, load, started, table

from lineage.chains import chain_of
from lineage.errors import LineageError
from lineage.sqlfiles import sql_dir
from lineage.warehouse import publish_warehouse

TOK = {name: f"JA-{name:0>20}" for name in ("R", "A", "B", "C", "M", "X", "Y", "S")}


@pytest.fixture
def chain_home(home):
    t = TOK
    apps = [app(t["R"], 0, status="error"), app(t["A"], 1, t["R"], t["R"], by="api"),
            app(t["B"], 2, t["A"], t["R"], outcome="Approved"),
            app(t["C"], 3, t["R"], t["R"], status="error"),
            app(t["X"], 5, t["M"]), app(t["Y"], 6, t["X"]), app(t["S"], 7, t["S"])]
    load(home, apps, reruns=[link(t["R"], t["C"], 3, "dashboard")], events=[started(t["R"], t["A"], 1)])
    return home


def rerun_lineage(home, *args):
    return subprocess.run([sys.executable, "-m", "lineage", "--home", str(home.root), *args],
                          capture_output=True, text=True, timeout=60)


def test_chain_of_is_in_tree_order(chain_home):
    tree = chain_of(TOK["B"], chain_home)
    assert tree.select("level", "journey_application_token").rows() == [
        (0, TOK["R"]), (1, TOK["A"]), (2, TOK["B"]), (1, TOK["C"])
    ]
    assert tree["depth"].to_list() == [0, 1, 2, 1]
    assert tree["initiated_by"].to_list() == [None, "api", None, "dashboard"]
    assert tree["is_latest"].to_list() == [False, False, False, True]


def test_chain_of_a_missing_root_shows_it_as_a_placeholder(chain_home):
    tree = chain_of(TOK["Y"], str(chain_home.root))
    assert tree.select("level", "journey_application_token", "in_export").rows() == [
        (0, TOK["M"], False), (1, TOK["X"], True), (2, TOK["Y"], True)
    ]
    assert set(tree["root_token"]) == {TOK["M"]}


def test_a_broken_chain_shows_its_missing_root_on_top_and_the_missing_middle_under_it(home):
    # root A0 and middle A1 are not in the export; A2 names A1 as previous and reports A0 as root
    a = {n: f"JA-{n:0>20}" for n in ("A0", "A1", "A2", "A3")}
    load(home, [app(a["A2"], 2, a["A1"], a["A0"]), app(a["A3"], 3, a["A2"], a["A0"])])
    tree = chain_of(a["A3"], home)
    assert tree.select("level", "journey_application_token", "in_export").rows() == [
        (0, a["A0"], False), (1, a["A1"], False), (2, a["A2"], True), (3, a["A3"], True)
    ]
    done = rerun_lineage(home, "chain", a["A1"])  # a missing middle is a token one can ask about
    assert done.returncode == 0, done.stderr
    marked = [ln for ln in done.stdout.splitlines() if ln.endswith(f"<== {a['A1']}")]
    assert len(marked) == 1 and "(not in the export)" in marked[0]
    assert done.stdout.splitlines()[0].startswith(f"chain of {a['A1']}: root {a['A0']} (not in the export)")


def test_a_very_deep_chain_prints_in_linear_space(home):
    tokens = [f"JA-{i:020d}" for i in range(300)]
    load(home, [app(tokens[0], 0)] + [app(t, i, tokens[i - 1], tokens[0]) for i, t in enumerate(tokens) if i])
    done = rerun_lineage(home, "chain", tokens[-1])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[1:]
    assert len(lines) == 300
    assert max(len(ln) for ln in lines) < 200  # the indent stops growing; the level is written instead
    assert lines[-1].lstrip().startswith(f"└─ [level 299] {tokens[-1]}")


def test_chain_of_unknown_token(chain_home):
    with pytest.raises(LineageError, match="unknown application token JA-nope"):
        chain_of("JA-nope", chain_home)


def test_cli_prints_the_tree_and_marks_the_token(chain_home):
    done = rerun_lineage(chain_home, "chain", TOK["A"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"chain of {TOK['A']}: root {TOK['R']}, 4 application(s)")
    body = lines[1:]
    assert [ln.split()[0] if not ln.startswith(" ") else ln.split()[1] for ln in body] == [
        TOK["R"], TOK["A"], TOK["B"], TOK["C"]
    ]
    marked = [ln for ln in body if ln.endswith(f"<== {TOK['A']}")]
    assert len(marked) == 1 and "2024-04-01 00:01:00 UTC" in marked[0] and "by api" in marked[0]
    assert "depth 1" in marked[0] and "complete" in marked[0]
    assert "error" in body[0] and "completed / Approved" in body[2] and "latest" in body[3]


def test_cli_chain_of_a_cycle(chain_home):
    done = rerun_lineage(chain_home, "chain", TOK["S"])
    assert done.returncode == 0, done.stderr
    assert "cycle" in done.stdout.splitlines()[0] and done.stdout.count(TOK["S"]) >= 2


def test_cli_unknown_token_is_one_line_and_fails(chain_home):
    done = rerun_lineage(chain_home, "chain", "JA-00000000000000000000")
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "rerun-lineage: error: unknown application token JA-00000000000000000000"
    ]


def test_cli_chain_without_tables_is_one_line(home):
    done = rerun_lineage(home, "chain", TOK["R"])
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1


DUCKDB_CLI = Path(sys.executable).with_name("duckdb")


@pytest.mark.skipif(not DUCKDB_CLI.exists(), reason="duckdb-cli is not installed in the venv")
@pytest.mark.parametrize("name", ["rerun_edges", "rerun_chains", "chain_summary"])
def test_sql_file_runs_in_the_duckdb_cli_on_the_warehouse(chain_home, tmp_path, name):
    publish_warehouse(chain_home)
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", "-csv", str(chain_home.warehouse), "-f",
         str(sql_dir() / f"{name}.sql")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "TZ": "UTC"},
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stdout + done.stderr  # e.g. deprecated syntax in the 1.5 CLI
    rows = list(csv.reader(io.StringIO(done.stdout)))
    expected = table(chain_home, name)
    # the CLI prints the last statement's result (earlier statements print nothing or a header-only line)
    header_at = max(i for i, r in enumerate(rows) if r == expected.columns)
    got = rows[header_at + 1:]
    key = expected.columns[1] if name == "rerun_edges" else expected.columns[0]
    assert len(got) == expected.height
    col = expected.columns.index(key)
    assert sorted(r[col] for r in got) == sorted(expected[key].to_list())
    if name == "rerun_chains":
        depth = {r[0]: r[3] for r in got}
        want = {t: "NULL" if d is None else str(d) for t, d in expected.select(key, "depth").rows()}
        assert depth == want
        assert pl.Series([r[8] for r in got]).sort().to_list() == expected["lineage_status"].sort().to_list()
