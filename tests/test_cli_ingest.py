"""Ingest through the real command line (a subprocess): `rerun-lineage run` on a tiny hand-made landing
folder, exact rows read back with `rerun-lineage sql`; fatal errors are one line and a non-zero exit."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

T0 = 1_712_000_000_000  # 2024-04-01 19:33:20 UTC


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lineage", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def rows(home: Path, query: str) -> list[tuple[str, ...]]:
    done = cli("--home", str(home), "sql", "--csv", query, cwd=home.parent)
    assert done.returncode == 0, done.stderr
    return [tuple(r) for r in csv.reader(io.StringIO(done.stdout))][1:]


def test_run_ingests_a_landing_folder(tmp_path: Path) -> None:
    landing, home = tmp_path / "export", tmp_path / "home"
    (landing / "hooks").mkdir(parents=True)
    root = {"journey_application_token": "JA-root", "status": "error", "created_at": T0, "updated_at": T0 + 5,
            "_embedded": {"reruns": [{"initiated_by": "api", "next_journey_application_token": "JA-child",
                                      "created_at": T0 + 10}]}}
    child = {"journey_application_token": "JA-child", "status": "completed", "complete_outcome": "Approved",
             "created_at": T0 + 10, "updated_at": T0 + 20, "is_rerun": True,
             "_embedded": {"rerun": {"initiated_by": "api", "previous_journey_application_token": "JA-root",
                                     "root_journey_application_token": "JA-root"}}}
    (landing / "apps.ndjson").write_text(json.dumps(root) + "\n" + "{oops\n" + json.dumps(child) + "\n")
    event = {"journey_application_token": "JA-root", "type": "started_rerun_application",
             "timestamp": T0 + 10, "rerun_journey_application_token": "JA-child"}
    deliveries = [{"request_token": f"R-{i}", "timestamp": T0 + 11 + i, "type": "journey_application_event",
                   "data": event} for i in range(2)]  # a retry: one event
    (landing / "hooks" / "d.jsonl.gz").write_bytes(gzip.compress(
        "".join(json.dumps(d) + "\n" for d in deliveries).encode()))
    (landing / "notes.txt").write_text("skipped, not a reject")

    done = cli("--home", str(home), "run", "--landing", str(landing), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert rows(home, "SELECT journey_application_token, status, rerun_previous_token, source_file "
                      "FROM applications ORDER BY 1") == [
        ("JA-child", "completed", "JA-root", "apps.ndjson"), ("JA-root", "error", "", "apps.ndjson")]
    assert rows(home, "SELECT journey_application_token, type, epoch_ms(timestamp), "
                      "rerun_journey_application_token, source FROM events") == [
        ("JA-root", "started_rerun_application", str(T0 + 10), "JA-child", "webhook")]
    assert rows(home, "SELECT journey_application_token, next_journey_application_token, initiated_by, "
                      "epoch_ms(created_at) FROM application_reruns") == [
        ("JA-root", "JA-child", "api", str(T0 + 10))]
    assert rows(home, "SELECT source_file, record_number, error FROM rejects") == [
        ("apps.ndjson", "2", "not valid JSON: Expecting property name enclosed in double quotes at column 2")]
    assert "files read: 2" in done.stdout


def test_fatal_errors_are_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    missing = cli("--home", home, "run", "--landing", str(tmp_path / "nowhere"), cwd=tmp_path)
    (tmp_path / "a-file").write_text("")
    unwritable = cli("--home", str(tmp_path / "a-file" / "home"), "run", cwd=tmp_path)
    for done, message in ((missing, "no such landing folder"), (unwritable, "is not writable")):
        assert done.returncode != 0
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_demo_never_mixes_made_up_data_into_a_real_landing_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "mine.ndjson").write_text(json.dumps({"journey_application_token": "JA-mine"}) + "\n")
    done = cli("--home", str(home), "demo", "--applications", "20", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"rerun-lineage: error: {home / 'landing'} holds files of its own (mine.ndjson, ...); "
        "the demo writes a synthetic export there: use another --home"]
    assert sorted(p.name for p in (home / "landing").iterdir()) == ["mine.ndjson"]
