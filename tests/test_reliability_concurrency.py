"""Concurrent use (issue 7.4): runs on one home at once, and runs while an analyst holds the warehouse open.

Two (and three) runs at once: each waits for the one before or exits with a one-line message; the tables
equal a clean run's. A reader holding warehouse.duckdb open, read-only (Python) or read-write (the DuckDB
CLI's default, with a scratch table written): the run succeeds and the reader keeps working.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import duckdb
import filelock
import pytest
import reliability_harness as rh

from lineage.sqlshell import duckdb_cli
from lineage.warehouse import Home


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lineage import synthetic

    out = tmp_path_factory.mktemp("concurrency-export") / "landing"
    synthetic.generate(out, 200, seed=41, bad_fraction=0.01)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, landing: Path) -> dict:
    home = Home(tmp_path_factory.mktemp("concurrency-clean") / "home")
    rh.run_ok(home, "run", "--landing", str(landing))
    return rh.table_frames(home)


def _lock_held(home: Home) -> bool:
    probe = filelock.FileLock(home.root / ".writer.lock", is_singleton=False)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    probe.release()
    return False


def _start(home: Home, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(rh.cli_cmd(home, *args), env=rh.cli_env(home, **env), cwd=home.root.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _overlapping_runs(home: Home, landing: Path, n: int, **env: str) -> list[tuple[int, str, str]]:
    """Start a run, and once it holds the home, n-1 more; their (exit code, stdout, stderr)."""
    home.root.mkdir(parents=True, exist_ok=True)
    procs = [_start(home, "run", "--landing", str(landing), **env)]
    deadline = time.monotonic() + 60
    while not _lock_held(home) and procs[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert procs[0].poll() is None, "the first run ended before the others could start: export too small"
    procs += [_start(home, "run", "--landing", str(landing), **env) for _ in range(n - 1)]
    outputs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def _one_line_error(stderr: str) -> bool:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("rerun-lineage: error:")]
    return len(errors) == 1 and "Traceback" not in stderr


def test_runs_at_once_wait_for_each_other(tmp_path: Path, landing: Path, clean: dict) -> None:
    home = Home(tmp_path / "home")
    results = _overlapping_runs(home, landing, 3)
    for code, out, err in results:
        assert code == 0, f"a concurrent run failed ({code}):\n{out}\n{err}"
    assert any("waiting for another" in err for _, _, err in results[1:]), "no run said it was waiting"
    rh.assert_readable_state(home)
    rh.assert_same_tables(home, clean, "after three concurrent runs")


def test_a_run_that_cannot_wait_exits_with_one_line(tmp_path: Path, landing: Path, clean: dict) -> None:
    home = Home(tmp_path / "home")
    (first, second) = _overlapping_runs(home, landing, 2, RERUN_LINEAGE_LOCK_TIMEOUT="0.2")
    assert first[0] == 0, f"the first run failed:\n{first[2]}"
    assert second[0] != 0 and _one_line_error(second[2]), f"second run: {second[0]}\n{second[2]}"
    rh.assert_same_tables(home, clean, "after a refused concurrent run")


def _cli_reader(home: Home) -> subprocess.Popen:
    """The DuckDB CLI on the warehouse, read-write as it opens by default, fed SQL on stdin."""
    return subprocess.Popen([duckdb_cli(), str(home.warehouse)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def _ask(proc: subprocess.Popen, sql: str, marker: str) -> str:
    """Send SQL, then a marker query; the output up to the marker."""
    proc.stdin.write(f"{sql}\n.mode list\nSELECT '{marker}';\n")
    proc.stdin.flush()
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = proc.stdout.readline()
        if not out:
            break
        if out.strip() == marker:
            return "".join(seen)
        seen.append(out)
    raise AssertionError(f"the DuckDB CLI stopped answering: {''.join(seen)}{proc.stderr.read()}")


def test_runs_while_readers_hold_the_warehouse_open(tmp_path: Path, landing: Path, clean: dict) -> None:
    """A read-only reader (Python), then a read-write one (the DuckDB CLI, with a scratch table): one at a
    time, since DuckDB lets no other process open a file held read-write, not even read-only."""
    home = Home(tmp_path / "home")
    rh.run_ok(home, "run", "--landing", str(landing))
    ro = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        n = ro.execute("SELECT count(*) FROM applications").fetchone()[0]
        done = rh.run_cli(home, "run", "--landing", str(landing), "--rebuild")
        assert done.returncode == 0, f"a run with a read-only reader open failed:\n{done.stderr}"
        assert ro.execute("SELECT count(*) FROM applications").fetchone()[0] == n
    finally:
        ro.close()

    cli = _cli_reader(home)
    try:
        first = _ask(cli, "CREATE TABLE scratch AS SELECT 42 AS x; SELECT count(*) FROM applications;", "M1")
        assert str(n) in first, first
        done = rh.run_cli(home, "run", "--landing", str(landing), "--rebuild")
        assert done.returncode == 0, f"a run with the DuckDB CLI open read-write failed:\n{done.stderr}"
        after = _ask(cli, "SELECT x FROM scratch; SELECT count(*) FROM applications;", "M2")
        assert "42" in after and str(n) in after, f"the read-write reader stopped working: {after}"
    finally:
        cli.stdin.close()
        cli.wait(timeout=30)
    rh.assert_same_tables(home, clean, "after runs with readers open")
    rh.assert_readable_state(home)  # the new warehouse opens, although the CLI left a WAL behind
