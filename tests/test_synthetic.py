"""The synthetic export generator: every promised case is in the files it writes, read back as a reader."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lineage import synthetic
from lineage.errors import LineageError

N = 2000
TOKEN = re.compile(r"^JA-[0-9A-Za-z]{20}$")
EXPORT_SUFFIXES = (".json", ".ndjson", ".jsonl")


def is_export(path: Path) -> bool:
    return path.name.removesuffix(".gz").endswith(EXPORT_SUFFIXES)


def read_text(path: Path) -> tuple[str, bool]:
    """The file's text and whether it was read whole (a broken gzip gives what came before the break)."""
    raw = path.read_bytes()
    if not path.name.endswith(".gz"):
        return raw.decode(), True
    try:
        return gzip.decompress(raw).decode(), True
    except (EOFError, OSError, zlib.error):
        partial = zlib.decompressobj(wbits=31).decompress(raw)
        return partial.decode(errors="replace"), False


def parse(path: Path) -> tuple[list[object], list[str], bool]:
    """(valid JSON items, lines that are not JSON, whole-file parse ok)."""
    text, whole = read_text(path)
    if path.name.removesuffix(".gz").endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return [], [], False
        return (data if isinstance(data, list) else [data]), [], whole
    items, bad = [], []
    lines = text.split("\n")
    if not whole:
        lines = lines[:-1]  # the line cut by the break is the break, not a record
    for line in lines:
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except ValueError:
            bad.append(line)
    return items, bad, whole


def valid(rec: object) -> bool:
    if not isinstance(rec, dict):
        return False
    inner = rec["data"] if isinstance(rec.get("data"), dict) else rec
    if not isinstance(inner.get("journey_application_token"), str):
        return False
    return all(isinstance(inner.get(k), int) for k in ("created_at", "updated_at", "timestamp") if k in inner)


class Export:
    """Everything in one generated export, classified like CONTRACT §2 (small exports only)."""

    def __init__(self, out: Path):
        self.out = out
        self.files = sorted(p for p in out.rglob("*") if p.is_file())
        self.snapshots: list[tuple[str, dict]] = []
        self.webhooks: list[tuple[str, dict]] = []
        self.bare: list[tuple[str, dict]] = []
        self.invalid: list[tuple[str, object]] = []
        self.bad_lines: list[tuple[str, str]] = []
        self.broken_files: list[str] = []
        self.partial_files: list[tuple[str, int]] = []
        for path in self.files:
            if not is_export(path):
                continue
            rel = path.relative_to(out).as_posix()
            items, bad, ok = parse(path)
            self.bad_lines += [(rel, b) for b in bad]
            if not ok and not items:
                self.broken_files.append(rel)
            elif not ok:
                self.partial_files.append((rel, len(items)))
            for rec in items:
                if not valid(rec):
                    self.invalid.append((rel, rec))
                elif "data" in rec:
                    self.webhooks.append((rel, rec))
                elif "status" in rec or ("_embedded" in rec and not {"type", "timestamp"} <= rec.keys()):
                    self.snapshots.append((rel, rec))
                else:  # an Alloy event item, `_embedded.node` and all
                    self.bare.append((rel, rec))

    def winning(self) -> dict[str, dict]:
        best: dict[str, dict] = {}
        for _, rec in self.snapshots:
            tok = rec["journey_application_token"]
            cur = best.get(tok)
            key = (rec["updated_at"], len(rec["_embedded"]["events"]))
            if cur is None or key > (cur["updated_at"], len(cur["_embedded"]["events"])):
                best[tok] = rec
        return best


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("synthetic")
    result = synthetic.generate(base / "out", N, seed=7, truth=base / "truth.parquet")
    truth = pq.read_table(base / "truth.parquet").to_pylist()
    return result, Export(base / "out"), {r["journey_application_token"]: r for r in truth}


def test_file_kinds(generated):
    _, export, _ = generated
    rels = [p.relative_to(export.out).as_posix() for p in export.files]
    assert any(re.fullmatch(r"applications/\d{4}-\d\d-\d\d\.ndjson", r) for r in rels)
    assert any(r.endswith(".ndjson.gz") for r in rels)
    assert any(re.fullmatch(r"batches/\d{4}-\d\d-\d\d\.json", r) for r in rels)
    assert any(r.endswith(".json.gz") for r in rels)
    assert any(r.endswith(".jsonl") for r in rels)
    assert [r for r in rels if not is_export(export.out / r)], "a non-export file to skip"
    array_files = {rel for rel, _ in export.snapshots if rel.removesuffix(".gz").endswith(".json")}
    assert array_files, "snapshots inside JSON arrays"


