"""Record by record, only where needed: wording rejects, quarantining raw records, and the slow path.

A clean file never comes here. For a file with rejects, the raw text of just the rejected records is
fetched by streaming the file once (line files: 1-based line numbers; `.json`: 1-based array positions).
A file DuckDB cannot read as a whole (a gzip that breaks off, a `.json` with a byte-order mark or a bare
scalar) is split here into one record per line and handed back to DuckDB.
Raw records may hold personal data: quarantine files are 0600 in 0700 folders, and no error message
quotes a record's content.
"""

from __future__ import annotations

import bisect
import codecs
import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n\x0b\x0c"
_CHUNK = 1 << 20
_OUT_MAX = 4 << 20  # bytes of output per inflate call: bounded memory, also for a bomb


class BrokenStream(Exception):
    """The compressed stream stopped before its end, is corrupt, or is not gzip at all.

    `intact`: for corrupt data, how many decompressed bytes came from members whose CRC and length
    checked out (a damaged block can garble the bytes before the point where zlib notices, so only
    whole verified members are trusted); None when the stream just breaks off (all bytes are good)."""

    def __init__(self, message: str, intact: int | None = None) -> None:
        super().__init__(message)
        self.intact = intact


def is_blank(line: bytes) -> bool:
    return not line.strip(_WS)


def iter_chunks(path: Path, gz: bool) -> Iterator[bytes]:
    """The (decompressed) bytes of a file in chunks of at most a few MB (also for a decompression bomb).
    A gzip is inflated member by member (zlib checks each member's CRC and length at its end): raises
    BrokenStream where the stream stops early or turns out corrupt, after the bytes before it."""
    with open(path, "rb") as fh:
        if not gz:
            while chunk := fh.read(_CHUNK):
                yield chunk
            return
        yield from _gunzip_chunks(fh)


def _gunzip_chunks(fh) -> Iterator[bytes]:
    dec, in_member, total, verified, first = _gunzip(), False, 0, 0, True
    while data := fh.read(_CHUNK):
        if first and data[:2] != b"\x1f\x8b":
            raise BrokenStream("compressed data is not gzip data (no gzip header)", intact=0)
        first = False
        while in_member or data.strip(b"\0"):  # zero padding after the last member is allowed
            try:
                out = dec.decompress(data, _OUT_MAX)
            except zlib.error as exc:
                raise BrokenStream(f"compressed data is corrupt ({exc})", intact=verified) from None
            in_member = True
            if out:
                total += len(out)
                yield out
            if dec.eof:  # a member ended and checked out; a gzip may hold several, concatenated
                verified, in_member, data = total, False, dec.unused_data
                dec = _gunzip()
            elif dec.unconsumed_tail or len(out) == _OUT_MAX:  # more output may be pending: go on
                data = dec.unconsumed_tail
            else:
                break
    if in_member:
        raise BrokenStream("compressed data breaks off before the end of the gzip stream")


def _gunzip():
    return zlib.decompressobj(zlib.MAX_WBITS | 16)


def iter_lines(path: Path, gz: bool) -> Iterator[bytes]:
    """Every line (with its newline) of a possibly compressed file; raises BrokenStream at a break.
    A last line cut by the break is not yielded: it is part of the break."""
    pending = b""
    for chunk in iter_chunks(path, gz):
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line + b"\n"
    if pending:
        yield pending


# A blank line that follows a line break (one counted at C speed per block; the first line is checked apart).
_BLANK_AFTER_BREAK = re.compile(rb"\n[ \t\r\x0b\x0c]*(?=\n)")


def find_lines(path: Path, gz: bool, ordinals: set[int]) -> Iterator[tuple[int, int, bytes]]:
    """(ordinal, line number, line without its break) of the wanted records of a line file, where the
    ordinal counts non-blank lines. Runs at C speed where it can: a block of whole lines is counted,
    and split only when it holds a wanted record; only a block that also has blank lines is walked line
    by line. Raises BrokenStream like iter_lines, after the lines before the break."""
    wanted = sorted(ordinals)
    if not wanted:
        return
    w, ordinal, number, pending = 0, 0, 0, b""
    for chunk in iter_chunks(path, gz):
        buf = pending + chunk
        cut = buf.rfind(b"\n") + 1
        body, pending = buf[:cut], buf[cut:]
        if not body:
            continue
        n = body.count(b"\n")
        first_blank = is_blank(body[:body.index(b"\n")])
        blanks = first_blank or _BLANK_AFTER_BREAK.search(body) is not None
        if ordinal + n < wanted[w]:  # nothing wanted here: only count
            records = n - (first_blank + len(_BLANK_AFTER_BREAK.findall(body))) if blanks else n
            ordinal, number = ordinal + records, number + n
            continue
        if not blanks:  # line k is piece k - 1: split no further than the last wanted line
            lines = body.split(b"\n", wanted[bisect.bisect_right(wanted, ordinal + n) - 1] - ordinal)
            while w < len(wanted) and wanted[w] <= ordinal + n:
                k = wanted[w] - ordinal
                yield wanted[w], number + k, lines[k - 1].rstrip(b"\r")
                w += 1
            ordinal, number = ordinal + n, number + n
        else:
            for line in body.split(b"\n")[:-1]:
                number += 1
                if is_blank(line):
                    continue
                ordinal += 1
                if w < len(wanted) and ordinal == wanted[w]:
                    yield ordinal, number, line.rstrip(b"\r")
                    w += 1
        if w == len(wanted):
            return
    if pending and not is_blank(pending) and ordinal + 1 == wanted[w]:
        yield ordinal + 1, number + 1, pending.rstrip(b"\r")


