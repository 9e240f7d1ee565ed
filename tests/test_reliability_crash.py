"""Crash safety (issue 7.1): runs killed with SIGKILL at many points, then run again.

`rerun-lineage run` (Dagster, in a subprocess) is killed inside each step (ingest, lineage, reports),
at a seeded random moment placed from the step timings of a shared clean run, and while the warehouse is
being written (its temporary file exists); some on an empty home, the others during a `--rebuild` over a
finished home, whose previous state must stay whole. The ingest step alone, where most state lives (staged
parts, manifest, quarantine, tables being written), is killed at more seeded random moments, cheaply,
without Dagster. After every kill: only whole tables are visible and warehouse.duckdb opens; the next run
completes and its tables equal a clean run's, row for row; no temporary file is left behind.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nasty_files as nf
import pytest
import reliability_harness as rh

from lineage.sqlshell import duckdb_cli
from lineage.warehouse import Home

START = r"running the pipeline"
INGEST_END = r"^\s*ingest: \d+ files \("  # the summary line, not the `ingest: 3/42 files` progress lines
STEP_END = {"ingest": INGEST_END, "lineage": r"^\s*chain_summary:", "reports": r"^\s*html report:"}
INGEST_KILLS = 4


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> rh.CleanRun:
    return rh.shared_clean_run(tmp_path_factory)


@pytest.fixture(scope="module")
def landing(shared: rh.CleanRun) -> Path:
    return shared.landing


@pytest.fixture(scope="module")
def clean(shared: rh.CleanRun):
    """A clean run: its tables are the expected result, its stderr timeline places the kill points."""
    return shared.home, shared.frames, shared.timeline


def _first(done: rh.Killed, pattern: str) -> tuple[float, str]:
    for t, text in done.stderr:
        if re.search(pattern, text):
            return t, text
    raise AssertionError(f"the clean run printed no line matching {pattern!r}:\n{done.text()}")


def _trigger(point: str, clean_run: rh.Killed) -> rh.Trigger:
    """A kill at a seeded random moment inside a step, placed by the clean run's step timings (a step's
    own lines may come late, so the margins keep clear of its ends); the warehouse by its temporary file."""
    start, _ = _first(clean_run, START)
    ends = {step: _first(clean_run, pat)[0] for step, pat in STEP_END.items()}
    at = random.Random(f"kill-{point}").uniform(0.15, 0.85)
    if point == "inside-ingest":
        line = _first(clean_run, INGEST_END)[1]
        m = re.search(r"\(([\d.]+)s\)\s*$", line)
        took = float(m.group(1)) if m else ends["ingest"] - start
        return rh.Trigger(point, START, max(0.0, ends["ingest"] - start - took * (1 - at)))
    if point == "inside-lineage":
        return rh.Trigger(point, INGEST_END, (ends["lineage"] - ends["ingest"]) * at)
    if point == "inside-reports":
        return rh.Trigger(point, STEP_END["lineage"], (ends["reports"] - ends["lineage"]) * at)
    if point == "warehouse-being-written":
        return rh.Trigger(point, file_glob=".warehouse.duckdb.tmp-*")
    raise ValueError(point)


# One kill at a random moment inside each step, two on an empty home and two during a `--rebuild`. A table
# being written (a temporary Parquet file exists) is the ingest step's lot: the ingest-only kills below, at
# random moments, land there many times over.
CLI_CASES = [("inside-ingest", "first-run"), ("inside-lineage", "rebuild"),
             ("inside-reports", "first-run"), ("warehouse-being-written", "rebuild")]


def _warehouse_opens_in_cli(home: Home) -> None:
    done = subprocess.run([duckdb_cli(), "-readonly", str(home.warehouse), "-c",
                           "SELECT count(*) FROM applications"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"the DuckDB CLI cannot open the warehouse: {done.stderr}"


@pytest.mark.parametrize(("point", "mode"), CLI_CASES, ids=[f"{p}-{m}" for p, m in CLI_CASES])
def test_killed_run_then_next_run_equals_clean_run(point: str, mode: str, clean, landing: Path,
                                                    tmp_path: Path) -> None:
    clean_home, want, clean_run = clean
    home = Home(tmp_path / "home")
    args = ["run", "--landing", str(landing)]
    if mode == "rebuild":
        rh.copy_home(clean_home, home)
        args.append("--rebuild")
    killed = rh.run_timed(home, *args, trigger=_trigger(point, clean_run))
    assert killed.fired, f"kill point {point} never reached; the run ended first:\n{killed.text()}"

    rh.assert_readable_state(home)
    if mode == "rebuild":  # the previous state stays whole
        lost = set(want) - set(home.tables())
        assert not lost, f"tables lost by a killed rebuild: {lost}"

    again = rh.run_timed(home, "run", "--landing", str(landing))
    assert again.returncode == 0, f"the run after a kill at {point} failed:\n{again.text()}"
    rh.assert_same_tables(home, want, f"after a kill at {point} ({killed.at_s:.2f}s, {mode})")
    _warehouse_opens_in_cli(home)
    assert not rh.leftover_tmp_files(home), f"temporary files left behind: {rh.leftover_tmp_files(home)}"


# ---------------------------------------------------------------- the ingest step alone, killed often


def _ingest_cmd(home: Home, landing: Path, out: Path) -> list[str]:
    return [sys.executable, nf.__file__, str(home.root), str(landing), str(out)]


@pytest.fixture(scope="module")
def clean_ingest(tmp_path_factory: pytest.TempPathFactory, landing: Path):
    home = Home(tmp_path_factory.mktemp("crash-ingest-clean") / "home")
    out = home.root.parent / "result.json"
    done = rh.run_timed(home, cmd=_ingest_cmd(home, landing, out), trigger=None)
    assert done.returncode == 0, done.text()
    armed = rh.run_timed(Home(home.root.parent / "probe"), cmd=_ingest_cmd(
        Home(home.root.parent / "probe"), landing, out), trigger=rh.Trigger("staging", file_glob="state/*"))
    return rh.table_frames(home), done.at_s, armed.at_s


@pytest.mark.parametrize("seed", range(INGEST_KILLS))
def test_killed_ingest_then_next_ingest_equals_clean_ingest(seed: int, clean_ingest, landing: Path,
                                                            tmp_path: Path) -> None:
    want, took, state_at = clean_ingest
    home = Home(tmp_path / "home")
    out = tmp_path / "result.json"
    rng = random.Random(9000 + seed)
    if seed % 2:  # a killed --rebuild-like re-ingest over a finished home: start from a finished one
        assert rh.run_timed(home, cmd=_ingest_cmd(home, landing, out)).returncode == 0
        shutil.rmtree(home.state / "staged", ignore_errors=True)  # force every file to be parsed again
    delay = rng.uniform(0.0, max(0.05, took - state_at))
    killed = rh.run_timed(home, cmd=_ingest_cmd(home, landing, out),
                          trigger=rh.Trigger(f"ingest+{delay:.2f}s", file_glob="state/*", after_s=delay))
    rh.assert_readable_state(home)
    again = rh.run_timed(home, cmd=_ingest_cmd(home, landing, out))
    assert again.returncode == 0, f"ingest after a kill at {killed.at_s:.2f}s failed:\n{again.text()}"
    rh.assert_same_tables(home, want, f"after a kill {delay:.2f}s into ingest (fired={killed.fired})")
    assert not rh.leftover_tmp_files(home), f"temporary files left behind: {rh.leftover_tmp_files(home)}"
