"""The Dagster code location: what it defines (against a snapshot), the landing sensor, the instance."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest
import yaml

from lineage.warehouse import Home
from pipelines.definitions import defs
from pipelines.defs import sensors
from pipelines.defs.resources import LineageResource
from pipelines.defs.sensors import landing_folder_sensor
from pipelines.instance import dagster_home, ensure_instance_dir

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
UPDATE_ENV = "RERUN_LINEAGE_UPDATE_SNAPSHOTS"


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        node = graph.get(spec.key)
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "kinds": sorted(spec.kinds),
            "pools": sorted(node.pools or ()),
            "has_description": bool(spec.description),
        }
    checks = []
    for key in graph.asset_check_keys:
        check = graph.get_check_spec(key)
        checks.append({"asset": key.asset_key.to_user_string(), "name": key.name, "blocking": check.blocking})
    return {
        "assets": assets,
        "checks": sorted(checks, key=lambda c: (c["asset"], c["name"])),
        "sensors": sorted(s.name for s in defs.sensors),
        "schedules": sorted(f"{s.name} {s.cron_schedule} {s.execution_timezone}" for s in defs.schedules),
        "resources": sorted(defs.resources),
    }


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_definitions_hold_every_contract_table_in_its_group(definitions: dg.Definitions) -> None:
    from lineage.contract import SCHEMAS
    from lineage.reports import REPORT_TABLES

    groups = {s.key.to_user_string(): s.group_name for s in definitions.resolve_all_asset_specs()}
    for table in SCHEMAS:
        assert table in groups, table
    assert {groups[t] for t in ("applications", "application_reruns", "events", "rejects")} == {"ingest"}
    assert {groups[t] for t in ("rerun_edges", "rerun_chains", "chain_summary")} == {"lineage"}
    assert REPORT_TABLES and all(groups[t] == "reports" for t in REPORT_TABLES)
    assert groups["html_report"] == groups["warehouse"] == "reports"

    check_keys = definitions.resolve_asset_graph().asset_check_keys
    checks = {(k.asset_key.to_user_string(), k.name) for k in check_keys}
    assert ("applications", "applications_token_unique") in checks
    assert ("rerun_chains", "rerun_chains_no_cycles") in checks
    assert ("rejects", "reject_rate_under_threshold") in checks
    assert ("rerun_chains", "root_conflict_rate") in checks
    assert [s.name for s in definitions.sensors] == ["landing_folder_sensor"]
    assert [s.cron_schedule for s in definitions.schedules] == ["0 3 * * *"]
    definitions.validate_loadable(definitions)


def test_asset_graph_matches_snapshot(definitions: dg.Definitions) -> None:
    current = graph_snapshot(definitions)
    if os.environ.get(UPDATE_ENV):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), f"no snapshot yet: run with {UPDATE_ENV}=1 and review it"
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, f"the asset graph changed: review, then rerun with {UPDATE_ENV}=1"


def test_warehouse_depends_on_every_other_asset(definitions: dg.Definitions) -> None:
    specs = {s.key.to_user_string(): s for s in definitions.resolve_all_asset_specs()}
    deps = {d.asset_key.to_user_string() for d in specs["warehouse"].deps}
    assert deps == set(specs) - {"warehouse"}


def _tick(landing: Path, cursor: str | None):
    resources = {"lineage": LineageResource(landing=str(landing))}
    context = dg.build_sensor_context(cursor=cursor, resources=resources)
    return landing_folder_sensor(context), context.cursor


def test_sensor_requests_a_run_for_new_changed_and_removed_files_only(tmp_path: Path, monkeypatch) -> None:
    landing = tmp_path / "landing"
    (landing / "day1").mkdir(parents=True)
    result, cursor = _tick(landing, None)
    assert isinstance(result, dg.SkipReason)

    path = landing / "day1" / "apps.ndjson"
    path.write_text('{"journey_application_token": "JA-1"}\n')
    (landing / "notes.txt").write_text("not an export")
    (landing / "link.ndjson").symlink_to(path)  # ingest does not follow links: neither does the sensor
    first, cursor = _tick(landing, cursor)
    assert isinstance(first, dg.RunRequest) and first.run_key
    assert first.tags["rerun_lineage/changed_files"] == "1"

    hashed: list[Path] = []
    real_sha = sensors.sha256_file
    monkeypatch.setattr(sensors, "sha256_file", lambda p: hashed.append(p) or real_sha(p))
    unchanged, cursor = _tick(landing, cursor)
    assert isinstance(unchanged, dg.SkipReason) and hashed == []  # (size, mtime) matched: nothing hashed

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same content
    touched, cursor = _tick(landing, cursor)
    assert isinstance(touched, dg.SkipReason) and hashed == [path]

    path.write_text('{"journey_application_token": "JA-1"}\n{"journey_application_token": "JA-2"}\n')
    changed, cursor = _tick(landing, cursor)
    assert isinstance(changed, dg.RunRequest) and changed.run_key != first.run_key

    path.write_text('{"journey_application_token": "JA-1"}\n')  # back to the first content
    reverted, cursor = _tick(landing, cursor)
    assert isinstance(reverted, dg.RunRequest)
    assert reverted.run_key not in (first.run_key, changed.run_key)  # the daemon drops keys it has seen

    (landing / "day1" / "hooks.json.gz").write_bytes(b"\x1f\x8b")
    added, cursor = _tick(landing, cursor)
    keys = [first.run_key, changed.run_key, reverted.run_key]
    assert isinstance(added, dg.RunRequest) and added.run_key not in keys
    assert set(json.loads(cursor)["files"]) == {"day1/apps.ndjson", "day1/hooks.json.gz"}

    (landing / "day1" / "hooks.json.gz").unlink()  # its rows must leave the tables: a run
    removed, cursor = _tick(landing, cursor)
    assert isinstance(removed, dg.RunRequest) and removed.run_key not in [*keys, added.run_key]
    assert removed.tags["rerun_lineage/removed_files"] == "1"
    assert set(json.loads(cursor)["files"]) == {"day1/apps.ndjson"}


def test_sensor_skips_a_missing_landing_folder(tmp_path: Path) -> None:
    result, _ = _tick(tmp_path / "nope", None)
    assert isinstance(result, dg.SkipReason) and "no landing folder" in str(result.skip_message)


def test_instance_folder_gets_a_dagster_yaml_once(home: Home) -> None:
    path = ensure_instance_dir(home)
    config = yaml.safe_load((path / "dagster.yaml").read_text())
    assert config == {"telemetry": {"enabled": False}, "concurrency": {"pools": {"default_limit": 1}}}
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    ensure_instance_dir(home)
    assert "enabled: true" in (path / "dagster.yaml").read_text()  # a user's edit is kept

    before = os.environ.get("DAGSTER_HOME")
    with dagster_home(home) as dh:
        assert os.environ["DAGSTER_HOME"] == str(dh) == str(home.dagster)
    assert os.environ.get("DAGSTER_HOME") == before


def test_resource_defaults_to_the_home_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RERUN_LINEAGE_HOME", str(tmp_path / "h"))
    resource = LineageResource()
    assert resource.get_home().root == tmp_path / "h"
    assert resource.landing_path() == tmp_path / "h" / "landing"
    monkeypatch.delenv("RERUN_LINEAGE_HOME")
    monkeypatch.chdir(tmp_path)
    assert LineageResource().get_home().root == tmp_path / "rerun_home"
