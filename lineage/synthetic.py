"""The realistic synthetic Alloy export generator (demo, tests, benchmarks).

`generate(out, applications, seed)` writes chain after chain straight to open files (memory stays flat),
with everything a real export throws at the reader: daily NDJSON, JSON arrays, gzip, webhook logs with
retries in shuffled order, bare events, stale snapshots, roots from before the window, missing middles,
reruns without their rerun block, a file that is not an export, and corrupt records (`bad_fraction`).
Same seed, same bytes: one `random.Random(seed)` drives everything, no wall clock is read.
With `truth`, a Parquet file tells the true parent, root and depth of every generated application.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from lineage.errors import LineageError
from lineage.synthetic_chains import DAY, HOUR, Gaps, build_chain
from lineage.synthetic_files import ExportFiles
from lineage.synthetic_people import PII_CONTAINERS, PII_FIELDS, pii_values
from lineage.synthetic_records import ChainRecords
from lineage.synthetic_writer import ChainWriter

__all__ = ["PII_CONTAINERS", "PII_FIELDS", "GenerateResult", "generate", "pii_values"]

WINDOW_START_MS = int(dt.datetime(2024, 4, 20, tzinfo=dt.UTC).timestamp() * 1000)
MANIFEST = ".rerun-lineage-synthetic"  # lists the files we wrote, so `replace` removes only those
PROGRESS_FROM = 100_000


@dataclass
class GenerateResult:
    out: Path
    seed: int
    applications: int = 0  # generated, in the export or not
    in_export: int = 0  # with a valid snapshot somewhere in the export
    roots: int = 0
    reruns: int = 0
    max_depth: int = 0
    roots_outside_window: int = 0
    missing_middles: int = 0
    reruns_without_block: int = 0
    reruns_not_listed: int = 0
    corrupt_snapshots: int = 0
    files: int = 0  # export files (.json/.ndjson/.jsonl[.gz]) written
    other_files: int = 0  # files a reader must skip
    records: int = 0  # valid records written: snapshots, stale snapshots, webhook deliveries, bare events
    snapshots: int = 0
    stale_snapshots: int = 0
    webhook_deliveries: int = 0
    bare_events: int = 0
    bad_records: int = 0  # corrupt records, each one reject (whole-file failures count once)
    bytes: int = 0
    truth: Path | None = None
    bad_kinds: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"synthetic export: {self.out} (seed {self.seed})",
            f"  applications: {self.applications:,} generated, {self.in_export:,} in the export; "
            f"{self.roots:,} roots, {self.reruns:,} reruns, max depth {self.max_depth}",
            f"  gaps: {self.roots_outside_window} roots before the window, {self.missing_middles} missing "
            f"middles, {self.reruns_without_block} reruns without rerun block, "
            f"{self.reruns_not_listed} not listed by their parent",
            f"  files: {self.files:,} export files + {self.other_files} other, {self.bytes / 1e6:,.1f} MB",
            f"  records: {self.records:,} valid ({self.snapshots:,} snapshots, "
            f"{self.stale_snapshots:,} stale, {self.webhook_deliveries:,} webhook deliveries, "
            f"{self.bare_events:,} bare events), {self.bad_records:,} bad",
        ]
        return "\n".join(lines + ([f"  truth: {self.truth}"] if self.truth else []))


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def foreign_files(out: Path) -> list[str]:
    """Files under `out` that no synthetic export of ours wrote (its manifest lists what it wrote)."""
    if not out.is_dir():
        return []
    manifest = out / MANIFEST
    ours = set(manifest.read_text(encoding="utf-8").splitlines()) if manifest.is_file() else set()
    return sorted(rel for p in out.rglob("*") if (p.is_file() or p.is_symlink())
                  and (rel := p.relative_to(out).as_posix()) not in ours)


def _remove_previous(out: Path) -> None:
    """Delete the files a previous run listed in its manifest (only those, only under `out`)."""
    manifest = out / MANIFEST
    rels = manifest.read_text(encoding="utf-8").splitlines()
    dirs: set[Path] = set()
    for rel in rels:
        path = out / rel
        if rel and _inside(path, out) and path.is_file():
            path.unlink()
            dirs.update(p for p in path.parents if _inside(p, out) and p.resolve() != out.resolve())
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    manifest.unlink(missing_ok=True)


def _write_manifest(out: Path, written: list[str]) -> None:
    (out / MANIFEST).write_text("\n".join(written + [MANIFEST]) + "\n", encoding="utf-8")


def _prepare(out: Path, applications: int, bad_fraction: float, replace: bool, truth: Path | None) -> None:
    if applications < 1:
        raise LineageError("applications must be at least 1")
    if not 0.0 <= bad_fraction <= 1.0:
        raise LineageError("bad_fraction must be between 0 and 1")
    if out.exists() and not out.is_dir():
        raise LineageError(f"not a folder: {out}")
    if truth is not None and _inside(truth, out):
        raise LineageError(f"the truth file must not be inside the export folder: {truth}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LineageError(f"cannot create {out}: {exc.strerror}") from None
    if (out / MANIFEST).exists():
        if not replace:
            raise LineageError(f"{out} already holds a synthetic export: remove it or choose another folder")
        _remove_previous(out)


def _readme(result: GenerateResult) -> str:
    return (
        "Synthetic Alloy journey application export written by rerun-lineage (made-up data).\n"
        f"seed {result.seed}, {result.applications} applications generated.\n"
        "This file is not an export file: readers skip it.\n"
    )


def generate(
    out: Path,
    applications: int,
    seed: int = 7,
    bad_fraction: float = 0.002,
    replace: bool = False,
    truth: Path | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Write a realistic synthetic export of `applications` applications under `out`."""
    out = Path(out)
    _prepare(out, applications, bad_fraction, replace, truth)
    rng = random.Random(seed)
    days = max(3, min(42, math.ceil(applications / 20)))
    start, end = WINDOW_START_MS, WINDOW_START_MS + days * DAY - 6 * HOUR
    n_deep = (applications >= 200) + applications // 250_000
    deep_len = max(25, min(600, applications // 1000))
    deep_at = [applications * (k + 1) // (n_deep + 1) for k in range(n_deep)]
    result = GenerateResult(out=out, seed=seed, applications=applications, truth=truth)
    files = ExportFiles(out, rng, start, days)
    writer = ChainWriter(rng, files, bad_fraction, start, result, deque(maxlen=40))
    gaps = Gaps(rng, bad_fraction / 2)
    truth_writer = None
    if truth is not None:
        from lineage.synthetic_truth import TruthWriter  # pyarrow only when asked for

        truth_writer = TruthWriter(truth)
    done, step = 0, applications // 10 if progress and applications >= PROGRESS_FROM else 0
    next_report = step
    try:
        while done < applications:
            deep = deep_len if deep_at and done >= deep_at[0] else 0
            if deep:
                deep_at.pop(0)
            chain = build_chain(rng, applications - done, start, end, deep)
            gaps.apply(chain, start)
            writer.write(chain, ChainRecords(rng, chain))
            if truth_writer:
                truth_writer.add(chain)
            done += len(chain.apps)
            while step and done >= next_report:
                print(
                    f"generate: {100 * next_report // applications}% ({done:,} applications)", file=sys.stderr
                )
                next_report += step
        writer.finish()
    except BaseException:
        if truth_writer:
            truth_writer.abort()
        raise
    finally:
        files.close()
        _write_manifest(out, files.written)  # even after a failure, so `replace` can clean up
    if truth_writer:
        truth_writer.close()
    for rel, text in (
        ("README.txt", _readme(result)),
        (
            "export_index.csv",
            f"kind,count\napplications,{result.applications}\nrecords,{result.records}\n",
        ),
    ):
        files.whole_file(rel, text.encode())
        result.other_files += 1
    result.files = len(files.written) - result.other_files
    result.bytes = sum((out / rel).stat().st_size for rel in files.written)
    _write_manifest(out, files.written)
    result.other_files += 1
    return result
