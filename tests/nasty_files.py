"""The fixed corpus of nasty landing files, written to a temporary folder at test time (never committed).

Each case is one small landing folder: the nasty file(s) plus a well-formed companion file, and what the
reader must do with every record in them (kept, rejected, kept-or-rejected, never read). Run as a script,
this module ingests one landing folder in a fresh process and writes the result and peak memory as JSON,
so a case that crashes the interpreter, hangs or eats memory fails alone.
"""

from __future__ import annotations

import gzip
import json
import os
import string
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BASE_MS = 1_712_000_000_000
ALPHABET = string.digits + string.ascii_letters
GZIP_CAP_ENV = "RERUN_LINEAGE_MAX_DECOMPRESSED_BYTES"  # per-file cap on decompressed bytes (default 16 GiB)
GZIP_CAP_BYTES = 1 << 20
HUGE_LINE_BYTES = 100 * (1 << 20)
DEEP_LEVELS = 10_000
MAX_RSS_MB = 512  # peak RSS of the ingest process; about 150 MB on a small clean folder
HUGE_LINE_MAX_RSS_MB = 768  # the 100 MB line: measured ~325 MB; bounded, not a multiple of the file


def token(n: int, prefix: str = "JA-") -> str:
    """A deterministic token: prefix + 20 base62 characters."""
    chars = []
    for _ in range(20):
        n, r = divmod(n, 62)
        chars.append(ALPHABET[r])
    return prefix + "".join(reversed(chars))


def snapshot(tok: str, *, status: str = "completed", created: int = BASE_MS, **extra) -> dict:
    rec = {
        "journey_application_token": tok,
        "journey_token": token(1, "J-"),
        "status": status,
        "complete_outcome": "Approved" if status == "completed" else None,
        "created_at": created,
        "updated_at": created + 60_000,
        "is_rerun": False,
        "_embedded": {"events": [{"journey_application_event_token": token(zlib.crc32(tok.encode()), "JAE-"),
                                  "type": "application_created", "timestamp": created}]},
    }
    rec.update(extra)
    return rec


def line(rec: dict) -> bytes:
    return json.dumps(rec).encode() + b"\n"


def write_lines(path: Path, *items: dict | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(i if isinstance(i, bytes) else line(i) for i in items))


@dataclass
class Case:
    """A landing folder and what must come out of it.

    kept: token -> source_file it must be read from.  either: token -> (file, record_number) of the reject
    it must otherwise produce.  rejected: (file, record_number or None) that must be reject rows.
    absent: tokens that must appear nowhere.  skipped: substrings of paths that must be listed as skipped.
    """

    name: str
    landing: Path
    kept: dict[str, str] = field(default_factory=dict)
    either: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    rejected: list[tuple[str, int | None]] = field(default_factory=list)
    absent: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    clean_files: list[str] = field(default_factory=list)  # files that must produce no reject row
    env: dict[str, str] = field(default_factory=dict)
    max_rss_mb: int = MAX_RSS_MB
    notes: dict[str, str] = field(default_factory=dict)  # tokens of records with case-specific checks


_counter = iter(range(1000, 10**9))


def _tok() -> str:
    return token(next(_counter))


def _companion(case: Case) -> None:
    """Every landing gets a well-formed file beside the nasty one: its records must always be kept."""
    t1, t2 = _tok(), _tok()
    write_lines(case.landing / "companion" / "good.ndjson", snapshot(t1), snapshot(t2, status="error"))
    case.kept.update({t1: "companion/good.ndjson", t2: "companion/good.ndjson"})
    case.clean_files.append("companion/good.ndjson")


def _deep(levels: int, open_: str, close: str) -> bytes:
    return (open_ * levels + close * levels).encode()


