"""Run every asset and check through Dagster, in process, on the persistent instance of a home.

The runs land in <home>/dagster, so `dagster dev` on that DAGSTER_HOME shows them afterwards. The terminal
gets one line per asset (the assets' own progress) and a summary; Dagster's logs stay in its instance.
"""

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from lineage.errors import LineageError
from lineage.warehouse import Home
from pipelines.instance import CLI_TRIGGER, TRIGGER_TAG, dagster_home, recover_interrupted_runs

NOT_TABLES = ("html_report", "warehouse")
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class RunSummary:
    run_id: str
    files_read: int
    files_unchanged: int
    assets: list[str]
    report: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tables(self) -> list[str]:
        return [a for a in self.assets if a not in NOT_TABLES]

    def summary(self) -> str:
        from pipelines.defs.ingest_assets import files_note  # Dagster is loaded by now

        lines = [
            files_note(self.files_read, self.files_unchanged),
            f"tables written: {len(self.tables)}; assets materialized: {len(self.assets)}",
        ]
        if self.report:
            lines.append(f"report: {self.report}")
        lines += [f"check warning: {w}" for w in self.warnings]
        lines.append(f"done in {self.seconds:.1f}s (dagster run {self.run_id[:8]})")
        return "\n".join(lines)


def _value(metadata: dict, key: str, default: int = 0) -> int:
    entry = metadata.get(key)
    return int(getattr(entry, "value", entry)) if entry is not None else default


def _one_line(error) -> str:
    """The innermost user error of a Dagster failure, as one line."""
    while error.cause is not None and error.cls_name in (
        "DagsterExecutionStepExecutionError",
        "DagsterUserCodeExecutionError",
    ):
        error = error.cause
    message = error.message.strip()
    if error.cls_name == "LineageError":
        message = message.split(": ", 1)[-1]
    return " ".join(message.split())


def _check_line(evaluation) -> str:
    figures = ", ".join(
        f"{k}={v.value:.2%}" if isinstance(v.value, float) else f"{k}={v.value}"
        for k, v in evaluation.metadata.items()
    )
    return f"{evaluation.check_name} on {evaluation.asset_key.to_user_string()} ({figures})"


def _failure(result) -> str:
    evaluations = result.get_asset_check_evaluations()
    blocking = [e for e in evaluations if not e.passed and e.severity.value == "ERROR"]
    if blocking:
        return f"blocking check failed, later assets not built: {_check_line(blocking[0])}"
    for event in result.all_events:
        if event.is_step_failure:
            return f"{event.step_key} failed: {_one_line(event.step_failure_data.error)}"
    return "the Dagster run failed"


def run_pipeline(home: Home, landing: Path | str | None = None, rebuild: bool = False) -> RunSummary:
    """Materialize every asset and run every check of pipelines.definitions for this home."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.defs.resources import LineageResource

    home = home.ensure()
    landing = Path(landing).expanduser().resolve() if landing else home.landing
    if not landing.is_dir():
        raise LineageError(f"no such landing folder: {landing}")
    started = time.monotonic()
    print(f"running the pipeline on {home.root} (Dagster instance {home.dagster})", file=sys.stderr)
    with home.run_lock(), dagster_home(home), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dagster's beta/preview notices are not for the terminal
        definitions = defs()
        resource = LineageResource(home=str(home.root), landing=str(landing), rebuild=rebuild, echo=True)
        with dg.DagsterInstance.get() as instance:
            for run_id in recover_interrupted_runs(instance):
                print(f"marked interrupted run {run_id[:8]} as failed", file=sys.stderr)
            result = dg.materialize(
                [*definitions.assets, *definitions.asset_checks],
                instance=instance,
                resources={"lineage": resource},
                run_config=QUIET_RUN_CONFIG,
                raise_on_error=False,
                tags={TRIGGER_TAG: CLI_TRIGGER},
            )
    if not result.success:
        raise LineageError(_failure(result))
    materialized = result.get_asset_materialization_events()
    assets, meta = [], {}
    for event in materialized:
        key = event.asset_key.to_user_string()
        assets.append(key)
        meta[key] = event.materialization.metadata
    ingest_meta = meta.get("applications", {})
    report = meta.get("html_report", {}).get("path")
    warned = [_check_line(e) for e in result.get_asset_check_evaluations() if not e.passed]
    return RunSummary(
        run_id=result.run_id,
        files_read=_value(ingest_meta, "files_read"),
        files_unchanged=_value(ingest_meta, "files_unchanged"),
        assets=assets,
        report=str(report.value) if report is not None else "",
        warnings=warned,
        seconds=time.monotonic() - started,
    )
