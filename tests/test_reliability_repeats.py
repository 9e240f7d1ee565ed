"""Repeats and changes (issue 7.2): the tables always mirror the landing folder as a full rebuild would.

Same folder twice: identical tables, and the second run reads no data file (its output and its Dagster
metadata say so). A new file, a file changed in place, moved, duplicated or removed: the incremental result
equals a full rebuild over the files present. `run --rebuild` reads everything again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nasty_files as nf
import pytest
import reliability_harness as rh

from lineage.warehouse import Home


def _ingest(home: Home, landing: Path, rebuild: bool = False):
    from lineage.ingest import ingest

    return ingest(home.ensure(), landing=landing, rebuild=rebuild)


def _rebuilt(tmp: Path, landing: Path) -> dict:
    """The tables a fresh home gets from the landing folder as it is now."""
    fresh = Home(tmp / f"fresh-{len(list(tmp.glob('fresh-*')))}")
    _ingest(fresh, landing)
    return rh.table_frames(fresh)


def _assert_mirrors(home: Home, landing: Path, tmp: Path, context: str) -> None:
    rh.assert_same_tables(home, _rebuilt(tmp, landing), f"{context}: incremental result != full rebuild")


def _tokens(home: Home, table: str = "applications", col: str = "journey_application_token") -> set[str]:
    import polars as pl

    return set(pl.read_parquet(home.table_path(table))[col])


def _files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> rh.CleanRun:
    return rh.shared_clean_run(tmp_path_factory)


@pytest.fixture(scope="module")
def export(shared: rh.CleanRun) -> Path:
    return shared.landing


def _dagster_ingest_metadata(home: Home) -> dict:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("applications"))
        assert event is not None, "no materialization of `applications` in the home's Dagster instance"
        meta = event.asset_materialization.metadata
        return {k: getattr(v, "value", v) for k, v in meta.items()}


def _files_read_line(output: str) -> tuple[int, int]:
    m = re.search(r"files read: ([\d,]+), unchanged[^:]*: ([\d,]+)", output)
    assert m, f"the run does not say how many files it read:\n{output}"
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def test_same_folder_twice_reads_nothing_the_second_time_and_rebuild_reads_all(tmp_path: Path,
                                                                                shared: rh.CleanRun) -> None:
    home = rh.copy_home(shared.home, Home(tmp_path / "home"))  # after a first run over the folder
    read1, _ = _files_read_line("\n".join(shared.timeline.stdout))
    assert read1 > 0

    second = rh.run_ok(home, "run", "--landing", str(shared.landing))
    read2, unchanged2 = _files_read_line(second.stdout + second.stderr)
    assert (read2, unchanged2) == (0, read1), "the second run over the same folder read data files again"
    meta = _dagster_ingest_metadata(home)
    assert meta.get("files_read") == 0 and meta.get("files_unchanged") == read1, f"Dagster metadata: {meta}"
    rh.assert_same_tables(home, shared.frames, "second run over the same folder changed the tables")

    third = rh.run_ok(home, "run", "--landing", str(shared.landing), "--rebuild")
    read3, unchanged3 = _files_read_line(third.stdout + third.stderr)
    assert (read3, unchanged3) == (read1, 0), "--rebuild did not read every file again"
    rh.assert_same_tables(home, shared.frames, "--rebuild changed the tables")


def test_new_files_give_the_full_rebuild_result(tmp_path: Path, export: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(export, landing)
    files = [p for p in _files(landing) if p.name.endswith((".json", ".ndjson", ".jsonl", ".gz"))]
    held = tmp_path / "held"
    later = files[::3]
    for p in later:  # a third of the files arrive later
        dest = held / p.relative_to(landing)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(p, dest)
    home = Home(tmp_path / "home")
    first = _ingest(home, landing)
    for p in later:
        os.replace(held / p.relative_to(landing), p)
    second = _ingest(home, landing)
    assert second.files_read == len(later), f"read {second.files_read} files, {len(later)} were new"
    assert second.files_unchanged == first.files_read
    _assert_mirrors(home, landing, tmp_path, "new files")


def test_newer_snapshot_and_same_file_under_a_later_name(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    x, y = nf.token(501), nf.token(502)
    nf.write_lines(landing / "a.ndjson", nf.snapshot(x, status="running"), nf.snapshot(y))
    home = Home(tmp_path / "home")
    _ingest(home, landing)
    newer = nf.snapshot(x, status="completed")
    newer["updated_at"] += 3_600_000
    newer["_embedded"]["events"].append({"type": "status_changed", "timestamp": newer["updated_at"]})
    nf.write_lines(landing / "b.ndjson", newer)
    shutil.copy(landing / "a.ndjson", landing / "c.ndjson")  # a copy: ties go to the later path
    _ingest(home, landing)
    _assert_mirrors(home, landing, tmp_path, "newer snapshot and a copied file")


def test_file_changed_in_place_is_read_again_and_what_it_lost_is_gone(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    x, y, z = nf.token(601), nf.token(602), nf.token(603)
    y_before = nf.snapshot(y, status="running")
    y_before["_embedded"]["events"].append({"type": "only_in_old_copy", "timestamp": nf.BASE_MS + 5})
    nf.write_lines(landing / "a.ndjson", nf.snapshot(x), y_before, b'{"broken": \n')
    nf.write_lines(landing / "b.ndjson", nf.snapshot(z))
    home = Home(tmp_path / "home")
    _ingest(home, landing)
    path = landing / "a.ndjson"
    before = path.stat()
    # Same size, a few microseconds later: only the content (and mtime_ns) tells the change.
    y_after = json.loads(json.dumps(y_before).replace("running", "waiting").replace("only_in_old_copy",
                                                                                  "only_in_new_copy"))
    new = nf.line(y_after)
    path.write_bytes(new + b" " * (before.st_size - len(new) - 1) + b"\n")
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000))
    result = _ingest(home, landing)
    assert result.files_read == 1 and result.files_unchanged == 1
    assert x not in _tokens(home), "an application the changed file no longer holds is still there"
    assert "only_in_old_copy" not in _tokens(home, "events", "type")
    assert _tokens(home, "rejects", "source_file") == set(), "rejects of the old content are still there"
    _assert_mirrors(home, landing, tmp_path, "file changed in place")


def test_removed_and_moved_files(tmp_path: Path, export: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(export, landing)
    home = Home(tmp_path / "home")
    _ingest(home, landing)
    files = [p for p in _files(landing) if p.name.endswith((".json", ".ndjson", ".jsonl", ".gz"))]
    for p in files[::4]:
        p.unlink()
    moved = files[1]
    (landing / "moved here").mkdir()
    os.replace(moved, landing / "moved here" / moved.name)
    _ingest(home, landing)
    _assert_mirrors(home, landing, tmp_path, "files removed and one moved")
    for p in _files(landing):
        p.unlink()
    _ingest(home, landing)
    assert _tokens(home) == set() and _tokens(home, "events") == set() and \
        _tokens(home, "rejects", "source_file") == set(), "an emptied landing folder left rows behind"


def test_rebuild_recovers_from_a_damaged_home(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    nf.write_lines(landing / "a.ndjson", nf.snapshot(nf.token(701)), nf.snapshot(nf.token(702)))
    home = Home(tmp_path / "home")
    _ingest(home, landing)
    home.table_path("applications").unlink()  # someone deleted a table by hand
    result = _ingest(home, landing, rebuild=True)
    assert result.files_read == 1 and result.files_unchanged == 0
    _assert_mirrors(home, landing, tmp_path, "--rebuild after a table was deleted")
