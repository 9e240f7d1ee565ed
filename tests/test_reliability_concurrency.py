"""Concurrent use (issue 7.4): runs on one home at once, while an analyst holds the warehouse open.

Two runs at once (both `--rebuild` over a finished home, so both write every table): the second waits for
the first, or, with a short $RERUN_LINEAGE_LOCK_TIMEOUT, exits with a one-line message; the tables equal a
clean run's. Meanwhile a reader holds warehouse.duckdb open, read-only (Python) in the first case and
read-write (the DuckDB CLI's default, with a scratch table written) in the second: the runs succeed and the
reader keeps working. One reader kind per case: DuckDB lets no other process open a file held read-write.
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
def shared(tmp_path_factory: pytest.TempPathFactory) -> rh.CleanRun:
    return rh.shared_clean_run(tmp_path_factory)


def _lock_held(home: Home) -> bool:
    probe = filelock.FileLock(home.root / ".run.lock", is_singleton=False)
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
    """Start a `run --rebuild`, and once it holds the home, n-1 more; their (exit code, stdout, stderr)."""
    home.root.mkdir(parents=True, exist_ok=True)
    args = ("run", "--landing", str(landing), "--rebuild")
    procs = [_start(home, *args, **env)]
    deadline = time.monotonic() + 60
    while not _lock_held(home) and procs[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert procs[0].poll() is None, "the first run ended before the others could start: export too small"
    procs += [_start(home, *args, **env) for _ in range(n - 1)]
    outputs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def _one_line_error(stderr: str) -> bool:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("rerun-lineage: error:")]
    return len(errors) == 1 and "Traceback" not in stderr


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


def _count(con) -> int:
    return con.execute("SELECT count(*) FROM applications").fetchone()[0]


def test_two_runs_at_once_wait_while_a_read_only_reader_reads(tmp_path: Path, shared: rh.CleanRun) -> None:
    home = rh.copy_home(shared.home, Home(tmp_path / "home"))
    ro = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        n = _count(ro)
        results = _overlapping_runs(home, shared.landing, 2)
        for code, out, err in results:
            assert code == 0, f"a concurrent run failed ({code}):\n{out}\n{err}"
        assert "waiting for another" in results[1][2], "the second run did not say it was waiting"
        assert _count(ro) == n, "the read-only reader stopped working"
    finally:
        ro.close()
    rh.assert_readable_state(home)
    rh.assert_same_tables(home, shared.frames, "after two concurrent runs")


def test_a_run_that_cannot_wait_exits_with_one_line_while_a_read_write_reader_writes(
        tmp_path: Path, shared: rh.CleanRun) -> None:
    home = rh.copy_home(shared.home, Home(tmp_path / "home"))
    cli = _cli_reader(home)
    try:
        first = _ask(cli, "CREATE TABLE scratch AS SELECT 42 AS x; SELECT count(*) AS n FROM applications;",
                     "M1")
        n = shared.frames["applications"].height
        assert str(n) in first, first
        (run1, run2) = _overlapping_runs(home, shared.landing, 2, RERUN_LINEAGE_LOCK_TIMEOUT="0.2")
        assert run1[0] == 0, f"a run with the DuckDB CLI open read-write failed:\n{run1[2]}"
        assert run2[0] != 0 and _one_line_error(run2[2]), f"second run: {run2[0]}\n{run2[2]}"
        after = _ask(cli, "SELECT x FROM scratch; SELECT count(*) FROM applications;", "M2")
        assert "42" in after and str(n) in after, f"the read-write reader stopped working: {after}"
    finally:
        cli.stdin.close()
        cli.wait(timeout=30)
    rh.assert_same_tables(home, shared.frames, "after a refused concurrent run")
    rh.assert_readable_state(home)  # the new warehouse opens, although the CLI left a WAL behind
