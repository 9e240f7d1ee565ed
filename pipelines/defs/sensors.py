"""A sensor on the landing folder: new, changed or removed export files request a run of every asset.

It sees the folder exactly as ingest does (lineage.ingest_files.discover: same suffixes, symbolic links
not followed). The cursor remembers (size, mtime_ns, sha256) per file; only files whose size or mtime
moved are hashed, so an idle landing folder costs one directory walk. The run key is the count of runs
requested so far and a digest of what changed: a change never requests two runs, a touched-but-identical
file requests none, and a file put back as it was before still gets a run (its key is new).
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from lineage.ingest_files import discover, sha256_file
from pipelines.defs.resources import LineageResource


def scan_landing(landing: Path, seen: dict[str, list]) -> tuple[dict[str, list], dict[str, str | None]]:
    """(new cursor state {relpath: [size, mtime_ns, sha256]}, {relpath: sha256, None if removed} of the
    files that are new, changed or gone)."""
    current: dict[str, list] = {}
    changed: dict[str, str | None] = {}
    found, _ = discover(landing)
    for lf in found:
        before = seen.get(lf.rel)
        if before and before[0] == lf.size and before[1] == lf.mtime_ns:
            current[lf.rel] = before
            continue
        try:
            sha = sha256_file(lf.path)
        except OSError:  # vanished or unreadable meanwhile: ingest lists it as skipped
            continue
        current[lf.rel] = [lf.size, lf.mtime_ns, sha]
        if not before or before[2] != sha:
            changed[lf.rel] = sha
    changed.update(dict.fromkeys(seen.keys() - current.keys()))
    return current, changed


def run_key(requested: int, changed: dict[str, str | None]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(changed.items())).encode()).hexdigest()[:24]
    return f"{requested}-{digest}"


def read_cursor(cursor: str | None) -> tuple[dict[str, list], int]:
    """(files seen, runs requested so far); an unreadable cursor starts afresh."""
    try:
        state = json.loads(cursor) if cursor else {}
    except ValueError:
        state = {}
    return state.get("files", {}), int(state.get("requested", 0))


@dg.sensor(
    name="landing_folder_sensor",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=60,
    description="Requests a run of every asset when export files in the landing folder are new, changed "
    "or removed.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext, lineage: LineageResource):
    landing = lineage.landing_path()
    if not landing.is_dir():
        return dg.SkipReason(f"no landing folder at {landing}")
    seen, requested = read_cursor(context.cursor)
    current, changed = scan_landing(landing, seen)
    if changed:
        requested += 1
    context.update_cursor(json.dumps({"files": current, "requested": requested}, separators=(",", ":")))
    if not changed:
        return dg.SkipReason("no new, changed or removed files in the landing folder")
    removed = sum(1 for sha in changed.values() if sha is None)
    return dg.RunRequest(
        run_key=run_key(requested, changed),
        tags={"rerun_lineage/changed_files": str(len(changed) - removed),
              "rerun_lineage/removed_files": str(removed)},
    )
