"""Personal data (issue 7.5): the export's entity data is in no table, report, log line or Dagster record.

The shared export's people (lineage.synthetic_people) plus canary values planted in good and bad records
(entity payloads, child_entities, application_meta, and a bad record whose error could quote it) are looked
for in every table (decoded, not raw compressed bytes), the warehouse views, the reports, the run's output,
every other file of the home outside landing/ and quarantine/ (Dagster's SQLite event logs, compute logs,
state), and the Dagster materialization metadata. Quarantine files, which hold raw records, are owner-only.
"""

from __future__ import annotations

import gzip
import json
import re
import stat
from pathlib import Path

import duckdb
import nasty_files as nf
import polars as pl
import pytest
import reliability_harness as rh

from lineage import synthetic_people as people

CANARIES = rh.CANARIES
VOCABULARY = (*people.FIRST_NAMES, *people.LAST_NAMES, *people.STREETS, *people.CITIES, *CANARIES)
PATTERNS = re.compile(
    "|".join([r"\b\d{3}-\d{2}-\d{4}\b", r"[\w.+-]+@(?:example\.test|leak\.test)", r"\+1-555-\d{3}-\d{4}",
              r"\b(?:19[0-9]{2}|200[0-5])-\d{2}-\d{2}\b",
              r"\b(?:" + "|".join(re.escape(w) for w in sorted(VOCABULARY, key=len, reverse=True)) + r")\b"])
)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory):
    """The shared clean run, whose landing folder holds the canary records (reliability_harness)."""
    from lineage import synthetic

    shared = rh.shared_clean_run(tmp_path_factory)
    chain = rh.run_cli(shared.home, "chain", nf.token(9001))
    output = "\n".join([*shared.timeline.stdout, shared.timeline.text(), chain.stdout, chain.stderr])
    known = synthetic.pii_values(shared.landing) | set(CANARIES)
    return shared.home, output, known, shared.landing


def _leaks(text: str, known: set[str]) -> set[str]:
    hits = set()
    for m in PATTERNS.finditer(text):
        value = m.group(0)
        if value in known or value in VOCABULARY:  # every vocabulary word is a made-up person's
            hits.add(value)
    return hits


def _frame_text(df: pl.DataFrame) -> str:
    return df.write_ndjson() if df.height else ""


def test_no_personal_data_in_tables_or_warehouse(ran) -> None:
    home, _, known, _ = ran
    found = {}
    for name in home.tables():
        hits = _leaks(_frame_text(pl.read_parquet(home.table_path(name))), known)
        if hits:
            found[name] = sorted(hits)[:5]
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        for (view,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            hits = _leaks(_frame_text(con.sql(f'SELECT * FROM "{view}"').pl()), known)
            if hits:
                found[f"warehouse.{view}"] = sorted(hits)[:5]
    finally:
        con.close()
    assert not found, f"personal data in tables: {found}"


def test_no_personal_data_in_output_reports_state_or_dagster_files(ran) -> None:
    home, output, known, _ = ran
    found = {}
    if hits := _leaks(output, known):
        found["command output"] = sorted(hits)[:5]
    for path in sorted(home.root.rglob("*")):
        rel = path.relative_to(home.root)
        if not path.is_file() or rel.parts[0] in ("landing", "quarantine"):
            continue
        if path.suffix == ".parquet":
            text = _frame_text(pl.read_parquet(path))
        else:
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            text = raw.decode("latin-1")
        if hits := _leaks(text, known):
            found[str(rel)] = sorted(hits)[:5]
    assert not found, f"personal data outside landing/ and quarantine/: {found}"


def test_no_personal_data_in_dagster_metadata_or_event_log(ran) -> None:
    import dagster as dg

    home, _, known, _ = ran
    found = {}
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        keys = instance.all_asset_keys()
        assert keys, "no assets recorded in the home's Dagster instance"
        for key in keys:
            event = instance.get_latest_materialization_event(key)
            if event is None:
                continue
            meta = event.asset_materialization.metadata
            text = json.dumps({k: str(getattr(v, "value", v)) for k, v in meta.items()})
            if hits := _leaks(text, known):
                found[key.to_user_string()] = sorted(hits)[:5]
        # Every event of every run, as Dagster stores it: logs, materializations, check results, failures.
        runs = instance.get_runs()
        assert runs, "no run recorded in the home's Dagster instance"
        for run in runs:
            events = instance.all_logs(run.run_id)
            assert events, f"run {run.run_id} has no events"
            if hits := _leaks("\n".join(dg.serialize_value(e) for e in events), known):
                found[f"event log of run {run.run_id[:8]}"] = sorted(hits)[:5]
    assert not found, f"personal data in Dagster metadata or event logs: {found}"


def test_the_scanner_finds_what_it_looks_for(ran) -> None:
    """The scan is not vacuous: the landing folder and the quarantine do hold these values."""
    home, _, known, landing = ran
    landing_text = (landing / rh.CANARY_FILE).read_text()
    assert set(CANARIES) <= _leaks(landing_text, known)
    quarantined = "".join(p.read_bytes().decode("latin-1") for p in home.quarantine.rglob("*") if p.is_file())
    assert _leaks(quarantined, known), "the quarantine holds none of the bad records' raw content"


def test_quarantine_is_readable_by_its_owner_only(ran) -> None:
    home, _, _, _ = ran
    assert home.quarantine.is_dir(), "no quarantine folder although the export has bad records"
    loose = []
    for path in [home.quarantine, *home.quarantine.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{path.relative_to(home.root)} {oct(mode)}")
    assert not loose, f"quarantine readable by others: {loose[:10]}"
    rejects = pl.read_parquet(home.table_path("rejects"))
    assert rejects.height > 0
    for q in rejects["quarantine_path"].drop_nulls():
        assert (home.root / q).exists() or Path(q).exists(), f"missing quarantine file {q}"
