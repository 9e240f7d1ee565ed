"""The files of the synthetic export: one open, buffered writer per (kind, day), written as records come.

Kinds: daily snapshot NDJSON (some days gzipped), daily JSON array batches (some gzipped), webhook delivery
logs (order shuffled in blocks, as deliveries arrive) and bare event files. Memory stays bounded: each
writer holds at most a small buffer. Gzip headers carry no name or time, so output is byte-identical.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
from pathlib import Path

from lineage.synthetic_chains import DAY

FLUSH_CHARS = 1 << 16
SHUFFLE_BLOCK = 400


class Sink:
    """One output file: lines (NDJSON/JSONL) or a JSON array, optionally gzipped, optionally shuffled."""

    def __init__(self, path: Path, array: bool, shuffle: random.Random | None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        gz = path.name.endswith(".gz")
        self._fh = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=5)
            if gz
            else self._raw
        )
        self.array, self.shuffle = array, shuffle
        self.buf: list[str] = []
        self.chars = 0
        self.records = 0  # lines (or array items) written so far, bad ones included
        self._started = False

    def write(self, line: str) -> int:
        """Queue one record; returns its 1-based position in the file (before any shuffling)."""
        self.buf.append(line)
        self.chars += len(line)
        self.records += 1
        if (len(self.buf) >= SHUFFLE_BLOCK) if self.shuffle else (self.chars >= FLUSH_CHARS):
            self.flush()
        return self.records

    def flush(self) -> None:
        if not self.buf:
            return
        if self.shuffle:
            self.shuffle.shuffle(self.buf)
        if self.array:
            text = (",\n" if self._started else "[\n") + ",\n".join(self.buf)
        else:
            text = "\n".join(self.buf) + "\n"
        self._fh.write(text.encode())
        self._started = True
        self.buf, self.chars = [], 0

    def close(self) -> None:
        self.flush()
        if self.array:
            self._fh.write(b"\n]\n" if self._started else b"[]\n")
        if self._fh is not self._raw:
            self._fh.close()
        self._raw.close()


class ExportFiles:
    """All writers of one export, keyed by kind and day of the export window."""

    def __init__(self, out: Path, rng: random.Random, start_ms: int, days: int):
        self.out, self.rng, self.start_ms, self.days = out, rng, start_ms, days
        self.sinks: dict[tuple[str, int], Sink] = {}
        self.written: list[str] = []  # relative paths, in creation order

    def day(self, ts: int) -> int:
        return min(max((ts - self.start_ms) // DAY, 0), self.days - 1)

    def date(self, day: int) -> str:
        return (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=self.start_ms + day * DAY)).strftime(
            "%Y-%m-%d"
        )

    def _rel(self, kind: str, day: int) -> str:
        date = self.date(day)
        if kind == "applications":
            return f"applications/{date}.ndjson" + (".gz" if day % 4 == 1 else "")
        if kind == "batches":
            return f"batches/{date}.json" + (".gz" if day % 4 == 2 else "")
        if kind == "webhooks":
            return f"webhooks/deliveries-{date}.jsonl"
        return f"events/{date}.ndjson"

    def sink(self, kind: str, ts: int) -> Sink:
        key = (kind, self.day(ts))
        sink = self.sinks.get(key)
        if sink is None:
            rel = self._rel(kind, key[1])
            sink = Sink(
                self.out / rel, array=kind == "batches", shuffle=self.rng if kind == "webhooks" else None
            )
            self.sinks[key] = sink
            self.written.append(rel)
        return sink

    def whole_file(self, rel: str, data: bytes) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.written.append(rel)

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
