"""Ingest rules (CONTRACT §2–§3), one tiny hand-made landing folder in, exact rows out, through the real
path: files on disk, DuckDB, Parquet tables. Incremental runs, quarantine and personal data: see
tests/test_ingest_incremental.py."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lineage.errors import LineageError
from lineage.ingest import ingest
from lineage.warehouse import Home

T0 = 1_712_000_000_000  # 2024-04-01T19:33:20Z
NOW = dt.datetime(2024, 4, 1, 19, 33, 20, tzinfo=dt.UTC)


def ts(offset_ms: int = 0) -> dt.datetime:
    return NOW + dt.timedelta(milliseconds=offset_ms)


def write(home: Home, rel: str, *records, raw: bytes | None = None) -> Path:
    """Write records one per line (or `raw` bytes) to landing/rel; gzip when rel ends in .gz."""
    path = home.landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    data = raw if raw is not None else b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)
    path.write_bytes(gzip.compress(data) if rel.endswith(".gz") and raw is None else data)
    return path


def table(home: Home, name: str) -> list[dict]:
    return pq.read_table(home.table_path(name)).to_pylist()


def snap(token: str, **extra) -> dict:
    rec = {"journey_application_token": token, "status": "completed", "created_at": T0, "updated_at": T0}
    rec.update(extra)
    return rec


def quiet(home: Home, **kw):
    return ingest(home, log=lambda line: None, **kw)


def rejects(home: Home) -> list[tuple]:
    return [(r["source_file"], r["record_number"], r["error"]) for r in table(home, "rejects")]


def test_missing_landing_folder_is_one_line_error(home: Home, tmp_path: Path) -> None:
    with pytest.raises(LineageError, match="no such landing folder"):
        ingest(home, landing=tmp_path / "nowhere")


def test_files_are_found_recursively_and_others_listed_as_skipped(home: Home) -> None:
    write(home, "a.ndjson", snap("JA-a"))
    write(home, "deep/er/b.jsonl", snap("JA-b"))
    write(home, "c.json", raw=json.dumps(snap("JA-c")).encode())
    write(home, "d/d.ndjson.gz", snap("JA-d"))
    write(home, "e.json.gz", raw=gzip.compress(json.dumps([snap("JA-e")]).encode()))
    write(home, "f.jsonl.gz", snap("JA-f"))
    write(home, "notes.txt", raw=b"not an export\n")
    write(home, "g.ndjson.bak", snap("JA-g"))
    result = quiet(home)
    got = sorted((a["journey_application_token"], a["source_file"]) for a in table(home, "applications"))
    assert got == [
        ("JA-a", "a.ndjson"), ("JA-b", "deep/er/b.jsonl"), ("JA-c", "c.json"), ("JA-d", "d/d.ndjson.gz"),
        ("JA-e", "e.json.gz"), ("JA-f", "f.jsonl.gz")]
    assert [p for p, _ in result.files_skipped] == ["g.ndjson.bak", "notes.txt"]
    assert rejects(home) == []
    assert (result.files_seen, result.files_read, result.snapshots) == (6, 6, 6)
    manifest = {r["source_file"]: r["status"] for r in table(home, "ingested_files")}
    assert manifest["notes.txt"] == "skipped" and manifest["a.ndjson"] == "read"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_a_folder_that_cannot_be_listed_is_listed_as_skipped(home: Home) -> None:
    write(home, "ok.ndjson", snap("JA-ok"))
    write(home, "locked/x.ndjson", snap("JA-x"))
    (home.landing / "locked").chmod(0)
    try:
        result = quiet(home)
    finally:
        (home.landing / "locked").chmod(0o755)
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-ok"]
    assert result.files_skipped == [("locked/", "cannot be read: Permission denied")]


def test_json_file_holds_one_record_or_an_array(home: Home) -> None:
    write(home, "one.json", raw=json.dumps(snap("JA-one"), indent=2).encode())
    many = [snap("JA-m1"), snap("JA-m2"), "oops", snap("JA-m3")]
    write(home, "many.json", raw=json.dumps(many, indent=1).encode())
    quiet(home)
    assert sorted(a["journey_application_token"] for a in table(home, "applications")) == [
        "JA-m1", "JA-m2", "JA-m3", "JA-one"]
    # record_number of a .json is the 1-based array position
    assert rejects(home) == [("many.json", 3, "not a JSON object but a string")]


def test_blank_lines_are_not_records_but_count_as_lines(home: Home) -> None:
    write(home, "x.ndjson", raw=b"\n" + json.dumps(snap("JA-1")).encode() + b"\n  \n\n{broken\n"
          + json.dumps(snap("JA-2")).encode() + b"\r\n")
    result = quiet(home)
    assert sorted(a["journey_application_token"] for a in table(home, "applications")) == ["JA-1", "JA-2"]
    assert [(f, n) for f, n, _ in rejects(home)] == [("x.ndjson", 5)]
    assert (result.records, result.rejects) == (2, 1)


def test_every_kind_of_bad_record_is_one_reject_and_the_rest_is_read(home: Home) -> None:
    write(home, "bad.ndjson",
          snap("JA-ok1"),
          b'{"journey_application_token": "JA-x", "status": ',  # 2 invalid JSON
          [1, 2],  # 3 not an object
          {"status": "completed"},  # 4 no token
          snap(None),  # 5 null token
          snap(42),  # 6 token not a string
          snap(""),  # 7 empty token
          snap("JA-s", created_at="1712000000000"),  # 8 created_at a string
          snap("JA-f", updated_at=1712000000000.5),  # 9 updated_at a float
          snap("JA-e", _embedded={"events": [{"type": "x", "timestamp": "yesterday"}]}),  # 10 event ts
          {"journey_application_token": "JA-u", "hello": "world"},  # 11 unrecognised shape
          {"journey_application_token": "JA-w", "type": "t", "timestamp": True},  # 12 bare event ts
          {"request_token": "R-1", "data": {"journey_application_token": "JA-v", "type": "t",
                                            "timestamp": "now"}},  # 13 webhook ts
          snap("JA-ok2"))
    result = quiet(home)
    assert sorted(a["journey_application_token"] for a in table(home, "applications")) == ["JA-ok1", "JA-ok2"]
    got = rejects(home)
    assert [n for _, n, _ in got] == list(range(2, 14))
    errors = dict((n, e) for _, n, e in got)
    assert errors[2].startswith("not valid JSON")
    assert errors[3] == "not a JSON object but an array"
    assert errors[4] == errors[5] == "no journey_application_token"
    assert errors[6] == "journey_application_token is not a string but a number"
    assert errors[7] == "journey_application_token is empty"
    assert errors[8] == "created_at is not an integer (epoch ms) but a string"
    assert errors[9] == "updated_at is not an integer (epoch ms) but a decimal number"
    assert errors[10] == "_embedded.events[] timestamp is not an integer (epoch ms) but a string"
    assert errors[11].startswith("unrecognised record")
    assert errors[12] == "timestamp is not an integer (epoch ms) but a boolean"
    assert errors[13] == "webhook data.timestamp is not an integer (epoch ms) but a string"
    assert (result.records, result.rejects) == (2, 12)
    assert all(r["quarantine_path"] for r in table(home, "rejects"))


def test_fields_of_unexpected_type_are_null_or_text_never_a_reject(home: Home) -> None:
    write(home, "odd.ndjson", snap(
        "JA-odd", status=5, journey_version_num=3, sandbox="true", is_archived=1, closed_at="soon",
        is_rerun="yes", external_group_id={"g": 1}, created_at=None, updated_at=None,
        _embedded={"journey": "not an object", "rerun": [1], "events": "none", "reruns": {"x": 1}}))
    quiet(home)
    assert rejects(home) == []
    [app] = table(home, "applications")
    assert (app["status"], app["journey_version_num"], app["external_group_id"]) == ("5", "3", '{"g":1}')
    assert (app["sandbox"], app["is_archived"], app["is_rerun"], app["closed_at"]) == (None, None, None, None)
    assert (app["created_at"], app["updated_at"], app["journey_name"]) == (None, None, None)
    assert table(home, "events") == [] and table(home, "application_reruns") == []


def test_application_row_holds_every_contract_column(home: Home) -> None:
    write(home, "sub/apps.ndjson", {
        "journey_application_token": "JA-c1", "status": "completed", "complete_outcome": "Approved",
        "journey_application_status": "Approved", "created_at": T0, "updated_at": T0 + 1000,
        "closed_at": T0 + 2000, "is_rerun": True, "external_application_id": "app-1",
        "external_group_id": "grp-1", "sandbox": False, "is_archived": False, "is_shadow_application": True,
        "unknown_key": {"ignored": True},
        "_embedded": {
            "journey": {"journey_token": "J-1", "name": "Onboarding", "version_num": 7},
            "rerun": {"initiated_by": "api", "previous_journey_application_token": "JA-p",
                      "root_journey_application_token": "JA-r", "root_external_group_id": "grp-0"}}})
    quiet(home)
    assert table(home, "applications") == [{
        "journey_application_token": "JA-c1", "journey_token": "J-1", "journey_name": "Onboarding",
        "journey_version_num": "7", "status": "completed", "complete_outcome": "Approved",
        "journey_application_status": "Approved", "created_at": ts(), "updated_at": ts(1000),
        "closed_at": ts(2000), "is_rerun": True, "rerun_initiated_by": "api", "rerun_previous_token": "JA-p",
        "rerun_root_token": "JA-r", "rerun_root_external_group_id": "grp-0",
        "external_application_id": "app-1", "external_group_id": "grp-1", "sandbox": False,
        "is_archived": False, "is_shadow": True, "source_file": "sub/apps.ndjson"}]


def test_top_level_journey_fields_win_and_shadow_is_false_without_a_flag(home: Home) -> None:
    write(home, "a.ndjson", snap("JA-1", journey_token="J-top", journey_name="Top",
                                 _embedded={"journey": {"journey_token": "J-emb", "journey_name": "Emb"}}))
    quiet(home)
    [app] = table(home, "applications")
    assert (app["journey_token"], app["journey_name"], app["is_shadow"]) == ("J-top", "Top", False)


def test_winner_is_latest_update_then_more_events_then_later_file_then_later_record(home: Home) -> None:
    ev = {"type": "x", "timestamp": T0}
    write(home, "1.ndjson",
          snap("JA-upd", updated_at=T0 + 5, status="newest"), snap("JA-ev", status="few"),
          snap("JA-file", status="earlier file"), snap("JA-rec", status="first"),
          snap("JA-rec", status="second"))
    write(home, "2.ndjson",
          snap("JA-upd", updated_at=T0 + 1, status="older"),
          snap("JA-ev", status="more events", _embedded={"events": [ev, {**ev, "type": "y"}]}),
          snap("JA-file", status="later file"))
    quiet(home)
    status = {a["journey_application_token"]: (a["status"], a["source_file"])
              for a in table(home, "applications")}
    assert status == {"JA-upd": ("newest", "1.ndjson"), "JA-ev": ("more events", "2.ndjson"),
                      "JA-file": ("later file", "2.ndjson"), "JA-rec": ("second", "1.ndjson")}


def test_application_reruns_come_from_the_winning_snapshot_only(home: Home) -> None:
    link = {"initiated_by": "dashboard", "next_journey_application_token": "JA-new", "created_at": T0 + 9}
    write(home, "a.ndjson",
          snap("JA-1", updated_at=T0,
               _embedded={"reruns": [{**link, "next_journey_application_token": "JA-old"}]}),
          snap("JA-1", updated_at=T0 + 1, _embedded={"reruns": [link, {"initiated_by": "api"}]}))
    quiet(home)
    assert table(home, "application_reruns") == [{
        "journey_application_token": "JA-1", "next_journey_application_token": "JA-new",
        "initiated_by": "dashboard", "created_at": ts(9)}]


def test_events_union_every_source_with_null_safe_identity(home: Home) -> None:
    started = {"type": "started_rerun_application", "timestamp": T0 + 10,
               "rerun_journey_application_token": "JA-2"}
    write(home, "apps.ndjson",
          # the snapshot's events carry no token of their own: they belong to JA-1
          snap("JA-1", updated_at=T0, _embedded={"events": [
              {"type": "application_created", "timestamp": T0, "journey_application_event_token": "JAE-c"}]}),
          snap("JA-1", updated_at=T0 + 20, _embedded={"events": [
              {"type": "application_created", "timestamp": T0}, {**started, "outcome": "from snapshot"}]}))
    hook = {"journey_application_token": "JA-1", **started, "outcome": "from webhook",
            "entity_application_token": None}
    write(home, "hooks.jsonl",
          {"request_token": "R-1", "timestamp": T0 + 11, "type": "journey_application_event", "data": hook},
          {"request_token": "R-2", "timestamp": T0 + 99, "type": "journey_application_event", "data": hook},
          {"request_token": "R-3", "timestamp": T0 + 12, "type": "journey_application_event",
           "data": {"journey_application_token": "JA-9", "type": "node_done", "timestamp": T0 + 12}})
    write(home, "events.ndjson",
          {"journey_application_token": "JA-1", "type": "application_created", "timestamp": T0,
           "journey_application_event_token": "JAE-late", "node_type": "from event"},
          {"journey_application_token": "JA-8", "type": "solo", "timestamp": T0 + 30,
           "journey_application_event_token": "JAE-s", "entity_token": "P-1"})
    quiet(home)
    base = {"journey_application_event_token": None, "outcome": None, "entity_token": None,
            "entity_application_token": None, "rerun_journey_application_token": None, "node_type": None}
    assert table(home, "events") == [
        {**base, "journey_application_event_token": "JAE-c", "journey_application_token": "JA-1",
         "type": "application_created", "timestamp": ts(), "source": "snapshot"},
        {**base, "journey_application_token": "JA-1", "type": "started_rerun_application",
         "timestamp": ts(10), "outcome": "from snapshot", "rerun_journey_application_token": "JA-2",
         "source": "snapshot"},
        {**base, "journey_application_event_token": "JAE-s", "journey_application_token": "JA-8",
         "type": "solo", "timestamp": ts(30), "entity_token": "P-1", "source": "event"},
        {**base, "journey_application_token": "JA-9", "type": "node_done", "timestamp": ts(12),
         "source": "webhook"},
    ]
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-1"]


def test_event_token_is_the_first_non_null_seen(home: Home) -> None:
    ev = {"journey_application_token": "JA-1", "type": "t", "timestamp": T0}
    write(home, "a.ndjson", snap("JA-1", _embedded={"events": [{"type": "t", "timestamp": T0}]}))
    write(home, "b.ndjson", {**ev, "journey_application_event_token": "JAE-from-bare", "outcome": "ignored"})
    quiet(home)
    [event] = table(home, "events")
    assert (event["journey_application_event_token"], event["source"], event["outcome"]) == (
        "JAE-from-bare", "snapshot", None)


def test_truncated_json_file_is_one_reject_with_no_record_number(home: Home) -> None:
    write(home, "cut.json", raw=b"[" + json.dumps(snap("JA-1")).encode() + b', {"journey_app')
    write(home, "fine.ndjson", snap("JA-2"))
    quiet(home)
    [row] = table(home, "rejects")
    assert (row["source_file"], row["record_number"]) == ("cut.json", None)
    assert row["error"].startswith("not valid JSON")
    assert Path(row["quarantine_path"]).read_bytes() == (home.landing / "cut.json").read_bytes()
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-2"]


def test_gzip_that_breaks_off_keeps_the_complete_records(home: Home) -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out, ends = b"", []
    for tok in ("JA-1", "JA-2", "JA-3"):
        out += comp.compress(json.dumps(snap(tok)).encode() + b"\n") + comp.flush(zlib.Z_FULL_FLUSH)
        ends.append(len(out))
    write(home, "cut.ndjson.gz", raw=out[: ends[1] + 8])
    write(home, "notgzip.ndjson.gz", raw=json.dumps(snap("JA-4")).encode() + b"\n")
    result = quiet(home)
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-1", "JA-2"]
    assert [(f, n) for f, n, _ in rejects(home)] == [("cut.ndjson.gz", None), ("notgzip.ndjson.gz", None)]
    assert (result.records, result.rejects) == (2, 2)


def test_empty_landing_folder_writes_empty_tables_with_their_columns(home: Home) -> None:
    result = quiet(home)
    for name in ("applications", "application_reruns", "events", "rejects"):
        assert pq.read_table(home.table_path(name)).num_rows == 0
    assert (result.files_seen, result.applications) == (0, 0)


def test_record_kind_is_told_by_its_shape(home: Home) -> None:
    write(home, "shapes.ndjson",
          {"journey_application_token": "JA-emb", "_embedded": {}},  # 1 snapshot: token + _embedded
          {"journey_application_token": "JA-st", "status": "running"},  # 2 snapshot: token + status
          # 3 a status makes it a snapshot even with type and timestamp (its event fields are not an event)
          {"journey_application_token": "JA-both", "status": "error", "type": "t", "timestamp": T0},
          {"journey_application_token": "JA-ev", "type": "t", "timestamp": T0},  # 4 bare event
          {"journey_application_token": "JA-no", "type": "t"},  # 5 no timestamp, no status: nothing
          {"data": {"journey_application_token": "JA-wh", "type": "t", "timestamp": T0}})  # 6 webhook
    result = quiet(home)
    assert [(a["journey_application_token"], a["status"]) for a in table(home, "applications")] == [
        ("JA-both", "error"), ("JA-emb", None), ("JA-st", "running")]
    assert [(e["journey_application_token"], e["source"]) for e in table(home, "events")] == [
        ("JA-ev", "event"), ("JA-wh", "webhook")]
    assert rejects(home) == [("shapes.ndjson", 5, "unrecognised record: not an application snapshot, "
                                                  "webhook delivery or event")]
    assert (result.snapshots, result.bare_events, result.webhooks, result.rejects) == (3, 1, 1, 1)


def test_unknown_statuses_event_types_and_keys_are_kept_or_ignored(home: Home) -> None:
    write(home, "open.ndjson", snap("JA-1", status="on_hold_kyc", complete_outcome="Approved-ish",
                                    brand_new_key=[1, {"x": None}],
                                    _embedded={"novel": {"a": 1}, "events": [
                                        {"type": "quantum_review", "timestamp": T0, "extra": True}]}))
    quiet(home)
    [app] = table(home, "applications")
    assert (app["status"], app["complete_outcome"]) == ("on_hold_kyc", "Approved-ish")
    assert [(e["type"], e["timestamp"]) for e in table(home, "events")] == [("quantum_review", ts())]
    assert rejects(home) == []


@pytest.mark.parametrize("flag", ["is_shadow_app", "is_shadow_application", "is_part_of_shadow_test"])
def test_any_shadow_flag_makes_is_shadow(home: Home, flag: str) -> None:
    write(home, "s.ndjson", snap("JA-yes", **{flag: True}), snap("JA-no", **{flag: False}))
    quiet(home)
    assert [(a["journey_application_token"], a["is_shadow"]) for a in table(home, "applications")] == [
        ("JA-no", False), ("JA-yes", True)]


def test_event_identity_tells_entity_and_rerun_tokens_apart(home: Home) -> None:
    base = {"journey_application_token": "JA-1", "type": "t", "timestamp": T0}
    write(home, "e.ndjson", base, {**base, "entity_application_token": "EA-1"},
          {**base, "entity_application_token": "EA-2"}, {**base, "rerun_journey_application_token": "JA-2"},
          {**base, "entity_application_token": "EA-1", "outcome": "a retry, same identity"},
          {**base, "timestamp": T0 + 1}, {**base, "type": "u"})
    quiet(home)
    assert [(e["type"], e["timestamp"], e["entity_application_token"], e["rerun_journey_application_token"],
             e["outcome"]) for e in table(home, "events")] == [
        ("t", ts(), "EA-1", None, None), ("t", ts(), "EA-2", None, None), ("t", ts(), None, "JA-2", None),
        ("t", ts(), None, None, None), ("u", ts(), None, None, None), ("t", ts(1), None, None, None)]


def test_gzipped_json_array_that_breaks_off_keeps_the_complete_items(home: Home) -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = comp.compress(b"[") + comp.flush(zlib.Z_FULL_FLUSH)
    for i, tok in enumerate(("JA-1", "JA-2", "JA-3")):
        out += comp.compress((b"," if i else b"") + json.dumps(snap(tok)).encode())
        out += comp.flush(zlib.Z_FULL_FLUSH)
        if tok == "JA-2":
            cut = len(out) + 10  # within the third item
    write(home, "cut.json.gz", raw=out[:cut])
    result = quiet(home)
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-1", "JA-2"]
    [row] = table(home, "rejects")
    assert (row["source_file"], row["record_number"]) == ("cut.json.gz", None)
    assert "breaks off" in row["error"]
    assert Path(row["quarantine_path"]).read_bytes() == out[:cut]
    assert (result.snapshots, result.rejects) == (2, 1)


def test_rejects_in_a_gzipped_line_file_name_their_line_and_keep_the_raw_record(home: Home) -> None:
    bad_utf8 = b'{"journey_application_token": "JA-u", "status": "\xff"}'
    at = bad_utf8.index(b"\xff") + 1  # the error names the first bad byte, 1-based
    write(home, "x.ndjson.gz", snap("JA-1"), b"", b"{cut", snap("JA-2"), bad_utf8, snap("JA-3"))
    quiet(home)
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-1", "JA-2", "JA-3"]
    got = table(home, "rejects")
    assert [(r["source_file"], r["record_number"], r["error"]) for r in got] == [
        ("x.ndjson.gz", 3, "not valid JSON: Expecting property name enclosed in double quotes at column 2"),
        ("x.ndjson.gz", 5, f"not valid UTF-8 text (byte {at})")]
    assert [Path(r["quarantine_path"]).read_bytes() for r in got] == [b"{cut", bad_utf8]


def test_a_json_file_with_one_bad_value_is_a_reject_at_position_one(home: Home) -> None:
    write(home, "scalar.json", raw=b"42\n")
    write(home, "object.json", raw=json.dumps(snap("JA-1", updated_at="late")).encode())
    write(home, "empty.json", raw=b"")
    write(home, "empty.ndjson", raw=b"\n\n")  # a line file with no records is simply empty
    quiet(home)
    assert table(home, "applications") == []
    assert rejects(home) == [
        ("empty.json", None, "the file holds no JSON (it is empty)"),
        ("object.json", 1, "updated_at is not an integer (epoch ms) but a string"),
        ("scalar.json", 1, "not a JSON object but a number")]
