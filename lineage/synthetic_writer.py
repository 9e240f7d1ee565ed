"""Writes one synthetic chain into the export files, and the corrupt records `bad_fraction` asks for.

Corrupt records are extra records (a cut-off line, a record without token, a timestamp given as a
string, a non-object line) or, rarely, an application's only snapshot written corrupt (the chain then
has a hole). Whole-file failures (a truncated `.json`, a gzip that breaks off) hold only copies of
snapshots written intact elsewhere, so the ground truth does not depend on how far a reader gets.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import deque

from lineage.synthetic_chains import Chain
from lineage.synthetic_files import ExportFiles, Sink
from lineage.synthetic_records import ChainRecords

_encode = json.JSONEncoder(separators=(",", ":")).encode
LINE_BAD = ("bad_json", "no_token", "wrong_type", "non_object")
ARRAY_BAD = ("wrong_type", "no_token", "non_object")  # a bad JSON item would break the whole array
NON_OBJECTS = ("[1,2]", "42", '"ok"', "null")


def _broken(kind: str, line: str, rec: dict, rng: random.Random) -> str:
    if kind == "bad_json":
        return line[: max(1, len(line) // 2)]
    if kind == "non_object":
        return rng.choice(NON_OBJECTS)
    rec = json.loads(line) if rec is None else dict(rec)
    inner = dict(rec["data"]) if isinstance(rec.get("data"), dict) else rec  # a webhook's event is `data`
    if kind == "no_token":
        inner.pop("journey_application_token", None)
    else:  # wrong_type: a required integer given as a string
        key = "created_at" if "created_at" in inner else "timestamp"
        inner[key] = str(inner[key])
    if inner is not rec:
        rec["data"] = inner
    return _encode(rec)


class ChainWriter:
    def __init__(
        self,
        rng: random.Random,
        files: ExportFiles,
        bad_fraction: float,
        window_start: int,
        result,
        ring: deque,
    ):
        self.rng, self.files, self.window_start, self.result, self.ring = (
            rng,
            files,
            window_start,
            result,
            ring,
        )
        self.extra_bad = bad_fraction / 2
        self.bad_fraction = bad_fraction
        self._cycle = 0

    def _bad(self, sink: Sink, line: str, rec: dict | None, kinds: tuple[str, ...]) -> None:
        kind = kinds[self._cycle % len(kinds)]
        self._cycle += 1
        sink.write(_broken(kind, line, rec, self.rng))
        seen = self.result.bad_kinds
        seen[kind] = seen.get(kind, 0) + 1
        if sink.array:
            seen["in_array"] = seen.get("in_array", 0) + 1
        self.result.bad_records += 1

    def _put(self, sink: Sink, line: str, rec: dict | None = None) -> None:
        if self.extra_bad and self.rng.random() < self.extra_bad:
            self._bad(sink, line, rec, ARRAY_BAD if sink.array else LINE_BAD)
        sink.write(line)
        self.result.records += 1

    def write(self, chain: Chain, recs: ChainRecords) -> None:
        rng, files, res = self.rng, self.files, self.result
        for i, app in enumerate(chain.apps):
            if app.parent is None:
                res.roots += 1
            else:
                res.reruns += 1
                res.reruns_without_block += not app.has_block
                res.reruns_not_listed += not app.listed_by_parent
            res.max_depth = max(res.max_depth, app.depth)
            if app.in_export:
                res.in_export += 1
                snap = recs.snapshot(i)
                line = _encode(snap)
                kind = "applications" if rng.random() < 0.75 else "batches"
                self._put(files.sink(kind, recs.updated_at[i]), line, snap)
                self.ring.append(line)
                res.snapshots += 1
                if app.stale:
                    ts = recs.stale_time(i)
                    other = "batches" if kind == "applications" else "applications"
                    self._put(files.sink(other, ts), _encode(recs.snapshot(i, ts)))
                    res.stale_snapshots += 1
            elif app.corrupt:
                snap = recs.snapshot(i)
                self._bad(
                    files.sink("applications", recs.updated_at[i]),
                    _encode(snap),
                    snap,
                    ("bad_json", "wrong_type"),
                )
                res.corrupt_snapshots += 1
            elif app.parent is None:
                res.roots_outside_window += 1
            else:
                res.missing_middles += 1
            for ev in recs.events[i]:
                if ev["timestamp"] < self.window_start:
                    continue  # before the export window: no one delivered it to this export
                for t in recs.deliveries(i, ev):
                    self._put(files.sink("webhooks", t), _encode(recs.webhook(i, ev, t)))
                    res.webhook_deliveries += 1
                if rng.random() < 0.08:
                    self._put(files.sink("events", ev["timestamp"]), _encode(recs.bare_event(i, ev)))
                    res.bare_events += 1

    def finish(self) -> None:
        """Make sure every kind of corruption is present at least once, then the whole-file failures."""
        if not self.bad_fraction or not self.ring:
            return
        files, ring, seen = self.files, list(self.ring), self.result.bad_kinds
        line = ring[-1]
        last = files.start_ms + (files.days - 1) * 86_400_000
        for kind in LINE_BAD:
            if not seen.get(kind):
                self._cycle = LINE_BAD.index(kind)
                self._bad(files.sink("applications", last), line, None, LINE_BAD)
        if not seen.get("in_array"):
            self._cycle = 0
            self._bad(files.sink("batches", last), line, None, ARRAY_BAD)
        date = files.date(files.days - 1)
        text = "[\n" + ",\n".join(ring) + "\n]\n"
        files.whole_file(f"batches/{date}-partial.json", text[: len(text) * 3 // 5].encode())
        packed = gzip.compress(("\n".join(ring) + "\n").encode(), compresslevel=5, mtime=0)
        files.whole_file(f"applications/{date}-resend.ndjson.gz", packed[: len(packed) * 3 // 5])
        self.result.bad_records += 2
        seen["truncated_json"] = seen["broken_gzip"] = 1
