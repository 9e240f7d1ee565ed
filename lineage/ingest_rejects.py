"""Record by record, only where needed: wording rejects, quarantining raw records, and the slow path.

A clean file never comes here. For a file with rejects, the raw text of just the rejected records is
fetched by streaming the file once (line files: 1-based line numbers; `.json`: 1-based array positions).
A file DuckDB cannot read as a whole (a gzip that breaks off, a `.json` with a byte-order mark or a bare
scalar) is split here into one record per line and handed back to DuckDB.
Raw records may hold personal data: quarantine files are 0600 in 0700 folders, and no error message
quotes a record's content.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n\x0b\x0c"
_CHUNK = 1 << 20


class BrokenStream(Exception):
    """The compressed stream stopped before its end (or is not gzip at all)."""


def is_blank(line: bytes) -> bool:
    return not line.strip(_WS)


def iter_chunks(path: Path, gz: bool) -> Iterator[bytes]:
    """The (decompressed) bytes of a file in chunks. A gzip is decompressed by hand so that the data
    before a break is kept: raises BrokenStream where the stream stops early or turns corrupt."""
    with open(path, "rb") as fh:
        if not gz:
            while chunk := fh.read(_CHUNK):
                yield chunk
            return
        dec, fed = _gunzip(), False
        while data := fh.read(_CHUNK):
            while data:
                try:
                    out = dec.decompress(data)
                except zlib.error as exc:
                    what = "is not gzip data" if not fed else "is corrupt"
                    raise BrokenStream(f"compressed data {what} ({exc})") from None
                fed = True
                if out:
                    yield out
                if not dec.eof:
                    break
                # a gzip may hold several members (concatenated); trailing zero padding is allowed
                data = dec.unused_data if dec.unused_data.strip(b"\0") else b""
                dec = _gunzip()
                if not data:
                    fed = False
        if fed:
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


def read_head(path: Path, gz: bool, size: int = 4096) -> bytes:
    """The first bytes of the (decompressed) content; b"" when it cannot be read."""
    try:
        for chunk in iter_chunks(path, gz):
            return chunk[:size]
    except BrokenStream:
        pass
    return b""


def read_all(path: Path, gz: bool) -> tuple[bytes, str | None]:
    """The whole (decompressed) content, and the break message when a gzip stops early."""
    parts: list[bytes] = []
    try:
        for chunk in iter_chunks(path, gz):
            parts.append(chunk)
    except BrokenStream as exc:
        return b"".join(parts), str(exc)
    return b"".join(parts), None


def decompressed_size_exceeds(path: Path, cap: int) -> bool:
    """True when the gzip expands beyond `cap` bytes (a decompression bomb); reads at most cap+1."""
    total = 0
    try:
        for chunk in iter_chunks(path, True):
            total += len(chunk)
            if total > cap:
                return True
    except BrokenStream:
        return False
    return False


# ---------------------------------------------------------------- .json: one record or an array


class JsonSplitError(Exception):
    """The .json text is not one value / an array of values."""


def split_json_values(text: str) -> Iterator[str]:
    """Raw text of each record of a .json document: the array's items, or the top-level value(s)."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    n = len(text)
    i = _skip_ws(text, 0)
    if i < n and text[i] == "[":
        i = _skip_ws(text, i + 1)
        if i < n and text[i] == "]":
            i = i + 1
        else:
            while True:
                j = _decode_end(decoder, text, i)
                yield text[i:j]
                i = _skip_ws(text, j)
                if i < n and text[i] == ",":
                    i = _skip_ws(text, i + 1)
                    continue
                if i < n and text[i] == "]":
                    i += 1
                    break
                raise JsonSplitError(f"expected ',' or ']' at character {i + 1} of the array")
        if _skip_ws(text, i) != n:
            raise JsonSplitError(f"unexpected text after the array at character {i + 1}")
        return
    if i >= n:
        raise JsonSplitError("the file holds no JSON (it is empty)")
    while i < n:
        j = _decode_end(decoder, text, i)
        yield text[i:j]
        i = _skip_ws(text, j)


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def _decode_end(decoder: json.JSONDecoder, text: str, i: int) -> int:
    try:
        return decoder.raw_decode(text, i)[1]
    except json.JSONDecodeError as exc:
        raise JsonSplitError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JsonSplitError(f"JSON nested too deeply at character {i + 1}") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def decode_text(raw: bytes) -> str:
    """UTF-8 text without a byte-order mark (raises UnicodeDecodeError)."""
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    return raw.decode("utf-8")


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
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    except RecursionError:
        return "not valid JSON for this reader: nested too deeply"
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number")
        return f"not a JSON object but {kind}"
    return sql_error


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