def test_tokens_times_and_open_sets(generated):
    _, export, _ = generated
    snaps = [rec for _, rec in export.snapshots]
    assert all(TOKEN.match(r["journey_application_token"]) for r in snaps)
    assert all(isinstance(r["created_at"], int) and r["created_at"] > 1.7e12 for r in snaps)
    statuses = {r["status"] for r in snaps}
    assert {"completed", "error", "pending_review", "running"} <= statuses
    assert statuses - {"completed", "error", "pending_review", "pending_documents", "waiting", "running"}
    outcomes = {r["complete_outcome"] for r in snaps if r["status"] == "completed"}
    assert {"Approved", "Denied", "Manual Review"} <= outcomes and "APPROVED" in outcomes
    assert all(r["complete_outcome"] is None for r in snaps if r["status"] != "completed")
    assert len({r["journey_token"] for r in snaps}) >= 3
    assert any(
        r.get(k) is True
        for r in snaps
        for k in ("is_shadow_app", "is_shadow_application", "is_part_of_shadow_test")
    )
    assert any(r["sandbox"] is True for r in snaps)
    emb = [r["_embedded"] for r in snaps]
    assert all(e["entity_applications"] and e["child_entities"] for e in emb)
    by = {e["rerun"]["initiated_by"] for e in emb if "rerun" in e}
    assert by == {"api", "dashboard"}


def test_webhooks_retried_and_shuffled(generated):
    _, export, _ = generated
    deliveries = defaultdict(list)
    for _, rec in export.webhooks:
        assert set(rec) >= {"request_token", "timestamp", "type", "description", "data"}
        assert rec["timestamp"] > rec["data"]["timestamp"]  # delivered after the event happened
        deliveries[json.dumps(rec["data"], sort_keys=True)].append(rec["timestamp"])
    retried = [ts for ts in deliveries.values() if len(ts) > 1]
    assert retried and all(len(set(ts)) == len(ts) for ts in retried)  # same data, later envelope times
    assert len({rec["request_token"] for _, rec in export.webhooks}) == len(export.webhooks)
    per_file = defaultdict(list)
    for rel, rec in export.webhooks:
        per_file[rel].append(rec["timestamp"])
    assert any(ts != sorted(ts) for ts in per_file.values()), "delivery logs are not in time order"
    assert any(json.loads(d)["type"] == "started_rerun_application" for d in deliveries)


def test_bare_events(generated):
    _, export, _ = generated
    assert export.bare
    assert all("status" not in r and {"type", "timestamp"} <= set(r) for _, r in export.bare)


def test_stale_snapshots_in_other_files(generated):
    _, export, _ = generated
    seen = defaultdict(list)
    for rel, rec in export.snapshots:
        seen[rec["journey_application_token"]].append(
            (rec["updated_at"], len(rec["_embedded"]["events"]), rel)
        )
    stale = [sorted(v) for v in seen.values() if len({u for u, _, _ in v}) > 1]
    assert stale
    assert all(old[0] < new[0] and old[1] < new[1] and old[2] != new[2] for old, new, *_ in stale)


def test_truth_matches_the_files(generated):
    result, export, truth = generated
    win = export.winning()
    assert len(truth) == N == result.applications
    assert {t for t, r in truth.items() if r["in_export"]} == set(win)
    children = defaultdict(list)
    for r in truth.values():
        if r["previous_token"]:
            children[r["previous_token"]].append(r["journey_application_token"])
    for tok, rec in win.items():
        t, emb = truth[tok], rec["_embedded"]
        assert rec["is_rerun"] is (t["previous_token"] is not None)
        assert ("rerun" in emb) is t["has_rerun_block"]
        if "rerun" in emb:
            assert emb["rerun"]["previous_journey_application_token"] == t["previous_token"]
            assert emb["rerun"]["root_journey_application_token"] == t["root_token"]
        listed = {x["next_journey_application_token"] for x in emb["reruns"]}
        assert listed == {c for c in children[tok] if truth[c]["parent_links_it"]}
        rerun_events = [
            e["rerun_journey_application_token"]
            for e in emb["events"]
            if e["type"] == "started_rerun_application"
        ]
        assert len(rerun_events) == len(set(rerun_events))
        expected = set(children[tok])
        if t["depth"] == 0:
            expected = {c for c, r in truth.items() if r["root_token"] == tok and c != tok}
        assert set(rerun_events) == expected
        assert (rec["created_at"], rec["status"], rec["complete_outcome"]) == (
            t["created_at_ms"],
            t["status"],
            t["complete_outcome"],
        )
    for r in truth.values():
        depth, tok = 0, r["journey_application_token"]
        while truth[tok]["previous_token"]:
            tok, depth = truth[tok]["previous_token"], depth + 1
        assert (tok, depth) == (r["root_token"], r["depth"])


