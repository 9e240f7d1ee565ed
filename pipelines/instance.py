"""The persistent Dagster instance of a home: <home>/dagster, with a dagster.yaml written if missing."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lineage.warehouse import Home

# Telemetry off; every pool (rerun_lineage_writer) runs one step at a time, so writers never overlap.
DAGSTER_YAML = """\
# Written by rerun-lineage when missing; edit freely, it is never overwritten.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def ensure_instance_dir(home: Home) -> Path:
    """<home>/dagster with a dagster.yaml (kept as is when it exists)."""
    home.dagster.mkdir(parents=True, exist_ok=True)
    config = home.dagster / "dagster.yaml"
    if not config.exists():
        tmp = config.with_name(f".dagster.yaml.tmp-{os.getpid()}")
        tmp.write_text(DAGSTER_YAML)
        os.replace(tmp, config)
    return home.dagster


@contextlib.contextmanager
def dagster_home(home: Home) -> Iterator[Path]:
    """DAGSTER_HOME = <home>/dagster for the duration, restored afterwards."""
    path = ensure_instance_dir(home)
    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before


TRIGGER_TAG = "rerun_lineage/trigger"
CLI_TRIGGER = "cli"


def recover_interrupted_runs(instance) -> list[str]:
    """Fail the CLI runs a killed process left 'in progress' and free their pool slots.

    Only safe under the home's run lock: a CLI run holds it from start to end, so any CLI run still
    marked in progress while we hold it belongs to a process that is gone. Without this, its claimed slot
    in the `rerun_lineage_writer` pool (limit 1) would block every later run forever.
    """
    import dagster as dg

    live = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
            dg.DagsterRunStatus.CANCELING]
    stale = instance.get_runs(filters=dg.RunsFilter(statuses=live, tags={TRIGGER_TAG: CLI_TRIGGER}))
    for run in stale:
        instance.report_run_failed(run, "interrupted: the rerun-lineage process running it is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return [run.run_id for run in stale]
