"""Reliability harness: run the real CLI in a subprocess, kill it at a chosen moment, compare homes.

Tables are compared row for row after sorting, through real Parquet files. Columns that may legitimately
differ between two runs over the same landing folder are normalised here, and only these:
- the home folder's own path inside strings (quarantine paths) is replaced by `<home>`, and
  `quarantine_path` is cut to start at `quarantine/`;
- in `ingested_files` (the manifest): `status` `read` / `unchanged` (whether this run or an earlier one
  read the file) both become `ingested`, and any timestamp column is dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import filelock
import nasty_files as nf
import polars as pl
import pytest

from lineage.warehouse import DATA_FILE, Home, publish_warehouse

MANIFEST = "ingested_files"
TMP_MARK = ".tmp-"


def cli_env(home: Home, **extra: str) -> dict[str, str]:
    env = {**os.environ, "RERUN_LINEAGE_HOME": str(home.root), "RERUN_LINEAGE_LOCK_TIMEOUT": "120", **extra}
    env.pop("DAGSTER_HOME", None)  # the runner points Dagster at <home>/dagster itself
    env.pop("RERUN_LINEAGE_DEBUG", None)
    return env


def cli_cmd(home: Home, *args: str) -> list[str]:
    return [sys.executable, "-m", "lineage", "--home", str(home.root), *args]


def run_cli(home: Home, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command line, from a working directory outside the home."""
    return subprocess.run(
        cli_cmd(home, *args), env=cli_env(home, **env), cwd=home.root.parent,
        capture_output=True, text=True, timeout=timeout,
    )


