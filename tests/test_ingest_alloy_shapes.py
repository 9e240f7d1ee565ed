"""Ingest of the shapes Alloy documents and of damaged files DuckDB's own reader lets through
(CONTRACT §2): each case a tiny landing folder in, exact rows out, through the real path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from lineage.warehouse import Home
from tests.test_ingest import T0, quiet, rejects, snap, table, write

# Alloy's documented `_embedded.events[]` item (developer.alloy.com, "Rerunning Journey Applications").
ALLOY_EVENT = {
    "journey_application_event_token": "22752065",
    "journey_application_token": "JA-8amRtBU3M98EWa4Hq8j7",
    "type": "started_rerun_application",
    "timestamp": 1691764389137,
    "entity_token": None,
    "entity_application_token": None,
    "rerun_journey_application_token": "JA-XnOSwyRTCqgrj6dNvCBw",
    "_embedded": {"node": {"id": None, "name": None, "type": None}},
    "_links": {},
}


def events(home: Home) -> list[tuple]:
    return sorted((e["journey_application_token"], e["type"], e["node_type"], e["source"])
                  for e in table(home, "events"))


def test_an_alloy_event_item_kept_on_its_own_is_a_bare_event_not_an_application(home: Home) -> None:
    write(home, "events.ndjson", ALLOY_EVENT)
    result = quiet(home)
    assert table(home, "applications") == []
    assert [(e["journey_application_event_token"], e["rerun_journey_application_token"], e["source"])
            for e in table(home, "events")] == [("22752065", "JA-XnOSwyRTCqgrj6dNvCBw", "event")]
    assert (result.snapshots, result.bare_events, result.rejects) == (0, 1, 0)


def test_node_type_comes_from_the_events_embedded_node(home: Home) -> None:
    review = {**ALLOY_EVENT, "type": "pending_review", "_embedded": {"node": {"type": "review"}}}
    write(home, "a.ndjson",
          snap("JA-s", _embedded={"events": [{**review, "journey_application_token": None}]}),
          {"request_token": "R", "timestamp": T0, "type": "update:journeyapplications", "description": "d",
           "data": {**review, "journey_application_token": "JA-w"}},
          {**review, "journey_application_token": "JA-b"},
          {**review, "journey_application_token": "JA-top", "_embedded": {}, "node_type": "manual"})
    quiet(home)
    assert events(home) == [("JA-b", "pending_review", "review", "event"),
                            ("JA-s", "pending_review", "review", "snapshot"),
                            ("JA-top", "pending_review", "manual", "event"),
                            ("JA-w", "pending_review", "review", "webhook")]


def test_a_snapshot_that_also_carries_a_data_object_is_a_snapshot(home: Home) -> None:
    data = {"journey_application_token": "JA-2", "type": "t", "timestamp": T0}
    write(home, "a.ndjson", snap("JA-1", data=data))
    quiet(home)
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-1"]
    assert table(home, "events") == []


def test_empty_event_tokens_are_no_tokens(home: Home) -> None:
    event = {"type": "t", "timestamp": T0, "rerun_journey_application_token": ""}
    write(home, "a.ndjson",
          snap("JA-1", _embedded={"events": [{**event, "journey_application_event_token": ""}]}),
          {"data": {**event, "journey_application_token": "JA-1", "journey_application_event_token": "E-1",
                    "rerun_journey_application_token": None}})
    quiet(home)
    assert [(e["journey_application_event_token"], e["rerun_journey_application_token"], e["source"])
            for e in table(home, "events")] == [("E-1", None, "snapshot")]


def _corrupt(data: bytes, at: int) -> bytes:
    damaged = bytearray(data)
    damaged[at] ^= 0xFF
    return bytes(damaged)


def test_a_gzip_member_with_a_bad_checksum_is_not_trusted_but_the_members_before_it_are(home: Home) -> None:
    def member(prefix: str) -> bytes:
        return gzip.compress("".join(json.dumps(snap(f"JA-{prefix}{i}")) + "\n" for i in range(3)).encode())

    write(home, "crc.ndjson.gz", raw=member("a") + _corrupt(member("b"), -6))  # second member's CRC
    write(home, "size.ndjson.gz", raw=_corrupt(member("s"), -2))  # its only member's length
    quiet(home)
    assert sorted(a["journey_application_token"] for a in table(home, "applications")) == [
        "JA-a0", "JA-a1", "JA-a2"]
    assert rejects(home) == [
        ("crc.ndjson.gz", None, "compressed data is corrupt (Error -3 while decompressing data: "
                                "incorrect data check)"),
        ("size.ndjson.gz", None, "compressed data is corrupt (Error -3 while decompressing data: "
                                 "incorrect length check)")]
    assert all(Path(r["quarantine_path"]).is_file() for r in table(home, "rejects"))


def test_a_gzip_damaged_inside_never_passes_for_clean_data(home: Home) -> None:
    body = "".join(json.dumps(snap(f"JA-{i:03d}", status="x" * (i % 7))) + "\n" for i in range(200)).encode()
    packed = gzip.compress(body)
    for k in range(6):
        write(home, f"m{k}.ndjson.gz", raw=_corrupt(packed, len(packed) // 2 + 37 * k))
    quiet(home)
    got = rejects(home)
    # every damaged file says so once as a whole; its single member is not trusted, so nothing garbled
    # by the damage (DuckDB's own reader passes such bytes through) becomes a row or a record reject
    assert got == [(f"m{k}.ndjson.gz", None, got[k][2]) for k in range(6)]
    assert all(e.startswith("compressed data is corrupt") for _, _, e in got)
    assert table(home, "applications") == []


def test_a_gzip_that_is_not_gzip_at_all_is_one_reject(home: Home) -> None:
    write(home, "plain.ndjson.gz", raw=json.dumps(snap("JA-1")).encode() + b"\n")
    quiet(home)
    assert rejects(home) == [("plain.ndjson.gz", None, "compressed data is not gzip data (no gzip header)")]


def test_a_json_array_with_one_item_that_is_not_utf8_keeps_the_others(home: Home) -> None:
    items = [json.dumps(snap(t)).encode() for t in ("JA-1", "JA-bad", "JA-3")]
    items[1] = items[1].replace(b"completed", b"caf\xe9")
    write(home, "a.json", raw=b"[" + b",\n".join(items) + b"]")
    quiet(home)
    assert sorted(a["journey_application_token"] for a in table(home, "applications")) == ["JA-1", "JA-3"]
    byte = items[1].index(b"\xe9") + 1
    assert rejects(home) == [("a.json", 2, f"not valid UTF-8 text (byte {byte})")]
    assert Path(table(home, "rejects")[0]["quarantine_path"]).read_bytes() == items[1]


def test_the_quarantine_copy_of_a_pretty_printed_record_is_its_raw_text(home: Home) -> None:
    bad = json.dumps(snap("JA-2", created_at=1.5), indent=2)
    text = "[\n" + ",\n".join([json.dumps(snap("JA-1"), indent=2), bad]) + "\n]"
    write(home, "bom.json", raw=b"\xef\xbb\xbf" + text.encode())  # a BOM: DuckDB skips it
    quiet(home)
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-1"]
    assert Path(table(home, "rejects")[0]["quarantine_path"]).read_text() == bad


def test_reject_reasons_are_true_for_odd_numbers_and_escapes(home: Home) -> None:
    tab = b'{"journey_application_token":"JA-3","status":"s","note":"tab\there"}'
    write(home, "a.ndjson",
          raw=b'{"journey_application_token":"JA-1","status":"s","created_at":99999999999999999999999}\n'
              b'{"journey_application_token":"JA-2","status":"s","extra":"\\udc00"}\n'
              + tab + b'\n{"journey_application_token":"JA-4","status":"s","note":"\\ud83d\\ude00"}\n')
    quiet(home)
    column = tab.index(b"\t") + 1
    assert rejects(home) == [
        ("a.ndjson", 1, "created_at is an integer out of range for epoch milliseconds"),
        ("a.ndjson", 2, "not valid JSON text: a \\u escape is half of a UTF-16 surrogate pair"),
        ("a.ndjson", 3, f"not valid JSON: Invalid control character at column {column}"),
    ]
    assert [a["journey_application_token"] for a in table(home, "applications")] == ["JA-4"]  # 😀 is fine
