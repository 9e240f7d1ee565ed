"""The analyst notebooks run top to bottom (nbclient, this venv's python3 kernel) on a demo and an empty home.

An error in any cell fails. The committed notebooks carry no outputs. Kernel start-up dominates the time,
so the empty home runs both notebooks in one kernel.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
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


@pytest.fixture
def empty_home(home: Home) -> Home:
    """The whole pipeline after ingest, on an export with nothing in it."""
    for name in ("applications", "application_reruns", "events", "rejects"):
        write_arrow(home, name, SCHEMAS[name].empty_table())
    chains.build_chains(home)
    reports.build_reports(home)
    publish_warehouse(home)
    return home


def test_notebooks_run_on_an_empty_home(empty_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    books = [_read(name) for name in NAMES]
    client = _client(books[0], empty_home, monkeypatch)
    with client.setup_kernel():
        for nb in books:
            client.nb = nb
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    overview, explorer = (_text(nb) for nb in books)
    assert "nothing to plot" in overview
    assert "no chains in this warehouse" in explorer
    assert sum(_images(nb) for nb in books) == 0


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
