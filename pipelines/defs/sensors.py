"""A sensor on the landing folder: new or changed export files request a run of every asset.

The cursor remembers (size, mtime_ns, sha256) per file; only files whose size or mtime moved are hashed,
so an idle landing folder costs one directory walk. The run key is a digest of the changed files' paths
and contents: the same change never requests two runs, a touched-but-identical file requests none.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import LineageResource

EXPORT_SUFFIXES = (".json", ".ndjson", ".jsonl")


def is_export_file(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return path.is_file() and name.endswith(EXPORT_SUFFIXES)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def scan_landing(landing: Path, seen: dict[str, list]) -> tuple[dict[str, list], dict[str, str]]:
    """(new cursor state {relpath: [size, mtime_ns, sha256]}, {relpath: sha256} of new or changed files)."""
    current: dict[str, list] = {}
    changed: dict[str, str] = {}
    for path in sorted(p for p in landing.rglob("*") if is_export_file(p)):
        rel = path.relative_to(landing).as_posix()
        stat = path.stat()
        before = seen.get(rel)
        if before and before[0] == stat.st_size and before[1] == stat.st_mtime_ns:
            current[rel] = before
            continue
        sha = file_sha256(path)
        current[rel] = [stat.st_size, stat.st_mtime_ns, sha]
        if not before or before[2] != sha:
            changed[rel] = sha
    return current, changed


def run_key(changed: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(changed.items())).encode()).hexdigest()[:32]


@dg.sensor(
    name="landing_folder_sensor",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=60,
    description="Requests a run of every asset when files in the landing folder are new or changed.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext, lineage: LineageResource):
    landing = lineage.landing_path()
    if not landing.is_dir():
        return dg.SkipReason(f"no landing folder at {landing}")
    seen = json.loads(context.cursor) if context.cursor else {}
    current, changed = scan_landing(landing, seen)
    context.update_cursor(json.dumps(current, separators=(",", ":")))
    if not changed:
        return dg.SkipReason("no new or changed files in the landing folder")
    return dg.RunRequest(
        run_key=run_key(changed),
        tags={"rerun_lineage/changed_files": str(len(changed))},
    )