def test_realistic_gaps(generated):
    result, export, truth = generated
    win = export.winning()
    window_start = min(r["created_at"] for r in win.values())
    rows = truth.values()
    has_child_in_export = {r["previous_token"] for r in rows if r["previous_token"] and r["in_export"]}
    outside = [
        r
        for r in rows
        if r["depth"] == 0 and not r["in_export"] and r["journey_application_token"] in has_child_in_export
    ]
    assert outside and all(r["created_at_ms"] < window_start for r in outside)
    middles = [
        r
        for r in rows
        if r["depth"] > 0 and not r["in_export"] and r["journey_application_token"] in has_child_in_export
    ]
    assert middles
    no_block = [
        win[t] for t, r in truth.items() if r["in_export"] and r["depth"] > 0 and not r["has_rerun_block"]
    ]
    assert no_block and all(w["is_rerun"] and "rerun" not in w["_embedded"] for w in no_block)
    for w in no_block:  # still linked by the parent, whose snapshot is in the export
        assert truth[w["journey_application_token"]]["parent_links_it"] or any(
            e.get("rerun_journey_application_token") == w["journey_application_token"]
            for e in win[truth[w["journey_application_token"]]["previous_token"]]["_embedded"]["events"]
        )
    not_listed = [
        r
        for r in rows
        if r["previous_token"]
        and truth[r["previous_token"]]["in_export"]
        and r["in_export"]
        and r["has_rerun_block"]
        and not r["parent_links_it"]
    ]
    assert not_listed, "a rerun its parent does not list (found by its own rerun block)"
    assert max(r["depth"] for r in rows) >= 24, "a deep rerun loop"
    siblings = defaultdict(int)
    for r in rows:
        siblings[r["previous_token"]] += r["previous_token"] is not None
    assert max(siblings.values()) >= 2
    rescued = [
        r
        for r in rows
        if r["depth"] > 0 and r["status"] == "completed" and truth[r["previous_token"]]["status"] == "error"
    ]
    assert rescued
    assert result.roots_outside_window >= len(outside) and result.missing_middles >= len(middles)


def test_corrupt_records(generated):
    result, export, _ = generated
    assert export.bad_lines, "lines that are not JSON"
    invalid = [rec for _, rec in export.invalid]
    assert any(not isinstance(r, dict) for r in invalid), "a non-object record"
    assert any(
        isinstance(r, dict) and "journey_application_token" not in (r.get("data") or r) for r in invalid
    )
    assert any(isinstance(r, dict) and isinstance(r.get("created_at"), str) for r in invalid)
    assert any(rel.removesuffix(".gz").endswith(".json") for rel, _ in export.invalid), (
        "a bad item in an array"
    )
    assert any(rel.endswith(".json") for rel in export.broken_files), "a truncated .json file"
    assert any(rel.endswith(".gz") and n > 0 for rel, n in export.partial_files), "a gzip that breaks off"
    assert result.bad_records >= len(export.bad_lines) + len(invalid)


def test_no_corruption_when_bad_fraction_is_zero(tmp_path):
    synthetic.generate(tmp_path / "out", 600, seed=5, bad_fraction=0, truth=tmp_path / "t.parquet")
    export = Export(tmp_path / "out")
    assert (
        not export.bad_lines and not export.invalid and not export.broken_files and not export.partial_files
    )
    truth = pq.read_table(tmp_path / "t.parquet")
    assert not all(truth.column("in_export").to_pylist()), "roots outside the window, missing middles remain"
    assert not all(
        truth.column("has_rerun_block").to_pylist()[i]
        for i, d in enumerate(truth.column("depth").to_pylist())
        if d
    )


def digest(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_deterministic(tmp_path):
    a = synthetic.generate(tmp_path / "a", 400, seed=3, truth=tmp_path / "a.parquet")
    b = synthetic.generate(tmp_path / "b", 400, seed=3, truth=tmp_path / "b.parquet")
    c = synthetic.generate(tmp_path / "c", 400, seed=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))
    assert a.summary().replace("/a", "/b") == b.summary().replace("/a.", "/b.")
    assert digest(tmp_path / "a") != digest(tmp_path / "c") and c.applications == 400


