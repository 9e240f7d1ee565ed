"""The streamed .json splitter (lineage.ingest_rejects.iter_json_values) against the plain whole-text
splitter it replaced, kept here as the reference: same records, same raw text, same errors with the
same positions, byte offsets that point just past each record; on tiny chunks, so every record and
every error straddles chunk boundaries."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage import ingest_rejects as rj


def reference(text: str) -> tuple[list[str], str | None]:
    """The whole-text splitter: records, then the error it stops with (None when the text is whole)."""
    decoder = json.JSONDecoder(parse_constant=rj._no_constant)
    out: list[str] = []
    n = len(text)

    def ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def end(i: int) -> int:
        try:
            return decoder.raw_decode(text, i)[1]
        except json.JSONDecodeError as exc:
            raise rj.JsonSplitError(f"not valid JSON: {rj._what(exc)} at line {exc.lineno} "
                                    f"column {exc.colno}") from None

    try:
        i = ws(0)
        if i < n and text[i] == "[":
            i = ws(i + 1)
            if i < n and text[i] == "]":
                i += 1
            else:
                while True:
                    j = end(i)
                    out.append(text[i:j])
                    i = ws(j)
                    if i < n and text[i] == ",":
                        i = ws(i + 1)
                        continue
                    if i < n and text[i] == "]":
                        i += 1
                        break
                    raise rj.JsonSplitError(f"expected ',' or ']' at character {i + 1} of the array")
            if ws(i) != n:
                raise rj.JsonSplitError(f"unexpected text after the array at character {i + 1}")
            return out, None
        if i >= n:
            raise rj.JsonSplitError("the file holds no JSON (it is empty)")
        while i < n:
            j = end(i)
            out.append(text[i:j])
            i = ws(j)
    except rj.JsonSplitError as exc:
        return out, str(exc)
    return out, None


def streamed(data: bytes, gz: bool, chunk: int) -> tuple[list[tuple[str, int]], str | None]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.json"
        path.write_bytes(gzip.compress(data) if gz else data)
        saved, rj._CHUNK = rj._CHUNK, chunk
        got: list[tuple[str, int]] = []
        try:
            for value, end in rj.iter_json_values(path, gz, track_bytes=True):
                got.append((value, end))
        except rj.JsonSplitError as exc:
            return got, str(exc)
        finally:
            rj._CHUNK = saved
    return got, None


SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(alphabet=st.characters(codec="utf-8"), max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
WS = st.sampled_from(["", " ", "\n", "\r\n", "\t ", "\n\n  "])


@st.composite
def documents(draw) -> bytes:
    items = [json.dumps(v, indent=draw(st.sampled_from([None, 1, 2])), ensure_ascii=draw(st.booleans()))
             for v in draw(st.lists(VALUES, max_size=6))]
    if draw(st.booleans()):
        text = draw(WS) + "[" + draw(WS) + ("," + draw(WS)).join(items) + draw(WS) + "]" + draw(WS)
    else:
        text = draw(WS) + "".join(item + draw(WS.filter(bool)) for item in items)
    data = (rj.BOM if draw(st.booleans()) else b"") + text.encode()
    damage = draw(st.sampled_from(["none", "cut", "byte", "insert"]))
    if damage != "none" and data:
        at = draw(st.integers(0, len(data) - 1))
        if damage == "cut":
            data = data[:at]
        elif damage == "byte":
            data = data[:at] + draw(st.sampled_from([b"\xff", b"}", b",", b"x", b"\"", b"]"])) + data[at + 1:]
        else:
            data = data[:at] + draw(st.sampled_from([b" ", b",", b"[", b"\xe9", b"1"])) + data[at:]
    return data


@settings(max_examples=150, deadline=None)
@given(data=documents(), gz=st.booleans(), chunk=st.integers(3, 40))
def test_streamed_split_is_the_whole_text_split(data: bytes, gz: bool, chunk: int) -> None:
    got, error = streamed(data, gz, chunk)
    text = data.removeprefix(rj.BOM).decode("utf-8", errors="surrogateescape")
    want, want_error = reference(text)
    assert [value for value, _ in got] == want
    assert error == want_error
    for value, end in got:  # each byte offset points just past its record, in the file as written
        assert data[:end].endswith(value.encode("utf-8", errors="surrogateescape"))


def test_a_long_file_is_streamed_with_positions_counted_from_its_start(tmp_path: Path) -> None:
    items = [json.dumps({"n": i, "s": "é" * (i % 7)}, indent=1) for i in range(3000)]
    data = ("[" + ",\n".join(items) + ",\n{\"broken\": }]").encode()
    path = tmp_path / "big.json"
    path.write_bytes(data)
    saved, rj._CHUNK = rj._CHUNK, 1000  # ~80 chunks, trimmed as it goes
    try:
        got, error = [], None
        try:
            for value, _ in rj.iter_json_values(path, False):
                got.append(value)
        except rj.JsonSplitError as exc:
            error = str(exc)
    finally:
        rj._CHUNK = saved
    assert (got, error) == reference(data.decode())
    assert got == items and error.startswith("not valid JSON: Expecting value at line ")


# VmHWM: the child's own peak (ru_maxrss would count the forking test worker's, kept across exec)
SPLIT_AND_MEASURE = r"""
import sys
from pathlib import Path
from lineage import ingest_rejects as rj
n = sum(1 for _ in rj.iter_json_values(Path(sys.argv[1]), False, track_bytes=True))
status = Path("/proc/self/status").read_text().splitlines()
print(n, next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
"""


def test_a_big_json_is_split_in_bounded_memory(tmp_path: Path) -> None:
    # 100 MB of records: the whole-text splitter held the bytes and the text (200+ MB); the stream holds
    # a record and a chunk or two
    path = tmp_path / "big.json"
    item = json.dumps({"journey_application_token": "JA-1", "note": "é" * 500 + "x" * 1000}).encode()
    count = (100 << 20) // len(item)
    with open(path, "wb") as fh:
        fh.write(b"5\n")  # a bare scalar first: DuckDB can't take it, Python splits it
        for _ in range(count):
            fh.write(item + b"\n")
    done = subprocess.run([sys.executable, "-c", SPLIT_AND_MEASURE, str(path)], capture_output=True,
                          text=True, check=True)
    records, peak_mb = map(int, done.stdout.split())
    assert records == count + 1
    assert peak_mb < 120, f"peak RSS {peak_mb} MB splitting a 100 MB file"


@settings(max_examples=100, deadline=None)
@given(data=documents(), cut=st.floats(0.0, 1.0), chunk=st.integers(3, 40))
def test_a_gzip_that_breaks_off_gives_every_record_before_the_break(data: bytes, cut: float, chunk: int):
    packed = gzip.compress(data)
    packed = packed[:int(len(packed) * cut)]  # may cut into the header, the data or the trailer
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.json.gz"
        path.write_bytes(packed)
        prefix = bytearray()  # what zlib gives before the break: the text the records can come from
        try:
            for part in rj.iter_chunks(path, True):
                prefix += part
            broke = None
        except rj.BrokenStream as exc:
            broke = str(exc)
        saved, rj._CHUNK = rj._CHUNK, chunk
        got, error = [], None
        try:
            for value, end in rj.iter_json_values(path, True, track_bytes=True):
                got.append(value)
                assert bytes(prefix[:end]).endswith(value.encode("utf-8", errors="surrogateescape"))
        except (rj.JsonSplitError, rj.BrokenStream) as exc:
            error = str(exc)
        finally:
            rj._CHUNK = saved
    want, want_error = reference(bytes(prefix).removeprefix(rj.BOM).decode("utf-8", errors="surrogateescape"))
    if broke is None:
        assert (got, error) == (want, want_error)
    else:  # every record complete before the break, then the break as the error
        assert got == want
        assert error == broke or (want_error is not None and error == want_error)
