"""Ingest over time: incremental runs equal a rebuild, the tables mirror the landing folder, quarantine is
private, no personal data reaches a table, and the warehouse shows the tables."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from lineage.ingest import ingest
from lineage.warehouse import Home, connect, publish_warehouse

T0 = 1_712_000_000_000
TABLES = ("applications", "application_reruns", "events", "rejects")


def write(home: Home, rel: str, *records) -> Path:
    path = home.landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def snap(token: str, status: str = "completed", **extra) -> dict:
    return {"journey_application_token": token, "status": status, "created_at": T0, "updated_at": T0,
            "_embedded": {"events": [{"type": "application_created", "timestamp": T0}],
                          "reruns": [{"next_journey_application_token": token + "-next", "created_at": T0}]},
            **extra}


def quiet(home: Home, **kw):
    return ingest(home, log=lambda line: None, **kw)


def snapshot_tables(home: Home) -> dict[str, list]:
    """Every ingest table's rows, sorted (row order is not part of the contract)."""
    out = {}
    for name in TABLES:
        rows = pq.read_table(home.table_path(name)).to_pylist()
        out[name] = sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))
    return out


def tokens(home: Home) -> list[str]:
    rows = pq.read_table(home.table_path("applications")).to_pylist()
    return sorted(r["journey_application_token"] for r in rows)


def landing_set(home: Home) -> None:
    write(home, "a.ndjson", snap("JA-a1"), snap("JA-a2"), "{not json")
    write(home, "b/b.ndjson", snap("JA-b1"),
          {"journey_application_token": "JA-b1", "type": "t", "timestamp": T0})


def test_second_run_reads_nothing_and_changes_nothing(home: Home) -> None:
    landing_set(home)
    first = quiet(home)
    before = snapshot_tables(home)
    second = quiet(home)
    assert (first.files_read, second.files_read, second.files_unchanged) == (2, 0, 2)
    assert (second.records, second.rejects, second.bytes_read) == (0, 0, 0)
    assert snapshot_tables(home) == before
    manifest = pq.read_table(home.table_path("ingested_files")).to_pylist()
    statuses = {r["source_file"]: r["status"] for r in manifest}
    assert statuses == {"a.ndjson": "unchanged", "b/b.ndjson": "unchanged"}


def test_unchanged_landing_keeps_the_tables_unless_a_killed_run_left_them_newer(home: Home) -> None:
    landing_set(home)
    first = quiet(home)
    before = snapshot_tables(home)
    mtimes = {name: home.table_path(name).stat().st_mtime_ns for name in TABLES}
    second = quiet(home)
    assert {name: home.table_path(name).stat().st_mtime_ns for name in TABLES} == mtimes  # not rewritten
    assert (second.applications, second.events) == (first.applications, first.events) == (3, 4)
    # as if a run had been killed after writing one table and before its manifest: the tables are rebuilt
    apps = home.table_path("applications")
    pq.write_table(pq.read_table(apps).slice(0, 0), apps)
    quiet(home)
    assert snapshot_tables(home) == before


def test_changed_file_is_read_again_and_its_old_rows_are_gone(home: Home, tmp_path: Path) -> None:
    landing_set(home)
    quiet(home)
    write(home, "a.ndjson", snap("JA-a3"))
    result = quiet(home)
    assert (result.files_read, result.files_unchanged) == (1, 1)
    assert tokens(home) == ["JA-a3", "JA-b1"]
    assert pq.read_table(home.table_path("rejects")).num_rows == 0  # the bad line went with the old content
    assert snapshot_tables(home) == _rebuilt(home, tmp_path)


def test_removed_file_rows_are_dropped(home: Home, tmp_path: Path) -> None:
    landing_set(home)
    quiet(home)
    quarantined = list(home.quarantine.rglob("record-*.json"))
    assert quarantined
    (home.landing / "a.ndjson").unlink()
    result = quiet(home)
    assert (result.files_seen, result.files_read) == (1, 0)
    assert tokens(home) == ["JA-b1"]
    assert pq.read_table(home.table_path("rejects")).num_rows == 0
    assert not any(p.exists() for p in quarantined)  # its quarantined records went with it
    assert snapshot_tables(home) == _rebuilt(home, tmp_path)


