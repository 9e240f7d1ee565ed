"""Readers of warehouse.duckdb (the PyPI duckdb CLI, Python read-only and read-write) never block a rebuild.

Each reader is a real separate process holding the file open while `publish_warehouse` (or a whole
`rerun-lineage run`) replaces it; the reader keeps working and the new file opens everywhere.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lineage.contract import SCHEMAS
from lineage.warehouse import Home, connect, publish_warehouse, write_arrow

DUCKDB_CLI = str(Path(sys.executable).parent / "duckdb")
T0 = datetime(2026, 3, 1, tzinfo=UTC)

# A Python reader holding one connection: one statement per stdin line, one answer line each.
HOLDER = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("ready", flush=True)
for line in sys.stdin:
    try:
        rows = con.execute(line).fetchall()
        print(rows[0][0] if line.lstrip().lower().startswith("select") else "done", flush=True)
    except duckdb.Error as exc:
        print("ERROR", str(exc).splitlines()[0], flush=True)
"""


def _write_applications(home: Home, n: int) -> None:
    """n applications, each its own root, in applications and rerun_chains."""
    tokens = [f"JA-{i:020d}" for i in range(n)]
    apps = [{"journey_application_token": t, "status": "completed", "created_at": T0, "is_rerun": False}
            for t in tokens]
    chains = [{"journey_application_token": t, "root_token": t, "depth": 0, "attempt": 1, "chain_size": 1,
               "is_root": True, "is_latest": True, "lineage_status": "complete"} for t in tokens]
    for name, rows in (("applications", apps), ("rerun_chains", chains)):
        schema = SCHEMAS[name]
        write_arrow(home, name, pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows],
                                                     schema=schema))


def _cli_count(warehouse: Path, table: str = "rerun_chains") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUCKDB_CLI, "-readonly", "-csv", "-noheader", str(warehouse), "-c", f"select count(*) from {table}"],
        capture_output=True, text=True, timeout=60,
    )


