"""Materializing the Dagster assets for real: Parquet + metadata, a blocking check, the runner, the UI.

The export is a tiny hand-made landing folder; the UI test reuses the shared `demo_home` (a real
`rerun-lineage demo` in a subprocess) and reads its runs over the webserver's GraphQL API.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lineage.contract import SCHEMAS
from lineage.errors import LineageError
from lineage.warehouse import Home, write_arrow
from pipelines.definitions import defs
from pipelines.defs.resources import LineageResource
from pipelines.runner import run_pipeline

ROOT = "JA-" + "R" * 19 + "1"
RERUN = "JA-" + "R" * 19 + "2"
SOLO = "JA-" + "S" * 19 + "1"
T0 = 1_712_000_000_000


def _snapshot(token: str, status: str, created: int, **extra) -> dict:
    return {
        "journey_application_token": token,
        "journey_token": "J-onboarding",
        "status": status,
        "complete_outcome": "Approved" if status == "completed" else None,
        "created_at": created,
        "updated_at": created + 60_000,
        "is_rerun": "rerun" in extra.get("_embedded", {}),
        **extra,
    }


def write_landing(landing: Path) -> int:
    """Two files: snapshots of a root that errored and its completed rerun, and a webhook for a third app."""
    at = T0 + 3_600_000
    started = {"type": "started_rerun_application", "timestamp": at, "rerun_journey_application_token": RERUN}
    root = _snapshot(ROOT, "error", T0, _embedded={
        "reruns": [{"initiated_by": "api", "next_journey_application_token": RERUN, "created_at": at}],
        "events": [started],
    })
    rerun = _snapshot(RERUN, "completed", T0 + 3_600_000, _embedded={"rerun": {
        "initiated_by": "api", "previous_journey_application_token": ROOT,
        "root_journey_application_token": ROOT, "root_external_group_id": "grp-1",
    }})
    solo = _snapshot(SOLO, "completed", T0 + 7_200_000)
    (landing / "snapshots.ndjson").write_text("\n".join(json.dumps(r) for r in (root, rerun, solo)) + "\n")
    hook = {"request_token": "req-1", "timestamp": T0 + 7_300_000, "type": "journey_application_completed",
            "data": {"journey_application_token": SOLO, "type": "journey_application_completed",
                     "timestamp": T0 + 7_300_000}}
    (landing / "webhooks.json").write_text(json.dumps([hook, hook]))
    return 2


def _all_assets(definitions: dg.Definitions) -> list:
    return [*definitions.assets, *definitions.asset_checks]


def _metadata(result, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return event.materialization.metadata


def test_every_asset_materializes_with_row_counts_schema_and_preview(home: Home) -> None:
    files = write_landing(home.landing)
    definitions = defs()
    result = dg.materialize(
        _all_assets(definitions),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"lineage": LineageResource(home=str(home.root))},
    )
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {s.key.to_user_string() for s in definitions.resolve_all_asset_specs()}

    for table, schema in SCHEMAS.items():
        meta = _metadata(result, table)
        assert meta["dagster/row_count"].value == pq.read_metadata(home.table_path(table)).num_rows
        columns = [c.name for c in meta["dagster/column_schema"].schema.columns]
        assert columns == schema.names
        assert meta["preview"].value.startswith("|")
    assert _metadata(result, "applications")["dagster/row_count"].value == 3
    assert _metadata(result, "rerun_chains")["dagster/row_count"].value == 3
    assert _metadata(result, "applications")["files_read"].value == files
    preview = _metadata(result, "rerun_chains")["preview"].value
    assert ROOT in preview and "lineage_status" in preview
    assert "J-onboarding" not in _metadata(result, "events")["preview"].value  # token/status columns only

    chains_meta = _metadata(result, "rerun_chains")
    assert chains_meta["complete_rate"].value == pytest.approx(1.0)
    headline = _metadata(result, "html_report")
    floats = [k for k, v in headline.items() if isinstance(v, dg.FloatMetadataValue)]
    assert floats, "headline rates are recorded as numbers"
    assert Path(headline["path"].value).is_file()
    assert _metadata(result, "warehouse")["tables"].value == len(home.tables())

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {k.name for k in definitions.resolve_asset_graph().asset_check_keys}
    assert evaluations["applications_token_unique"].passed
    assert evaluations["rerun_chains_one_row_per_application"].passed
    assert evaluations["rerun_chains_no_cycles"].passed
    assert evaluations["reject_rate_under_threshold"].passed


def _rerun_of(token: str, previous: str, root: str, created: int) -> dict:
    block = {"initiated_by": "dashboard", "previous_journey_application_token": previous,
             "root_journey_application_token": root}
    return _snapshot(token, "completed", created, _embedded={"rerun": block})


def test_warn_checks_flag_odd_lineage_and_the_run_still_finishes(home: Home) -> None:
    loop_a, loop_b, elsewhere = ("JA-" + c * 19 + "1" for c in "ABX")
    records = [
        _snapshot(ROOT, "error", T0),
        _rerun_of(RERUN, ROOT, elsewhere, T0 + 60_000),  # reports a root other than the resolved one
        _rerun_of(loop_a, loop_b, loop_b, T0 + 120_000),  # a and b name each other: a cycle
        _rerun_of(loop_b, loop_a, loop_a, T0 + 180_000),
        {"journey_application_token": SOLO, "type": "journey_application_completed", "timestamp": T0},
    ]
    (home.landing / "odd.ndjson").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    definitions = defs()
    result = dg.materialize(
        _all_assets(definitions),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"lineage": LineageResource(home=str(home.root), max_root_conflict_rate=0.0)},
    )
    assert result.success  # WARN checks report, they never stop a run
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {s.key.to_user_string() for s in definitions.resolve_all_asset_specs()}

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = {name for name, e in evaluations.items() if not e.passed}
    assert failed == {"rerun_chains_no_cycles", "root_conflict_rate", "events_reference_known_applications"}
    assert {evaluations[n].severity for n in failed} == {dg.AssetCheckSeverity.WARN}
    chains = pq.read_table(home.table_path("rerun_chains")).to_pylist()
    statuses = [r["lineage_status"] for r in chains]
    assert evaluations["rerun_chains_no_cycles"].metadata["cycle_rows"].value == statuses.count("cycle") == 2
    conflict = evaluations["root_conflict_rate"].metadata
    assert conflict["root_conflict_rows"].value == statuses.count("root_conflict") == 1
    assert conflict["rate"].value == pytest.approx(1 / len(chains)) and conflict["threshold"].value == 0.0
    assert evaluations["events_reference_known_applications"].metadata["applications_missing"].value == 1


class _DuplicateIngest:
    """A stand-in ingest that writes the same token twice, as a broken upstream would."""

    files_read, files_unchanged, records, rejects = 1, 0, 2, 0
    total_records, total_rejects, reject_rate = 2, 0, 0.0

    def __init__(self, home: Home):
        apps = {name: pa.nulls(2, field.type) for name, field in zip(SCHEMAS["applications"].names,
                                                                       SCHEMAS["applications"], strict=True)}
        apps["journey_application_token"] = pa.array([ROOT, ROOT])
        write_arrow(home, "applications", pa.table(apps))
        for name in ("application_reruns", "events", "rejects"):
            write_arrow(home, name, SCHEMAS[name].empty_table())

    def summary(self) -> str:
        return "stand-in"

    def metadata(self) -> dict:
        return {}


def test_a_failing_blocking_check_stops_everything_downstream(home: Home, monkeypatch) -> None:
    import lineage.ingest

    monkeypatch.setattr(lineage.ingest, "ingest", lambda home, **kw: _DuplicateIngest(home))
    result = dg.materialize(
        _all_assets(defs()),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"lineage": LineageResource(home=str(home.root))},
        raise_on_error=False,
    )
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["applications_token_unique"].passed
    assert evaluations["applications_token_unique"].metadata["duplicates"].value == 1
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"applications", "application_reruns", "events", "rejects"}
    assert not home.has_table("rerun_edges") and not home.warehouse.exists()

    with pytest.raises(LineageError, match="applications_token_unique"):
        run_pipeline(home, home.landing)


def test_runner_records_runs_in_the_home_instance_and_skips_unchanged_files(home: Home, capfd) -> None:
    files = write_landing(home.landing)
    before = os.environ.get("DAGSTER_HOME")
    first = run_pipeline(home, home.landing)
    second = run_pipeline(home, home.landing)
    assert (first.files_read, first.files_unchanged) == (files, 0)
    assert (second.files_read, second.files_unchanged) == (0, files)
    assert set(SCHEMAS) <= set(second.tables) and "warehouse" in second.assets
    assert f"files read: 0, unchanged (not read again): {files}; no data file read" in second.summary()
    assert os.environ.get("DAGSTER_HOME") == before
    err = capfd.readouterr().err
    assert "rerun_chains:" in err and " - dagster - " not in err  # progress, not Dagster's log

    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        runs = instance.get_runs()
        assert {r.run_id for r in runs} == {first.run_id, second.run_id}
        assert all(r.is_success for r in runs)
        assert instance.get_latest_materialization_event(dg.AssetKey("rerun_chains")).run_id == second.run_id
        latest = instance.get_latest_materialization_event(dg.AssetKey("applications"))
        meta = latest.asset_materialization.metadata
        assert meta["files_read"].value == 0 and "no data file read" in meta["files"].value


def test_runner_fails_with_one_line_on_a_missing_landing(home: Home) -> None:
    with pytest.raises(LineageError, match="no such landing folder"):
        run_pipeline(home, home.root / "missing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


MATERIALIZATIONS = """{ assetOrError(assetKey: {path: ["rerun_chains"]}) { ... on Asset {
  assetMaterializations(limit: 5) { runId
    metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""


def test_demo_runs_show_in_the_dagster_webserver(demo_home: Home) -> None:
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(demo_home.dagster), "RERUN_LINEAGE_HOME": str(demo_home.root)}
    webserver = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-m", "pipelines.definitions"],
        env=env, cwd=Path(__file__).parents[1], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, "dagster-webserver exited"
                assert time.monotonic() < deadline, "dagster-webserver did not start"
                time.sleep(0.5)
        data = _graphql(port, MATERIALIZATIONS)
        materializations = data["data"]["assetOrError"]["assetMaterializations"]
        assert materializations, data
        rows = {e["label"]: e.get("intValue") for e in materializations[0]["metadataEntries"]}
        assert rows["dagster/row_count"] == pq.read_metadata(demo_home.table_path("rerun_chains")).num_rows
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_runner_frees_the_pool_slot_of_a_killed_cli_run(home: Home) -> None:
    from pipelines.defs.metadata import POOL
    from pipelines.instance import CLI_TRIGGER, TRIGGER_TAG, dagster_home, recover_interrupted_runs

    with dagster_home(home), dg.DagsterInstance.get() as instance:
        stuck = dg.DagsterRun(job_name="__ASSET_JOB", run_id="0" * 8 + "-dead-run",
                              status=dg.DagsterRunStatus.STARTED, tags={TRIGGER_TAG: CLI_TRIGGER})
        instance.add_run(stuck)
        other = dg.DagsterRun(job_name="__ASSET_JOB", run_id="1" * 8 + "-ui-run",
                              status=dg.DagsterRunStatus.STARTED)
        instance.add_run(other)
        instance.event_log_storage.claim_concurrency_slot(POOL, stuck.run_id, "ingest")
        assert recover_interrupted_runs(instance) == [stuck.run_id]
        assert instance.get_run_by_id(stuck.run_id).status == dg.DagsterRunStatus.FAILURE
        # a run the CLI did not start (the UI's, the daemon's) is left alone
        assert instance.get_run_by_id(other.run_id).status == dg.DagsterRunStatus.STARTED
        assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots


HOLD_RUN_LOCK = """
import sys, time
from pathlib import Path
from lineage.warehouse import Home
with Home(Path(sys.argv[1])).run_lock():
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_run_from_the_ui_takes_turns_with_a_command_line_run_instead_of_waiting_for_it(
        home: Home, monkeypatch) -> None:
    # A command-line run holds the home's run lock from start to end (here another process holds it).
    # A run the UI, sensor or schedule starts must not wait for that lock while holding a pool slot the
    # command-line run needs for its next step: it takes only the per-write lock, step by step.
    write_landing(home.landing)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_RUN_LOCK, str(home.root)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("RERUN_LINEAGE_LOCK_TIMEOUT", "5")
        result = dg.materialize(
            _all_assets(defs()),
            instance=dg.DagsterInstance.ephemeral(),
            resources={"lineage": LineageResource(home=str(home.root))},
            raise_on_error=False,
        )
        assert result.success
        assert holder.poll() is None  # the lock was held all along
    finally:
        holder.kill()
        holder.wait()


def test_report_assets_record_their_overall_figures_as_numbers(home: Home) -> None:
    write_landing(home.landing)
    result = dg.materialize(_all_assets(defs()), instance=dg.DagsterInstance.ephemeral(),
                            resources={"lineage": LineageResource(home=str(home.root))})
    rate = _metadata(result, "report_rerun_rate")
    # the hand-made landing: roots ROOT (rerun once) and SOLO, neither shadow nor sandbox
    assert (rate["roots"].value, rate["roots_with_rerun"].value) == (2, 1)
    assert rate["rerun_rate"].value == pytest.approx(0.5)
    recovery = _metadata(result, "report_recovery")
    assert (recovery["errored_roots"].value, recovery["recovered"].value) == (1, 1)
    outcomes = _metadata(result, "report_effective_outcomes")
    # naive: 3 applications, 2 Approved (the rerun and SOLO); effective: 2 chains, both end Approved
    assert outcomes["naive_approval_rate"].value == pytest.approx(2 / 3)
    assert outcomes["effective_approval_rate"].value == pytest.approx(1.0)
    assert "```" in _metadata(result, "html_report")["headline"].value  # kept as lines in the UI