def test_touched_or_renamed_file_is_not_parsed_again(home: Home) -> None:
    landing_set(home)
    quiet(home)
    os.utime(home.landing / "a.ndjson", ns=(1, 1))
    (home.landing / "b" / "b.ndjson").rename(home.landing / "b" / "renamed.ndjson")
    result = quiet(home)
    assert (result.files_read, result.files_unchanged) == (0, 2)
    sources = {r["source_file"] for r in pq.read_table(home.table_path("applications")).to_pylist()}
    assert sources == {"a.ndjson", "b/renamed.ndjson"}


def test_incremental_runs_equal_a_rebuild(home: Home, tmp_path: Path) -> None:
    write(home, "1.ndjson", snap("JA-1", updated_at=T0 + 1, status="new"))
    quiet(home)
    write(home, "2.ndjson", snap("JA-1", status="old"), snap("JA-2"))
    added = quiet(home)
    assert (added.files_read, added.files_unchanged) == (1, 1)  # only the new file is read
    write(home, "0.ndjson", snap("JA-1", updated_at=T0 + 1, status="tie, earlier file"))
    quiet(home)
    assert snapshot_tables(home) == _rebuilt(home, tmp_path)
    rebuilt = quiet(home, rebuild=True)
    assert rebuilt.files_read == 3
    assert snapshot_tables(home) == _rebuilt(home, tmp_path)


def _rebuilt(home: Home, tmp_path: Path) -> dict[str, list]:
    """The tables a fresh home makes of the same landing folder (quarantine paths differ by home)."""
    fresh = Home(tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}").ensure()
    ingest(fresh, landing=home.landing, log=lambda line: None)
    got = snapshot_tables(fresh)
    for row in got["rejects"]:
        row["quarantine_path"] = row["quarantine_path"].replace(str(fresh.quarantine), str(home.quarantine))
    return got


def test_quarantine_is_private_and_holds_the_raw_record(home: Home) -> None:
    write(home, "x.ndjson", snap("JA-1"), '{"journey_application_token": 5, "status": "x"}')
    quiet(home)
    [row] = pq.read_table(home.table_path("rejects")).to_pylist()
    path = Path(row["quarantine_path"])
    assert path.read_text() == '{"journey_application_token": 5, "status": "x"}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    d = path.parent
    while d != home.root:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
        d = d.parent


PERSONAL = ("Zebulon", "Quillfeather", "1961-02-03", "77 Sycamore Lane", "zq@example.invalid")


def test_no_personal_data_reaches_any_table(home: Home) -> None:
    people = {"name_first": PERSONAL[0], "name_last": PERSONAL[1], "birth_date": PERSONAL[2],
              "address_line_1": PERSONAL[3], "email_address": PERSONAL[4]}
    rec = snap("JA-1", application_meta={"applicant": people})
    rec["_embedded"]["child_entities"] = [{"entity_token": "P-1", **people}]
    rec["_embedded"]["entity_applications"] = [{"entity_application_token": "EA-1", "payload": people}]
    rec["_embedded"]["events"].append({"type": "x", "timestamp": T0, "entity_token": "P-1", "data": people})
    bad = {**rec, "created_at": "not a number"}
    write(home, "p.ndjson", rec, bad, {"journey_application_token": "JA-2", "type": "t", "timestamp": T0,
                                       "person": people})
    quiet(home)
    assert len(tokens(home)) == 1
    con = duckdb.connect()
    for name in (*TABLES, "ingested_files"):
        query = f"SELECT string_agg(CAST(t AS VARCHAR), ' ') FROM read_parquet('{home.table_path(name)}') t"
        text = con.execute(query).fetchone()[0] or ""
        for value in PERSONAL:
            assert value not in text, (name, value)
    for part in (home.state / "staged").rglob("*.parquet"):  # nor the staged parts
        assert not any(v.encode() in part.read_bytes() for v in PERSONAL), part


def test_published_warehouse_shows_the_ingest_tables(home: Home) -> None:
    landing_set(home)
    quiet(home)
    publish_warehouse(home)
    with connect(home) as con:
        assert con.execute("SELECT count(*) FROM applications").fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"applications", "application_reruns", "events", "rejects", "ingested_files"} <= names


def test_summary_and_metadata(home: Home) -> None:
    landing_set(home)
    lines: list[str] = []
    result = ingest(home, log=lines.append)
    assert "2 files (2 read" in result.summary() and "1 rejects" in result.summary()
    meta = result.metadata()
    assert (meta["records"], meta["rejects"], meta["applications"], meta["files_read"]) == (4, 1, 3, 2)
    assert lines and lines[-1].startswith("ingest: 2/2 files")