def run_ok(home: Home, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(home, *args, **env)
    assert done.returncode == 0, (
        f"`{' '.join(args)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


# ---------------------------------------------------------------- kill at a chosen moment


@dataclass
class Trigger:
    """When to SIGKILL a run: `after_s` seconds after it is armed. It is armed by the first stderr line
    matching `pattern`, else by the first path matching `file_glob` (relative to the home), else at start.
    """

    label: str
    pattern: str | None = None
    after_s: float = 0.0
    file_glob: str | None = None


@dataclass
class Killed:
    fired: bool
    at_s: float
    returncode: int | None
    stderr: list[tuple[float, str]] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(line for _, line in self.stderr)


def _drain(stream, sink: list, t0: float) -> None:
    for line in stream:
        sink.append((time.monotonic() - t0, line.rstrip("\n")))


def _armed(trigger: Trigger, home: Home, lines: list, now: float) -> float | None:
    if trigger.pattern:
        return next((t for t, text in list(lines) if re.search(trigger.pattern, text)), None)
    if trigger.file_glob:
        return now if any(home.root.glob(trigger.file_glob)) else None
    return 0.0


def _kill_group(proc: subprocess.Popen) -> bool:
    """SIGKILL the process and its children; False when it had already ended on its own."""
    alive = proc.poll() is None
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive and proc.returncode == -signal.SIGKILL


def run_timed(home: Home, *args: str, trigger: Trigger | None = None, cmd: list[str] | None = None,
              timeout: float = 300, **env: str) -> Killed:
    """Run the CLI (or `cmd`); with a trigger, SIGKILL its whole process group when the trigger fires."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd or cli_cmd(home, *args), env=cli_env(home, **env), cwd=home.root.parent, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    lines: list[tuple[float, str]] = []
    out: list[tuple[float, str]] = []
    readers = [threading.Thread(target=_drain, args=(s, sink, t0), daemon=True)
               for s, sink in ((proc.stderr, lines), (proc.stdout, out))]
    for r in readers:
        r.start()
    armed: float | None = None
    fired = False
    try:
        while proc.poll() is None:
            now = time.monotonic() - t0
            if now > timeout:
                raise TimeoutError(f"run did not finish in {timeout}s")
            if trigger is not None:
                armed = armed if armed is not None else _armed(trigger, home, lines, now)
                if armed is not None and now - armed >= trigger.after_s:
                    fired = _kill_group(proc)
                    break
            time.sleep(0.001)
    finally:
        _kill_group(proc)
    for r in readers:
        r.join(timeout=5)
    return Killed(fired=fired, at_s=time.monotonic() - t0, returncode=proc.returncode, stderr=lines,
                  stdout=[text for _, text in out])


# ---------------------------------------------------------------- table comparison


def table_frames(home: Home) -> dict[str, pl.DataFrame]:
    """Every table under parquet/, normalised (see module doc) and sorted by all its flat columns."""
    frames = {}
    prefix = str(home.root)
    for name in home.tables():
        df = pl.read_parquet(home.table_path(name))
        for col, dtype in df.schema.items():
            if dtype == pl.String:
                df = df.with_columns(pl.col(col).str.replace(prefix, "<home>", literal=True))
            if col == "quarantine_path":  # a copied home still names the original's quarantine
                df = df.with_columns(pl.col(col).str.replace(r"^.*?quarantine/", "quarantine/"))
            if name == MANIFEST and isinstance(dtype, pl.Datetime):
                df = df.drop(col)
            if name == MANIFEST and col == "status":  # `read` this run or `unchanged` since an earlier one
                df = df.with_columns(pl.col(col).replace(["read", "unchanged"], "ingested"))
        flat = [c for c, t in df.schema.items() if not isinstance(t, (pl.List, pl.Struct, pl.Array))]
        frames[name] = df.sort(flat, nulls_last=True) if flat and df.height else df
    return frames


def diff_tables(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> list[str]:
    """Human-readable differences between two sets of tables; empty when equal row for row."""
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"tables differ: missing {sorted(set(want) - set(got))}, "
                        f"extra {sorted(set(got) - set(want))}")
    for name in sorted(set(got) & set(want)):
        a, b = got[name], want[name]
        if a.schema != b.schema:
            problems.append(f"{name}: schema {a.schema} != {b.schema}")
        elif not a.equals(b):
            only_a = a.join(b, on=[c for c in a.columns if not isinstance(a.schema[c], pl.List)],
                            how="anti", nulls_equal=True)
            problems.append(f"{name}: {a.height} rows vs {b.height} expected; e.g. unexpected rows:\n"
                            f"{only_a.head(3)}")
    return problems


def assert_same_tables(home: Home, want: dict[str, pl.DataFrame], context: str = "") -> None:
    problems = diff_tables(table_frames(home), want)
    assert not problems, f"{context}\n" + "\n".join(problems)


# ---------------------------------------------------------------- state checks after a kill


def leftover_tmp_files(home: Home) -> list[Path]:
    """Temporary files left in the home (outside the Dagster instance, which has its own)."""
    found = []
    for path in home.root.rglob(f"*{TMP_MARK}*"):
        rel = path.relative_to(home.root)
        if rel.parts[0] not in ("dagster", "landing"):
            found.append(rel)
    return found


def assert_readable_state(home: Home) -> None:
    """What an analyst could see right after a kill: only whole tables, and a warehouse that opens."""
    for table_dir in sorted(home.parquet.glob("*")) if home.parquet.is_dir() else []:
        data = sorted(p.name for p in table_dir.glob("*.parquet"))
        assert data in ([], [DATA_FILE]), f"{table_dir.name}: files read as data: {data}"
        if data:
            pl.read_parquet(table_dir / DATA_FILE)  # a whole, valid Parquet file
    if home.warehouse.exists():
        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            views = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()]
            for view in views:
                con.execute(f'SELECT count(*) FROM "{view}"').fetchone()
        finally:
            con.close()


# ---------------------------------------------------------------- one clean run shared by the modules

SHARED_APPLICATIONS = 60  # small: every Dagster run costs ~10 s of CPU whatever the export's size
CANARY_FILE = "canary/people.ndjson"
# Personal data planted in good and bad records (the personal-data scan looks for these).
CANARIES = ("Zorblaxine", "Quimbyfrost", "canary.person@leak.test", "078-05-1120", "+1-555-010-9999",
            "77 Canary Wharf Lane", "1931-02-29")


def canary_records() -> list[bytes]:
    """Entity payloads, child_entities, application_meta and webhook entities holding CANARIES, plus a
    reject whose error could quote one and a line that is not JSON."""
    person = {"entity_token": "P-canary", "name_first": CANARIES[0], "name_last": CANARIES[1],
              "birth_date": CANARIES[6], "document_ssn": CANARIES[3], "email_address": CANARIES[2],
              "phone_number": CANARIES[4], "address_line_1": CANARIES[5]}
    meta = {"applicant_full_name": f"{CANARIES[0]} {CANARIES[1]}", "notes": f"call {CANARIES[4]}"}
    good = nf.snapshot(nf.token(9001), application_meta=meta)
    good["_embedded"]["child_entities"] = [person]
    good["_embedded"]["entity_applications"] = [{"entity_application_token": "EA-canary",
                                                 "entity_token": "P-canary", "status": "completed",
                                                 "data": person}]
    good["_embedded"]["events"][0]["entity"] = person  # an event carrying an entity payload
    wrong_type = nf.snapshot(nf.token(9002), created=0, application_meta={"email": CANARIES[2]})
    wrong_type["created_at"] = f"{CANARIES[0]} {CANARIES[3]}"  # a reject whose error could quote the value
    webhook = {"request_token": "R-canary", "timestamp": nf.BASE_MS, "type": "t", "description": CANARIES[1],
               "data": {"journey_application_token": nf.token(9003), "type": "entity_updated",
                        "timestamp": nf.BASE_MS, "entity": person}}
    not_json = f'{{"journey_application_token": "{nf.token(9004)}", "name_first": "{CANARIES[0]}", '.encode()
    return [nf.line(good), nf.line(wrong_type), nf.line(webhook), not_json + b"\n"]


@dataclass
class CleanRun:
    landing: Path
    home: Home  # never changed by a test: copy it first (copy_home)
    frames: dict[str, pl.DataFrame]
    timeline: Killed  # its stderr lines with times place the crash kill points


def shared_clean_run(factory: pytest.TempPathFactory) -> CleanRun:
    """A generated export (plus the canary file) and a clean `rerun-lineage run` over it, made once per
    test session (shared by the xdist workers through a file lock) and reused by the crash, concurrency,
    repeats and personal-data modules."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above the per-worker ones
    base = root / "reliability-shared"
    landing, home, saved = base / "landing", Home(base / "home"), base / "timeline.json"
    with filelock.FileLock(str(root / "reliability-shared.lock")):
        if not saved.exists():
            from lineage import synthetic

            shutil.rmtree(base, ignore_errors=True)
            synthetic.generate(landing, SHARED_APPLICATIONS, seed=31, bad_fraction=0.03, progress=False)
            nf.write_lines(landing / CANARY_FILE, *canary_records())
            done = run_timed(home, "run", "--landing", str(landing))
            assert done.returncode == 0, f"clean run failed:\n{done.text()}"
            saved.write_text(json.dumps({"at_s": done.at_s, "stderr": done.stderr, "stdout": done.stdout}))
    timeline = json.loads(saved.read_text())
    killed = Killed(False, timeline["at_s"], 0, [tuple(x) for x in timeline["stderr"]], timeline["stdout"])
    return CleanRun(landing, home, table_frames(home), killed)


def copy_home(src: Home, dest: Home) -> Home:
    """A finished home to change: a copy whose warehouse views point at its own Parquet."""
    shutil.copytree(src.root, dest.root, symlinks=True)
    publish_warehouse(dest)
    return dest
