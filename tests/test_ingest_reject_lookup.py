"""Finding the raw text of rejected records again: the fast paths (lines counted at C speed, .json items
handed back by DuckDB) give exactly what a plain line-by-line / item-by-item reading gives."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage import ingest_rejects as rj
from lineage.warehouse import Home
from tests.test_ingest import quiet, snap, table, write

LINES = st.lists(st.sampled_from([
    b'{"a":1}', b'{"journey_application_token":"JA-1"}', b"", b"   ", b"\t\r", b' {"lead":"space"}',
    b"not json", b'{"crlf":1}\r', b"[1,2]", b"{", b"\x0c",
]), min_size=0, max_size=40)


def _reference(data: bytes, ordinals: set[int]) -> list[tuple[int, int, bytes]]:
    """The plain reading: every line, blank ones counted in the line number but not as records."""
    out, ordinal = [], 0
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if rj.is_blank(line):
            continue
        ordinal += 1
        if ordinal in ordinals:
            out.append((ordinal, number, line.rstrip(b"\r\n")))
    return out


@settings(max_examples=60, deadline=None)
@given(lines=LINES, chunk=st.integers(2, 64), trailing_newline=st.booleans(), gz=st.booleans(),
       picks=st.sets(st.integers(1, 45), min_size=1, max_size=6))
def test_find_lines_agrees_with_reading_every_line(lines, chunk, trailing_newline, gz, picks):
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(gzip.compress(data) if gz else data)
        saved, rj._CHUNK = rj._CHUNK, chunk  # tiny chunks: wanted lines straddle every boundary
        try:
            got = list(rj.find_lines(path, gz, set(picks)))
        finally:
            rj._CHUNK = saved
    assert got == _reference(data, set(picks))


def test_rejects_of_a_json_array_read_whole_keep_their_exact_text(home: Home) -> None:
    bad1 = '{ "journey_application_token" : 5 ,\n   "status": "s" }'
    bad2 = '"just a string"'
    good = [json.dumps(snap(t), indent=1) for t in ("JA-1", "JA-3")]
    text = "[\n" + ",\n  ".join([good[0], bad1, good[1], bad2]) + "\n]\n"
    write(home, "a.json", raw=text.encode())  # no BOM, no break: DuckDB reads it whole
    write(home, "b.json.gz", raw=gzip.compress(("[" + bad1 + "," + good[0] + "]").encode()))
    write(home, "c.json", raw=(good[1] + "\n" + bad2 + "\n").encode())  # top-level values, no array
    quiet(home)
    got = {(r["source_file"], r["record_number"]): Path(r["quarantine_path"]).read_text()
           for r in table(home, "rejects")}
    assert got == {("a.json", 2): bad1, ("a.json", 4): bad2, ("b.json.gz", 1): bad1, ("c.json", 2): bad2}


def test_record_numbers_of_line_rejects_count_blank_lines(home: Home) -> None:
    ok = json.dumps(snap("JA-1")).encode()
    body = b"\n".join([ok, b"", b"nope", b"  ", ok.replace(b"JA-1", b"JA-2"), b"{\"x\": 1}\r", b"", b"[]"])
    write(home, "a.ndjson", raw=body)  # no newline at the end: the last line is a record too
    quiet(home)
    got = [(r["record_number"], Path(r["quarantine_path"]).read_bytes()) for r in table(home, "rejects")]
    assert got == [(3, b"nope"), (6, b'{"x": 1}'), (8, b"[]")]


def test_a_json_export_with_a_byte_order_mark_is_read_by_duckdb_not_split_in_python(home: Home,
                                                                                   monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("split record by record in Python")

    monkeypatch.setattr(rj, "iter_json_values", never)
    bad = '{"journey_application_token": "JA-9", "created_at": "yesterday"}'
    body = ("[" + json.dumps(snap("JA-1")) + ",\n" + bad + "]").encode()
    write(home, "bom.json", raw=rj.BOM + body)
    write(home, "bom.json.gz", raw=gzip.compress(rj.BOM + body.replace(b"JA-1", b"JA-2")))
    quiet(home)
    assert sorted(a["journey_application_token"] for a in table(home, "applications")) == ["JA-1", "JA-2"]
    got = [(r["source_file"], r["record_number"], Path(r["quarantine_path"]).read_text())
           for r in table(home, "rejects")]
    assert got == [("bom.json", 2, bad), ("bom.json.gz", 2, bad)]