def line_start_at_or_before(fh, offset: int) -> int:
    """Where the last complete line ending at or before `offset` ends, in a file open for reading."""
    end = offset
    while end > 0:
        start = max(0, end - _CHUNK)
        fh.seek(start)
        cut = fh.read(end - start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


def read_head(path: Path, gz: bool, size: int = 4096) -> bytes:
    """The first bytes of the (decompressed) content; b"" when it cannot be read."""
    try:
        for chunk in iter_chunks(path, gz):
            return chunk[:size]
    except BrokenStream:
        pass
    return b""


def gzip_problem(path: Path, cap: int) -> tuple[str, str | BrokenStream] | None:
    """Why a gzip cannot take DuckDB's fast path, from one pass over it: ("cap", why) when it expands
    past `cap` bytes (0 = no cap; reads at most cap+1), ("broken", the BrokenStream) when it breaks off
    or is corrupt (DuckDB's reader checks neither the CRC nor a bad block); None when it is whole."""
    total = 0
    try:
        for chunk in iter_chunks(path, True):
            total += len(chunk)
            if cap and total > cap:
                return "cap", f"decompresses to more than {cap:,} bytes (the cap)"
    except BrokenStream as exc:
        return "broken", exc
    return None


# ---------------------------------------------------------------- .json: one record or an array


class JsonSplitError(Exception):
    """The .json text is not one value / an array of values."""


# The longest record looked for: DuckDB's own cap (lineage.ingest_parse.MAX_OBJECT_BYTES); past it an
# unreadable value is not read on to the end of a huge file.
_MAX_RECORD_CHARS = 256 << 20


def iter_json_values(path: Path, gz: bool, track_bytes: bool = False) -> Iterator[tuple[str, int | None]]:
    """Raw text of each record of a .json document (the array's items, or the top-level value(s)), and,
    with track_bytes, the (decompressed) byte offset just past it. Streamed: memory holds a record and a
    chunk or two, never the file. Raises JsonSplitError where the text is not such JSON (positions count
    from the start of the file), BrokenStream where a gzip breaks off, after the records before."""
    w = _Window(path, gz, track_bytes)
    try:
        yield from _split(w, track_bytes)
    except JsonSplitError:
        if w.broken is None:
            raise
        raise w.broken from None  # the text stops where the stream broke: that is the error
    if w.broken is not None:
        raise w.broken


def _split(w: _Window, track_bytes: bool) -> Iterator[tuple[str, int | None]]:
    decoder = json.JSONDecoder(parse_constant=_no_constant)

    def skip_ws(i: int) -> int:
        while True:
            i = _skip_ws(w.text, i)
            if i < len(w.text) or not w.more():
                return i

    def value_end(i: int) -> int:
        grow = _CHUNK
        while True:
            try:
                j = decoder.raw_decode(w.text, i)[1]
                # a number cut by the window's end reads as a shorter one ("0." as 0, "1e+" as 1): read on
                if w.eof or len(w.text) - j > 2:
                    return j
            except json.JSONDecodeError as exc:
                if w.eof or len(w.text) - i > _MAX_RECORD_CHARS:
                    raise JsonSplitError(f"not valid JSON: {_what(exc)} {w.where(exc.pos)}") from None
            except RecursionError:
                raise JsonSplitError(f"JSON nested too deeply at character {w.start + i + 1}") from None
            w.read_to(len(w.text) + grow)  # the record goes on past the window: read on, doubling
            grow *= 2

    def record(i: int, j: int) -> tuple[str, int | None]:
        return w.text[i:j], (w.byte_offset(j) if track_bytes else None)

    i = skip_ws(0)
    if i < len(w.text) and w.text[i] == "[":
        i = skip_ws(i + 1)
        if i < len(w.text) and w.text[i] == "]":
            i = i + 1
        else:
            while True:
                j = value_end(i)
                yield record(i, j)
                i = skip_ws(j)
                if i < len(w.text) and w.text[i] == ",":
                    i = skip_ws(i + 1)
                    i -= w.trim(i)
                    continue
                if i < len(w.text) and w.text[i] == "]":
                    i += 1
                    break
                raise JsonSplitError(f"expected ',' or ']' at character {w.start + i + 1} of the array")
        if skip_ws(i) != len(w.text):
            raise JsonSplitError(f"unexpected text after the array at character {w.start + i + 1}")
        return
    if i >= len(w.text):
        raise JsonSplitError("the file holds no JSON (it is empty)")
    while i < len(w.text):
        j = value_end(i)
        yield record(i, j)
        i = skip_ws(j)
        i -= w.trim(i)


class _Window:
    """The decoded text of a file, read a chunk at a time. `text` starts at character `start` of the file
    (after a byte-order mark); what lies before it is consumed and counted (line breaks, bytes) for error
    positions and byte offsets. Bytes that are not UTF-8 pass through as surrogates (surrogateescape)."""

    def __init__(self, path: Path, gz: bool, track_bytes: bool) -> None:
        self._chunks = iter_chunks(path, gz)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.text, self.start, self.eof = "", 0, False
        self.broken: BrokenStream | None = None  # the gzip broke: the text ends there
        self._breaks, self._last_break = 0, -1  # line breaks before text; file offset of the last one
        self._track, self._mark, self._mark_bytes, self._head = track_bytes, 0, 0, True

    def more(self) -> bool:
        """Append the next chunk; False at the end of the file (or where a gzip breaks: see `broken`)."""
        return self.read_to(len(self.text) + 1)

    def read_to(self, n: int) -> bool:
        """Read on until the text is n characters long or the file ends; False when nothing was added.
        The pieces are joined once: a long record read a chunk at a time is not copied over and over."""
        pieces, before = [], len(self.text)
        have = before
        while have < n and not self.eof:
            try:
                chunk = next(self._chunks, None)
            except BrokenStream as exc:  # the text ends here; the splitter reads on to that end first
                self.broken, chunk = exc, None
            added = self._decoder.decode(chunk or b"", final=chunk is None and self.broken is None)
            self.eof = chunk is None
            if self._head and added:  # the byte-order mark is not part of the text
                self._head = False
                if added.startswith("\ufeff"):
                    added, self._mark_bytes = added[1:], len(BOM)
            pieces.append(added)
            have += len(added)
        self.text += "".join(pieces)
        return have > before

    def trim(self, i: int) -> int:
        """Forget the text before i once it is long (consumed); returns how far positions shift."""
        if i < _CHUNK:
            return 0
        if self._track:
            self.byte_offset(i)
        gone = self.text[:i]
        if (breaks := gone.count("\n")):
            self._breaks += breaks
            self._last_break = self.start + gone.rfind("\n")
        self.text, self.start, self._mark = self.text[i:], self.start + i, 0
        return i

    def byte_offset(self, i: int) -> int:
        """Byte offset in the file of text[i] (positions only move forward)."""
        self._mark_bytes += len(self.text[self._mark:i].encode("utf-8", errors="surrogateescape"))
        self._mark = i
        return self._mark_bytes

    def where(self, i: int) -> str:
        """`at line L column C` of text[i], as Python's JSON decoder says it for a whole document."""
        line = self._breaks + self.text.count("\n", 0, i) + 1
        nl = self.text.rfind("\n", 0, i)
        column = i - nl if nl >= 0 else self.start + i - self._last_break
        return f"at line {line} column {column}"


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def decode_text(raw: bytes, errors: str = "strict") -> str:
    """UTF-8 text without a byte-order mark (raises UnicodeDecodeError unless `errors` says otherwise)."""
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    return raw.decode("utf-8", errors=errors)


# ---------------------------------------------------------------- wording a reject


def describe(raw: bytes, sql_error: str) -> str:
    """One line saying why a record is rejected, from its raw bytes; never quotes the content."""
    try:
        text = decode_text(raw.strip(_WS))
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 text (byte {exc.start + 1})"
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {_what(exc)} at column {exc.colno}"
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    except RecursionError:
        return "not valid JSON for this reader: nested too deeply"
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number")
        return f"not a JSON object but {kind}"
    data = value.get("data")
    data_token = data.get("journey_application_token") if isinstance(data, dict) else None
    if sql_error == NO_TOKEN and (_is_token(value.get("journey_application_token")) or _is_token(data_token)):
        # Python reads a token where DuckDB's reader saw no fields at all
        if _LONE_SURROGATE.search(text):
            return "not valid JSON text: a \\u escape is half of a UTF-16 surrogate pair"
        return "not readable as JSON by DuckDB's reader"
    return sql_error


NO_TOKEN = "no journey_application_token"  # sql/ingest_records.sql's error for a record with no fields
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _is_token(v: object) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _what(exc: json.JSONDecodeError) -> str:
    """Python's message without its dangling 'at' ('Unterminated string starting at')."""
    return exc.msg.removesuffix(" at")


# ---------------------------------------------------------------- quarantine


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, in folders only its owner can enter."""
    _private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(data)
    finally:
        os.close(fd)


def copy_private(src: Path, dest: Path) -> None:
    _private_dir(dest.parent)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with open(src, "rb") as fin, os.fdopen(fd, "wb", closefd=False) as fout:
            while chunk := fin.read(_CHUNK):
                fout.write(chunk)
    finally:
        os.close(fd)


def _private_dir(directory: Path) -> None:
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)
