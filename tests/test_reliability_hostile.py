"""Hostile input (issue 7.3): a fixed corpus of nasty files, and mutated valid records (hypothesis).

Each nasty case is ingested in its own process (a crash, a hang or a memory blow-up fails that case alone):
no crash, a reject row or a skip with a reason, every other record kept, memory bounded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nasty_files as nf
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.warehouse import Home

DRIVER_TIMEOUT_S = 180


def ingest_in_subprocess(case: nf.Case, tmp: Path) -> tuple[Home, dict]:
    home = Home(tmp / f"home-{case.name}")
    out = tmp / f"result-{case.name}.json"
    env = {**__import__("os").environ, **case.env}
    done = subprocess.run(
        [sys.executable, nf.__file__, str(home.root), str(case.landing), str(out)],
        env=env, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S,
    )
    tail = "\n".join(done.stderr.strip().splitlines()[-4:])
    assert done.returncode == 0, f"ingest crashed on {case.name} (exit {done.returncode}):\n{tail}"
    return home, json.loads(out.read_text())


def tables(home: Home) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return (pl.read_parquet(home.table_path("applications")),
            pl.read_parquet(home.table_path("events")),
            pl.read_parquet(home.table_path("rejects")))


def problems_with(case: nf.Case, home: Home, result: dict) -> list[str]:
    """Every way the outcome of a case breaks its expectations (all of them, to report at once)."""
    apps, events, rejects = tables(home)
    found: list[str] = []
    source_of = dict(zip(apps["journey_application_token"], apps["source_file"], strict=True))
    reject_keys = set(zip(rejects["source_file"], rejects["record_number"], strict=True))
    for tok, rel in case.kept.items():
        if tok not in source_of:
            found.append(f"valid record {tok} of {rel!r} was dropped")
        elif source_of[tok] != rel:
            found.append(f"{tok}: source_file {source_of[tok]!r}, expected {rel!r}")
    for tok, (rel, n) in case.either.items():
        if tok not in source_of and (rel, n) not in reject_keys:
            found.append(f"record {n} of {rel!r} ({tok}) is neither kept nor a reject row")
    for rel, n in case.rejected:
        if (rel, n) not in reject_keys:
            found.append(f"no reject row for {rel!r} record {n}")
    seen = set(source_of) | set(events["journey_application_token"])
    found += [f"{tok} from outside the landing folder was read" for tok in case.absent if tok in seen]
    skipped = result["files_skipped"]
    for name in case.skipped:
        if not any(name in path and reason.strip() for path, reason in skipped):
            found.append(f"{name!r} not listed as skipped with a reason (skipped: {skipped})")
    for rel in case.clean_files:
        bad = rejects.filter(pl.col("source_file").str.starts_with(rel))
        if bad.height:
            found.append(f"{rel!r} must not be a reject: {bad.rows()}")
    for row in rejects.iter_rows(named=True):
        if not row["error"] or "\n" in row["error"]:
            found.append(f"reject error is not one line: {row['error']!r}")
        q = row["quarantine_path"]
        if q is not None and not (home.root / q).exists() and not Path(q).exists():
            found.append(f"quarantine file missing: {q!r}")
    if result["maxrss_mb"] > case.max_rss_mb:
        found.append(f"peak memory {result['maxrss_mb']:.0f} MB > {case.max_rss_mb} MB")
    return found


@pytest.mark.parametrize("name", list(nf.BUILDERS))
def test_nasty_file_is_rejected_or_skipped_and_everything_else_kept(name: str, tmp_path: Path) -> None:
    case = nf.build_case(name, tmp_path)
    home, result = ingest_in_subprocess(case, tmp_path)
    found = problems_with(case, home, result)
    apps = pl.read_parquet(home.table_path("applications"))
    by_token = {r["journey_application_token"]: r for r in apps.iter_rows(named=True)}
    if name == "big_integers":
        big = by_token.get(case.notes["huge_meta"])
        if big and big["journey_version_num"] != str(10**25):
            found.append(f"journey_version_num 10**25 stored as {big['journey_version_num']!r}, "
                         "not its digits")
        huge_ts = by_token.get(case.notes["huge_ts"])
        if huge_ts and huge_ts["created_at"] is not None:
            found.append(f"created_at 2**70 kept as a wrong timestamp {huge_ts['created_at']}")
    if name == "duplicate_keys":
        dup = by_token.get(case.notes["dup_status"])
        if dup and dup["status"] not in ("running", "completed"):
            found.append(f"duplicate `status` keys gave {dup['status']!r}")
        if case.notes["tok_a"] in by_token and case.notes["tok_b"] in by_token:
            found.append("one record with a duplicated token key became two applications")
    assert not found, f"{name}:\n- " + "\n- ".join(found)


def test_whole_corpus_in_one_landing_folder(tmp_path: Path) -> None:
    case = nf.build_all(tmp_path)
    home, result = ingest_in_subprocess(case, tmp_path)
    found = problems_with(case, home, result)
    assert not found, "whole corpus:\n- " + "\n- ".join(found)


# ---------------------------------------------------------------- mutated valid records (hypothesis)

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(allow_nan=False),
                      st.text(max_size=12))
JSON_VALUE = st.recursive(
    JSON_LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8)
# Fields outside the required types: an unexpected value is NULL or text, never a reason to reject.
LENIENT_FIELDS = ("journey_token", "complete_outcome", "is_rerun", "sandbox", "journey_version_num",
                  "external_application_id", "is_archived", "is_shadow_app", "closed_at_note",
                  "application_meta")
NOT_INTEGERS = st.one_of(st.text(max_size=8), st.floats(allow_nan=False), st.booleans(),
                         st.lists(st.integers(), max_size=2), st.just(1.5e12))


def _strict_json(raw: bytes):
    """Parse as RFC 8259 JSON (UTF-8, no NaN/Infinity); raises ValueError otherwise."""
    def no_constants(name):
        raise ValueError(name)
    return json.loads(raw.decode("utf-8"), parse_constant=no_constants)


def _ingest_lines(lines: list[bytes]):
    from lineage.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home").ensure()
        home.landing.mkdir()
        (home.landing / "m.ndjson").write_bytes(b"".join(x + b"\n" for x in lines))
        ingest(home, landing=home.landing)
        apps, events, rejects = tables(home)
        return set(apps["journey_application_token"]), set(events["journey_application_token"]), rejects


def _check_neighbours(apps: set[str], rejects: pl.DataFrame, good: list[str]) -> None:
    assert set(good) <= apps, "a valid record beside a mutated one was dropped"
    assert rejects.height <= 1, f"one mutated record gave {rejects.height} rejects: {rejects.rows()}"
    if rejects.height:
        assert rejects.row(0, named=True)["record_number"] == 2
        assert rejects.row(0, named=True)["source_file"] == "m.ndjson"


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(field=st.sampled_from(LENIENT_FIELDS), value=JSON_VALUE, junk=st.dictionaries(
    st.text(min_size=1, max_size=6).filter(lambda k: k not in {"journey_application_token", "data"}),
    JSON_VALUE, max_size=3))
def test_unexpected_values_outside_required_fields_are_kept(field: str, value, junk: dict) -> None:
    tok, a, b = nf.token(1), nf.token(2), nf.token(3)
    rec = {**junk, **nf.snapshot(tok), field: value}
    apps, _, rejects = _ingest_lines([nf.line(nf.snapshot(a))[:-1], json.dumps(rec).encode(),
                                      nf.line(nf.snapshot(b))[:-1]])
    _check_neighbours(apps, rejects, [a, b])
    assert tok in apps, f"record with {field}={value!r}, extra keys {junk!r} was rejected: {rejects.rows()}"


@SETTINGS
@given(field=st.sampled_from(("created_at", "updated_at", "event_timestamp")), value=NOT_INTEGERS,
       kind=st.sampled_from(("snapshot", "webhook", "bare")))
def test_non_integer_required_timestamps_are_rejects(field: str, value, kind: str) -> None:
    tok, a, b = nf.token(11), nf.token(12), nf.token(13)
    if kind == "snapshot":
        rec = nf.snapshot(tok)
        if field == "event_timestamp":
            rec["_embedded"]["events"][0]["timestamp"] = value
        else:
            rec[field] = value
    else:
        event = {"journey_application_token": tok, "type": "x_event", "timestamp": value}
        rec = {"request_token": "R-1", "timestamp": nf.BASE_MS, "type": "journey_application_event",
               "description": "d", "data": event} if kind == "webhook" else event
    apps, events, rejects = _ingest_lines([nf.line(nf.snapshot(a))[:-1], json.dumps(rec).encode(),
                                           nf.line(nf.snapshot(b))[:-1]])
    _check_neighbours(apps, rejects, [a, b])
    assert rejects.height == 1, f"{kind} with {field}={value!r} was not rejected"
    assert tok not in apps and tok not in events


@SETTINGS
@given(kind=st.sampled_from(("snapshot", "webhook", "bare")),
       cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                  max_size=4), truncate=st.booleans())
def test_mutated_bytes_never_crash_and_are_kept_or_rejected(kind: str, cut: int, flips, truncate: bool):
    tok, a, b = nf.token(21), nf.token(22), nf.token(23)
    event = {"journey_application_token": tok, "type": "x_event", "timestamp": nf.BASE_MS}
    rec = {"snapshot": nf.snapshot(tok), "bare": event,
           "webhook": {"request_token": "R-2", "timestamp": nf.BASE_MS, "type": "t", "description": "d",
                       "data": event}}[kind]
    raw = bytearray(json.dumps(rec).encode())
    for pos, byte in flips:
        raw[pos % len(raw)] = byte if byte not in (10, 13) else 32  # keep it one line
    if truncate:
        raw = raw[: cut % len(raw)]
    apps, events, rejects = _ingest_lines([nf.line(nf.snapshot(a))[:-1], bytes(raw),
                                           nf.line(nf.snapshot(b))[:-1]])
    _check_neighbours(apps, rejects, [a, b])
    try:
        parsed = _strict_json(bytes(raw)) if bytes(raw).strip() else None
    except ValueError:
        assert rejects.height == 1, f"invalid JSON {bytes(raw)[:80]!r} was not rejected"
        return
    if parsed is not None and not isinstance(parsed, dict):
        assert rejects.height == 1, f"non-object {bytes(raw)[:80]!r} was not rejected"


def test_the_gzip_cap_is_on_by_default_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bomb case above sets the cap through the environment; without it a default cap still holds."""
    from lineage.ingest_stage import DEFAULT_GZIP_CAP, gzip_cap

    monkeypatch.delenv(nf.GZIP_CAP_ENV, raising=False)
    assert gzip_cap() == DEFAULT_GZIP_CAP > 0
    monkeypatch.setenv(nf.GZIP_CAP_ENV, str(nf.GZIP_CAP_BYTES))
    assert gzip_cap() == nf.GZIP_CAP_BYTES
    monkeypatch.setenv(nf.GZIP_CAP_ENV, "0")
    assert gzip_cap() == 0  # 0 turns it off