class Reader:
    """A separate process holding warehouse.duckdb open: a Python connection or the duckdb CLI."""

    def __init__(self, warehouse: Path, kind: str) -> None:
        self.kind = kind
        if kind.startswith("python"):
            argv = [sys.executable, "-c", HOLDER, str(warehouse), "ro" if kind.endswith("ro") else "rw"]
        else:  # the CLI opens read-write unless told -readonly, as an analyst typing `duckdb file` gets
            argv = [DUCKDB_CLI, *(["-readonly"] if kind.endswith("ro") else []), "-csv", "-noheader",
                    str(warehouse)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        if kind.startswith("python"):
            assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, query: str) -> str:
        """The first value of a SELECT's answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(query + (";\n" if self.kind.startswith("cli") else "\n"))
        self.proc.stdin.flush()
        return self._line()

    def run(self, statement: str) -> str:
        """Run a statement that returns nothing: "done" when it worked, else the error line."""
        if self.kind.startswith("cli"):  # the CLI prints nothing on success: follow it with a marker
            return self.ask(f"{statement}; select 'done'")
        return self.ask(statement)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def small(home: Home) -> Home:
    _write_applications(home, 3)
    publish_warehouse(home)
    return home


def test_duckdb_cli_opens_the_warehouse(small: Home) -> None:
    done = _cli_count(small.warehouse)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"


def test_duckdb_cli_opens_the_demo_warehouse(demo_home: Home) -> None:
    with connect(demo_home) as con:
        expected = con.execute("select count(*) from rerun_chains").fetchall()[0]
    done = _cli_count(demo_home.warehouse)
    assert done.returncode == 0, done.stderr
    assert expected is not None and done.stdout.strip() == str(expected[0])


@pytest.mark.parametrize("kind", ["python-ro", "python-rw", "cli-ro", "cli-rw"])
def test_rebuild_while_a_reader_holds_the_warehouse(small: Home, kind: str) -> None:
    reader = Reader(small.warehouse, kind)
    try:
        assert reader.ask("select count(*) from applications") == "3"
        if kind.endswith("rw"):  # an analyst's scratch table: leaves a WAL beside the old file
            assert reader.run("create table scratch as select 42 as answer") == "done"

        _write_applications(small, 5)
        publish_warehouse(small)

        # The reader keeps working on the file it opened (its views read the Parquet, now 5 rows).
        assert reader.ask("select count(*) from applications") == "5"
        # New readers open the new file, in Python and in the 1.5 CLI, and see the new data.
        with connect(small) as con:
            assert con.execute("select count(*) from applications").fetchall() == [(5,)]
            assert con.execute("select count(*) from information_schema.tables "
                               "where table_name = 'scratch'").fetchall() == [(0,)]
        assert _cli_count(small.warehouse, "applications").stdout.strip() == "5"
    finally:
        reader.close()
    assert not small.warehouse.with_name("warehouse.duckdb.wal").exists()


@pytest.mark.parametrize("kind", ["python-rw", "cli-rw"])
def test_a_reader_writing_after_the_rebuild_does_not_lock_out_others(small: Home, kind: str) -> None:
    reader = Reader(small.warehouse, kind)
    try:
        publish_warehouse(small)
        # It writes to the old file after the swap: DuckDB puts that WAL beside the *new* file's path.
        assert reader.run("create table scratch as select 42 as answer") == "done"
        assert reader.ask("select answer from scratch") == "42"
        # lineage's readers (notebooks, `rerun-lineage sql`) still get in, through a private copy.
        with connect(small) as con:
            assert con.execute("select count(*) from rerun_chains").fetchall() == [(3,)]
        done = subprocess.run([sys.executable, "-m", "lineage", "--home", str(small.root), "sql",
                               "select count(*) from applications", "--csv"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.split() == ['"count_star()"', "3"], done.stderr
    finally:
        reader.close()
    # Once that reader is gone, its WAL is gone and the plain CLI opens the new file again.
    assert _cli_count(small.warehouse).stdout.strip() == "3"


def test_a_read_write_shell_on_the_current_file_does_not_block_lineage_readers(small: Home) -> None:
    reader = Reader(small.warehouse, "cli-rw")
    try:
        assert reader.ask("select count(*) from applications") == "3"
        with connect(small) as con:  # the file is locked by the shell; a private copy is read
            assert con.execute("select count(*) from applications").fetchall() == [(3,)]
        publish_warehouse(small)
        assert reader.ask("select count(*) from rerun_chains") == "3"
    finally:
        reader.close()


def test_sql_shell_opens_while_a_read_write_shell_holds_the_file(small: Home) -> None:
    reader = Reader(small.warehouse, "cli-rw")
    try:
        assert reader.ask("select count(*) from applications") == "3"
        done = subprocess.run([sys.executable, "-m", "lineage", "--home", str(small.root), "sql"],
                              input="select count(*) from rerun_chains;\n", capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert "opening a copy" in done.stderr and re.search(r"│ +3 │", done.stdout), done.stdout
        copy = done.stderr.rsplit("opening a copy: ", 1)[1].strip()
        assert not Path(copy).exists()  # the private copy is removed when the shell ends
    finally:
        reader.close()


def test_full_run_while_a_reader_holds_the_warehouse(demo_home: Home, tmp_path: Path) -> None:
    home = Home(tmp_path / "fresh").ensure()
    publish_warehouse(home)  # an empty warehouse, held open read-write by a shell during the run
    reader = Reader(home.warehouse, "cli-rw")
    try:
        assert reader.run("create table scratch as select 1 as a") == "done"
        done = subprocess.run(
            [sys.executable, "-m", "lineage", "--home", str(home.root), "run",
             "--landing", str(demo_home.landing)],
            capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert reader.ask("select count(*) from scratch") == "1"
    finally:
        reader.close()
    with connect(home) as con, connect(demo_home) as demo:
        got = con.execute("select count(*) from rerun_chains").fetchall()[0]
        assert got == demo.execute("select count(*) from rerun_chains").fetchall()[0]
    assert _cli_count(home.warehouse).stdout.strip() == str(got[0])