def test_replace_removes_only_its_own_files(tmp_path):
    out = tmp_path / "landing"
    synthetic.generate(out, 300, seed=1)
    (out / "batches" / "mine.json").write_text("[]")
    (out / "keep.txt").write_text("not the generator's")
    with pytest.raises(LineageError, match="already holds"):
        synthetic.generate(out, 50, seed=2)
    synthetic.generate(out, 50, seed=2, replace=True)
    fresh = tmp_path / "fresh"
    synthetic.generate(fresh, 50, seed=2)
    left = {k for k in digest(out) if k not in ("keep.txt", "batches/mine.json")}
    assert left == set(digest(fresh))
    assert all(digest(out)[k] == v for k, v in digest(fresh).items())
    assert (out / "keep.txt").exists() and (out / "batches" / "mine.json").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(LineageError):
        synthetic.generate(tmp_path / "out", 0)
    with pytest.raises(LineageError):
        synthetic.generate(tmp_path / "out", 10, bad_fraction=1.5)
    with pytest.raises(LineageError, match="truth"):
        synthetic.generate(tmp_path / "out", 10, truth=tmp_path / "out" / "truth.parquet")
    (tmp_path / "file").write_text("x")
    with pytest.raises(LineageError):
        synthetic.generate(tmp_path / "file", 10)


def test_tiny_exports(tmp_path):
    for n in (1, 2, 7):
        result = synthetic.generate(tmp_path / str(n), n, seed=n, truth=tmp_path / f"{n}.parquet")
        assert result.applications == pq.read_table(tmp_path / f"{n}.parquet").num_rows == n


def test_pii_is_made_up_and_listed(generated, capsys):
    result, export, _ = generated
    values = synthetic.pii_values(export.out)
    assert len(values) > 100
    assert any("@example.test" in v for v in values) and any(
        re.fullmatch(r"\d{3}-\d\d-\d{4}", v) for v in values
    )
    summary = result.summary()
    assert not [v for v in values if v in summary]


def test_progress_only_for_large_exports(tmp_path, capsys, monkeypatch):
    synthetic.generate(tmp_path / "small", 200, seed=1)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(synthetic, "PROGRESS_FROM", 100)
    synthetic.generate(tmp_path / "large", 200, seed=1)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 5 and all(line.startswith("generate: ") for line in lines)


def test_failure_leaves_a_manifest_to_clean_up(tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = {"n": 0}
    real = synthetic.ChainRecords

    def failing(rng, chain):
        calls["n"] += 1
        if calls["n"] > 20:
            raise RuntimeError("disk full")
        return real(rng, chain)

    monkeypatch.setattr(synthetic, "ChainRecords", failing)
    with pytest.raises(RuntimeError):
        synthetic.generate(out, 500, truth=tmp_path / "t.parquet")
    assert not list(tmp_path.glob("*.parquet*")), "no half-written truth file"
    written = set(digest(out))
    assert len(written) > 1 and synthetic.MANIFEST in written
    monkeypatch.undo()
    synthetic.generate(out, 30, seed=2, replace=True)
    assert set(digest(out)) == set(digest_of_fresh(tmp_path / "fresh", 30, 2))


def digest_of_fresh(out: Path, n: int, seed: int) -> dict[str, str]:
    synthetic.generate(out, n, seed=seed)
    return digest(out)


def test_ingest_reads_what_the_generator_says_it_wrote(generated, tmp_path):
    from lineage.ingest import ingest
    from lineage.warehouse import Home

    result, export, _ = generated
    home = Home(tmp_path / "home").ensure()
    got = ingest(home, landing=export.out, log=lambda line: None)
    assert sorted(p for p, _ in got.files_skipped) == [".rerun-lineage-synthetic", "README.txt",
                                                        "export_index.csv"]
    assert got.files_seen == result.files
    # the two broken files hold copies of intact snapshots: what is salvaged from them adds records
    salvaged = sum(n for rel, n in export.partial_files)
    assert (got.snapshots - salvaged, got.webhooks, got.bare_events) == (
        result.snapshots + result.stale_snapshots, result.webhook_deliveries, result.bare_events)
    assert got.rejects == result.bad_records
    assert got.applications == result.in_export