def deep_nesting(case: Case) -> None:
    good1, good2, deep_meta = _tok(), _tok(), _tok()
    inner = _deep(DEEP_LEVELS, "[", "]")
    rec = json.dumps(snapshot(deep_meta)).encode()
    deep_line = rec[:-1] + b', "application_meta": ' + inner + b"}\n"
    objects = ('{"a":' * DEEP_LEVELS + "1" + "}" * DEEP_LEVELS).encode() + b"\n"
    write_lines(case.landing / "deep.ndjson", snapshot(good1), deep_line, inner + b"\n", objects,
                snapshot(good2))
    case.kept.update({good1: "deep.ndjson", good2: "deep.ndjson"})
    case.either[deep_meta] = ("deep.ndjson", 2)
    case.rejected += [("deep.ndjson", 3), ("deep.ndjson", 4)]
    good3, deep_json = _tok(), _tok()
    rec2 = json.dumps(snapshot(deep_json)).encode()
    arr = b"[" + json.dumps(snapshot(good3)).encode() + b"," + rec2[:-1] + b', "x": ' + inner + b"}]"
    (case.landing / "deep.json").write_bytes(arr)
    case.kept[good3] = "deep.json"
    case.either[deep_json] = ("deep.json", 2)


def huge_line(case: Case, size: int = HUGE_LINE_BYTES) -> None:
    good1, good2, big = _tok(), _tok(), _tok()
    rec = json.dumps(snapshot(big)).encode()
    path = case.landing / "huge.ndjson"
    with open(path, "wb") as fh:
        fh.write(line(snapshot(good1)))
        fh.write(rec[:-1] + b', "application_meta": {"notes": "')
        chunk = b"x" * (1 << 20)
        for _ in range(size // len(chunk)):
            fh.write(chunk)
        fh.write(b'"}}\n')
        fh.write(line(snapshot(good2)))
    case.kept.update({good1: "huge.ndjson", good2: "huge.ndjson"})
    case.either[big] = ("huge.ndjson", 2)
    case.max_rss_mb = HUGE_LINE_MAX_RSS_MB


def invalid_utf8(case: Case) -> None:
    good1, good2, bad_status = _tok(), _tok(), _tok()
    rec = json.dumps(snapshot(bad_status, status="ZZZZ")).encode().replace(b"ZZZZ", b"comp\xff\xfeleted")
    write_lines(case.landing / "utf8.ndjson", snapshot(good1), rec + b"\n", b"\xc3\x28\xa0\xa1{\xff}\n",
                snapshot(good2))
    case.kept.update({good1: "utf8.ndjson", good2: "utf8.ndjson"})
    case.either[bad_status] = ("utf8.ndjson", 2)
    case.rejected.append(("utf8.ndjson", 3))


def byte_order_mark(case: Case) -> None:
    t = [_tok() for _ in range(4)]
    array = json.dumps([snapshot(t[0]), snapshot(t[1])]).encode()
    (case.landing / "bom.json").write_bytes(b"\xef\xbb\xbf" + array)
    write_lines(case.landing / "bom.ndjson", b"\xef\xbb\xbf" + line(snapshot(t[2])), snapshot(t[3]))
    case.kept.update({t[0]: "bom.json", t[1]: "bom.json", t[2]: "bom.ndjson", t[3]: "bom.ndjson"})
    case.clean_files += ["bom.json", "bom.ndjson"]


def nul_bytes(case: Case) -> None:
    good1, good2, escaped, good3 = _tok(), _tok(), _tok(), _tok()
    raw_in_string = json.dumps(snapshot(_tok(), status="ZZ")).encode().replace(b"ZZ", b"a\x00b")
    write_lines(case.landing / "nul.ndjson", snapshot(good1), b"\x00\x00\x00\n",
                snapshot(escaped, status="comp\u0000leted"), raw_in_string + b"\n", snapshot(good2))
    case.kept.update({good1: "nul.ndjson", good2: "nul.ndjson"})
    case.either[escaped] = ("nul.ndjson", 3)
    case.rejected += [("nul.ndjson", 2), ("nul.ndjson", 4)]
    # A writer that crashed mid-file often leaves a tail of NUL bytes (preallocated blocks).
    write_lines(case.landing / "nul_tail.ndjson", line(snapshot(good3)) + b"\x00" * 4096)
    case.kept[good3] = "nul_tail.ndjson"
    case.rejected.append(("nul_tail.ndjson", 2))


def big_integers(case: Case) -> None:
    good1, huge_ts, huge_meta = _tok(), _tok(), _tok()
    write_lines(case.landing / "bigint.ndjson", snapshot(good1),
                snapshot(huge_ts, created=2**70),
                snapshot(huge_meta, journey_version_num=10**25, application_meta={"n": -(10**30)}))
    case.kept.update({good1: "bigint.ndjson", huge_meta: "bigint.ndjson"})
    case.either[huge_ts] = ("bigint.ndjson", 2)
    case.notes.update(huge_ts=huge_ts, huge_meta=huge_meta)


def duplicate_keys(case: Case) -> None:
    good1, dup_status, tok_a, tok_b = _tok(), _tok(), _tok(), _tok()
    body = json.dumps(snapshot(dup_status, status="running")).encode()
    dup1 = body[:-1] + b', "status": "completed"}\n'
    body2 = json.dumps(snapshot(tok_a)).encode()
    dup2 = body2[:-1] + b', "journey_application_token": "' + tok_b.encode() + b'"}\n'
    write_lines(case.landing / "dupkeys.ndjson", snapshot(good1), dup1, dup2)
    case.kept[good1] = "dupkeys.ndjson"
    case.either[dup_status] = ("dupkeys.ndjson", 2)
    case.notes.update(dup_status=dup_status, tok_a=tok_a, tok_b=tok_b)


def empty_and_blank(case: Case) -> None:
    (case.landing / "empty.ndjson").write_bytes(b"")
    (case.landing / "empty.json").write_bytes(b"")
    good1, good2 = _tok(), _tok()
    write_lines(case.landing / "blank.ndjson", b"\n\n   \n", snapshot(good1), b"\t\n")
    (case.landing / "crlf.jsonl").write_bytes(line(snapshot(good2)).replace(b"\n", b"\r\n") + b"\r\n")
    case.kept.update({good1: "blank.ndjson", good2: "crlf.jsonl"})
    case.clean_files += ["empty.ndjson", "blank.ndjson", "crlf.jsonl"]


def directory_named_json(case: Case) -> None:
    good = _tok()
    write_lines(case.landing / "x.json" / "inner.ndjson", snapshot(good))
    (case.landing / "y.ndjson.gz").mkdir()
    case.kept[good] = "x.json/inner.ndjson"
    case.clean_files += ["x.json", "y.ndjson.gz"]


NASTY_NAMES = ("with space ü 日本.ndjson", "it's \"quoted\".ndjson", "glob[1]*?.ndjson", "glob1ab.ndjson",
               "line\nbreak.ndjson", "semi;colon $HOME `x`.ndjson", "-starts-with-dash.ndjson")


def nasty_names(case: Case) -> None:
    for name in NASTY_NAMES:
        t = _tok()
        write_lines(case.landing / "names" / name, snapshot(t))
        case.kept[t] = f"names/{name}"
        case.clean_files.append(f"names/{name}")


def symlinks(case: Case, outside: Path) -> None:
    secret, secret_dir, inside = _tok(), _tok(), _tok()
    write_lines(outside / "secret.ndjson", snapshot(secret))
    write_lines(outside / "dir" / "more.ndjson", snapshot(secret_dir))
    os.symlink(outside / "secret.ndjson", case.landing / "outside_link.ndjson")
    os.symlink(outside / "dir", case.landing / "outside_dir")
    os.symlink(case.landing, case.landing / "loop")  # a directory loop: must not recurse forever
    write_lines(case.landing / "inside.ndjson", snapshot(inside))
    case.kept[inside] = "inside.ndjson"
    case.absent |= {secret, secret_dir}
    case.skipped += ["outside_link.ndjson", "outside_dir", "loop"]


def gzip_bomb(case: Case, cap: int = GZIP_CAP_BYTES, factor: int = 1000) -> None:
    """A gzip file expanding to `factor` x the cap: one record, then a sea of spaces on the same line.

    Built as repeated gzip members (valid: readers concatenate them), so it costs milliseconds to write.
    """
    first = _tok()
    block = b" " * (1 << 20)
    member = gzip.compress(block, compresslevel=9)
    path = case.landing / "bomb.ndjson.gz"
    with open(path, "wb") as fh:
        fh.write(gzip.compress(json.dumps(snapshot(first)).encode()))
        for _ in range(cap * factor // len(block)):
            fh.write(member)
    case.env[GZIP_CAP_ENV] = str(cap)
    case.rejected.append(("bomb.ndjson.gz", None))
    case.either[first] = ("bomb.ndjson.gz", None)


def broken_compression(case: Case) -> None:
    """A gzip cut off mid-stream keeps the records read completely before the break (CONTRACT §2)."""
    t = [_tok() for _ in range(3)]
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    out, ends = b"", []
    for tk in t:
        out += comp.compress(line(snapshot(tk)))
        out += comp.flush(zlib.Z_FULL_FLUSH)
        ends.append(len(out))
    (case.landing / "cut.ndjson.gz").write_bytes(out[: ends[1] + 8])
    case.kept.update({t[0]: "cut.ndjson.gz", t[1]: "cut.ndjson.gz"})
    case.absent.add(t[2])
    case.rejected.append(("cut.ndjson.gz", None))
    (case.landing / "plain.ndjson.gz").write_bytes(line(snapshot(_tok())))  # not gzip at all
    case.rejected.append(("plain.ndjson.gz", None))
    (case.landing / "cut.json").write_bytes(b"[" + json.dumps(snapshot(_tok())).encode() + b', {"journey_app')
    case.rejected.append(("cut.json", None))


def not_regular(case: Case) -> None:
    """A named pipe would block a reader forever; a .txt is not an export. Both skipped with a reason."""
    os.mkfifo(case.landing / "pipe.ndjson")
    (case.landing / "notes.txt").write_text("not an export\n")
    case.skipped += ["pipe.ndjson", "notes.txt"]
    case.clean_files += ["pipe.ndjson", "notes.txt"]


BUILDERS: dict[str, Callable[..., None]] = {
    "deep_nesting": deep_nesting,
    "huge_line": huge_line,
    "invalid_utf8": invalid_utf8,
    "byte_order_mark": byte_order_mark,
    "nul_bytes": nul_bytes,
    "big_integers": big_integers,
    "duplicate_keys": duplicate_keys,
    "empty_and_blank": empty_and_blank,
    "directory_named_json": directory_named_json,
    "nasty_names": nasty_names,
    "symlinks": symlinks,
    "gzip_bomb": gzip_bomb,
    "broken_compression": broken_compression,
    "not_regular": not_regular,
}


def build_case(name: str, root: Path) -> Case:
    """Write case `name` under root/<name>/landing (plus root/<name>/outside for symlink targets)."""
    landing = root / name / "landing"
    landing.mkdir(parents=True)
    case = Case(name, landing)
    builder = BUILDERS[name]
    if builder is symlinks:
        symlinks(case, root / name / "outside")
    else:
        builder(case)
    _companion(case)
    return case


def build_all(root: Path) -> Case:
    """Every nasty file of the corpus in one landing folder (the huge line kept small here)."""
    landing = root / "all" / "landing"
    landing.mkdir(parents=True)
    case = Case("all", landing)
    for name, builder in BUILDERS.items():
        sub = Case(name, landing / name)
        sub.landing.mkdir()
        if builder is symlinks:
            symlinks(sub, root / "all" / "outside")
        elif builder is huge_line:
            huge_line(sub, size=4 << 20)
        else:
            builder(sub)
        pre = f"{name}/"
        case.kept.update({t: pre + f for t, f in sub.kept.items()})
        case.either.update({t: (pre + f, n) for t, (f, n) in sub.either.items()})
        case.rejected += [(pre + f, n) for f, n in sub.rejected]
        case.absent |= sub.absent
        case.skipped += [pre + s for s in sub.skipped]
        case.clean_files += [pre + f for f in sub.clean_files]
        case.env.update(sub.env)
    _companion(case)
    return case


def main(argv: list[str]) -> int:
    """python nasty_files.py HOME LANDING OUT.json: ingest in this process, write the result and peak RSS."""
    from lineage.ingest import ingest
    from lineage.warehouse import Home

    home, landing, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    result = ingest(Home(home).ensure(), landing=landing)
    skipped = [[str(p), str(r)] for p, r in getattr(result, "files_skipped", [])]
    report = {
        "files_read": result.files_read,
        "files_unchanged": result.files_unchanged,
        "files_skipped": skipped,
        "records": result.records,
        "rejects": result.rejects,
        # VmHWM: this process's own peak (ru_maxrss would count the forking test worker's, kept across exec)
        "maxrss_mb": next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                          if line.startswith("VmHWM:")) / 1024,
    }
    out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
