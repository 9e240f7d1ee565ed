"""The analyst notebooks run top to bottom (nbclient, this venv's python3 kernel) on a demo and an empty home.

An error in any cell fails. The committed notebooks carry no outputs. Kernel start-up dominates the time,
so the empty home runs both notebooks in one kernel.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pyarrow as pa
import pytest
from nbclient import NotebookClient

from lineage import chains, reports
from lineage.contract import SCHEMAS
from lineage.warehouse import Home, connect, publish_warehouse, write_arrow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("rerun_overview", "chain_explorer")


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _client(nb: nbformat.NotebookNode, home: Home, monkeypatch: pytest.MonkeyPatch) -> NotebookClient:
    monkeypatch.setenv("RERUN_LINEAGE_HOME", str(home.root))  # the kernel inherits this environment
    return NotebookClient(nb, timeout=180, kernel_name="python3",
                          resources={"metadata": {"path": str(home.root)}})


def _text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "open_warehouse" in "".join(c.source for c in code)  # read-only, through the lineage helper


def test_overview_runs_on_the_demo_home(demo_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _read("rerun_overview")
    _client(nb, demo_home, monkeypatch).execute()
    with connect(demo_home) as con:
        apps = con.execute("select count(*) from applications").fetchall()[0][0]
        rerun_chains = con.execute("select count(*) from chain_summary where rerun_count > 0").fetchall()
    rerun_chains = rerun_chains[0][0]
    text = _text(nb)
    assert str(demo_home.warehouse) in text
    assert f"│ {apps} " in text.replace("┆", "│")  # the headline table shows the real count
    if rerun_chains:
        assert _images(nb) >= 4  # rate over time, transitions, effective vs naive, time to rerun


def test_explorer_runs_on_the_demo_home(demo_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _read("chain_explorer")
    _client(nb, demo_home, monkeypatch).execute()
    with connect(demo_home) as con:
        deepest = con.execute(
            "select latest_token from chain_summary order by max_depth desc nulls last, chain_size desc, "
            "root_token limit 1"
        ).fetchall()
    text = _text(nb)
    assert deepest and f"exploring {deepest[0][0]}" in text  # the default token: deepest chain's latest
    assert f"chain of {deepest[0][0]}" in text
    assert _images(nb) >= 1  # the chain's events on a timeline


def _pipeline_after_ingest(home: Home, tables: dict[str, list[dict]]) -> Home:
    """Write the ingest tables by hand, then the real chains, reports and warehouse."""
    for name in ("applications", "application_reruns", "events", "rejects"):
        schema = SCHEMAS[name]
        rows = [{c: r.get(c) for c in schema.names} for r in tables.get(name, [])]
        write_arrow(home, name, pa.Table.from_pylist(rows, schema=schema))
    chains.build_chains(home)
    reports.build_reports(home)
    publish_warehouse(home)
    return home


@pytest.fixture
def empty_home(home: Home) -> Home:
    """An export with nothing in it."""
    return _pipeline_after_ingest(home, {})


DEEP = 100


@pytest.fixture
def deep_home(tmp_path: Path) -> Home:
    """One chain 100 deep (a rerun loop in someone's integration), each rerun made a minute later."""
    tokens = [f"JA-deep{i:016d}" for i in range(DEEP)]
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    apps = [{"journey_application_token": t, "journey_token": "J-loop", "status": "error",
             "created_at": t0 + timedelta(minutes=i), "is_rerun": i > 0,
             "rerun_previous_token": tokens[i - 1] if i else None,
             "rerun_root_token": tokens[0] if i else None,
             "rerun_initiated_by": "api" if i else None} for i, t in enumerate(tokens)]
    events = [{"journey_application_token": tokens[i - 1], "type": "started_rerun_application",
               "timestamp": t0 + timedelta(minutes=i), "rerun_journey_application_token": t,
               "source": "snapshot"} for i, t in enumerate(tokens) if i]
    return _pipeline_after_ingest(Home(tmp_path / "deep").ensure(), {"applications": apps, "events": events})


def test_notebooks_run_on_empty_and_deep_homes(
    empty_home: Home, deep_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [(empty_home, _read("rerun_overview")), (empty_home, _read("chain_explorer")),
            (deep_home, _read("chain_explorer"))]
    client = _client(runs[0][1], empty_home, monkeypatch)
    with client.setup_kernel():  # one kernel for all three runs; each run points it at its home first
        for home, nb in runs:
            client.nb = nb
            home_env = f"import os; os.environ['RERUN_LINEAGE_HOME'] = {str(home.root)!r}"
            client.execute_cell(nbformat.v4.new_code_cell(home_env), 0)
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    overview, explorer, deep = (_text(nb) for _, nb in runs)
    assert str(empty_home.warehouse) in overview and "nothing to plot" in overview
    assert "no chains in this warehouse" in explorer
    assert sum(_images(nb) for _, nb in runs[:2]) == 0
    assert str(deep_home.warehouse) in deep
    assert f"exploring JA-deep{DEEP - 1:016d}" in deep
    assert f"... and {DEEP - 60:,} more" in deep  # the printed tree is capped
    assert "the timeline shows 40 of the chain's applications" in deep and _images(runs[2][1]) >= 1


def test_helpers_find_the_home_and_open_it_read_only(
    empty_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineage.errors import LineageError
    from lineage.notebook import has_table, notebook_home, open_warehouse, query

    monkeypatch.setenv("RERUN_LINEAGE_HOME", str(empty_home.root))
    assert notebook_home() == empty_home
    monkeypatch.delenv("RERUN_LINEAGE_HOME")
    monkeypatch.chdir(tmp_path)
    assert notebook_home().root == tmp_path / "rerun_home"
    with pytest.raises(LineageError, match="no warehouse"):
        open_warehouse()
    con = open_warehouse(empty_home.root)
    try:
        assert has_table(con, "chain_summary") and has_table(con, "report_rerun_rate")
        assert not has_table(con, "no_such_table")
        frame = query(con, "SELECT count(*) AS n FROM applications WHERE status = $s", {"s": "error"})
        assert frame.to_dicts() == [{"n": 0}]
        with pytest.raises(Exception, match="read-only"):
            con.execute("CREATE TABLE scratch (a INT)")
    finally:
        con.close()
